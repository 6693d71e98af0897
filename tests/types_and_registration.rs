//! SPEC §2: authenticator types, capabilities and registration.
mod common;

use authlock::*;
use common::*;

#[test]
fn capability_table_matches_the_spec() {
    use AuthenticatorType as T;
    let expect = [
        (T::Password, Scope::AppUser, true, true, true),
        (T::Pin, Scope::DeviceUser, true, true, true),
        (T::Passkey, Scope::DeviceUser, true, true, true),
        (T::MobileBiometrics, Scope::DeviceUser, true, true, true),
        (T::FaceAuthentication, Scope::AppUser, true, true, true),
        (T::Totp, Scope::AppUser, true, false, true),
        (T::EmailOtp, Scope::GlobalUser, true, false, false),
        (T::SmsOtp, Scope::GlobalUser, true, false, false),
        (T::DirectOtp, Scope::GlobalUser, true, false, false),
        (T::EmailMagicLink, Scope::GlobalUser, false, false, false),
        (T::SocialLogin, Scope::GlobalUser, false, false, false),
        (T::Oidc, Scope::GlobalUser, false, false, false),
        (T::Saml, Scope::GlobalUser, false, false, false),
    ];
    assert_eq!(expect.len(), AuthenticatorType::ALL.len());
    for (kind, scope, lockout, manual, delete) in expect {
        let info = kind.info();
        assert_eq!(info.scope, scope, "{kind}");
        assert_eq!(info.policy_lockout, lockout, "{kind}");
        assert_eq!(info.manual_lock, manual, "{kind}");
        assert_eq!(info.manual_unlock, manual, "{kind}");
        assert_eq!(info.delete, delete, "{kind}");
    }
}

#[test]
fn explicit_registration_of_a_global_type_is_refused_naming_type_and_operation() {
    let f = engine();
    let err = f
        .engine
        .register(&Registration::new(
            "alice",
            AuthenticatorType::EmailOtp,
            "web",
        ))
        .unwrap_err();
    assert_eq!(
        err,
        Error::Unsupported {
            kind: AuthenticatorType::EmailOtp,
            operation: Operation::Register
        }
    );
    assert!(err.to_string().contains("email_otp"), "{err}");
    assert!(err.to_string().contains("explicit registration"), "{err}");
    assert!(matches!(
        f.engine.authenticators("alice"),
        Err(Error::UnknownUser { .. })
    ));
}

#[test]
fn email_on_the_profile_registers_email_otp_and_magic_link_implicitly() {
    let f = engine();
    let ids = f
        .engine
        .add_identifier(
            "alice",
            &Identifier::email("a@example.com"),
            &Actor::user("alice"),
        )
        .unwrap();
    assert_eq!(ids.len(), 2);
    let views = f.engine.authenticators("alice").unwrap();
    let kinds: Vec<_> = views.iter().map(|v| v.kind).collect();
    assert_eq!(
        kinds,
        [
            AuthenticatorType::EmailOtp,
            AuthenticatorType::EmailMagicLink
        ]
    );
    assert!(
        views
            .iter()
            .all(|v| v.identifier.as_deref() == Some("a@example.com"))
    );
    assert!(views.iter().all(|v| v.status == UnifiedStatus::Registered));
    // The same identifier again registers nothing new.
    let again = f
        .engine
        .add_identifier(
            "alice",
            &Identifier::email("a@example.com"),
            &Actor::user("alice"),
        )
        .unwrap();
    assert!(again.is_empty());
}

#[test]
fn phone_on_the_profile_registers_sms_and_direct_otp() {
    let f = engine();
    f.engine
        .add_identifier("bob", &Identifier::phone("+15550100"), &Actor::admin("ops"))
        .unwrap();
    let kinds: Vec<_> = f
        .engine
        .authenticators("bob")
        .unwrap()
        .iter()
        .map(|v| v.kind)
        .collect();
    assert_eq!(
        kinds,
        [AuthenticatorType::SmsOtp, AuthenticatorType::DirectOtp]
    );
}

#[test]
fn social_login_is_registered_on_first_successful_use() {
    let f = engine();
    let (id, out) = f
        .engine
        .record_first_use(
            "carol",
            AuthenticatorType::SocialLogin,
            "google:123",
            &Attempt::in_app("web"),
        )
        .unwrap();
    assert!(out.accepted);
    let (again, _) = f
        .engine
        .record_first_use(
            "carol",
            AuthenticatorType::SocialLogin,
            "google:123",
            &Attempt::in_app("shop"),
        )
        .unwrap();
    assert_eq!(id, again, "the same provider account is one authenticator");
    let v = f.engine.authenticator(&id).unwrap();
    assert_eq!(v.status, UnifiedStatus::Active);
    assert!(v.multiple_apps);
    let err = f
        .engine
        .record_first_use(
            "carol",
            AuthenticatorType::Password,
            "x",
            &Attempt::in_app("web"),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Unsupported {
            operation: Operation::RegisterImplicit,
            ..
        }
    ));
}

#[test]
fn ids_are_unique_opaque_and_not_sequential() {
    let f = engine();
    let mut seen = std::collections::HashSet::new();
    let mut prev: Option<u128> = None;
    for i in 0..200 {
        let id = f.register_device("u", AuthenticatorType::Passkey, "web", &format!("d{i}"));
        assert!(seen.insert(id));
        assert_eq!(id.to_string().len(), 32);
        if let Some(p) = prev {
            assert_ne!(id.as_u128().wrapping_sub(p), 1, "sequential IDs");
        }
        prev = Some(id.as_u128());
    }
    // The default generator draws from the OS: two engines never share IDs.
    let a = Engine::new(PolicyDocument::new());
    let b = Engine::new(PolicyDocument::new());
    let ia = a
        .register(&Registration::new("u", AuthenticatorType::Password, "w"))
        .unwrap();
    let ib = b
        .register(&Registration::new("u", AuthenticatorType::Password, "w"))
        .unwrap();
    assert_ne!(ia, ib);
}

#[test]
fn registering_a_device_type_again_on_the_same_device_and_app_replaces_it() {
    let f = engine();
    let old = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    let new = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    assert_ne!(old, new);
    assert_eq!(f.check(&old, "bank"), Decision::Deleted);
    assert!(matches!(
        f.engine.authenticator(&old),
        Err(Error::Deleted { .. })
    ));
    assert!(f.check(&new, "bank").is_allowed());
    assert_eq!(f.engine.authenticators("alice").unwrap().len(), 1);
    let deleted = f
        .engine
        .events()
        .into_iter()
        .find(|e| e.authenticator == Some(old) && matches!(e.action, Action::Deleted { .. }))
        .expect("deletion recorded");
    assert_eq!(
        deleted.action,
        Action::Deleted {
            replaced_by: Some(new)
        }
    );
}

#[test]
fn a_deleted_id_is_never_reused_and_answers_deleted_for_ever() {
    let f = engine();
    let id = f.register_device("alice", AuthenticatorType::Passkey, "web", "laptop");
    f.engine
        .delete(&id, "web", &Fixture::admin(), Some("lost"))
        .unwrap();
    for _ in 0..50 {
        let other = f.register_device("alice", AuthenticatorType::Passkey, "web", "laptop");
        assert_ne!(other, id);
    }
    assert_eq!(f.check(&id, "web"), Decision::Deleted);
    assert_eq!(
        f.engine
            .record_failure(&id, &Attempt::in_app("web"))
            .unwrap_err(),
        Error::Deleted { id }
    );
    assert_eq!(
        f.engine
            .delete(&id, "web", &Fixture::admin(), None)
            .unwrap_err(),
        Error::Deleted { id }
    );
}

#[test]
fn device_is_required_for_device_user_types_and_refused_for_others() {
    let f = engine();
    let e = f
        .engine
        .register(&Registration::new("a", AuthenticatorType::Pin, "bank"))
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { what: "device", .. }),
        "{e}"
    );
    let e = f
        .engine
        .register(&Registration::new("a", AuthenticatorType::Password, "bank").on_device("x"))
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { what: "device", .. }),
        "{e}"
    );
    assert!(matches!(
        f.engine.authenticators("a"),
        Err(Error::UnknownUser { .. })
    ));
}

#[test]
fn bad_names_are_refused_with_the_reason() {
    let f = engine();
    for (user, app, why) in [
        ("", "web", "empty"),
        ("a", "", "empty"),
        ("a\u{7}", "web", "control"),
    ] {
        let e = f
            .engine
            .register(&Registration::new(user, AuthenticatorType::Password, app))
            .unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
    let long = "x".repeat(300);
    let e = f
        .engine
        .register(&Registration::new(
            &long,
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap_err();
    assert!(e.to_string().contains("at most 256"), "{e}");
}

#[test]
fn passkey_public_key_is_kept_as_credential_metadata() {
    let f = engine();
    let id = f
        .engine
        .register(
            &Registration::new("a", AuthenticatorType::Passkey, "web")
                .on_device("laptop")
                .with_public_key("pQECAyYgASFYIA"),
        )
        .unwrap();
    let v = f.engine.authenticator(&id).unwrap();
    assert_eq!(v.public_key.as_deref(), Some("pQECAyYgASFYIA"));
    assert_eq!(v.device.as_deref(), Some("laptop"));
}

#[test]
fn unknown_id_is_an_error_that_names_it() {
    let f = engine();
    let id: AuthenticatorId = "00000000000000000000000000000001".parse().unwrap();
    let e = f.engine.check(&id, "web").unwrap_err();
    assert_eq!(e, Error::NotFound { id });
    assert!(e.to_string().contains("00000000000000000000000000000001"));
}
