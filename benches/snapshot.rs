//! Snapshot save and restore at 1M authenticators (one password per user,
//! one app), each timed three times. `cargo bench --bench snapshot`; prints
//! one line per run and the median; figures in docs/PERFORMANCE.md.
//!
//! Timed apart from `benches/memory.rs`, whose counting allocator adds a
//! shared atomic counter to every allocation: restore allocates on two
//! threads at once, and with that counter it measured 1.48-1.49 s against
//! 1.33-1.45 s without, in the same minutes.

use std::sync::Arc;
use std::time::Instant;

use authlock::*;

const N: usize = 1_000_000;
const RUNS: usize = 3;

fn engine() -> Engine {
    Engine::builder(PolicyDocument::new())
        .clock(FakeClock::at(Timestamp::from_secs(1_767_225_600)))
        .ids(SeededIds::new(3))
        .history(Arc::new(NoHistory))
        .build()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let e = engine();
    for i in 0..N {
        e.register(&Registration::new(
            &format!("user-{i:07}"),
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap();
    }

    let mut saves = Vec::new();
    let mut snap = String::new();
    for run in 1..=RUNS {
        let t = Instant::now();
        snap = e.snapshot_json();
        let s = t.elapsed().as_secs_f64();
        println!(
            "snapshot/save 1M, run {run}: {s:.2} s ({} MB of JSON)",
            snap.len() >> 20
        );
        saves.push(s);
    }
    println!(
        "snapshot/save 1M: {:.2} s (median of {RUNS})",
        median(saves)
    );

    // Each restore goes into a fresh engine that is kept until the end, so
    // every run pays for fresh memory, as a process restoring at start does.
    let mut restored = Vec::new();
    let mut restores = Vec::new();
    for run in 1..=RUNS {
        let fresh = engine();
        let t = Instant::now();
        fresh.restore_json(&snap).unwrap();
        let s = t.elapsed().as_secs_f64();
        println!("snapshot/restore 1M, run {run}: {s:.2} s");
        assert_eq!(
            fresh.len(),
            N,
            "the restored engine holds every authenticator"
        );
        restores.push(s);
        restored.push(fresh);
    }
    println!(
        "snapshot/restore 1M: {:.2} s (median of {RUNS})",
        median(restores)
    );
}
