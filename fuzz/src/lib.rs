//! Helpers shared by the fuzz targets and by the seed-corpus generator
//! (`examples/gen_corpus.rs`): engines on a fixed clock with seeded IDs, a
//! scratch store directory per process, and a small valid store written by
//! the library itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use authlock::{
    Actor, Attempt, AuthenticatorType, Engine, EngineBuilder, FakeClock, Identifier,
    PolicyDocument, Registration, SeededIds, StoreOptions, Timestamp,
};

/// 2026-01-01T00:00:00Z, the start of every fuzzed engine's clock.
pub const T0_MS: i64 = 1_767_225_600_000;

/// A builder on the fixed clock with seeded IDs.
pub fn builder(policies: PolicyDocument) -> EngineBuilder {
    Engine::builder(policies)
        .clock(FakeClock::at(Timestamp::from_millis(T0_MS)))
        .ids(SeededIds::new(42))
}

/// An empty engine with the built-in policies.
pub fn engine() -> Engine {
    builder(PolicyDocument::new()).build()
}

/// The built-in policies under `tenant`, if it is a valid tenant name.
pub fn policies_for(tenant: &str) -> Option<PolicyDocument> {
    let mut p = PolicyDocument::new();
    p.set_tenant(tenant).ok()?;
    Some(p)
}

/// Drives `engine` through a few of everything: registrations of several
/// types, failures up to a lock, an identifier, an admin unlock, a
/// deletion, a suspension. The seed corpus and the store template use it.
pub fn populate(engine: &Engine) {
    let pw = engine
        .register(&Registration::new(
            "alice",
            AuthenticatorType::Password,
            "web",
        ))
        .expect("register password");
    let pin = engine
        .register(&Registration::new("alice", AuthenticatorType::Pin, "bank").on_device("phone"))
        .expect("register pin");
    let totp = engine
        .register(&Registration::new("bob", AuthenticatorType::Totp, "web"))
        .expect("register totp");
    engine
        .add_identifier(
            "bob",
            &Identifier::email("bob@example.com"),
            &Actor::user("bob"),
        )
        .expect("add identifier");
    for i in 0..6u8 {
        let fp = [i; 16];
        let _ = engine.record_failure(&pw, &Attempt::in_app("web").with_fingerprint(&fp));
    }
    let _ = engine.record_failure(&pin, &Attempt::in_app("bank").on_device("phone"));
    let _ = engine.record_success(&totp, &Attempt::in_app("web"));
    let _ = engine.unlock(&pw, "web", &Actor::admin("ops"), Some("verified by phone"));
    let _ = engine.lock(&pin, "bank", &Actor::admin("ops"), Some("lost phone"));
    let _ = engine.suspend_user("bob", &Actor::admin("ops"), Some("offboarding"));
    let _ = engine.delete(&totp, "web", &Actor::user("bob"), None);
}

/// A per-process scratch directory under the temporary directory
/// (`TMPDIR`; `scripts/fuzz.sh` points it at `/dev/shm` where there is one).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("authlock-fuzz-{name}-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

/// Removes every file in `dir` (not the directory).
pub fn clear_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Store options for the fuzz targets: never create, never compact on
/// its own, no syncing.
pub fn open_options() -> StoreOptions {
    StoreOptions {
        durability: authlock::Durability::None,
        create: false,
        recovery: authlock::Recovery::Strict,
        compact_every: None,
    }
}

/// A small store written by the library: [`populate`], compacted, then a
/// few more calls. `snapshot_files` are the snapshot files (name, bytes) as
/// compaction left them; `journal_name` is the segment started at the
/// compaction, and `journal` the bytes the calls after it wrote there.
pub struct StoreTemplate {
    /// The snapshot files, name and content.
    pub snapshot_files: Vec<(String, Vec<u8>)>,
    /// The name of the journal segment after the newest snapshot.
    pub journal_name: String,
    /// What the library wrote to that segment.
    pub journal: Vec<u8>,
    /// The snapshot JSON of the engine when it was closed.
    pub final_state: String,
}

/// Builds the [`StoreTemplate`] once per process.
pub fn store_template() -> &'static StoreTemplate {
    static T: OnceLock<StoreTemplate> = OnceLock::new();
    T.get_or_init(|| {
        let dir = scratch_dir("template");
        clear_dir(&dir);
        let (engine, _) = builder(PolicyDocument::new())
            .open_store(&dir, open_options())
            .expect("open the template store");
        populate(&engine);
        engine.compact().expect("compact the template store");
        let pw = engine
            .register(&Registration::new(
                "carol",
                AuthenticatorType::Password,
                "web",
            ))
            .expect("register after compaction");
        let _ = engine.record_failure(&pw, &Attempt::in_app("web"));
        let _ = engine.record_failure(&pw, &Attempt::in_app("web"));
        let _ = engine.unsuspend_user("bob", &Actor::admin("ops"), None);
        let final_state = engine.snapshot_json();
        drop(engine);
        let mut snapshot_files = Vec::new();
        let mut journals = Vec::new();
        for e in fs::read_dir(&dir)
            .expect("list the template store")
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("snapshot-") {
                snapshot_files.push((name, fs::read(e.path()).expect("read snapshot")));
            } else if name.starts_with("journal-") {
                journals.push(name);
            }
        }
        snapshot_files.sort();
        journals.sort();
        let journal_name = journals.pop().expect("a journal segment after compaction");
        let journal = fs::read(dir.join(&journal_name)).expect("read journal");
        let _ = fs::remove_dir_all(&dir);
        StoreTemplate {
            snapshot_files,
            journal_name,
            journal,
            final_state,
        }
    })
}

/// Opens the store in `dir` with the built-in policies, checks what an
/// opened store promises, and returns whether it opened:
///
/// - a state that opened snapshots and restores into a fresh engine to the
///   same state;
/// - opening the same directory again (after the first engine is closed)
///   gives the same state: the first open's repair (a torn tail dropped)
///   left a store that opens cleanly.
pub fn open_and_check(dir: &Path) -> bool {
    let first = match builder(PolicyDocument::new()).open_store(dir, open_options()) {
        Ok((engine, _report)) => engine.snapshot_json(),
        Err(e) => {
            let _ = e.to_string();
            return false;
        }
    };
    let fresh = engine();
    fresh
        .restore_json(&first)
        .unwrap_or_else(|e| panic!("the state of an opened store does not restore: {e}"));
    assert_eq!(fresh.snapshot_json(), first, "restored state differs");
    match builder(PolicyDocument::new()).open_store(dir, open_options()) {
        Ok((engine, report)) => {
            assert_eq!(report.dropped_tail_bytes, 0, "second open dropped bytes");
            assert_eq!(engine.snapshot_json(), first, "second open differs");
        }
        Err(e) => panic!("a store that opened once does not open again: {e}"),
    }
    true
}
