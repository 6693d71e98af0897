//! Crash test: a child process runs four threads against one store —
//! failures, reservations and commits, unlocks and compactions, on
//! authenticators of their own and on two they share — and the parent
//! kills it with SIGKILL at random moments, two hundred times. After each
//! kill the parent reopens the store (which replays the journal after the
//! newest snapshot) and checks every counter against what the child
//! acknowledged:
//!
//! - an authenticator of one thread counts exactly what its last
//!   acknowledged call reported, or what the one call in flight at the kill
//!   would have made of it (it may or may not have reached the journal);
//! - an authenticator the threads share counts at least every failure
//!   acknowledged as counted, and at most one more per call in flight.
//!
//! So no acknowledged count is lost and none is counted twice. Rounds
//! alternate between `sync` and `batched` durability (a killed process
//! loses nothing in either: the operating system has every write). The test
//! fails if the child acknowledged too little work for it to mean anything.
//!
//! Runs without libtest (`harness = false`): the same binary is the child
//! when started with `--child`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authlock::*;

const POLICY: &str = r#"
[policies.password]
max_failures = 100
failure_window = "none"
throttle = []
lockout = { kind = "until_unlocked" }
"#;
const THREADS: usize = 4;
const SHARED: usize = 2;
const ROUNDS: usize = 200;
/// A thread unlocks its own authenticator at this count, well before the
/// lock at 100, so that its counter is never ambiguous.
const OWN_RESET_AT: u32 = 90;
/// The threads stop using a shared authenticator at this count (at most
/// one call per thread is in flight, so it never locks); the parent unlocks
/// it between rounds once it reaches `SHARED_RESET_AT`.
const SHARED_RETIRE_AT: u32 = 80;
const SHARED_RESET_AT: u32 = 50;
/// The least work the child must acknowledge over all rounds.
const MIN_ACKNOWLEDGED: usize = 1_500;
/// The least compactions (acknowledged by the child, or found as a new
/// snapshot on reopening) over all rounds.
const MIN_COMPACTIONS: usize = 25;

fn policies() -> PolicyDocument {
    PolicyDocument::parse(POLICY).expect("valid policy")
}

fn options(round: usize) -> StoreOptions {
    StoreOptions {
        durability: if round.is_multiple_of(2) {
            Durability::Sync
        } else {
            Durability::Batched {
                max_delay: Duration::from_millis(3),
                max_events: 16,
            }
        },
        compact_every: Some(120),
        ..StoreOptions::default()
    }
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn id_of(engine: &Engine, user: &str) -> AuthenticatorId {
    engine.authenticators(user).expect("user exists")[0].id
}

fn own(engine: &Engine) -> Vec<AuthenticatorId> {
    (0..THREADS)
        .map(|t| id_of(engine, &format!("thread-{t}")))
        .collect()
}

fn shared(engine: &Engine) -> Vec<AuthenticatorId> {
    (0..SHARED)
        .map(|s| id_of(engine, &format!("shared-{s}")))
        .collect()
}

fn failures(engine: &Engine, id: &AuthenticatorId) -> u32 {
    engine.authenticator(id).expect("registered").apps[0].failures
}

/// Lines the child prints. `B` before a call, `A` after it returned; each
/// ends in " ." so that a line cut short by the kill is never read as an
/// acknowledgement.
struct Out(Mutex<std::io::Stdout>);
impl Out {
    fn line(&self, text: std::fmt::Arguments<'_>) {
        let mut out = self.0.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(out, "{text} .").expect("stdout");
        out.flush().expect("stdout");
    }
}

/// One thread of the child, for ever.
fn worker(engine: &Engine, out: &Out, t: usize, seed: u64) -> ! {
    let mine = own(engine)[t];
    let shared = shared(engine);
    let app = Attempt::in_app("app");
    let mut rng = Rng(seed ^ (t as u64).wrapping_mul(0x1234_5678_9abc_def1));
    let mut count = failures(engine, &mine);
    let mut retired = [false; SHARED];
    for (s, id) in shared.iter().enumerate() {
        retired[s] = failures(engine, id) >= SHARED_RETIRE_AT;
    }
    for k in 0u64.. {
        if count >= OWN_RESET_AT {
            out.line(format_args!("B {t} {k} U"));
            engine
                .unlock(&mine, "app", &Actor::admin("crash-test"), None)
                .expect("unlock");
            count = 0;
            out.line(format_args!("A {t} {k} U 0"));
            continue;
        }
        match rng.below(100) {
            0..=44 => {
                out.line(format_args!("B {t} {k} F"));
                let r = engine.record_failure(&mine, &app).expect("failure");
                assert!(r.accepted && r.counted, "an own failure is counted: {r:?}");
                count = r.failures;
                out.line(format_args!("A {t} {k} F {count}"));
            }
            45..=64 => {
                out.line(format_args!("B {t} {k} R"));
                let r = engine.reserve(&mine, &app).expect("reserve");
                assert!(r.accepted, "{r:?}");
                count = r.failures;
                let res = r.reservation.expect("accepted reservations are numbered");
                out.line(format_args!("A {t} {k} R {count}"));
                let ok = rng.below(3) == 0;
                out.line(format_args!("B {t} {k} C {}", ok as u8));
                let r = engine.commit(&mine, &app, res, ok).expect("commit");
                count = r.failures;
                out.line(format_args!("A {t} {k} C {count}"));
            }
            65..=94 => {
                let s = rng.below(SHARED as u64) as usize;
                if retired[s] {
                    continue;
                }
                out.line(format_args!("B {t} {k} S {s}"));
                let r = engine.record_failure(&shared[s], &app).expect("failure");
                assert!(
                    r.accepted && r.counted,
                    "a shared failure is counted: {r:?}"
                );
                retired[s] = r.failures >= SHARED_RETIRE_AT;
                out.line(format_args!("A {t} {k} S {s} {}", r.failures));
            }
            _ if t == 0 => {
                out.line(format_args!("B {t} {k} K"));
                let seq = engine.compact().expect("compaction");
                out.line(format_args!("A {t} {k} K {seq}"));
            }
            _ => {}
        }
    }
    unreachable!()
}

/// The child: open the store, say READY, then run the threads until killed.
fn child(dir: &Path, round: usize, seed: u64) -> ! {
    let (engine, _) = Engine::builder(policies())
        .open_store(dir, options(round))
        .expect("child opens the store");
    let engine = Arc::new(engine);
    let out = Arc::new(Out(Mutex::new(std::io::stdout())));
    out.line(format_args!("READY"));
    for t in 1..THREADS {
        let (engine, out) = (engine.clone(), out.clone());
        std::thread::spawn(move || worker(&engine, &out, t, seed));
    }
    worker(&engine, &out, 0, seed)
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// What a call in flight at the kill makes of its authenticator's count,
/// if it reached the journal.
fn in_flight_effect(op: &[&str], count: u32) -> u32 {
    match op {
        ["F"] | ["R"] => count + 1,
        ["U"] | ["C", "1"] => 0,
        _ => count, // a failed commit, a compaction
    }
}

#[derive(Default)]
struct Totals {
    acknowledged: usize,
    compactions: usize,
    in_flight: usize,
    torn: usize,
    snapshots_seen: usize,
}

fn parent() -> Result<Totals, String> {
    let dir: PathBuf = std::env::temp_dir().join(format!("authlock-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let (engine, _) = Engine::builder(policies())
            .open_store(
                &dir,
                StoreOptions {
                    create: true,
                    ..options(0)
                },
            )
            .map_err(|e| e.to_string())?;
        for user in (0..THREADS)
            .map(|t| format!("thread-{t}"))
            .chain((0..SHARED).map(|s| format!("shared-{s}")))
        {
            engine
                .register(&Registration::new(
                    &user,
                    AuthenticatorType::Password,
                    "app",
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Rng(0x5eed);
    let mut totals = Totals::default();
    let mut own_count = [0u32; THREADS];
    let mut shared_count = [0u32; SHARED];
    let mut last_snapshot = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .arg("--child")
            .arg(&dir)
            .arg(round.to_string())
            .arg(rng.next().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().and_then(|l| l.ok());
        check(first.as_deref() == Some("READY ."), || {
            format!("round {round}: child did not start: {first:?}")
        })?;
        std::thread::sleep(Duration::from_millis(2 + rng.below(30)));
        child.kill().map_err(|e| e.to_string())?; // SIGKILL
        child.wait().map_err(|e| e.to_string())?;

        // Per thread: the call begun last and whether it was acknowledged.
        let mut begun: HashMap<usize, (String, bool)> = HashMap::new();
        let mut counted_shared = [0u32; SHARED];
        for line in lines {
            let line = line.map_err(|e| e.to_string())?;
            let Some(line) = line.strip_suffix(" .") else {
                continue; // cut short by the kill: not acknowledged
            };
            let f: Vec<&str> = line.split(' ').collect();
            let t: usize = f.get(1).and_then(|t| t.parse().ok()).ok_or("bad line")?;
            match f.as_slice() {
                ["B", _, _, op @ ..] => {
                    begun.insert(t, (op.join(" "), false));
                }
                ["A", _, _, op @ ..] => {
                    totals.acknowledged += 1;
                    if let Some(b) = begun.get_mut(&t) {
                        b.1 = true;
                    }
                    match op {
                        ["F", n] | ["R", n] | ["C", n] | ["U", n] => {
                            own_count[t] = n.parse().map_err(|_| "bad count")?;
                        }
                        ["S", s, _] => counted_shared[s.parse::<usize>().map_err(|_| "bad")?] += 1,
                        ["K", _] => totals.compactions += 1,
                        _ => return Err(format!("round {round}: unknown line `{line}`")),
                    }
                }
                _ => return Err(format!("round {round}: unknown line `{line}`")),
            }
        }

        let (engine, report) = Engine::builder(policies())
            .open_store(&dir, options(round + 1))
            .map_err(|e| format!("round {round}: reopening failed: {e}"))?;
        if report.dropped_tail_bytes > 0 {
            totals.torn += 1;
        }
        if report.snapshot_seq != last_snapshot {
            totals.snapshots_seen += 1;
            last_snapshot = report.snapshot_seq;
        }
        let own_ids = own(&engine);
        for t in 0..THREADS {
            let actual = failures(&engine, &own_ids[t]);
            let before = own_count[t];
            let mut allowed = vec![before];
            if let Some((op, false)) = begun.get(&t) {
                let op: Vec<&str> = op.split(' ').collect();
                if op[0] != "S" {
                    allowed.push(in_flight_effect(&op, before));
                }
            }
            check(allowed.contains(&actual), || {
                format!(
                    "round {round}: thread {t}'s authenticator counts {actual} failures; acknowledged {before}, in flight {:?}",
                    begun.get(&t)
                )
            })?;
            own_count[t] = actual;
        }
        let shared_ids = shared(&engine);
        for s in 0..SHARED {
            let in_flight = begun
                .values()
                .filter(|(op, acked)| !acked && *op == format!("S {s}"))
                .count() as u32;
            let low = shared_count[s] + counted_shared[s];
            let actual = failures(&engine, &shared_ids[s]);
            check(low <= actual && actual <= low + in_flight, || {
                format!(
                    "round {round}: shared authenticator {s} counts {actual} failures; {} before the round, {} acknowledged, {in_flight} in flight",
                    shared_count[s], counted_shared[s]
                )
            })?;
            shared_count[s] = actual;
            if actual >= SHARED_RESET_AT {
                engine
                    .unlock(&shared_ids[s], "app", &Actor::admin("crash-test"), None)
                    .map_err(|e| e.to_string())?;
                shared_count[s] = 0;
            }
        }
        totals.in_flight += begun.values().filter(|(_, acked)| !acked).count();
    }
    let _ = std::fs::remove_dir_all(&dir);
    check(totals.acknowledged >= MIN_ACKNOWLEDGED, || {
        format!(
            "only {} calls were acknowledged over {ROUNDS} kills (at least {MIN_ACKNOWLEDGED} needed for the test to mean something)",
            totals.acknowledged
        )
    })?;
    check(
        totals.compactions + totals.snapshots_seen >= MIN_COMPACTIONS,
        || {
            format!(
                "only {} compactions were acknowledged and {} new snapshots found (at least {MIN_COMPACTIONS} in all needed)",
                totals.compactions, totals.snapshots_seen
            )
        },
    )?;
    Ok(totals)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(
            Path::new(&args[2]),
            args[3].parse().expect("round"),
            args[4].parse().expect("seed"),
        );
    }
    // libtest's own flags (--list, --format, ...) are not ours to honour,
    // except that a listing must not run the test.
    if args.iter().any(|a| a == "--list") {
        println!("kill_9_never_loses_an_acknowledged_count: test");
        return;
    }
    match parent() {
        Ok(t) => {
            println!(
                "crash: {ROUNDS} kills of {THREADS} threads; {} acknowledged calls all counted, none twice ({} in flight at a kill, {} compactions acknowledged, {} new snapshots found on reopening, {} torn tails cut)",
                t.acknowledged, t.in_flight, t.compactions, t.snapshots_seen, t.torn
            );
            println!("1 passed, 0 failed");
        }
        Err(why) => {
            println!("crash: FAILED: {why}");
            println!("0 passed, 1 failed");
            std::process::exit(1);
        }
    }
}
