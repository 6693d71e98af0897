//! Strict decoders and the one invariant checker: a snapshot or history
//! that does not describe a legal state exactly is refused with an error,
//! never half-read, defaulted or panicked on.
mod common;

use authlock::*;
use common::*;
use serde_json::Value;

/// A small state with something in every field that carries state: a few
/// users, a manual lock with a reason, counted failures, a reservation, a
/// device-user and an app-user record, a suspended user, an identifier.
pub fn small_state() -> Fixture {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.engine
        .lock(&pw, "web", &Actor::admin("ops"), Some("stolen"))
        .unwrap();
    let pw2 = f.register("bob", AuthenticatorType::Password, "web");
    f.fail_n(&pw2, "web", 2);
    let pin = f.register_device("bob", AuthenticatorType::Pin, "bank", "phone");
    f.engine.reserve(&pin, &Attempt::in_app("bank")).unwrap();
    f.engine
        .add_identifier("carol", &Identifier::email("c@x.io"), &Actor::user("carol"))
        .unwrap();
    f.engine
        .suspend_user("carol", &Fixture::admin(), Some("review"))
        .unwrap();
    f
}

fn restore(text: &str) -> Result<Engine> {
    let e = Engine::new(PolicyDocument::parse(SIMPLE).unwrap());
    e.restore_json(text).map(|()| e)
}

// ----- defect: an empty instance list panicked restore ----------------------

#[test]
fn a_device_user_record_with_no_instance_is_refused_not_panicked_on() {
    let f = engine_with(SIMPLE);
    f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    f.register("alice", AuthenticatorType::Password, "web");
    let mut snap: Value = serde_json::from_str(&f.engine.snapshot_json()).unwrap();
    for rec in snap["records"].as_array_mut().unwrap() {
        if rec["kind"] == "pin" {
            rec["instances"] = Value::Array(vec![]);
        }
    }
    let text = snap.to_string();
    let got = std::panic::catch_unwind(|| restore(&text).map(|_| ()));
    let err = got.expect("restore must not panic").unwrap_err();
    assert!(err.to_string().contains("has no instance"), "{err}");
}

// ----- defect: replay accepted what restore refuses --------------------------

#[test]
fn replay_refuses_a_history_whose_state_restore_would_refuse() {
    let f = engine_with(SIMPLE);
    f.engine
        .add_identifier("alice", &Identifier::email("a@x.io"), &Actor::user("alice"))
        .unwrap();
    let json = history_to_json("default", &f.engine.events());
    assert!(json.contains("\"kind\":\"email_otp\""), "{json}");
    let tampered = json.replacen("\"kind\":\"email_otp\"", "\"kind\":\"email_magic_link\"", 1);
    let (_, events) = history_from_json(&tampered).unwrap();
    let Err(err) = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap()).replay(&events) else {
        panic!("replay accepted a state restore refuses")
    };
    assert!(
        err.to_string()
            .contains("two email_magic_link authenticators in the same place"),
        "{err}"
    );
}
