//! SPEC §5: counting attempts, throttles, lockouts, reserve/commit, fingerprints
//! and the host clock.
mod common;

use authlock::*;
use common::*;

#[test]
fn reaching_max_failures_locks_and_the_decision_says_until_when() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let out = f.fail(&pw, "web");
    assert_eq!((out.accepted, out.counted, out.failures), (true, true, 1));
    assert!(out.decision.is_allowed());
    f.fail(&pw, "web");
    let out = f.fail(&pw, "web");
    assert_eq!(
        out.decision,
        Decision::Locked {
            lock: LockKind::Policy,
            until: Some(f.at(300)),
            reason: None
        }
    );
    assert_eq!(out.decision.retry_at(), Some(f.at(300)));
}

#[test]
fn attempts_refused_while_locked_are_not_counted_and_never_deepen_the_lock() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail_n(&pw, "web", 3);
    let until = f.check(&pw, "web").retry_at();
    let events = f.engine.events().len();
    for _ in 0..50 {
        let out = f.fail(&pw, "web");
        assert!(!out.accepted && !out.counted);
        assert_eq!(out.decision.retry_at(), until);
    }
    assert_eq!(
        f.engine.events().len(),
        events,
        "refused attempts change nothing"
    );
    assert!(
        !f.succeed(&pw, "web").accepted,
        "a success while locked is refused too"
    );
}

#[test]
fn temporary_lock_expires_lazily_and_the_counter_restarts_from_zero() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail_n(&pw, "web", 3);
    f.advance(299);
    assert!(matches!(f.check(&pw, "web"), Decision::Locked { .. }));
    f.advance(1);
    assert!(f.check(&pw, "web").is_allowed());
    let expired = f.engine.events().into_iter().last().unwrap();
    assert_eq!(expired.action, Action::LockExpired);
    assert_eq!(expired.actor, Actor::System);
    assert_eq!(f.fail(&pw, "web").failures, 1);
}

#[test]
fn temporary_lockouts_beyond_the_maximum_become_until_unlocked() {
    let f = engine_with(SIMPLE); // password: 3 failures, 5m, max 2 temporary lockouts
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    for _ in 0..2 {
        f.fail_n(&pw, "web", 3);
        assert_eq!(f.check(&pw, "web").retry_at(), Some(f.at(300)));
        f.advance(300);
    }
    f.fail_n(&pw, "web", 3);
    assert_eq!(
        f.check(&pw, "web"),
        Decision::Locked {
            lock: LockKind::Policy,
            until: None,
            reason: None
        }
    );
    f.advance(86_400 * 30);
    assert!(matches!(
        f.check(&pw, "web"),
        Decision::Locked { until: None, .. }
    ));
    f.engine
        .unlock(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    // Unlock cleared the count of temporary lockouts too.
    f.fail_n(&pw, "web", 3);
    assert_eq!(f.check(&pw, "web").retry_at(), Some(f.at(300)));
}

#[test]
fn totp_lockouts_grow_up_to_the_cap() {
    let f = engine_with(SIMPLE); // totp: 3 failures, 1m doubling, cap 10m
    let totp = f.register("alice", AuthenticatorType::Totp, "web");
    for minutes in [1, 2, 4, 8, 10, 10] {
        f.fail_n(&totp, "web", 3);
        assert_eq!(
            f.check(&totp, "web").retry_at(),
            Some(f.at(minutes * 60)),
            "{minutes}"
        );
        f.advance(minutes * 60);
    }
}

#[test]
fn success_resets_the_counter_and_the_count_of_temporary_lockouts() {
    let f = engine_with(SIMPLE);
    let totp = f.register("alice", AuthenticatorType::Totp, "web");
    f.fail_n(&totp, "web", 3);
    f.advance(60);
    f.fail_n(&totp, "web", 2);
    f.succeed(&totp, "web");
    f.fail_n(&totp, "web", 2);
    assert!(f.check(&totp, "web").is_allowed(), "counter was reset");
    f.fail_n(&totp, "web", 1);
    assert_eq!(
        f.check(&totp, "web").retry_at(),
        Some(f.at(60)),
        "growth restarted"
    );
}

#[test]
fn throttle_schedule_delays_attempts_without_locking() {
    let f = engine_with(SIMPLE); // pin: after 2 wait 30s, after 3 wait 1m, lock at 5
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    f.fail(&pin, "bank");
    assert!(f.check(&pin, "bank").is_allowed());
    let out = f.fail(&pin, "bank");
    assert_eq!(out.decision, Decision::Throttled { retry_at: f.at(30) });
    assert_eq!(
        f.status(&pin, "bank"),
        Status::Registered,
        "throttling never locks"
    );
    let refused = f.fail(&pin, "bank");
    assert!(!refused.accepted, "a throttled attempt is refused");
    assert_eq!(refused.decision.retry_at(), Some(f.at(30)));
    f.advance(30);
    let out = f.fail(&pin, "bank");
    assert_eq!(out.failures, 3);
    assert_eq!(out.decision, Decision::Throttled { retry_at: f.at(60) });
    f.advance(60);
    f.fail(&pin, "bank");
    f.advance(60);
    let out = f.fail(&pin, "bank");
    assert_eq!(
        out.decision,
        Decision::Locked {
            lock: LockKind::Policy,
            until: None,
            reason: None
        }
    );
}

#[test]
fn failures_older_than_the_window_stop_counting() {
    let f = engine_with(
        r#"
[policies.password]
max_failures = 3
failure_window = "10m"
lockout = { kind = "temporary", duration = "5m" }
"#,
    );
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail(&pw, "web"); // t=0
    f.advance(9 * 60);
    f.fail(&pw, "web"); // t=9m
    f.advance(2 * 60); // t=11m: the first failure is out of the window
    let out = f.fail(&pw, "web");
    assert_eq!(out.failures, 2);
    assert!(out.decision.is_allowed());
    let out = f.fail(&pw, "web"); // failures at 9m, 11m, 11m
    assert!(matches!(out.decision, Decision::Locked { .. }));
}

#[test]
fn the_same_wrong_pin_repeated_is_counted_once() {
    let f = engine_with(SIMPLE);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let a = Attempt::in_app("bank").with_fingerprint(b"hmac(1234)");
    let first = f.engine.record_failure(&pin, &a).unwrap();
    assert!(first.counted);
    let again = f.engine.record_failure(&pin, &a).unwrap();
    assert!(again.accepted && !again.counted);
    assert_eq!(again.failures, 1);
    let other = f
        .engine
        .record_failure(
            &pin,
            &Attempt::in_app("bank").with_fingerprint(b"hmac(9999)"),
        )
        .unwrap();
    assert!(other.counted);
    assert_eq!(other.failures, 2);
    // After a success the counter resets, and the old wrong PIN counts again.
    f.advance(30);
    f.succeed(&pin, "bank");
    assert!(f.engine.record_failure(&pin, &a).unwrap().counted);
}

#[test]
fn a_repeated_fingerprint_counts_again_once_the_first_left_the_window() {
    let f = engine_with(
        r#"
[policies.password]
max_failures = 5
failure_window = "1m"
"#,
    );
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let a = Attempt::in_app("web").with_fingerprint(b"fp");
    assert!(f.engine.record_failure(&pw, &a).unwrap().counted);
    f.advance(30);
    assert!(!f.engine.record_failure(&pw, &a).unwrap().counted);
    f.advance(31);
    let out = f.engine.record_failure(&pw, &a).unwrap();
    assert!(out.counted);
    assert_eq!(out.failures, 1);
}

#[test]
fn bad_fingerprints_are_refused() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    for fp in [&b""[..], &[7u8; 65][..]] {
        let e = f
            .engine
            .record_failure(&pw, &Attempt::in_app("web").with_fingerprint(fp))
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument {
                    what: "fingerprint",
                    ..
                }
            ),
            "{e}"
        );
    }
    assert_eq!(f.engine.authenticator(&pw).unwrap().apps[0].failures, 0);
}

#[test]
fn reserve_counts_the_failure_before_verification_and_commit_success_refunds_it() {
    let f = engine_with(SIMPLE);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let r = f.engine.reserve(&pin, &Attempt::in_app("bank")).unwrap();
    assert!(r.accepted && r.counted);
    assert_eq!(r.failures, 1);
    let reservation = r.reservation.unwrap();
    // Seen from elsewhere before the commit, the failure is counted.
    assert_eq!(f.engine.authenticator(&pin).unwrap().apps[0].failures, 1);
    let c = f
        .engine
        .commit(&pin, &Attempt::in_app("bank"), reservation, true)
        .unwrap();
    assert!(c.accepted);
    assert_eq!(c.failures, 0);
    assert_eq!(f.status(&pin, "bank"), Status::Active);
}

#[test]
fn a_reservation_never_committed_stays_counted() {
    let f = engine_with(SIMPLE);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    // The app dies after each reservation: every one still counts.
    f.engine.reserve(&pin, &Attempt::in_app("bank")).unwrap();
    let r = f.engine.reserve(&pin, &Attempt::in_app("bank")).unwrap();
    assert_eq!(r.failures, 2);
    assert!(matches!(f.check(&pin, "bank"), Decision::Throttled { .. }));
    // A restarted app restores the state from a snapshot: still counted.
    let snap = f.engine.snapshot_json();
    let g = engine_with(SIMPLE);
    g.engine.restore_json(&snap).unwrap();
    assert_eq!(g.engine.authenticator(&pin).unwrap().apps[0].failures, 2);
}

#[test]
fn commit_failure_keeps_the_failure_and_a_second_commit_is_an_error() {
    let f = engine_with(SIMPLE);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let r = f
        .engine
        .reserve(&pin, &Attempt::in_app("bank"))
        .unwrap()
        .reservation
        .unwrap();
    let c = f
        .engine
        .commit(&pin, &Attempt::in_app("bank"), r, false)
        .unwrap();
    assert_eq!(c.failures, 1);
    let e = f
        .engine
        .commit(&pin, &Attempt::in_app("bank"), r, true)
        .unwrap_err();
    assert_eq!(
        e,
        Error::UnknownReservation {
            id: pin,
            reservation: r
        }
    );
    assert_eq!(
        f.engine.authenticator(&pin).unwrap().apps[0].failures,
        1,
        "nothing counted twice"
    );
}

#[test]
fn a_reservation_that_locks_is_lifted_by_a_successful_commit() {
    let f = engine_with(SIMPLE); // passkey locks at 2
    let pk = f.register_device("alice", AuthenticatorType::Passkey, "web", "laptop");
    f.fail(&pk, "web");
    let r = f.engine.reserve(&pk, &Attempt::in_app("web")).unwrap();
    assert!(
        r.accepted,
        "the reserved attempt itself proceeds to verification"
    );
    assert!(
        matches!(f.check(&pk, "web"), Decision::Locked { .. }),
        "others see the lock"
    );
    let c = f
        .engine
        .commit(&pk, &Attempt::in_app("web"), r.reservation.unwrap(), true)
        .unwrap();
    assert!(c.accepted);
    assert!(f.check(&pk, "web").is_allowed());
    let actions: Vec<_> = f.engine.events().iter().map(|e| e.action.name()).collect();
    assert!(
        actions.ends_with(&["reserved", "locked", "lock_refunded", "committed"]),
        "{actions:?}"
    );
}

#[test]
fn a_repeated_wrong_secret_reserved_is_not_counted_again() {
    let f = engine_with(SIMPLE);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let a = Attempt::in_app("bank").with_fingerprint(b"fp-1");
    let r1 = f.engine.reserve(&pin, &a).unwrap();
    f.engine
        .commit(&pin, &a, r1.reservation.unwrap(), false)
        .unwrap();
    let r2 = f.engine.reserve(&pin, &a).unwrap();
    assert!(r2.accepted && !r2.counted);
    assert_eq!(r2.failures, 1);
}

#[test]
fn lock_expiry_is_reported_to_the_observer_once() {
    use std::sync::{Arc, Mutex};
    struct Log(Mutex<Vec<String>>);
    impl Observer for Log {
        fn on_lock_change(&self, e: &Event) {
            self.0.lock().unwrap().push(format!(
                "{} {}",
                e.action.name(),
                e.authenticator.unwrap()
            ));
        }
    }
    let f = engine_with(SIMPLE);
    let log = Arc::new(Log(Mutex::new(Vec::new())));
    f.engine.set_observer(Some(log.clone()));
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail_n(&pw, "web", 3);
    f.advance(300);
    f.check(&pw, "web");
    f.check(&pw, "web");
    f.engine.lock(&pw, "web", &Fixture::admin(), None).unwrap();
    f.engine
        .unlock(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    let log = log.0.lock().unwrap();
    assert_eq!(
        *log,
        [
            format!("locked {pw}"),
            format!("lock_expired {pw}"),
            format!("locked {pw}"),
            format!("unlocked {pw}")
        ]
    );
}

#[test]
fn an_observer_may_call_back_into_the_engine() {
    use std::sync::{Arc, Mutex, OnceLock};
    struct Reentrant {
        engine: OnceLock<Arc<Engine>>,
        seen: Mutex<Vec<Decision>>,
    }
    impl Observer for Reentrant {
        fn on_lock_change(&self, e: &Event) {
            let engine = self.engine.get().unwrap();
            let d = engine
                .check(&e.authenticator.unwrap(), e.app.as_deref().unwrap())
                .unwrap();
            self.seen.lock().unwrap().push(d);
        }
    }
    let f = engine_with(SIMPLE);
    let engine = Arc::new(f.engine);
    let obs = Arc::new(Reentrant {
        engine: OnceLock::new(),
        seen: Mutex::new(Vec::new()),
    });
    obs.engine.set(engine.clone()).ok();
    engine.set_observer(Some(obs.clone()));
    let pk = engine
        .register(&Registration::new("a", AuthenticatorType::Passkey, "web").on_device("d"))
        .unwrap();
    engine.record_failure(&pk, &Attempt::in_app("web")).unwrap();
    engine.record_failure(&pk, &Attempt::in_app("web")).unwrap();
    assert!(matches!(
        obs.seen.lock().unwrap()[0],
        Decision::Locked { .. }
    ));
    engine.set_observer(None);
}

#[test]
fn an_observer_removed_hears_nothing_and_one_set_again_hears_the_next_change() {
    use std::sync::{Arc, Mutex};
    struct Log(Mutex<Vec<&'static str>>);
    impl Observer for Log {
        fn on_lock_change(&self, e: &Event) {
            self.0.lock().unwrap().push(e.action.name());
        }
    }
    let f = engine_with(SIMPLE);
    let log = Arc::new(Log(Mutex::new(Vec::new())));
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    // No observer yet: nothing to tell.
    f.engine.lock(&pw, "web", &Fixture::admin(), None).unwrap();
    f.engine.set_observer(Some(log.clone()));
    f.engine
        .unlock(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    f.engine.set_observer(None);
    f.engine.lock(&pw, "web", &Fixture::admin(), None).unwrap();
    f.engine.set_observer(Some(log.clone()));
    f.engine
        .unlock(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(*log.0.lock().unwrap(), ["unlocked", "unlocked"]);
}

#[test]
fn a_sink_that_leaves_the_events_in_place_gets_each_event_once() {
    use std::sync::{Arc, Mutex};
    // Implements only `append`, so the engine's buffer comes back full from
    // `append_owned`; the next call must not send those events again.
    #[derive(Default)]
    struct Seqs(Mutex<Vec<u64>>);
    impl EventSink for Seqs {
        fn append(&self, events: &[Event]) -> std::result::Result<(), String> {
            self.0.lock().unwrap().extend(events.iter().map(|e| e.seq));
            Ok(())
        }
        fn events(&self) -> Vec<Event> {
            Vec::new()
        }
    }
    let sink = Arc::new(Seqs::default());
    let engine = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .clock(FakeClock::at(Timestamp::from_millis(T0)))
        .history(sink.clone())
        .build();
    let pw = engine
        .register(&Registration::new(
            "alice",
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap();
    engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
    engine.record_success(&pw, &Attempt::in_app("web")).unwrap();
    engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
    assert_eq!(*sink.0.lock().unwrap(), [1, 2, 3, 4]);
}
