//! The decision path, side by side with governor's keyed rate limiter over
//! the same keys in the same run. `cargo bench --bench engine`; figures in
//! docs/PERFORMANCE.md.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authlock::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};

const POLICY: &str = r#"
[policies.password]
max_failures = 100
failure_window = "1ms"
lockout = { kind = "until_unlocked" }
"#;

/// IDs the benchmark can compute from an index, as governor's keys are:
/// the i-th registration gets `nth_id(i)`, so picking a random
/// authenticator costs no lookup in a table of IDs on the caller's side.
/// The multiplier is odd, so the IDs are distinct and spread over all 128
/// bits.
struct IndexIds(AtomicU64);

impl IdGenerator for IndexIds {
    fn next_id(&self) -> AuthenticatorId {
        nth_id(self.0.fetch_add(1, Ordering::Relaxed) as usize)
    }
}

#[inline]
fn nth_id(i: usize) -> AuthenticatorId {
    AuthenticatorId::from_u128(
        (i as u128 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
    )
}

/// An engine with `n` passwords in app "web" (one per user), history kept in
/// a bounded in-memory buffer, and a fake clock the caller advances.
fn engine_with(n: usize) -> (Engine, Vec<AuthenticatorId>, FakeClock) {
    let clock = FakeClock::at(Timestamp::from_secs(1_767_225_600));
    let engine = Engine::builder(PolicyDocument::parse(POLICY).unwrap())
        .clock(clock.clone())
        .ids(IndexIds(AtomicU64::new(0)))
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

type Keyed = RateLimiter<
    u64,
    governor::state::keyed::DefaultKeyedStateStore<u64>,
    governor::clock::DefaultClock,
>;

fn governor_with(n: u64) -> Keyed {
    let quota = Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    let limiter = RateLimiter::keyed(quota);
    for k in 0..n {
        let _ = limiter.check_key(&k);
    }
    limiter
}

/// A cheap uniform index sequence (xorshift), the same for both libraries.
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

fn check(c: &mut Criterion) {
    let mut g = c.benchmark_group("check_hot");
    let (engine, ids, _) = engine_with(1);
    let id = ids[0];
    g.bench_function("authlock", |b| {
        b.iter(|| engine.check(black_box(&id), black_box("web")).unwrap())
    });
    let gov = governor_with(1);
    g.bench_function("governor", |b| {
        b.iter(|| gov.check_key(black_box(&0)).is_ok())
    });
    g.finish();

    let mut g = c.benchmark_group("check_random");
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (engine, ids, _) = engine_with(n);
        assert_eq!(ids[n - 1], nth_id(n - 1));
        drop(ids);
        let mut xs = Xs(0x9e37_79b9);
        g.bench_with_input(BenchmarkId::new("authlock", n), &n, |b, &n| {
            b.iter(|| engine.check(&nth_id(xs.next(n)), "web").unwrap())
        });
        drop(engine);
        let gov = governor_with(n as u64);
        let mut xs = Xs(0x9e37_79b9);
        g.bench_with_input(BenchmarkId::new("governor", n), &n, |b, &n| {
            b.iter(|| gov.check_key(&(xs.next(n) as u64)).is_ok())
        });
    }
    g.finish();
}

/// A random cycle over `bytes` of memory in 64-byte lines: each step reads
/// the line whose index the previous read returned, so no read can start
/// before the one before it ends. That is the cost of one dependent cache
/// or memory miss over a working set of that size, the floor under any
/// lookup that must read its entry after finding it.
struct ReadChain {
    lines: Vec<[u64; 8]>,
    at: usize,
}

impl ReadChain {
    fn over(bytes: usize) -> ReadChain {
        let n = (bytes / 64).max(2);
        // Sattolo's shuffle: one cycle through every line.
        let mut order: Vec<usize> = (0..n).collect();
        let mut xs = Xs(0x2545_f491_4f6c_dd1d);
        for i in (1..n).rev() {
            let j = xs.next(i);
            order.swap(i, j);
        }
        let mut lines = vec![[0u64; 8]; n];
        for w in 0..n {
            lines[order[w]][0] = order[(w + 1) % n] as u64;
        }
        ReadChain {
            lines,
            at: order[0],
        }
    }

    #[inline]
    fn step(&mut self) -> usize {
        self.at = self.lines[self.at][0] as usize;
        self.at
    }
}

/// One dependent random read over the memory each side's lookup reads
/// from, at each size of the `check_random` group: authlock's records
/// (144 bytes each, the slot index aside) and governor's buckets (a `u64`
/// key and its 8-byte state). `check` at 1M cannot be faster than the
/// first; see docs/PERFORMANCE.md.
fn dependent_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("dependent_read");
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        for (name, per) in [("records_144B", 144), ("buckets_16B", 16)] {
            let mut chain = ReadChain::over(n * per);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| chain.step())
            });
        }
    }
    g.finish();
}

fn record_failure(c: &mut Criterion) {
    let mut g = c.benchmark_group("record_failure");
    // The window is 1 ms and the clock moves 1 ms per failure, so every
    // failure is counted and the counter never reaches the lock.
    let (engine, ids, clock) = engine_with(1);
    let id = ids[0];
    let step = Duration::from_millis(1);
    g.bench_function(BenchmarkId::new("hot", 1), |b| {
        b.iter(|| {
            clock.advance(step);
            let out = engine.record_failure(&id, &Attempt::in_app("web")).unwrap();
            debug_assert!(out.counted);
            out
        })
    });
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (engine, ids, clock) = engine_with(n);
        assert_eq!(ids[n - 1], nth_id(n - 1));
        drop(ids);
        let mut xs = Xs(0x51ed);
        g.bench_with_input(BenchmarkId::new("random", n), &n, |b, &n| {
            b.iter(|| {
                clock.advance(step);
                engine
                    .record_failure(&nth_id(xs.next(n)), &Attempt::in_app("web"))
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// How many authenticators the action benchmarks cycle through. Each timed
/// batch acts once on each of them, so a clock read brackets a batch, not
/// each call (a clock read costs about 34 ns on this machine, as much as a
/// tenth of the call measured); 128 records stay in the caches, as one hot
/// authenticator does.
const BATCH: usize = 128;

/// Times `op` over `iters` calls in batches of up to [`BATCH`]
/// authenticators, running the untimed `setup` on each authenticator of a
/// batch before the batch is timed.
fn batched(
    iters: u64,
    ids: &[AuthenticatorId],
    mut setup: impl FnMut(&AuthenticatorId),
    mut op: impl FnMut(&AuthenticatorId),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let batch = &ids[..left.min(ids.len())];
        batch.iter().for_each(&mut setup);
        let t = Instant::now();
        batch.iter().for_each(&mut op);
        total += t.elapsed();
        left -= batch.len();
    }
    total
}

fn actions(c: &mut Criterion) {
    let mut g = c.benchmark_group("actions");
    let (engine, ids, _clock) = engine_with(BATCH);
    let a = Attempt::in_app("web");
    // Setup (untimed): three failures on each authenticator; timed: the
    // success that resets them.
    g.bench_function("record_success_after_failures", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                &ids,
                |id| {
                    for _ in 0..3 {
                        engine.record_failure(id, &a).unwrap();
                    }
                },
                |id| {
                    let out = black_box(engine.record_success(id, &a).unwrap());
                    debug_assert!(out.accepted && out.failures == 0);
                },
            )
        })
    });
    let admin = Actor::admin("bench");
    g.bench_function("lock", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                &ids,
                |id| {
                    engine.unlock(id, "web", &admin, None).unwrap();
                },
                |id| {
                    let events = black_box(engine.lock(id, "web", &admin, Some("bench")).unwrap());
                    debug_assert_eq!(events.len(), 1);
                },
            )
        })
    });
    g.bench_function("unlock", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                &ids,
                |id| {
                    engine.lock(id, "web", &admin, None).unwrap();
                },
                |id| {
                    let events = black_box(engine.unlock(id, "web", &admin, None).unwrap());
                    debug_assert_eq!(events.len(), 1);
                },
            )
        })
    });
    g.finish();
}

fn durability(c: &mut Criterion) {
    let mut g = c.benchmark_group("record_failure_durability");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    let modes = [
        ("sync", Durability::Sync),
        (
            "batched-5ms-256",
            Durability::Batched {
                max_delay: Duration::from_millis(5),
                max_events: 256,
            },
        ),
        ("none", Durability::None),
    ];
    for (name, durability) in modes {
        let dir =
            std::env::temp_dir().join(format!("authlock-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let clock = FakeClock::at(Timestamp::from_secs(1_767_225_600));
        let (engine, _) = Engine::builder(PolicyDocument::parse(POLICY).unwrap())
            .clock(clock.clone())
            .open_store(
                &dir,
                StoreOptions {
                    durability,
                    create: true,
                    compact_every: Some(1 << 20),
                    ..StoreOptions::default()
                },
            )
            .unwrap();
        let id = engine
            .register(&Registration::new("u", AuthenticatorType::Password, "web"))
            .unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                clock.advance(Duration::from_millis(1));
                engine.record_failure(&id, &Attempt::in_app("web")).unwrap()
            })
        });
        drop(engine);
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = check, dependent_read, record_failure, actions, durability
}
criterion_main!(benches);
