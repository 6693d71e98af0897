//! One engine shared by many threads: no lost increments, exact events.
mod common;

use std::sync::Arc;
use std::thread;

use authlock::*;
use common::*;

const HUNDRED: &str = r#"
[policies.password]
max_failures = 100
failure_window = "none"
lockout = { kind = "until_unlocked" }
"#;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn engine_is_send_and_sync() {
    assert_send_sync::<Engine>();
}

#[test]
fn concurrent_failures_on_one_authenticator_are_all_counted() {
    let f = engine_with(HUNDRED);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let engine = Arc::new(f.engine);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            thread::spawn(move || {
                for _ in 0..20 {
                    let out = engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
                    assert!(out.counted);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(engine.authenticator(&pw).unwrap().apps[0].failures, 80);
    let failures = engine
        .events()
        .iter()
        .filter(|e| matches!(e.action, Action::Failure { counted: true, .. }))
        .count();
    assert_eq!(failures, 80);
}

#[test]
fn concurrent_failures_past_the_limit_lock_exactly_once() {
    let f = engine_with(HUNDRED);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let engine = Arc::new(f.engine);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            thread::spawn(move || {
                let mut accepted = 0;
                for _ in 0..40 {
                    if engine
                        .record_failure(&pw, &Attempt::in_app("web"))
                        .unwrap()
                        .accepted
                    {
                        accepted += 1;
                    }
                }
                accepted
            })
        })
        .collect();
    let accepted: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(
        accepted, 100,
        "exactly max_failures attempts were counted; the rest refused"
    );
    let events = engine.events();
    let locks = events
        .iter()
        .filter(|e| matches!(e.action, Action::Locked { .. }))
        .count();
    assert_eq!(locks, 1);
    assert_eq!(
        events.len(),
        1 + 100 + 1,
        "registration, 100 failures, one lock"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=102).collect::<Vec<_>>(),
        "numbered without gaps, in order"
    );
}

#[test]
fn threads_on_many_authenticators_keep_exact_counts_and_events() {
    let f = engine_with(HUNDRED);
    let ids: Vec<Vec<AuthenticatorId>> = (0..4)
        .map(|t| {
            (0..50)
                .map(|i| f.register(&format!("user-{t}-{i}"), AuthenticatorType::Password, "web"))
                .collect()
        })
        .collect();
    let engine = Arc::new(f.engine);
    let handles: Vec<_> = ids
        .clone()
        .into_iter()
        .map(|mine| {
            let engine = engine.clone();
            thread::spawn(move || {
                for (i, id) in mine.iter().enumerate() {
                    for _ in 0..3 {
                        engine.record_failure(id, &Attempt::in_app("web")).unwrap();
                    }
                    if i % 2 == 0 {
                        engine.record_success(id, &Attempt::in_app("web")).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for mine in &ids {
        for (i, id) in mine.iter().enumerate() {
            let v = engine.authenticator(id).unwrap();
            let expect = if i % 2 == 0 {
                (0, Status::Active)
            } else {
                (3, Status::Registered)
            };
            assert_eq!((v.apps[0].failures, v.apps[0].status), expect);
        }
    }
    // 200 registrations, 600 failures, 100 successes.
    assert_eq!(engine.events().len(), 200 + 600 + 100);
    assert_eq!(engine.last_seq(), 900);
}

#[test]
fn concurrent_reserve_and_commit_never_count_twice() {
    let f = engine_with(HUNDRED);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let engine = Arc::new(f.engine);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let engine = engine.clone();
            thread::spawn(move || {
                for i in 0..10 {
                    let a = Attempt::in_app("web");
                    let r = engine.reserve(&pw, &a).unwrap().reservation.unwrap();
                    // Thread 0 verifies right on every other attempt; the rest fail.
                    let ok = t == 0 && i % 2 == 1;
                    engine.commit(&pw, &a, r, ok).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let events = engine.events();
    let committed = events
        .iter()
        .filter(|e| matches!(e.action, Action::Committed { .. }))
        .count();
    assert_eq!(committed, 40);
    // Replaying the history gives the same state, whatever the interleaving was.
    let replayed = Engine::builder(PolicyDocument::parse(HUNDRED).unwrap())
        .replay(&events)
        .unwrap();
    assert_eq!(replayed.snapshot(), engine.snapshot());
}
