//! One engine operation in a tight loop, for a profiler: the workload
//! behind the profiles in docs/PERFORMANCE.md, without a benchmark
//! harness's setup in the samples.
//!
//! ```sh
//! cargo build --profile bench --example profile_ops
//! perf record -g target/release/examples/profile_ops record_failure
//! perf report --no-children
//! ```
//!
//! Operations: `check_random` (1M passwords, uniformly random `check`),
//! `record_failure` (one hot password, history on), `lock_unlock`,
//! `snapshot` (save and restore at 1M), `restore` (three restores of one
//! snapshot at 1M, each into a fresh engine). Prints the mean time per
//! operation.
//!
//! `record_failure` and `lock_unlock` keep the newest 2^20 events in memory,
//! as the benchmarks do; `PROFILE_HISTORY=none` runs them with no history
//! and `PROFILE_HISTORY=small` with a 1,024-event one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use authlock::*;

const POLICY: &str = r#"
[policies.password]
max_failures = 100
failure_window = "1ms"
lockout = { kind = "until_unlocked" }
"#;

fn engine(history: Arc<dyn EventSink>) -> (Engine, FakeClock) {
    let clock = FakeClock::at(Timestamp::from_secs(1_767_225_600));
    let engine = Engine::builder(PolicyDocument::parse(POLICY).expect("the policy is valid"))
        .clock(clock.clone())
        .ids(SeededIds::new(1))
        .history(history)
        .build();
    (engine, clock)
}

fn register(engine: &Engine, n: usize) -> Vec<AuthenticatorId> {
    (0..n)
        .map(|i| {
            engine
                .register(&Registration::new(
                    &format!("user-{i:07}"),
                    AuthenticatorType::Password,
                    "web",
                ))
                .expect("registration succeeds")
        })
        .collect()
}

fn report(what: &str, n: u64, t: Instant) {
    println!(
        "{what}: {:.1} ns per operation",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}

fn main() -> Result<()> {
    let op = std::env::args().nth(1).unwrap_or_default();
    // The sink of `record_failure` and `lock_unlock`: the benchmark's
    // bounded in-memory history unless PROFILE_HISTORY says otherwise, so
    // that the history's share of a call can be measured.
    let bounded = || -> Arc<dyn EventSink> {
        match std::env::var("PROFILE_HISTORY").as_deref() {
            Ok("none") => Arc::new(NoHistory),
            Ok("small") => Arc::new(MemoryHistory::bounded(1 << 10)),
            _ => Arc::new(MemoryHistory::bounded(1 << 20)),
        }
    };
    match op.as_str() {
        "check_random" => {
            let (engine, _) = engine(Arc::new(NoHistory));
            let ids = register(&engine, 1_000_000);
            // Random indices drawn ahead, so the loop reads the ID table
            // sequentially and the engine's reads are the random ones.
            let mut x: u64 = 0x9e37_79b9;
            let picks: Vec<AuthenticatorId> = (0..4_000_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ids[(x % ids.len() as u64) as usize]
                })
                .collect();
            let t = Instant::now();
            for id in &picks {
                std::hint::black_box(engine.check(id, "web")?);
            }
            report("check, random over 1M", picks.len() as u64, t);
        }
        "record_failure" => {
            let (engine, clock) = engine(bounded());
            let id = register(&engine, 1)[0];
            let n = 10_000_000;
            let t = Instant::now();
            for _ in 0..n {
                clock.advance(Duration::from_millis(1));
                std::hint::black_box(engine.record_failure(&id, &Attempt::in_app("web"))?);
            }
            report("record_failure, hot", n, t);
        }
        "lock_unlock" => {
            let (engine, _) = engine(bounded());
            let id = register(&engine, 1)[0];
            let admin = Actor::admin("ops");
            let n = 5_000_000;
            let t = Instant::now();
            for _ in 0..n {
                engine.lock(&id, "web", &admin, None)?;
                engine.unlock(&id, "web", &admin, None)?;
            }
            report("lock + unlock", n, t);
        }
        "snapshot" => {
            let (engine, _) = engine(Arc::new(NoHistory));
            register(&engine, 1_000_000);
            let t = Instant::now();
            let json = engine.snapshot_json();
            println!("save: {:.2} s", t.elapsed().as_secs_f64());
            let (fresh, _) = self::engine(Arc::new(NoHistory));
            let t = Instant::now();
            let parsed = snapshot::Snapshot::from_json(&json)?;
            println!("read: {:.2} s", t.elapsed().as_secs_f64());
            drop(parsed);
            let t = Instant::now();
            fresh.restore_json(&json)?;
            println!(
                "restore (read and rebuild): {:.2} s",
                t.elapsed().as_secs_f64()
            );
        }
        "restore" => {
            let (engine, _) = engine(Arc::new(NoHistory));
            register(&engine, 1_000_000);
            let json = engine.snapshot_json();
            drop(engine);
            // Each restored engine is kept until the timing ends, so that
            // dropping one is not timed.
            let fresh: Vec<Engine> = (0..3)
                .map(|_| self::engine(Arc::new(NoHistory)).0)
                .collect();
            let t = Instant::now();
            for e in &fresh {
                e.restore_json(&json)?;
            }
            println!(
                "restore (read and rebuild): {:.2} s",
                t.elapsed().as_secs_f64() / fresh.len() as f64
            );
        }
        other => {
            eprintln!(
                "unknown operation `{other}`: use check_random, record_failure, lock_unlock, snapshot or restore"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
