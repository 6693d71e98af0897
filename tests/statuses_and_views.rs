//! SPEC §4: statuses, precedence, suspension, and the authenticator view.
mod common;

use authlock::*;
use common::*;

#[test]
fn new_authenticator_is_registered_then_active_after_a_success() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    assert_eq!(f.status(&pw, "web"), Status::Registered);
    f.succeed(&pw, "web");
    assert_eq!(f.status(&pw, "web"), Status::Active);
}

#[test]
fn deactivated_takes_precedence_over_locked_and_leaving_returns_to_what_is_underneath() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.succeed(&pw, "web");
    f.engine
        .lock(&pw, "web", &Fixture::admin(), Some("fraud review"))
        .unwrap();
    f.engine
        .deactivate(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(f.status(&pw, "web"), Status::Deactivated);
    assert_eq!(f.check(&pw, "web"), Decision::Deactivated);
    f.engine
        .reactivate(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(f.status(&pw, "web"), Status::Locked);
    f.engine
        .unlock(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(
        f.status(&pw, "web"),
        Status::Active,
        "back to the status underneath"
    );
}

#[test]
fn suspending_a_user_deactivates_all_authenticators_and_unsuspending_restores_each() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let otp = f
        .engine
        .add_identifier("alice", &Identifier::email("a@x.io"), &Actor::user("alice"))
        .unwrap()[0];
    f.succeed(&pw, "web");
    f.engine
        .lock(&pin, "bank", &Fixture::admin(), None)
        .unwrap();
    let bobs = f.register("bob", AuthenticatorType::Password, "web");
    let events = f
        .engine
        .suspend_user("alice", &Fixture::admin(), Some("chargeback"))
        .unwrap();
    assert_eq!(
        events[0].authenticator, None,
        "the user-level event comes first"
    );
    for (id, app) in [(&pw, "web"), (&pin, "bank"), (&otp, "web")] {
        assert_eq!(f.check(id, app), Decision::Deactivated);
    }
    assert!(f.check(&bobs, "web").is_allowed());
    // Registered while suspended: deactivated too.
    let late = f.register("alice", AuthenticatorType::Totp, "web");
    assert_eq!(f.check(&late, "web"), Decision::Deactivated);
    f.engine
        .unsuspend_user("alice", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(f.status(&pw, "web"), Status::Active);
    assert_eq!(f.status(&pin, "bank"), Status::Locked);
    assert!(f.check(&otp, "web").is_allowed());
    assert!(f.check(&late, "web").is_allowed());
}

#[test]
fn an_admin_deactivation_survives_unsuspend() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.engine
        .deactivate(&pw, "web", &Fixture::admin(), Some("malware"))
        .unwrap();
    f.engine
        .suspend_user("alice", &Fixture::admin(), None)
        .unwrap();
    f.engine
        .unsuspend_user("alice", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(f.check(&pw, "web"), Decision::Deactivated);
}

#[test]
fn view_lists_each_authenticator_once_with_mixed_status_and_multiple_apps() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.register("alice", AuthenticatorType::Password, "mobile");
    f.succeed(&pw, "web");
    f.engine
        .lock(&pw, "mobile", &Fixture::admin(), Some("suspicious device"))
        .unwrap();
    let views = f.engine.authenticators("alice").unwrap();
    assert_eq!(views.len(), 1);
    let v = &views[0];
    assert_eq!(v.status, UnifiedStatus::Mixed);
    assert!(v.multiple_apps);
    assert_eq!(v.apps.len(), 2);
    let web = &v.apps[0];
    assert_eq!((web.app.as_str(), web.status), ("web", Status::Active));
    assert_eq!(web.last_success, Some(f.now()));
    let mobile = &v.apps[1];
    assert_eq!(mobile.status, Status::Locked);
    assert_eq!(mobile.lock_kind, Some(LockKind::Manual));
    assert_eq!(mobile.lock_reason.as_deref(), Some("suspicious device"));
    assert_eq!(mobile.lock_expires_at, None);
    assert_eq!(v.last_login, Some(f.now()));
    assert_eq!(v.last_app.as_deref(), Some("web"));
}

#[test]
fn view_shows_common_status_when_apps_agree() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.register("alice", AuthenticatorType::Password, "mobile");
    f.succeed(&pw, "web");
    f.succeed(&pw, "mobile");
    let v = f.engine.authenticator(&pw).unwrap();
    assert_eq!(v.status, UnifiedStatus::Active);
    assert!(v.multiple_apps);
}

#[test]
fn view_shows_policy_lock_expiry_and_last_device() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.engine
        .record_success(&pw, &Attempt::in_app("web").on_device("firefox-laptop"))
        .unwrap();
    f.fail_n(&pw, "web", 3);
    let v = f.engine.authenticator(&pw).unwrap();
    assert_eq!(v.apps[0].lock_kind, Some(LockKind::Policy));
    assert_eq!(v.apps[0].lock_expires_at, Some(f.at(300)));
    assert_eq!(v.apps[0].failures, 3);
    assert_eq!(v.last_device.as_deref(), Some("firefox-laptop"));
    f.advance(300);
    let v = f.engine.authenticator(&pw).unwrap();
    assert_eq!(
        v.apps[0].status,
        Status::Active,
        "expired lock shows as ended"
    );
    assert_eq!(v.apps[0].failures, 0);
}

#[test]
fn global_view_lists_the_apps_it_was_used_in() {
    let f = engine_with(SIMPLE);
    let otp = f
        .engine
        .add_identifier("alice", &Identifier::email("a@x.io"), &Actor::user("alice"))
        .unwrap()[0];
    let v = f.engine.authenticator(&otp).unwrap();
    assert!(v.apps.is_empty() && !v.multiple_apps);
    f.succeed(&otp, "web");
    f.fail(&otp, "mobile");
    let v = f.engine.authenticator(&otp).unwrap();
    let apps: Vec<_> = v.apps.iter().map(|a| a.app.as_str()).collect();
    assert_eq!(apps, ["web", "mobile"]);
    assert!(v.multiple_apps);
    assert_eq!(
        v.status,
        UnifiedStatus::Active,
        "one shared state: no Mixed"
    );
    assert_eq!(v.apps[1].last_success, None);
    assert_eq!(v.apps[1].failures, 1);
}

#[test]
fn deleting_one_app_instance_keeps_the_others_under_the_same_id() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.register("alice", AuthenticatorType::Password, "mobile");
    f.engine
        .delete(&pw, "mobile", &Fixture::admin(), None)
        .unwrap();
    assert!(f.check(&pw, "web").is_allowed());
    assert!(matches!(
        f.engine.check(&pw, "mobile"),
        Err(Error::WrongApp { .. })
    ));
    assert!(!f.engine.authenticator(&pw).unwrap().multiple_apps);
    f.engine
        .delete(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(f.check(&pw, "web"), Decision::Deleted);
    assert!(f.engine.authenticators("alice").unwrap().is_empty());
}

#[test]
fn views_of_an_unknown_user_are_an_error() {
    let f = engine();
    assert_eq!(
        f.engine.authenticators("ghost").unwrap_err(),
        Error::UnknownUser {
            user: "ghost".into()
        }
    );
}
