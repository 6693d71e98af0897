//! Crash test: a child process hammers reserve/commit on a store with `sync`
//! durability; the parent kills it with SIGKILL at random moments, reopens
//! the store each time and checks that every reservation acknowledged before
//! the kill is still counted, that nothing is counted twice, and that the
//! state equals replaying the journal.
//!
//! Runs without libtest (`harness = false`): the same binary is the child
//! when started with `--child`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use authlock::*;

const POLICY: &str = r#"
[policies.password]
max_failures = 100
failure_window = "none"
lockout = { kind = "until_unlocked" }
"#;
const USERS: usize = 4;
const ROUNDS: usize = 50;
const TIME_LIMIT: Duration = Duration::from_secs(240);

fn policies() -> PolicyDocument {
    PolicyDocument::parse(POLICY).expect("valid policy")
}

fn options() -> StoreOptions {
    StoreOptions {
        durability: Durability::Sync,
        compact_every: None,
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

fn ids(engine: &Engine) -> Vec<AuthenticatorId> {
    (0..USERS)
        .map(|u| {
            engine
                .authenticators(&format!("user-{u}"))
                .expect("user exists")[0]
                .id
        })
        .collect()
}

/// The child: open the store, say READY, then reserve and commit for ever,
/// printing each acknowledgement after the call returned.
fn child(dir: &Path, seed: u64) -> ! {
    let (engine, _) = Engine::builder(policies())
        .open_store(dir, options())
        .expect("child opens the store");
    let ids = ids(&engine);
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut rng = Rng(seed);
    loop {
        let i = rng.below(USERS as u64) as usize;
        let a = Attempt::in_app("app");
        let r = engine.reserve(&ids[i], &a).expect("reserve");
        if !r.accepted {
            engine
                .unlock(&ids[i], "app", &Actor::admin("crash-test"), None)
                .expect("unlock");
            continue;
        }
        let res = r.reservation.expect("accepted reservations are numbered");
        writeln!(out, "R {i} {res}").unwrap();
        out.flush().unwrap();
        let ok = rng.below(3) == 0;
        engine.commit(&ids[i], &a, res, ok).expect("commit");
        writeln!(out, "C {i} {res} {}", ok as u8).unwrap();
        out.flush().unwrap();
    }
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

fn parent() -> Result<(usize, usize, usize), String> {
    let dir: PathBuf = std::env::temp_dir().join(format!("authlock-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let (engine, _) = Engine::builder(policies())
            .open_store(
                &dir,
                StoreOptions {
                    create: true,
                    ..options()
                },
            )
            .map_err(|e| e.to_string())?;
        for u in 0..USERS {
            engine
                .register(&Registration::new(
                    &format!("user-{u}"),
                    AuthenticatorType::Password,
                    "app",
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut rng = Rng(0x5eed);
    let mut acked_reserves: Vec<(usize, u64)> = Vec::new();
    let mut acked_commits: Vec<(usize, u64, bool)> = Vec::new();
    let mut torn = 0;
    for round in 0..ROUNDS {
        check(started.elapsed() < TIME_LIMIT, || {
            format!("time limit reached after {round} rounds")
        })?;
        let mut child = Command::new(&exe)
            .arg("--child")
            .arg(&dir)
            .arg(rng.next().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().and_then(|l| l.ok());
        check(first.as_deref() == Some("READY"), || {
            format!("round {round}: child did not start: {first:?}")
        })?;
        std::thread::sleep(Duration::from_millis(1 + rng.below(40)));
        child.kill().map_err(|e| e.to_string())?; // SIGKILL
        child.wait().map_err(|e| e.to_string())?;
        for line in lines {
            let line = line.map_err(|e| e.to_string())?;
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["R", i, r] => acked_reserves.push((i.parse().unwrap(), r.parse().unwrap())),
                ["C", i, r, ok] => {
                    acked_commits.push((i.parse().unwrap(), r.parse().unwrap(), *ok == "1"))
                }
                // The kill may cut the last line short: it was not acknowledged.
                _ => {}
            }
        }

        let (engine, report) = Engine::builder(policies())
            .open_store(&dir, options())
            .map_err(|e| format!("round {round}: reopening failed: {e}"))?;
        if report.dropped_tail_bytes > 0 {
            torn += 1;
        }
        let ids = ids(&engine);
        let events = engine.events();
        let mut reserved = HashSet::new();
        let mut committed = HashSet::new();
        for e in &events {
            let Some(i) = ids.iter().position(|id| Some(*id) == e.authenticator) else {
                continue;
            };
            match e.action {
                Action::Reserved {
                    reservation,
                    counted,
                    ..
                } => {
                    check(counted, || {
                        format!("reservation {reservation} of user {i} was not counted")
                    })?;
                    check(reserved.insert((i, reservation)), || {
                        format!(
                            "round {round}: reservation {reservation} of user {i} counted twice"
                        )
                    })?;
                }
                Action::Committed {
                    reservation,
                    success,
                    ..
                } => {
                    check(committed.insert((i, reservation, success)), || {
                        format!(
                            "round {round}: reservation {reservation} of user {i} committed twice"
                        )
                    })?;
                }
                _ => {}
            }
        }
        for (i, r) in &acked_reserves {
            check(reserved.contains(&(*i, *r)), || {
                format!("round {round}: acknowledged reservation {r} of user {i} is lost")
            })?;
        }
        for (i, r, ok) in &acked_commits {
            check(committed.contains(&(*i, *r, *ok)), || {
                format!("round {round}: acknowledged commit of reservation {r} of user {i} is lost")
            })?;
        }
        // Every reservation not committed still counts as a failure.
        for (i, id) in ids.iter().enumerate() {
            let view = engine.authenticator(id).map_err(|e| e.to_string())?;
            let mut expected = 0u32;
            for e in events.iter().filter(|e| e.authenticator == Some(*id)) {
                match &e.action {
                    Action::Reserved { .. } => expected += 1,
                    Action::Committed { success: true, .. } | Action::Unlocked { .. } => {
                        expected = 0
                    }
                    _ => {}
                }
            }
            check(view.apps[0].failures == expected, || {
                format!(
                    "round {round}: user {i} counts {} failures, the journal says {expected}",
                    view.apps[0].failures
                )
            })?;
        }
        let replayed = Engine::builder(policies())
            .replay(&events)
            .map_err(|e| format!("round {round}: the journal does not replay: {e}"))?;
        check(replayed.snapshot() == engine.snapshot(), || {
            format!("round {round}: the state differs from replaying the journal")
        })?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((acked_reserves.len(), acked_commits.len(), torn))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(Path::new(&args[2]), args[3].parse().expect("seed"));
    }
    // libtest's own flags (--list, --format, ...) are not ours to honour,
    // except that a listing must not run the test.
    if args.iter().any(|a| a == "--list") {
        println!("kill_9_never_loses_an_acknowledged_reservation: test");
        return;
    }
    match parent() {
        Ok((reserves, commits, torn)) => {
            println!(
                "crash: {ROUNDS} kills; {reserves} acknowledged reservations and {commits} commits all found; {torn} torn tails truncated"
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
