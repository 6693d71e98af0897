//! SPEC §6: manual lock and unlock, delete, deactivate, with actors and reasons.
mod common;

use authlock::*;
use common::*;

#[test]
fn manual_lock_keeps_its_reason_apart_from_policy_locks() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let ev = f
        .engine
        .lock(
            &pw,
            "web",
            &Actor::admin("sec-team"),
            Some("credential stuffing"),
        )
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].action,
        Action::Locked {
            lock: LockKind::Manual,
            until: None
        }
    );
    assert_eq!(ev[0].reason.as_deref(), Some("credential stuffing"));
    assert_eq!(ev[0].actor, Actor::admin("sec-team"));
    assert_eq!(
        (ev[0].before, ev[0].after),
        (Some(Status::Registered), Some(Status::Locked))
    );
    match f.check(&pw, "web") {
        Decision::Locked {
            lock,
            until,
            reason,
        } => {
            assert_eq!(lock, LockKind::Manual);
            assert_eq!(until, None);
            assert_eq!(reason.as_deref(), Some("credential stuffing"));
        }
        d => panic!("{d:?}"),
    }
    // A manual lock never expires.
    f.advance(365 * 86_400);
    assert!(matches!(f.check(&pw, "web"), Decision::Locked { .. }));
}

#[test]
fn locking_twice_changes_nothing_the_second_time() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.engine
        .lock(&pw, "web", &Fixture::admin(), Some("first"))
        .unwrap();
    let again = f
        .engine
        .lock(&pw, "web", &Fixture::admin(), Some("second"))
        .unwrap();
    assert!(again.is_empty());
    let v = f.engine.authenticator(&pw).unwrap();
    assert_eq!(v.apps[0].lock_reason.as_deref(), Some("first"));
}

#[test]
fn manual_lock_replaces_a_policy_lock_and_does_not_expire() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail_n(&pw, "web", 3);
    f.engine
        .lock(&pw, "web", &Fixture::admin(), Some("escalated"))
        .unwrap();
    f.advance(600);
    assert!(matches!(
        f.check(&pw, "web"),
        Decision::Locked {
            lock: LockKind::Manual,
            ..
        }
    ));
}

#[test]
fn unlock_clears_the_lock_and_the_counter() {
    let f = engine_with(SIMPLE);
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    f.fail_n(&pin, "bank", 1);
    f.advance(60);
    f.fail_n(&pin, "bank", 1);
    assert!(matches!(f.check(&pin, "bank"), Decision::Throttled { .. }));
    let ev = f
        .engine
        .unlock(&pin, "bank", &Actor::helpdesk("op-7"), None)
        .unwrap();
    assert_eq!(
        ev[0].action,
        Action::Unlocked {
            cleared_lock: false
        }
    );
    assert!(
        f.check(&pin, "bank").is_allowed(),
        "throttle cleared with the counter"
    );
    assert_eq!(f.fail(&pin, "bank").failures, 1);
    // Nothing to clear: no event.
    f.succeed(&pin, "bank");
    assert!(
        f.engine
            .unlock(&pin, "bank", &Fixture::admin(), None)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn totp_cannot_be_locked_or_unlocked_by_hand_but_can_be_deleted() {
    let f = engine_with(SIMPLE);
    let totp = f.register("alice", AuthenticatorType::Totp, "web");
    let before = f.engine.snapshot();
    let e = f
        .engine
        .lock(&totp, "web", &Fixture::admin(), None)
        .unwrap_err();
    assert_eq!(e.to_string(), "totp does not support manual lock");
    let e = f
        .engine
        .unlock(&totp, "web", &Fixture::admin(), None)
        .unwrap_err();
    assert_eq!(e.to_string(), "totp does not support manual unlock");
    assert_eq!(f.engine.snapshot(), before, "nothing changed");
    f.engine
        .delete(&totp, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(f.check(&totp, "web"), Decision::Deleted);
}

#[test]
fn otp_cannot_be_locked_unlocked_or_deleted() {
    let f = engine();
    let otp = f
        .engine
        .add_identifier(
            "alice",
            &Identifier::phone("+15550100"),
            &Actor::user("alice"),
        )
        .unwrap()[0];
    for e in [
        f.engine
            .lock(&otp, "web", &Fixture::admin(), None)
            .unwrap_err(),
        f.engine
            .unlock(&otp, "web", &Fixture::admin(), None)
            .unwrap_err(),
        f.engine
            .delete(&otp, "web", &Fixture::admin(), None)
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                Error::Unsupported {
                    kind: AuthenticatorType::SmsOtp,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn magic_link_and_social_have_no_lockout() {
    let f = engine();
    let ids = f
        .engine
        .add_identifier("alice", &Identifier::email("a@x.io"), &Actor::user("alice"))
        .unwrap();
    let link = ids[1];
    let e = f
        .engine
        .record_failure(&link, &Attempt::in_app("web"))
        .unwrap_err();
    assert_eq!(
        e,
        Error::Unsupported {
            kind: AuthenticatorType::EmailMagicLink,
            operation: Operation::RecordFailure
        }
    );
    assert!(f.engine.reserve(&link, &Attempt::in_app("web")).is_err());
    assert!(f.succeed(&link, "web").accepted);
}

#[test]
fn deactivate_and_reactivate_are_idempotent_and_recorded_with_actor() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let ev = f
        .engine
        .deactivate(&pw, "web", &Actor::admin("ann"), Some("malware"))
        .unwrap();
    assert_eq!(ev[0].action, Action::Deactivated);
    assert_eq!(ev[0].reason.as_deref(), Some("malware"));
    assert!(
        f.engine
            .deactivate(&pw, "web", &Actor::admin("ann"), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        !f.engine
            .reactivate(&pw, "web", &Actor::admin("ann"), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        f.engine
            .reactivate(&pw, "web", &Actor::admin("ann"), None)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn attempts_on_a_deactivated_authenticator_are_refused_and_not_counted() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.engine
        .deactivate(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    let out = f.fail(&pw, "web");
    assert!(!out.accepted && !out.counted);
    assert_eq!(out.decision, Decision::Deactivated);
    let out = f.succeed(&pw, "web");
    assert!(!out.accepted);
    f.engine
        .reactivate(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(f.fail(&pw, "web").failures, 1);
    assert_eq!(f.status(&pw, "web"), Status::Registered);
}

#[test]
fn overlong_reason_is_refused() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let e = f
        .engine
        .lock(&pw, "web", &Fixture::admin(), Some(&"r".repeat(2000)))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { what: "reason", .. }));
    assert!(f.check(&pw, "web").is_allowed());
}
