//! Two threads against one: `check` over disjoint authenticators, `check`
//! on one shared authenticator, and failures and successes recorded on one
//! shared authenticator. `cargo bench --bench threads`; figures in
//! docs/PERFORMANCE.md.
//!
//! The worker threads are started once per benchmark, before anything is
//! measured, and wait on a barrier between measurements. Each `iter_custom`
//! call hands them their share of the operations and measures from their
//! release to the moment the last of them finishes, so thread start-up is
//! never timed.
//!
//! One criterion iteration is one operation, whichever thread does it: the
//! reported time is wall-clock time per operation of the whole pool, and
//! the throughput (`Throughput::Elements(1)`) is the pool's operations per
//! second. The 2-thread / 1-thread throughput ratio is the speed-up; 2.0
//! is perfect scaling.
//!
//! The measuring machine has two cores. While the workers run, criterion's
//! own thread is blocked on the barrier and takes no CPU, so two workers
//! have both cores to themselves; anything else running on the machine
//! shows up directly in the 2-thread figures. On a virtual machine the host
//! may also, for a while, give the two virtual cores less than two cores'
//! worth of time: the control group (arithmetic only, nothing shared)
//! shows what two threads get in the same run.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use authlock::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const POLICY: &str = r#"
[policies.password]
max_failures = 100
failure_window = "1ms"
lockout = { kind = "until_unlocked" }
"#;

/// Authenticators each thread checks (its own range of IDs when disjoint).
const PER_THREAD: usize = 10_000;

/// The fewest operations a worker does per release, so that waking the
/// workers and waiting for the last of them stays negligible beside the
/// work. A multiple of 4, the length of the failure/success cycle.
const MIN_BATCH: u64 = 4_096;

/// IDs the benchmark computes from an index: the i-th registration gets
/// `nth_id(i)`, so picking an authenticator costs no lookup in a table on
/// the caller's side. The multiplier is odd, so the IDs are distinct and
/// spread over all 128 bits.
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

/// An engine with `n` passwords in app "web" (one per user); the i-th has
/// ID `nth_id(i)`.
fn engine_with(n: usize) -> Engine {
    let clock = FakeClock::at(Timestamp::from_secs(1_767_225_600));
    let engine = Engine::builder(PolicyDocument::parse(POLICY).unwrap())
        .clock(clock)
        .ids(IndexIds(AtomicU64::new(0)))
        .history(Arc::new(MemoryHistory::bounded(1 << 20)))
        .build();
    for i in 0..n {
        let id = engine
            .register(&Registration::new(
                &format!("user-{i}"),
                AuthenticatorType::Password,
                "web",
            ))
            .unwrap();
        assert_eq!(id, nth_id(i));
    }
    engine
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

/// The work one worker does per release: `(worker index, operations)` in,
/// a tally out (what the work counts as done correctly), summed over the
/// workers.
type Work = dyn Fn(usize, u64) -> u64 + Send + Sync;

/// What the measuring thread and the workers share.
struct Shared {
    /// Released by the measuring thread to start a round.
    start: Barrier,
    /// Reached by every worker when its share is done, and by the measuring
    /// thread waiting for the last of them.
    done: Barrier,
    /// Operations per worker this round; `STOP` ends the workers.
    ops: AtomicU64,
    /// The sum of the workers' tallies this round.
    tally: AtomicU64,
}

const STOP: u64 = u64::MAX;

/// Worker threads started once and parked on a barrier between rounds.
struct Pool {
    shared: Arc<Shared>,
    threads: usize,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize, work: Arc<Work>) -> Pool {
        let shared = Arc::new(Shared {
            start: Barrier::new(threads + 1),
            done: Barrier::new(threads + 1),
            ops: AtomicU64::new(0),
            tally: AtomicU64::new(0),
        });
        let handles = (0..threads)
            .map(|t| {
                let shared = Arc::clone(&shared);
                let work = Arc::clone(&work);
                std::thread::spawn(move || {
                    loop {
                        shared.start.wait();
                        let ops = shared.ops.load(Ordering::Acquire);
                        if ops == STOP {
                            return;
                        }
                        let tally = work(t, ops);
                        shared.tally.fetch_add(tally, Ordering::AcqRel);
                        shared.done.wait();
                    }
                })
            })
            .collect();
        Pool {
            shared,
            threads,
            handles,
        }
    }

    /// Runs `iters` operations in total, split evenly over the workers (at
    /// least `MIN_BATCH` each, a multiple of 4). Returns the time measured
    /// from release to the last worker finishing, scaled to `iters`
    /// operations, and the summed tally.
    fn run(&self, iters: u64) -> (Duration, u64, u64) {
        let per = iters
            .div_ceil(self.threads as u64)
            .max(MIN_BATCH)
            .next_multiple_of(4);
        let total = per * self.threads as u64;
        self.shared.ops.store(per, Ordering::Release);
        self.shared.tally.store(0, Ordering::Release);
        let start = Instant::now();
        self.shared.start.wait();
        self.shared.done.wait();
        let elapsed = start.elapsed();
        let tally = self.shared.tally.load(Ordering::Acquire);
        let scaled = elapsed.mul_f64(iters as f64 / total as f64);
        (scaled, tally, total)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.ops.store(STOP, Ordering::Release);
        self.shared.start.wait();
        for h in self.handles.drain(..) {
            h.join().unwrap();
        }
    }
}

/// `check` on random authenticators: worker `t` picks among its own
/// `PER_THREAD` authenticators (`disjoint`), or every worker checks the
/// same one. The tally is the number of checks that answered Allowed.
fn check_work(engine: Arc<Engine>, disjoint: bool) -> Arc<Work> {
    Arc::new(move |t, ops| {
        let mut xs = Xs(0x9e37_79b9 + t as u64);
        let mut allowed = 0;
        if disjoint {
            let base = t * PER_THREAD;
            for _ in 0..ops {
                let id = nth_id(base + xs.next(PER_THREAD));
                allowed += black_box(engine.check(&id, "web").unwrap()).is_allowed() as u64;
            }
        } else {
            let id = nth_id(0);
            for _ in 0..ops {
                allowed += black_box(engine.check(&id, "web").unwrap()).is_allowed() as u64;
            }
        }
        allowed
    })
}

fn threads_check(c: &mut Criterion) {
    let engine = Arc::new(engine_with(2 * PER_THREAD));
    let mut g = c.benchmark_group("threads_check");
    g.throughput(Throughput::Elements(1));
    for (name, threads, disjoint) in [
        ("1-thread", 1, true),
        ("2-threads-disjoint", 2, true),
        ("2-threads-shared", 2, false),
    ] {
        let pool = Pool::new(threads, check_work(Arc::clone(&engine), disjoint));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (elapsed, allowed, total) = pool.run(iters);
                assert_eq!(allowed, total, "every check answers Allowed");
                elapsed
            })
        });
    }
    g.finish();
}

/// Two threads recording failures and successes on one authenticator,
/// three failures then one success, over and over: correctness under
/// contention, and what it costs.
///
/// Between two successes at most 3 + 3 failures are counted, far below
/// `max_failures`, so every attempt must be accepted and must emit exactly
/// one event; each worker ends its share with a success, so the counter
/// must read zero afterwards. All three are checked after each round,
/// outside the timing. The tally is the number of attempts accepted.
fn threads_shared_writes(c: &mut Criterion) {
    // Its own engine: the writes never touch the authenticators the check
    // benchmarks read.
    let engine = Arc::new(engine_with(1));
    let id = nth_id(0);
    let work: Arc<Work> = {
        let engine = Arc::clone(&engine);
        Arc::new(move |_, ops| {
            let a = Attempt::in_app("web");
            let mut accepted = 0;
            for i in 0..ops {
                let outcome = if i % 4 == 3 {
                    engine.record_success(&id, &a).unwrap()
                } else {
                    engine.record_failure(&id, &a).unwrap()
                };
                accepted += black_box(outcome).accepted as u64;
            }
            accepted
        })
    };
    let pool = Pool::new(2, work);
    let mut g = c.benchmark_group("threads_shared_writes");
    g.throughput(Throughput::Elements(1));
    g.bench_function("2-threads-failure-success", |b| {
        b.iter_custom(|iters| {
            let seq = engine.last_seq();
            let (elapsed, accepted, total) = pool.run(iters);
            assert_eq!(accepted, total, "every attempt is accepted");
            assert_eq!(
                engine.last_seq() - seq,
                total,
                "one event per attempt, none lost"
            );
            let view = engine.authenticator(&id).unwrap();
            assert_eq!(view.apps[0].failures, 0, "the last attempt was a success");
            assert!(engine.check(&id, "web").unwrap().is_allowed());
            elapsed
        })
    });
    g.finish();
}

/// The control: the same pool doing arithmetic on registers only, no
/// memory shared between the workers. Its 2-thread / 1-thread ratio is the
/// most the machine gives two threads in this run; the `check` ratios read
/// against it. The tally is the number of rounds of arithmetic done.
fn threads_control(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads_control");
    g.throughput(Throughput::Elements(1));
    for (name, threads) in [("1-thread", 1), ("2-threads", 2)] {
        let work: Arc<Work> = Arc::new(|t, ops| {
            let mut xs = Xs(0x9e37_79b9 + t as u64);
            let mut done = 0;
            for _ in 0..ops {
                let mut acc = 0;
                for _ in 0..16 {
                    acc ^= xs.next(1 << 20);
                }
                done += (black_box(acc) < 1 << 20) as u64;
            }
            done
        });
        let pool = Pool::new(threads, work);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (elapsed, done, total) = pool.run(iters);
                assert_eq!(done, total, "every round is done");
                elapsed
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = threads_check, threads_shared_writes, threads_control
}
criterion_main!(benches);
