//! Two threads against one: disjoint authenticators, and one shared
//! authenticator. `cargo bench --bench threads`; figures in
//! docs/PERFORMANCE.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authlock::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const POLICY: &str = r#"
[policies.password]
max_failures = 100
failure_window = "1ms"
lockout = { kind = "until_unlocked" }
"#;

/// An engine with `n` passwords in app "web" (one per user).
fn engine_with(n: usize) -> (Engine, Vec<AuthenticatorId>, FakeClock) {
    let clock = FakeClock::at(Timestamp::from_secs(1_767_225_600));
    let engine = Engine::builder(PolicyDocument::parse(POLICY).unwrap())
        .clock(clock.clone())
        .ids(SeededIds::new(1))
        .history(Arc::new(MemoryHistory::bounded(1 << 20)))
        .build();
    let ids = (0..n)
        .map(|i| {
            engine
                .register(&Registration::new(
                    &format!("user-{i}"),
                    AuthenticatorType::Password,
                    "web",
                ))
                .unwrap()
        })
        .collect();
    (engine, ids, clock)
}

/// A cheap uniform index sequence (xorshift).
struct Xs(u64);
impl Xs {
    #[inline]
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `iters` checks in total, spread over `threads` threads, each on its own
/// authenticators (`disjoint`) or all on one.
fn threaded(
    engine: &Engine,
    ids: &[AuthenticatorId],
    threads: usize,
    iters: u64,
    disjoint: bool,
) -> Duration {
    let per = iters / threads as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mine: &[AuthenticatorId] = if disjoint {
                    let chunk = ids.len() / threads;
                    &ids[t * chunk..(t + 1) * chunk]
                } else {
                    &ids[..1]
                };
                let mut xs = Xs(0x1234 + t as u64);
                for _ in 0..per {
                    black_box(engine.check(&mine[xs.next(mine.len())], "web").unwrap());
                }
            });
        }
    });
    start.elapsed()
}

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads_check");
    let (engine, ids, clock) = engine_with(10_000);
    g.throughput(Throughput::Elements(1));
    for (name, threads, disjoint) in [
        ("1-thread", 1, true),
        ("2-threads-disjoint", 2, true),
        ("2-threads-shared", 2, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| threaded(&engine, &ids, threads, iters.max(2), disjoint))
        });
    }
    g.finish();

    // Two threads recording failures and successes on one authenticator:
    // correctness under contention, and what it costs.
    let mut g = c.benchmark_group("threads_shared_writes");
    let id = ids[0];
    g.bench_function("2-threads-failure-success", |b| {
        b.iter_custom(|iters| {
            let per = (iters / 2).max(1);
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let a = Attempt::in_app("web");
                        for i in 0..per {
                            if i % 4 == 3 {
                                black_box(engine.record_success(&id, &a).unwrap());
                            } else {
                                black_box(engine.record_failure(&id, &a).unwrap());
                            }
                        }
                    });
                }
            });
            clock.advance(Duration::from_millis(1));
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = threads
}
criterion_main!(benches);
