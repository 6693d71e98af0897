//! The host clock: set back and forward again it never shortens a wait (each
//! record keeps the latest time it has seen, in its state and its
//! snapshots), and times outside the years 1970 to 9999 are refused.
mod common;

use std::time::Duration;

use authlock::*;
use common::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn actions(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.action.name()).collect()
}

#[test]
fn a_clock_set_back_then_forward_does_not_end_a_lock_early() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let t = f.now();
    f.fail_n(&pw, "web", 3); // locked until t + 5m
    let until = t.plus(secs(300));
    let locked = Decision::Locked {
        lock: LockKind::Policy,
        until: Some(until),
        reason: None,
    };
    let events = f.engine.events().len();

    f.rewind(3600);
    assert_eq!(f.check(&pw, "web"), locked, "an hour back");
    assert_eq!(
        f.engine.events().len(),
        events,
        "a check with the clock behind is a read: it records nothing"
    );

    f.clock.set(t.plus(secs(1)));
    assert_eq!(f.check(&pw, "web"), locked, "forward again, one second on");
    let out = f.fail(&pw, "web");
    assert!(!out.accepted && !out.counted, "{out:?}");
    assert_eq!(out.failures, 3, "the counter did not restart");

    f.clock.set(Timestamp::from_millis(until.as_millis() - 1));
    assert_eq!(f.check(&pw, "web"), locked);
    f.clock.set(until);
    assert!(f.check(&pw, "web").is_allowed());
    assert_eq!(
        f.fail(&pw, "web").failures,
        1,
        "the counter restarts at expiry"
    );
}

#[test]
fn a_clock_set_back_then_forward_does_not_end_a_throttle_early() {
    let f = engine_with(SIMPLE);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let t = f.now();
    f.fail_n(&pin, "bank", 2); // throttled 30 s
    let throttled = Decision::Throttled {
        retry_at: t.plus(secs(30)),
    };
    f.rewind(3600);
    assert_eq!(f.check(&pin, "bank"), throttled, "an hour back");
    let out = f.fail(&pin, "bank");
    assert!(!out.accepted && !out.counted, "{out:?}");
    f.clock.set(t.plus(secs(1)));
    assert_eq!(f.check(&pin, "bank"), throttled, "forward again");
    f.clock.set(t.plus(secs(29)));
    assert_eq!(f.check(&pin, "bank"), throttled);
    f.clock.set(t.plus(secs(30)));
    assert!(f.check(&pin, "bank").is_allowed());
}

#[test]
fn a_change_made_with_the_clock_behind_is_stamped_with_the_latest_time_and_noted() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let t = f.now();
    f.fail(&pw, "web");
    f.rewind(3600);
    let before = f.engine.events().len();
    let out = f.fail(&pw, "web");
    assert!(out.accepted && out.counted && out.failures == 2, "{out:?}");
    let new = &f.engine.events()[before..];
    assert_eq!(actions(new), ["clock_rewound", "failure"]);
    assert_eq!(
        new[0].time,
        f.now(),
        "the notice carries the clock's reading"
    );
    assert_eq!(new[0].actor, Actor::System);
    assert_eq!(
        new[1].time, t,
        "the change carries the record's latest time"
    );

    // Once per change: the next failure is noted again, and its lock is
    // measured from the record's time, not the clock's.
    f.advance(1);
    let before = f.engine.events().len();
    let out = f.fail(&pw, "web");
    let new = &f.engine.events()[before..];
    assert_eq!(actions(new), ["clock_rewound", "failure", "locked"]);
    assert_eq!(out.decision.retry_at(), Some(t.plus(secs(300))));
    let view = f.engine.authenticator(&pw).unwrap();
    assert_eq!(view.apps[0].lock_expires_at, Some(t.plus(secs(300))));

    // A refused attempt changes nothing, so it notes nothing.
    let before = f.engine.events().len();
    assert!(!f.fail(&pw, "web").accepted);
    assert_eq!(f.engine.events().len(), before);
}

#[test]
fn the_latest_time_seen_is_kept_per_record() {
    let f = engine_with(SIMPLE);
    let a = f.register("alice", AuthenticatorType::Password, "web");
    let b = f.register("bob", AuthenticatorType::Password, "web");
    let t = f.now();
    f.advance(3600);
    f.fail(&a, "web"); // alice's record has seen t + 1h
    f.clock.set(t);
    let before = f.engine.events().len();
    f.fail(&b, "web");
    let new = &f.engine.events()[before..];
    assert_eq!(actions(new), ["failure"], "bob's record never saw t + 1h");
    assert_eq!(new[0].time, t);
    let snap = f.engine.snapshot_json();
    let v: serde_json::Value = serde_json::from_str(&snap).unwrap();
    let seen_of = |id: AuthenticatorId| {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id.to_string())
            .unwrap()["seen"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(seen_of(a), t.as_millis() + 3_600_000);
    assert_eq!(seen_of(b), t.as_millis());
}

#[test]
fn the_latest_time_seen_is_kept_in_snapshots() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let t = f.now();
    f.fail_n(&pw, "web", 3);
    let json = f.engine.snapshot_json();

    // Restored on a host whose clock is an hour behind, then forward again.
    let g = engine_with(SIMPLE);
    g.engine.restore_json(&json).unwrap();
    g.clock.set(t);
    g.rewind(3600);
    assert_eq!(g.check(&pw, "web").retry_at(), Some(t.plus(secs(300))));
    g.clock.set(t.plus(secs(1)));
    assert_eq!(g.check(&pw, "web").retry_at(), Some(t.plus(secs(300))));

    // `seen` is required, and no stored time may be later than it.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rec = &mut v["records"][0];
    rec.as_object_mut().unwrap().remove("seen");
    let h = engine_with(SIMPLE);
    let before = h.engine.snapshot();
    let err = h.engine.restore_json(&v.to_string()).unwrap_err();
    assert!(err.to_string().contains("seen"), "{err}");
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["records"][0]["seen"] = (t.as_millis() - 1).into();
    let err = h.engine.restore_json(&v.to_string()).unwrap_err();
    assert!(err.to_string().contains("later than its seen"), "{err}");
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["records"][0]["seen"] = i64::MAX.into();
    let err = h.engine.restore_json(&v.to_string()).unwrap_err();
    assert!(err.to_string().contains("outside the times"), "{err}");
    assert_eq!(
        h.engine.snapshot(),
        before,
        "a refused snapshot changes nothing"
    );
}

#[test]
fn a_history_with_the_clock_set_back_replays_to_the_same_state() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let pk = f.register_device("bob", AuthenticatorType::Passkey, "web", "laptop");
    let t = f.now();
    f.fail(&pw, "web");
    f.fail(&pk, "web");
    let a = Attempt::in_app("web");
    let r = f.engine.reserve(&pk, &a).unwrap(); // locks the passkey
    f.rewind(600);
    f.fail(&pw, "web");
    // The refund of the lock and the commit, noted as made with the clock behind.
    f.engine
        .commit(&pk, &a, r.reservation.unwrap(), true)
        .unwrap();
    f.fail_n(&pin, "bank", 1);
    f.engine
        .lock(&pin, "bank", &Fixture::admin(), Some("lost"))
        .unwrap();
    f.engine
        .suspend_user("alice", &Fixture::admin(), None)
        .unwrap();
    f.clock.set(t.plus(secs(1)));
    f.fail(&pw, "web");
    f.rewind(100);
    f.engine
        .delete(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    let events = f.engine.events();
    assert!(
        events
            .windows(3)
            .any(|w| actions(w) == ["clock_rewound", "lock_refunded", "committed"]),
        "{:?}",
        actions(&events)
    );
    assert!(actions(&events).ends_with(&["clock_rewound", "deleted"]));
    let replayed = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .clock(FakeClock::default())
        .replay(&events)
        .unwrap();
    assert_eq!(replayed.snapshot(), f.engine.snapshot());
    assert_eq!(replayed.events(), events);

    // A `clock_rewound` event on its own (the form histories had when a
    // check moved stored times back) no longer follows from anything.
    let mut lone = events.clone();
    let pos = lone.len() - 2;
    lone[pos].authenticator = Some(pin);
    let err = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .replay(&lone)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`clock_rewound` must follow the event that causes it"),
        "{err}"
    );
}

#[test]
fn times_outside_the_years_1970_to_9999_are_refused_by_every_call() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail(&pw, "web");
    let snapshot = f.engine.snapshot();
    let a = Attempt::in_app("web");
    for t in [i64::MAX, Timestamp::MAX_VALID.as_millis() + 1, -1, i64::MIN] {
        f.clock.set(Timestamp::from_millis(t));
        let refused = |r: Result<(), Error>, call: &str| match r {
            Err(Error::InvalidArgument { what: "clock", why }) => {
                assert!(why.contains("1970 to 9999"), "{call} at {t}: {why}")
            }
            other => panic!("{call} at {t}: {other:?}"),
        };
        refused(f.engine.check(&pw, "web").map(drop), "check");
        refused(f.engine.record_failure(&pw, &a).map(drop), "failure");
        refused(f.engine.record_success(&pw, &a).map(drop), "success");
        refused(f.engine.reserve(&pw, &a).map(drop), "reserve");
        refused(
            f.engine.lock(&pw, "web", &Fixture::admin(), None).map(drop),
            "lock",
        );
        refused(
            f.engine
                .unlock(&pw, "web", &Fixture::admin(), None)
                .map(drop),
            "unlock",
        );
        refused(
            f.engine
                .delete(&pw, "web", &Fixture::admin(), None)
                .map(drop),
            "delete",
        );
        refused(
            f.engine
                .register(&Registration::new(
                    "bob",
                    AuthenticatorType::Password,
                    "web",
                ))
                .map(drop),
            "register",
        );
        refused(
            f.engine
                .suspend_user("alice", &Fixture::admin(), None)
                .map(drop),
            "suspend",
        );
        refused(f.engine.authenticator(&pw).map(drop), "view");
        refused(f.engine.authenticators("alice").map(drop), "views");
        assert_eq!(
            f.engine.snapshot(),
            snapshot,
            "a refused call changes nothing"
        );
    }
}

#[test]
fn a_lock_at_the_edge_of_time_holds() {
    // At the last valid millisecond (and at the first), a lock holds and a
    // fourth failure is refused; its end lies past the last valid time.
    for t in [Timestamp::MAX_VALID, Timestamp::MIN_VALID] {
        let f = engine_with(SIMPLE);
        f.clock.set(t);
        let pw = f.register("alice", AuthenticatorType::Password, "web");
        f.fail_n(&pw, "web", 3);
        let locked = Decision::Locked {
            lock: LockKind::Policy,
            until: Some(t.plus(secs(300))),
            reason: None,
        };
        assert_eq!(f.check(&pw, "web"), locked, "at {t}");
        let out = f.fail(&pw, "web");
        assert!(!out.accepted && !out.counted, "at {t}: {out:?}");
        assert_eq!(out.decision, locked);
    }
}

#[test]
fn a_lock_whose_end_cannot_be_represented_holds_until_unlocked() {
    // A lockout so long that its end is past the end of representable time.
    let toml = r#"
[policies.password]
max_failures = 3
failure_window = "none"
lockout = { kind = "temporary", duration = "9223372036854775000ms" }
"#;
    let f = engine_with(toml);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail_n(&pw, "web", 3);
    let locked = Decision::Locked {
        lock: LockKind::Policy,
        until: None,
        reason: None,
    };
    assert_eq!(f.check(&pw, "web"), locked);
    let lock_event = f.engine.events().into_iter().last().unwrap();
    assert_eq!(
        lock_event.action,
        Action::Locked {
            lock: LockKind::Policy,
            until: None
        }
    );
    f.clock.set(Timestamp::MAX_VALID);
    assert_eq!(f.check(&pw, "web"), locked, "at the last valid time");
    assert!(!f.fail(&pw, "web").accepted);
    assert_eq!(
        f.engine.authenticator(&pw).unwrap().apps[0].lock_expires_at,
        None
    );
    f.engine
        .unlock(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert!(f.check(&pw, "web").is_allowed());
}

#[test]
fn a_throttle_whose_end_cannot_be_represented_holds() {
    let toml = r#"
[policies.pin]
max_failures = 5
throttle = [ { after = 2, wait = "9223372036854775000ms" } ]
lockout = { kind = "until_unlocked" }
"#;
    let f = engine_with(toml);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    f.fail_n(&pin, "bank", 2);
    let throttled = Decision::Throttled {
        retry_at: Timestamp::MAX,
    };
    assert_eq!(f.check(&pin, "bank"), throttled);
    f.clock.set(Timestamp::MAX_VALID);
    assert_eq!(f.check(&pin, "bank"), throttled, "at the last valid time");
    assert!(!f.fail(&pin, "bank").accepted);
}
