//! The durable store: reopen, torn tails, corruption, snapshots, locking.
mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use authlock::*;
use common::*;

/// The tests of this file run one at a time: one of them starts a process
/// (`chattr`), and a child between fork and exec briefly holds a copy of
/// every open descriptor, a store's LOCK included, so a store closed at that
/// moment would stay locked until the exec.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("authlock-store-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn open(dir: &Path, options: StoreOptions) -> Result<(Engine, OpenReport)> {
    Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .clock(FakeClock::at(Timestamp::from_millis(T0)))
        .ids(SeededIds::new(7))
        .open_store(dir, options)
}

fn create() -> StoreOptions {
    StoreOptions {
        create: true,
        ..StoreOptions::default()
    }
}

fn journals(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v
}

fn snapshots(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "snap"))
        .collect();
    v.sort();
    v
}

/// The store's status once `done` holds for it, polled while the
/// background compactor (on its own thread, off the attempt path) works.
/// Gives up after a generous bound of polls and returns the last status,
/// for the caller's assertions to report.
fn poll_status(engine: &Engine, done: impl Fn(&StoreStatus) -> bool) -> StoreStatus {
    let mut status = engine.store_status().expect("a store-backed engine");
    for _ in 0..20_000 {
        if done(&status) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        status = engine.store_status().expect("a store-backed engine");
    }
    status
}

/// Waits until the store's background compactor has written `n`
/// snapshots, none failing.
fn wait_for_compactions(engine: &Engine, n: u64) -> StoreStatus {
    let status = poll_status(engine, |s| s.compactions >= n || s.last_error.is_some());
    assert_eq!(status.last_error, None, "compaction failed");
    assert!(
        status.compactions >= n,
        "fewer than {n} snapshots: {status:?}"
    );
    status
}

/// Registers a password and records two failures (one reserved); returns
/// its ID. A third failure locks it.
fn some_work(engine: &Engine) -> AuthenticatorId {
    let pin = engine
        .register(&Registration::new(
            "alice",
            AuthenticatorType::Password,
            "bank",
        ))
        .unwrap();
    engine
        .record_failure(&pin, &Attempt::in_app("bank"))
        .unwrap();
    let r = engine.reserve(&pin, &Attempt::in_app("bank")).unwrap();
    assert!(r.accepted);
    pin
}

#[test]
fn counters_survive_closing_and_reopening_the_store() {
    let _serial = serial();
    let dir = temp_dir("reopen");
    let (engine, report) = open(&dir, create()).unwrap();
    assert_eq!(report, OpenReport::default());
    let pin = some_work(&engine);
    let before = engine.snapshot();
    drop(engine);
    let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(report.replayed_events, 3);
    assert_eq!(engine.snapshot(), before);
    assert_eq!(engine.authenticator(&pin).unwrap().apps[0].failures, 2);
    assert_eq!(engine.history("alice").on_user.len(), 3);
    // The store keeps working after a reopen.
    engine
        .record_failure(&pin, &Attempt::in_app("bank"))
        .unwrap();
    assert_eq!(
        engine.last_seq(),
        5,
        "the third failure and the lock it caused"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_directory_is_refused_unless_create_is_set() {
    let _serial = serial();
    let dir = temp_dir("missing");
    let err = open(&dir, StoreOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!dir.exists(), "nothing was created");
    open(&dir, create()).unwrap();
    assert!(dir.join("LOCK").exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_opener_gets_an_in_use_error() {
    let _serial = serial();
    let dir = temp_dir("two");
    let (first, _) = open(&dir, create()).unwrap();
    let err = open(&dir, StoreOptions::default()).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    some_work(&first);
    drop(first);
    let (again, _) = open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(again.last_seq(), 3);
    fs::remove_dir_all(&dir).unwrap();
}

fn is_writable(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let ok = fs::write(&probe, b"x").is_ok();
    let _ = fs::remove_file(&probe);
    ok
}

#[test]
fn a_read_only_directory_is_refused_with_a_clear_error() {
    let _serial = serial();
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("readonly");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    let mut immutable = false;
    if is_writable(&dir) {
        // Permissions do not bind root: make the directory immutable instead.
        let st = std::process::Command::new("chattr")
            .arg("+i")
            .arg(&dir)
            .status();
        immutable = st.is_ok_and(|s| s.success());
    }
    assert!(
        !is_writable(&dir),
        "could not make a read-only directory on this machine"
    );
    let err = open(&dir, StoreOptions::default()).unwrap_err();
    if immutable {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&dir)
            .status();
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(err.to_string().contains("lock file"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_tail_is_truncated_on_open_and_reported() {
    let _serial = serial();
    let dir = temp_dir("torn");
    let (engine, _) = open(&dir, create()).unwrap();
    let pin = some_work(&engine);
    let before = engine.snapshot();
    drop(engine);
    let journal = journals(&dir).pop().unwrap();
    let good_len = fs::metadata(&journal).unwrap().len();
    // A write cut short: a record header promising more than is there.
    let mut f = OpenOptions::new().append(true).open(&journal).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(f);
    let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(report.dropped_tail_bytes, 7);
    assert_eq!(engine.snapshot(), before);
    assert_eq!(
        fs::metadata(&journal).unwrap().len(),
        good_len,
        "truncated to the last good record"
    );
    engine
        .record_failure(&pin, &Attempt::in_app("bank"))
        .unwrap();
    drop(engine);
    let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(report.dropped_tail_bytes, 0);
    assert_eq!(engine.authenticator(&pin).unwrap().apps[0].failures, 3);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_last_record_cut_in_half_loses_only_that_call() {
    let _serial = serial();
    let dir = temp_dir("half");
    let (engine, _) = open(&dir, create()).unwrap();
    let pin = some_work(&engine);
    drop(engine);
    let journal = journals(&dir).pop().unwrap();
    let len = fs::metadata(&journal).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
    assert!(report.dropped_tail_bytes > 0);
    assert_eq!(
        engine.last_seq(),
        2,
        "the reservation's record was the torn one"
    );
    assert_eq!(engine.authenticator(&pin).unwrap().apps[0].failures, 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_byte_in_the_middle_of_the_journal_is_refused() {
    let _serial = serial();
    let dir = temp_dir("flip");
    let (engine, _) = open(&dir, create()).unwrap();
    some_work(&engine);
    drop(engine);
    let journal = journals(&dir).pop().unwrap();
    let mut bytes = fs::read(&journal).unwrap();
    bytes[20] ^= 0x40; // inside the first record's payload
    fs::write(&journal, &bytes).unwrap();
    let err = open(&dir, StoreOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("corrupt at byte 0") && msg.contains("checksum"),
        "{msg}"
    );
    assert_eq!(fs::read(&journal).unwrap(), bytes, "nothing was truncated");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compaction_writes_a_snapshot_and_trims_the_journal_behind_it() {
    let _serial = serial();
    let dir = temp_dir("compact");
    let (engine, _) = open(&dir, create()).unwrap();
    let pin = some_work(&engine);
    assert_eq!(engine.compact().unwrap(), 3);
    engine
        .record_failure(&pin, &Attempt::in_app("bank"))
        .unwrap();
    assert_eq!(engine.compact().unwrap(), 5);
    let unlocked = engine
        .unlock(&pin, "bank", &Actor::admin("ops"), None)
        .unwrap();
    assert_eq!(unlocked.len(), 1);
    assert_eq!(engine.compact().unwrap(), 6);
    let before = engine.snapshot();
    drop(engine);
    assert_eq!(
        snapshots(&dir).len(),
        2,
        "the newest two snapshots are kept"
    );
    assert_eq!(
        journals(&dir).len(),
        2,
        "and the segments after the older of them"
    );
    let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
    assert_eq!((report.snapshot_seq, report.replayed_events), (6, 0));
    assert_eq!(engine.snapshot(), before);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_truncated_snapshot_is_refused_and_the_previous_snapshot_recovers() {
    let _serial = serial();
    let dir = temp_dir("snapfall");
    let (engine, _) = open(&dir, create()).unwrap();
    let pin = some_work(&engine);
    engine.compact().unwrap();
    engine
        .record_failure(&pin, &Attempt::in_app("bank"))
        .unwrap();
    engine.compact().unwrap();
    engine
        .record_failure(&pin, &Attempt::in_app("bank"))
        .unwrap();
    let before = engine.snapshot();
    drop(engine);
    let newest = snapshots(&dir).pop().unwrap();
    let len = fs::metadata(&newest).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&newest)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let err = open(&dir, StoreOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("truncated") && msg.contains("Recovery::PreviousSnapshot"),
        "{msg}"
    );
    let (engine, report) = open(
        &dir,
        StoreOptions {
            recovery: Recovery::PreviousSnapshot,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    assert!(report.used_previous_snapshot);
    assert_eq!(report.snapshot_seq, 3);
    assert_eq!(
        engine.snapshot(),
        before,
        "previous snapshot plus journal gives the same state"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn automatic_compaction_keeps_the_state() {
    let _serial = serial();
    let dir = temp_dir("auto");
    let opts = StoreOptions {
        create: true,
        compact_every: Some(10),
        ..StoreOptions::default()
    };
    let (engine, _) = open(&dir, opts).unwrap();
    let pw = engine
        .register(&Registration::new(
            "bob",
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap();
    for _ in 0..12 {
        engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
        engine.record_success(&pw, &Attempt::in_app("web")).unwrap();
    }
    // The compactor runs on its own thread; wait for its first snapshot.
    wait_for_compactions(&engine, 1);
    assert!(!snapshots(&dir).is_empty());
    let before = engine.snapshot();
    drop(engine);
    let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
    assert!(report.snapshot_seq >= 10);
    assert_eq!(engine.snapshot(), before);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn batched_and_unsynced_stores_keep_everything_on_a_clean_close() {
    let _serial = serial();
    for (name, durability) in [
        (
            "batched",
            Durability::Batched {
                max_delay: std::time::Duration::from_millis(5),
                max_events: 100,
            },
        ),
        ("none", Durability::None),
    ] {
        let dir = temp_dir(name);
        let (engine, _) = open(
            &dir,
            StoreOptions {
                durability,
                ..create()
            },
        )
        .unwrap();
        some_work(&engine);
        let before = engine.snapshot();
        drop(engine);
        let (engine, _) = open(
            &dir,
            StoreOptions {
                durability,
                ..StoreOptions::default()
            },
        )
        .unwrap();
        assert_eq!(engine.snapshot(), before, "{name}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_engine_stops_after_its_sink_fails_to_store_events() {
    let _serial = serial();
    struct Flaky(AtomicUsize);
    impl EventSink for Flaky {
        fn append(&self, _events: &[Event]) -> std::result::Result<(), String> {
            if self.0.fetch_add(1, Ordering::SeqCst) >= 2 {
                Err("disk full".into())
            } else {
                Ok(())
            }
        }
        fn events(&self) -> Vec<Event> {
            Vec::new()
        }
    }
    let engine = Engine::builder(PolicyDocument::new())
        .history(Arc::new(Flaky(AtomicUsize::new(0))))
        .build();
    let pw = engine
        .register(&Registration::new("a", AuthenticatorType::Password, "web"))
        .unwrap();
    engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
    let err = engine
        .record_failure(&pw, &Attempt::in_app("web"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Storage(m) if m.contains("disk full")),
        "{err:?}"
    );
    for result in [
        engine.check(&pw, "web").map(|_| ()),
        engine
            .record_success(&pw, &Attempt::in_app("web"))
            .map(|_| ()),
        engine
            .register(&Registration::new("b", AuthenticatorType::Password, "web"))
            .map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::Storage(_))), "{result:?}");
    }
}

#[test]
fn compact_without_a_store_is_an_error() {
    let _serial = serial();
    let f = engine();
    assert!(matches!(f.engine.compact(), Err(Error::Storage(_))));
}

#[test]
fn an_empty_path_and_a_zero_batch_are_refused() {
    let _serial = serial();
    let err = open(Path::new(""), create()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                what: "store directory",
                ..
            }
        ),
        "{err:?}"
    );
    let dir = temp_dir("zero-batch");
    for (delay, events) in [(0, 10), (5, 0)] {
        let durability = Durability::Batched {
            max_delay: std::time::Duration::from_millis(delay),
            max_events: events,
        };
        let err = open(
            &dir,
            StoreOptions {
                durability,
                ..create()
            },
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidArgument {
                    what: "durability",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert!(!dir.exists(), "nothing was created");
}

#[test]
fn batched_writes_reach_the_file_before_the_call_returns() {
    let _serial = serial();
    let dir = temp_dir("batched-file");
    let durability = Durability::Batched {
        max_delay: std::time::Duration::from_secs(3600),
        max_events: 1_000_000,
    };
    let (engine, _) = open(
        &dir,
        StoreOptions {
            durability,
            ..create()
        },
    )
    .unwrap();
    let pw = engine
        .register(&Registration::new("a", AuthenticatorType::Password, "web"))
        .unwrap();
    engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
    // Not synced yet, but written: a killed process would not lose it.
    let on_disk = fs::read(journals(&dir).pop().unwrap()).unwrap();
    let events = on_disk.windows(8).filter(|w| w == b"\"failure").count();
    assert_eq!(events, 1, "the failure is in the journal file");
    drop(engine);
    fs::remove_dir_all(&dir).unwrap();
}

/// Bytes of the one journal segment of a store that did `some_work`
/// (three records), with the state it holds.
fn small_journal(name: &str) -> (PathBuf, PathBuf, Vec<u8>, Snapshot) {
    // In memory where the system has a tmpfs: the bit-flip test opens the
    // store thousands of times, and each repair syncs.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        let d = shm.join(format!("authlock-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    } else {
        temp_dir(name)
    };
    let (engine, _) = open(&dir, create()).unwrap();
    some_work(&engine);
    let state = engine.snapshot();
    drop(engine);
    let journal = journals(&dir).pop().unwrap();
    let bytes = fs::read(&journal).unwrap();
    (dir, journal, bytes, state)
}

#[test]
fn a_store_written_by_several_threads_reopens_in_every_durability_mode() {
    let _serial = serial();
    let modes = [
        Durability::Sync,
        Durability::Batched {
            max_delay: std::time::Duration::from_millis(2),
            max_events: 7,
        },
        Durability::None,
    ];
    for (m, durability) in modes.into_iter().enumerate() {
        let dir = temp_dir(&format!("threads-{m}"));
        let opts = StoreOptions {
            durability,
            ..create()
        };
        let (engine, _) = open(&dir, opts).unwrap();
        let engine = Arc::new(engine);
        const THREADS: usize = 4;
        const CALLS: usize = 300;
        let ids: Vec<AuthenticatorId> = (0..THREADS)
            .map(|t| {
                engine
                    .register(&Registration::new(
                        &format!("user-{t}"),
                        AuthenticatorType::Password,
                        "web",
                    ))
                    .unwrap()
            })
            .collect();
        let acknowledged = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for id in &ids {
                let engine = &engine;
                let acknowledged = &acknowledged;
                s.spawn(move || {
                    for i in 0..CALLS {
                        let a = Attempt::in_app("web");
                        if i % 3 == 2 {
                            engine.record_success(id, &a).unwrap();
                        } else {
                            engine.record_failure(id, &a).unwrap();
                        }
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(acknowledged.into_inner(), THREADS * CALLS);
        let before = engine.snapshot();
        assert_eq!(before.last_seq, (THREADS * (CALLS + 1)) as u64);
        drop(engine);
        let (engine, report) = open(
            &dir,
            StoreOptions {
                durability,
                ..StoreOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{durability:?}: the store does not reopen: {e}"));
        assert_eq!(report.replayed_events, before.last_seq, "{durability:?}");
        assert_eq!(engine.snapshot(), before, "{durability:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn restore_is_refused_on_a_store_backed_engine_and_changes_nothing() {
    let _serial = serial();
    let dir = temp_dir("restore");
    let (engine, _) = open(&dir, create()).unwrap();
    let earlier = engine.snapshot_json();
    let pin = some_work(&engine);
    let third = engine
        .record_failure(&pin, &Attempt::in_app("bank"))
        .unwrap();
    assert!(matches!(third.decision, Decision::Locked { .. }));
    let before = engine.snapshot();
    let err = engine.restore_json(&earlier).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidArgument {
                what: "restore",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("durable store"), "{err}");
    let err = engine
        .restore(&Snapshot::from_json(&earlier).unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument { .. }), "{err:?}");
    assert_eq!(
        engine.snapshot(),
        before,
        "the counters were not rolled back"
    );
    drop(engine);
    let (engine, _) = open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(engine.snapshot(), before, "the journal still replays");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_length_bit_in_the_first_record_is_refused_not_taken_for_a_torn_tail() {
    let _serial = serial();
    let (dir, journal, bytes, _) = small_journal("length");
    let mut bad = bytes.clone();
    bad[4 + 3] ^= 0x80; // the top bit of record 0's length
    fs::write(&journal, &bad).unwrap();
    let err = open(&dir, StoreOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("corrupt at byte 0 (record 0)")
            && err.to_string().contains("header"),
        "{err}"
    );
    assert_eq!(fs::read(&journal).unwrap(), bad, "nothing was truncated");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_zero_filled_tail_is_a_torn_tail() {
    let _serial = serial();
    for zeros in [1usize, 8, 16, 100, 5000] {
        let (dir, journal, bytes, state) = small_journal(&format!("zeros-{zeros}"));
        let mut padded = bytes.clone();
        padded.resize(bytes.len() + zeros, 0);
        fs::write(&journal, &padded).unwrap();
        let (engine, report) = open(&dir, StoreOptions::default())
            .unwrap_or_else(|e| panic!("{zeros} zero bytes: {e}"));
        assert_eq!(report.dropped_tail_bytes, zeros as u64);
        assert_eq!(engine.snapshot(), state);
        assert_eq!(
            fs::read(&journal).unwrap(),
            bytes,
            "cut back to the last record"
        );
        let saved = report.torn_tail_saved_to.expect("the torn tail is kept");
        assert_eq!(fs::read(saved).unwrap(), vec![0u8; zeros]);
        drop(engine);
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// Every single-bit flip of a small journal is refused with an error, or,
/// inside its last record only, opens as a torn tail holding exactly the
/// events before that record. No flip opens with any other state.
#[test]
fn every_single_bit_flip_of_a_journal_is_refused_or_a_torn_last_record() {
    let _serial = serial();
    let (dir, journal, bytes, state) = small_journal("flips");
    // Where the last record starts, and the state without it.
    let last_start = {
        let mut at = 0;
        let mut last = 0;
        while at < bytes.len() {
            last = at;
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            at += 16 + len;
        }
        last
    };
    let without_last = {
        fs::write(&journal, &bytes[..last_start]).unwrap();
        let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
        assert_eq!(report.dropped_tail_bytes, 0);
        engine.snapshot()
    };
    assert_ne!(without_last, state);
    let (mut refused, mut torn) = (0usize, 0usize);
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        fs::write(&journal, &flipped).unwrap();
        match open(&dir, StoreOptions::default()) {
            Err(e) => {
                assert!(matches!(e, Error::Storage(_)), "bit {bit}: {e:?}");
                assert_eq!(
                    fs::read(&journal).unwrap(),
                    flipped,
                    "bit {bit}: refused, yet changed"
                );
                refused += 1;
            }
            Ok((engine, report)) => {
                assert!(
                    bit / 8 >= last_start,
                    "bit {bit} (before the last record at byte {last_start}) was accepted"
                );
                assert!(
                    report.dropped_tail_bytes > 0,
                    "bit {bit}: accepted as if intact"
                );
                assert_eq!(engine.snapshot(), without_last, "bit {bit}");
                torn += 1;
            }
        }
    }
    assert_eq!(refused + torn, bytes.len() * 8);
    assert!(refused > torn, "{refused} refused, {torn} torn");
    println!(
        "{} single-bit flips of a {}-byte journal: {refused} refused, {torn} read as a torn last record",
        bytes.len() * 8,
        bytes.len()
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_compaction_is_reported_and_the_store_keeps_working() {
    let _serial = serial();
    let dir = temp_dir("compact-fails");
    let (engine, _) = open(&dir, create()).unwrap();
    let pin = some_work(&engine);
    // The snapshot's temporary file cannot be created: a directory is in
    // its place.
    let tmp = dir.join(format!("snapshot-{:020}.snap.tmp", engine.last_seq()));
    fs::create_dir(&tmp).unwrap();
    let err = engine.compact().unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    let status = engine.store_status().unwrap();
    assert_eq!(status.failed_compactions, 1);
    assert_eq!(status.compactions, 0);
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("snapshot")),
        "{status:?}"
    );
    // The engine goes on, and the journal holds every event.
    engine
        .record_success(&pin, &Attempt::in_app("bank"))
        .unwrap();
    let before = engine.snapshot();
    drop(engine);
    fs::remove_dir(&tmp).unwrap();
    let (engine, _) = open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(engine.snapshot(), before);
    // The next compaction succeeds and clears the error.
    assert_eq!(engine.compact().unwrap(), before.last_seq);
    let status = engine.store_status().unwrap();
    assert_eq!((status.compactions, status.last_error), (1, None));
    assert_eq!(engine.snapshot(), before);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn background_compaction_failures_are_reported_and_retried() {
    let _serial = serial();
    let dir = temp_dir("compact-bg");
    let opts = StoreOptions {
        compact_every: Some(4),
        ..create()
    };
    let (engine, _) = open(&dir, opts).unwrap();
    let pw = engine
        .register(&Registration::new(
            "bob",
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap();
    // Block every snapshot the first compaction could write (its sequence
    // is 4 or a little more: calls go on while it runs).
    let blocked: Vec<PathBuf> = (1..=40)
        .map(|s| dir.join(format!("snapshot-{s:020}.snap.tmp")))
        .collect();
    for b in &blocked {
        fs::create_dir(b).unwrap();
    }
    for _ in 0..3 {
        engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
    }
    let status = poll_status(&engine, |s| s.failed_compactions > 0);
    assert_eq!(status.failed_compactions, 1, "{status:?}");
    assert!(status.last_error.is_some());
    for b in &blocked {
        fs::remove_dir(b).unwrap();
    }
    // Another four events: the compactor tries again, and succeeds.
    engine
        .unlock(&pw, "web", &Actor::admin("ops"), None)
        .unwrap();
    for _ in 0..4 {
        engine.record_success(&pw, &Attempt::in_app("web")).unwrap();
    }
    let status = poll_status(&engine, |s| s.compactions > 0);
    assert_eq!(status.compactions, 1, "{status:?}");
    assert_eq!(status.failed_compactions, 1);
    assert_eq!(status.last_error, None);
    let before = engine.snapshot();
    drop(engine);
    let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
    assert!(report.snapshot_seq >= 8, "{report:?}");
    assert_eq!(engine.snapshot(), before);
    fs::remove_dir_all(&dir).unwrap();
}

/// Where each journal record starts, read from the headers.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 16 <= bytes.len() {
        starts.push(at);
        at += 16 + u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    starts
}

/// A call that changes several authenticators (a suspension, an unlock
/// fanned out over passkeys, an identifier that implies two
/// authenticators) is one journal record: a crash in the middle of writing
/// it keeps none of it, and the store reopens into a state that restores.
#[test]
fn a_call_on_several_authenticators_is_one_journal_record() {
    let _serial = serial();
    type Call = fn(&Engine);
    let calls: [(&str, Call); 4] = [
        ("suspend", |e| {
            e.suspend_user("alice", &Actor::admin("ops"), Some("left"))
                .unwrap();
        }),
        ("unsuspend", |e| {
            e.unsuspend_user("alice", &Actor::admin("ops"), None)
                .unwrap();
        }),
        ("email", |e| {
            let ids = e
                .add_identifier("alice", &Identifier::email("a@example.com"), &Actor::System)
                .unwrap();
            assert_eq!(ids.len(), 2, "email OTP and the magic link");
        }),
        ("unlock passkeys", |e| {
            let events = e
                .unlock_type(
                    "alice",
                    AuthenticatorType::Passkey,
                    "web",
                    &Actor::admin("ops"),
                    None,
                )
                .unwrap();
            assert!(events.len() >= 2, "{events:?}");
        }),
    ];
    for (name, call) in calls {
        let dir = temp_dir(&format!("batch-{}", name.replace(' ', "-")));
        let (engine, _) = open(&dir, create()).unwrap();
        for n in 0..3 {
            let pk = engine
                .register(
                    &Registration::new("alice", AuthenticatorType::Passkey, "web")
                        .on_device(&format!("phone-{n}"))
                        .with_public_key(&format!("key-{n}")),
                )
                .unwrap();
            engine
                .lock(&pk, "web", &Actor::admin("ops"), Some("lost"))
                .unwrap();
        }
        if name == "unsuspend" {
            engine
                .suspend_user("alice", &Actor::admin("ops"), None)
                .unwrap();
        }
        let before = engine.snapshot();
        drop(engine);
        let journal = journals(&dir).pop().unwrap();
        let old_len = fs::read(&journal).unwrap().len();
        let (engine, _) = open(&dir, StoreOptions::default()).unwrap();
        call(&engine);
        let after = engine.snapshot();
        assert!(
            after.last_seq >= before.last_seq + 2,
            "{name}: several events"
        );
        drop(engine);
        let bytes = fs::read(&journal).unwrap();
        let new_records: Vec<usize> = record_starts(&bytes)
            .into_iter()
            .filter(|&s| s >= old_len)
            .collect();
        assert_eq!(new_records, [old_len], "{name}: one record for the call");
        // Torn in the middle: none of the call is kept.
        let cut = old_len + (bytes.len() - old_len) / 2;
        OpenOptions::new()
            .write(true)
            .open(&journal)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let (engine, report) = open(&dir, StoreOptions::default()).unwrap();
        assert!(report.dropped_tail_bytes > 0, "{name}");
        assert_eq!(
            engine.snapshot(),
            before,
            "{name}: nothing of the call is kept"
        );
        Engine::new(PolicyDocument::parse(SIMPLE).unwrap())
            .restore_json(&engine.snapshot_json())
            .unwrap_or_else(|e| panic!("{name}: the reopened state does not restore: {e}"));
        drop(engine);
        fs::remove_dir_all(&dir).unwrap();
    }
}
