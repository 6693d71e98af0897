//! SPEC §3: global-user, app-user and device-user scopes.
mod common;

use authlock::*;
use common::*;

fn email_otp(f: &Fixture, user: &str) -> AuthenticatorId {
    let ids = f
        .engine
        .add_identifier(
            user,
            &Identifier::email(&format!("{user}@example.com")),
            &Actor::user(user),
        )
        .unwrap();
    let v = f.engine.authenticator(&ids[0]).unwrap();
    assert_eq!(v.kind, AuthenticatorType::EmailOtp);
    ids[0]
}

#[test]
fn global_otp_failures_in_two_apps_add_up() {
    let f = engine_with(SIMPLE);
    let otp = email_otp(&f, "alice");
    f.fail_n(&otp, "web", 2);
    f.fail_n(&otp, "mobile", 1);
    assert_eq!(f.fail(&otp, "shop").failures, 4);
    assert!(matches!(
        f.check(&otp, "web"),
        Decision::Locked {
            lock: LockKind::Policy,
            ..
        }
    ));
}

#[test]
fn global_lock_shows_in_every_app_including_ones_never_used() {
    let f = engine_with(SIMPLE);
    let otp = email_otp(&f, "alice");
    f.fail_n(&otp, "web", 4);
    for app in ["web", "mobile", "never-used"] {
        assert!(
            matches!(f.check(&otp, app), Decision::Locked { .. }),
            "{app}"
        );
    }
    let v = f.engine.authenticator(&otp).unwrap();
    assert_eq!(v.status, UnifiedStatus::Locked);
}

#[test]
fn global_lock_expiry_seen_from_any_app_ends_it_everywhere() {
    let f = engine_with(SIMPLE);
    let otp = email_otp(&f, "alice");
    f.fail_n(&otp, "web", 2);
    f.fail_n(&otp, "mobile", 2);
    f.advance(15 * 60);
    assert!(f.check(&otp, "mobile").is_allowed());
    assert!(f.check(&otp, "web").is_allowed());
    assert_eq!(
        f.fail(&otp, "web").failures,
        1,
        "the counter restarted from zero"
    );
}

#[test]
fn global_type_policy_override_per_app_is_a_config_error() {
    let err = PolicyDocument::parse(
        r#"
        [apps.mobile.policies.email_otp]
        max_failures = 3
        "#,
    )
    .unwrap_err();
    let Error::Policy(errs) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(errs.0[0].field, "apps.mobile.policies.email_otp");
    assert!(err.to_string().contains("cannot vary per app"), "{err}");
}

#[test]
fn global_unlock_from_any_app_applies_tenant_wide() {
    // No global type in the SPEC table supports manual unlock; the shared
    // state is still one, so a success in any app clears the counter for all.
    let f = engine_with(SIMPLE);
    let otp = email_otp(&f, "alice");
    f.fail_n(&otp, "web", 3);
    f.succeed(&otp, "mobile");
    assert_eq!(f.fail(&otp, "web").failures, 1);
    let e = f
        .engine
        .unlock(&otp, "web", &Fixture::admin(), None)
        .unwrap_err();
    assert_eq!(
        e,
        Error::Unsupported {
            kind: AuthenticatorType::EmailOtp,
            operation: Operation::Unlock
        }
    );
}

#[test]
fn app_user_password_is_isolated_per_app() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let same = f.register("alice", AuthenticatorType::Password, "mobile");
    assert_eq!(pw, same, "one ID per user and type");
    f.fail_n(&pw, "web", 3);
    assert!(matches!(f.check(&pw, "web"), Decision::Locked { .. }));
    assert!(f.check(&pw, "mobile").is_allowed());
    assert_eq!(f.fail(&pw, "mobile").failures, 1);
}

#[test]
fn app_user_call_in_an_app_without_an_instance_is_an_error_and_changes_nothing() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let before = f.engine.snapshot();
    let events_before = f.engine.events().len();
    for result in [
        f.engine
            .record_failure(&pw, &Attempt::in_app("shop"))
            .map(|_| ()),
        f.engine
            .lock(&pw, "shop", &Fixture::admin(), None)
            .map(|_| ()),
        f.engine
            .unlock(&pw, "shop", &Fixture::admin(), None)
            .map(|_| ()),
        f.engine
            .delete(&pw, "shop", &Fixture::admin(), None)
            .map(|_| ()),
        f.engine.check(&pw, "shop").map(|_| ()),
    ] {
        let e = result.unwrap_err();
        assert!(matches!(e, Error::WrongApp { .. }), "{e:?}");
        assert!(e.to_string().contains("no instance in app `shop`"), "{e}");
    }
    assert_eq!(f.engine.snapshot(), before);
    assert_eq!(f.engine.events().len(), events_before);
}

#[test]
fn app_user_registering_twice_in_one_app_is_an_error() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let e = f
        .engine
        .register(&Registration::new(
            "alice",
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap_err();
    assert_eq!(
        e,
        Error::AlreadyRegistered {
            user: "alice".into(),
            kind: AuthenticatorType::Password,
            app: "web".into(),
            id: pw
        }
    );
}

#[test]
fn device_failure_never_touches_another_device_or_app() {
    let f = engine_with(SIMPLE);
    let d1 = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone-1");
    let d2 = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone-2");
    let other_app = f.register_device("alice", AuthenticatorType::Pin, "wallet", "phone-1");
    f.fail_n(&d1, "bank", 2);
    assert!(matches!(f.check(&d1, "bank"), Decision::Throttled { .. }));
    assert!(f.check(&d2, "bank").is_allowed());
    assert!(f.check(&other_app, "wallet").is_allowed());
    assert_eq!(f.fail(&d2, "bank").failures, 1);
    assert_eq!(f.fail(&other_app, "wallet").failures, 1);
}

#[test]
fn device_instance_in_another_app_is_an_error() {
    let f = engine();
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let e = f.engine.check(&pin, "wallet").unwrap_err();
    assert!(matches!(e, Error::WrongApp { .. }), "{e:?}");
}

#[test]
fn device_user_lock_and_delete_act_on_one_instance() {
    let f = engine_with(SIMPLE);
    let a = f.register_device("alice", AuthenticatorType::Passkey, "web", "laptop");
    let b = f.register_device("alice", AuthenticatorType::Passkey, "web", "phone");
    f.engine
        .lock(&a, "web", &Fixture::admin(), Some("stolen laptop"))
        .unwrap();
    assert!(matches!(
        f.check(&a, "web"),
        Decision::Locked {
            lock: LockKind::Manual,
            ..
        }
    ));
    assert!(f.check(&b, "web").is_allowed());
    f.engine.delete(&a, "web", &Fixture::admin(), None).unwrap();
    assert_eq!(f.check(&a, "web"), Decision::Deleted);
    assert!(f.check(&b, "web").is_allowed());
}

#[test]
fn device_user_unlock_fans_out_to_every_instance_in_the_app() {
    let f = engine_with(SIMPLE);
    let laptop = f.register_device("alice", AuthenticatorType::Passkey, "web", "laptop");
    let phone = f.register_device("alice", AuthenticatorType::Passkey, "web", "phone");
    let other_app = f.register_device("alice", AuthenticatorType::Passkey, "shop", "phone");
    let bobs = f.register_device("bob", AuthenticatorType::Passkey, "web", "phone");
    for (id, app) in [
        (&laptop, "web"),
        (&phone, "web"),
        (&other_app, "shop"),
        (&bobs, "web"),
    ] {
        f.fail_n(id, app, 2);
        assert!(matches!(f.check(id, app), Decision::Locked { .. }));
    }
    let events = f
        .engine
        .unlock(&laptop, "web", &Fixture::admin(), Some("helpdesk call"))
        .unwrap();
    let unlocked: Vec<_> = events.iter().filter_map(|e| e.authenticator).collect();
    assert_eq!(unlocked.len(), 2);
    assert!(unlocked.contains(&laptop) && unlocked.contains(&phone));
    assert!(f.check(&laptop, "web").is_allowed());
    assert!(f.check(&phone, "web").is_allowed());
    assert!(
        matches!(f.check(&other_app, "shop"), Decision::Locked { .. }),
        "another app"
    );
    assert!(
        matches!(f.check(&bobs, "web"), Decision::Locked { .. }),
        "another user"
    );
}

#[test]
fn unlock_by_type_clears_every_instance_of_the_type_in_the_app() {
    let f = engine_with(SIMPLE);
    let a = f.register_device("alice", AuthenticatorType::Pin, "bank", "p1");
    let b = f.register_device("alice", AuthenticatorType::Pin, "bank", "p2");
    f.engine.lock(&a, "bank", &Fixture::admin(), None).unwrap();
    f.engine.lock(&b, "bank", &Fixture::admin(), None).unwrap();
    let ev = f
        .engine
        .unlock_type(
            "alice",
            AuthenticatorType::Pin,
            "bank",
            &Fixture::admin(),
            None,
        )
        .unwrap();
    assert_eq!(ev.len(), 2);
    assert!(f.check(&a, "bank").is_allowed() && f.check(&b, "bank").is_allowed());
    let e = f
        .engine
        .unlock_type(
            "alice",
            AuthenticatorType::Totp,
            "bank",
            &Fixture::admin(),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }));
    let e = f
        .engine
        .unlock_type(
            "nobody",
            AuthenticatorType::Pin,
            "bank",
            &Fixture::admin(),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, Error::UnknownUser { .. }));
}

#[test]
fn app_overrides_apply_to_app_user_and_device_user_types_only_in_that_app() {
    let f = engine_with(
        r#"
        [policies.password]
        max_failures = 5
        [apps.bank.policies.password]
        max_failures = 2
        "#,
    );
    let pw = f.register("alice", AuthenticatorType::Password, "bank");
    f.register("alice", AuthenticatorType::Password, "blog");
    f.fail_n(&pw, "bank", 2);
    assert!(matches!(f.check(&pw, "bank"), Decision::Locked { .. }));
    f.fail_n(&pw, "blog", 4);
    assert!(f.check(&pw, "blog").is_allowed());
}
