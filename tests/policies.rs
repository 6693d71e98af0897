//! SPEC §5: policy documents load from TOML and JSON and are validated.
mod common;

use std::time::Duration;

use authlock::*;

fn errors(text: &str) -> Vec<FieldError> {
    match PolicyDocument::parse(text) {
        Err(Error::Policy(PolicyErrors(errs))) => errs,
        other => panic!("expected policy errors, got {other:?}"),
    }
}

#[test]
fn totp_policy_that_only_unlock_can_end_is_rejected() {
    let errs = errors("[policies.totp]\nlockout = { kind = \"until_unlocked\" }\n");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "policies.totp.lockout.kind");
    assert!(
        errs[0].message.contains("cannot be unlocked manually"),
        "{}",
        errs[0].message
    );
    assert!(errs[0].message.contains("never end"), "{}", errs[0].message);
}

#[test]
fn otp_policy_with_max_temporary_lockouts_is_rejected() {
    let errs = errors("[policies.sms_otp]\nmax_temporary_lockouts = 3\n");
    assert_eq!(errs[0].field, "policies.sms_otp.max_temporary_lockouts");
    assert!(
        errs[0].message.contains("locked out for ever"),
        "{}",
        errs[0].message
    );
}

#[test]
fn max_failures_must_be_between_1_and_100() {
    for bad in [0, 101, 1000] {
        let errs = errors(&format!("[policies.password]\nmax_failures = {bad}\n"));
        assert_eq!(errs[0].field, "policies.password.max_failures");
        assert!(errs[0].message.contains("1 to 100"));
    }
    let errs = errors("[policies.password]\nmax_failures = -1\n");
    assert!(errs[0].message.contains("not a valid count"));
    for ok in [1, 100] {
        PolicyDocument::parse(&format!("[policies.password]\nmax_failures = {ok}\n")).unwrap();
    }
}

#[test]
fn every_invalid_field_is_named() {
    let errs = errors(
        r#"
[policies.password]
max_failures = 0
failure_window = "soon"
lockout = { kind = "temporary", duration = "0", factor = 2 }
throttle = [ { after = 3, wait = "1m" }, { after = 2, wait = "2m" } ]

[policies.carrier_pigeon]
max_failures = 3
"#,
    );
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    for f in [
        "policies.password.max_failures",
        "policies.password.failure_window",
        "policies.password.lockout.duration",
        "policies.password.lockout.max_duration",
        "policies.password.throttle[1].after",
        "policies.carrier_pigeon",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    assert!(
        errs.iter().all(|e| e.line.is_some()),
        "TOML errors carry lines: {errs:?}"
    );
}

#[test]
fn unknown_fields_are_refused_with_their_line() {
    let errs = errors("tenant = \"t\"\n[policies.pin]\nmax_failurez = 3\n");
    assert_eq!(errs[0].line, Some(3));
    assert!(
        errs[0].message.contains("max_failurez"),
        "{}",
        errs[0].message
    );
}

#[test]
fn types_without_lockout_cannot_have_a_policy() {
    let errs = errors("[policies.saml]\nmax_failures = 3\n");
    assert!(errs[0].message.contains("no policy lockout"));
}

#[test]
fn json_documents_have_the_same_shape_and_rules() {
    let doc = PolicyDocument::parse(
        r#"{"tenant":"acme","policies":{"pin":{"max_failures":6,"throttle":[{"after":3,"wait":"30s"}],
            "lockout":{"kind":"until_unlocked"}}},
            "apps":{"bank":{"policies":{"password":{"max_failures":4}}}}}"#,
    )
    .unwrap();
    assert_eq!(doc.tenant(), "acme");
    let pin = doc.policy(AuthenticatorType::Pin, "any").unwrap();
    assert_eq!(pin.max_failures, 6);
    assert_eq!(pin.throttle_delay(3), Duration::from_secs(30));
    assert_eq!(
        doc.policy(AuthenticatorType::Password, "bank")
            .unwrap()
            .max_failures,
        4
    );
    assert_eq!(
        doc.policy(AuthenticatorType::Password, "blog")
            .unwrap()
            .max_failures,
        5
    );
    let err =
        PolicyDocument::parse(r#"{"policies":{"totp":{"lockout":{"kind":"until_unlocked"}}}}"#)
            .unwrap_err();
    assert!(
        err.to_string().contains("policies.totp.lockout.kind"),
        "{err}"
    );
}

#[test]
fn a_tenant_without_a_policy_gets_safe_documented_defaults() {
    let doc = PolicyDocument::new();
    for kind in AuthenticatorType::ALL {
        match Policy::default_for(kind) {
            Some(p) => {
                assert!(p.validate(kind).is_empty(), "{kind}");
                assert!(
                    p.max_failures <= 10,
                    "{kind}: defaults stay well under NIST's 100"
                );
                assert_eq!(doc.policy(kind, "any"), Some(&p));
            }
            None => assert!(!kind.info().policy_lockout, "{kind}"),
        }
    }
    // Non-unlockable types default to temporary lockouts only.
    for kind in [
        AuthenticatorType::Totp,
        AuthenticatorType::EmailOtp,
        AuthenticatorType::SmsOtp,
    ] {
        let p = Policy::default_for(kind).unwrap();
        assert!(p.next_lockout(1000).is_some(), "{kind} would lock for ever");
    }
}

#[test]
fn lockout_grows_by_factor_and_increment_up_to_the_cap() {
    let doc = PolicyDocument::parse(
        r#"
[policies.password]
lockout = { kind = "temporary", duration = "1m", factor = 3, increment = "30s", max_duration = "20m" }
"#,
    )
    .unwrap();
    let p = doc.policy(AuthenticatorType::Password, "a").unwrap();
    let mins = |m: f64| Some(Duration::from_millis((m * 60_000.0) as u64));
    assert_eq!(p.next_lockout(0), mins(1.0));
    assert_eq!(p.next_lockout(1), mins(3.5));
    assert_eq!(p.next_lockout(2), mins(10.0));
    assert_eq!(p.next_lockout(3), mins(20.0));
    assert_eq!(
        p.next_lockout(5),
        None,
        "the default password limit of 5 temporary lockouts applies"
    );
}

#[test]
fn a_policy_set_in_code_is_validated_too() {
    let mut doc = PolicyDocument::new();
    let e = doc
        .set_policy(AuthenticatorType::Totp, Policy::until_unlocked(5))
        .unwrap_err();
    assert!(e.to_string().contains("policies.totp.lockout.kind"), "{e}");
    let e = doc
        .set_app_policy(
            "web",
            AuthenticatorType::EmailOtp,
            Policy::temporary(3, Duration::from_secs(60)),
        )
        .unwrap_err();
    assert!(e.to_string().contains("cannot vary per app"), "{e}");
    doc.set_app_policy("web", AuthenticatorType::Pin, Policy::until_unlocked(3))
        .unwrap();
    assert_eq!(
        doc.policy(AuthenticatorType::Pin, "web")
            .unwrap()
            .max_failures,
        3
    );
}
