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

// ----- defect: renamed fields were dropped -----------------------------------

#[test]
fn a_renamed_field_is_refused_and_names_the_field() {
    let f = small_state();
    let text = f.engine.snapshot_json();
    for (from, to) in [("\"lock\":{", "\"6ock\":{"), ("\"marks\":", "\"marka\":")] {
        assert!(text.contains(from), "{from} in {text}");
        let bad = text.replacen(from, to, 1);
        let Err(err) = restore(&bad) else {
            panic!("{to} accepted")
        };
        let name = to.trim_start_matches('"').split('"').next().unwrap();
        assert!(err.to_string().contains(name), "{from}: {err}");
    }
}

#[test]
fn a_missing_state_field_is_refused() {
    let f = small_state();
    let snap: Value = serde_json::from_str(&f.engine.snapshot_json()).unwrap();
    // Every key of every object under records and users, removed one at a
    // time, is refused: the writer writes only what the reader requires.
    fn paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    here.push(Value::String(k.clone()));
                    out.push(here.clone());
                    paths(x, here, out);
                    here.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    here.push(Value::from(i));
                    paths(x, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut all = Vec::new();
    paths(&snap, &mut Vec::new(), &mut all);
    let mut refused = 0;
    for path in &all {
        let mut doc = snap.clone();
        let mut at = &mut doc;
        for step in &path[..path.len() - 1] {
            at = match step {
                Value::String(k) => &mut at[k.as_str()],
                Value::Number(n) => &mut at[n.as_u64().unwrap() as usize],
                _ => unreachable!(),
            };
        }
        let Value::String(last) = &path[path.len() - 1] else {
            unreachable!()
        };
        at.as_object_mut().unwrap().remove(last);
        let err = restore(&doc.to_string()).err();
        assert!(err.is_some(), "removing {path:?} was accepted");
        refused += 1;
    }
    assert!(refused > 50, "{refused}");
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

// ----- every single-bit flip of a snapshot -----------------------------------

/// Every single-bit flip of a small snapshot is either refused, or
/// restores to a state that writes back exactly the flipped document:
/// nothing of it was dropped, defaulted or misread.
#[test]
fn every_single_bit_flip_of_a_snapshot_is_refused_or_read_exactly() {
    let f = small_state();
    let text = f.engine.snapshot_json();
    let target = Engine::new(PolicyDocument::parse(SIMPLE).unwrap());
    let (mut refused, mut accepted, mut not_text) = (0usize, 0usize, 0usize);
    let mut bytes = text.clone().into_bytes();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            bytes[i] ^= 1 << bit;
            match std::str::from_utf8(&bytes) {
                Err(_) => not_text += 1,
                Ok(flipped) => match target.restore_json(flipped) {
                    Err(_) => refused += 1,
                    Ok(()) => {
                        accepted += 1;
                        let want: Value = serde_json::from_str(flipped).unwrap();
                        let got: Value = serde_json::from_str(&target.snapshot_json()).unwrap();
                        assert_eq!(
                            got, want,
                            "flip of bit {bit} of byte {i} was accepted but not read exactly"
                        );
                    }
                },
            }
            bytes[i] ^= 1 << bit;
        }
    }
    println!(
        "{} flips of a {}-byte snapshot: {refused} refused, {accepted} accepted and read exactly, {not_text} not UTF-8",
        bytes.len() * 8,
        bytes.len()
    );
    assert!(refused > accepted);
}

// ----- counters: bounded on input, never wrapped -----------------------------

/// An edit of one record of a snapshot, given its kind.
type Edit = Box<dyn Fn(&str, &mut Value)>;

/// The small state's snapshot with `set` applied to the state of bob's
/// password (2 failures) and pin (1 reservation).
fn with_state(set: impl Fn(&str, &mut Value)) -> String {
    let f = small_state();
    let mut snap: Value = serde_json::from_str(&f.engine.snapshot_json()).unwrap();
    for rec in snap["records"].as_array_mut().unwrap() {
        if rec["user"] == "bob" {
            let kind = rec["kind"].as_str().unwrap().to_string();
            set(&kind, rec);
        }
    }
    snap.to_string()
}

#[test]
fn counters_beyond_their_bounds_are_refused_on_restore() {
    use authlock::invariants::{MAX_COUNTER, MAX_TEMPORARY_LOCKOUTS};
    let cases: [(&str, Edit, &str); 3] = [
        (
            "next reservation",
            Box::new(|k, r| {
                if k == "pin" {
                    r["instances"][0]["state"]["next_reservation"] = u64::MAX.into();
                }
            }),
            "next reservation number",
        ),
        (
            "temporary lockouts",
            Box::new(|k, r| {
                if k == "password" {
                    r["instances"][0]["state"]["temporary_lockouts"] = u32::MAX.into();
                }
            }),
            "temporary lockouts",
        ),
        (
            "version",
            Box::new(|_, r| r["version"] = u64::MAX.into()),
            "version",
        ),
    ];
    for (what, set, why) in cases {
        let err = restore(&with_state(set)).err().map(|e| e.to_string());
        let err = err.unwrap_or_else(|| panic!("{what} at its type's maximum was accepted"));
        assert!(err.contains(why) && err.contains("limit"), "{what}: {err}");
    }
    // At the bound itself a state is legal: the increment is what fails.
    let at_bound = with_state(|k, r| {
        let st = &mut r["instances"][0]["state"];
        if k == "pin" {
            st["next_reservation"] = MAX_COUNTER.into();
        } else {
            st["temporary_lockouts"] = MAX_TEMPORARY_LOCKOUTS.into();
        }
    });
    assert!(restore(&at_bound).is_ok());
}

#[test]
fn an_increment_that_cannot_be_made_is_an_error_that_changes_nothing() {
    use authlock::invariants::{MAX_COUNTER, MAX_TEMPORARY_LOCKOUTS};
    let cases: [(&str, Edit); 3] = [
        (
            "next reservation number",
            Box::new(|k, r| {
                if k == "pin" {
                    r["instances"][0]["state"]["next_reservation"] = MAX_COUNTER.into();
                }
            }),
        ),
        (
            "temporary lockout count",
            Box::new(|k, r| {
                if k == "password" {
                    r["instances"][0]["state"]["temporary_lockouts"] =
                        MAX_TEMPORARY_LOCKOUTS.into();
                }
            }),
        ),
        (
            "version",
            Box::new(|_, r| r["version"] = MAX_COUNTER.into()),
        ),
    ];
    for (counter, set) in cases {
        let e = restore(&with_state(set)).unwrap();
        let before = e.snapshot_json();
        let bob = e.authenticators("bob").unwrap();
        let mut refused = 0;
        for view in &bob {
            let pin = view.kind == AuthenticatorType::Pin;
            if (counter.starts_with("next") && !pin) || (counter.starts_with("temporary") && pin) {
                continue;
            }
            let app = view.apps[0].app.to_string();
            let attempt = Attempt::in_app(&app);
            let got = if view.kind == AuthenticatorType::Pin {
                e.reserve(&view.id, &attempt).map(|_| ())
            } else {
                e.record_failure(&view.id, &attempt).map(|_| ())
            };
            if let Err(err) = got {
                assert!(err.to_string().contains(counter), "{counter}: {err}");
                refused += 1;
            }
        }
        assert!(refused >= 1, "{counter}: no increment refused");
        assert_eq!(
            e.snapshot_json(),
            before,
            "{counter}: a refused call changed state"
        );
    }
}

// ----- every decoder refuses an unknown field, naming it ---------------------

fn names(err: impl std::fmt::Display, field: &str) {
    let err = err.to_string();
    assert!(err.contains(field), "`{field}` not named in: {err}");
}

#[test]
fn the_snapshot_and_history_envelopes_refuse_unknown_fields() {
    let f = small_state();
    let mut snap: Value = serde_json::from_str(&f.engine.snapshot_json()).unwrap();
    snap["extra_top"] = 1.into();
    names(restore(&snap.to_string()).err().unwrap(), "extra_top");
    let mut hist: Value =
        serde_json::from_str(&history_to_json("default", &f.engine.events())).unwrap();
    hist["extra_env"] = 1.into();
    names(
        history_from_json(&hist.to_string()).unwrap_err(),
        "extra_env",
    );
    let mut hist: Value =
        serde_json::from_str(&history_to_json("default", &f.engine.events())).unwrap();
    hist["events"][0]["actor"]["nickname"] = "x".into();
    names(
        history_from_json(&hist.to_string()).unwrap_err(),
        "nickname",
    );
}

#[test]
fn policy_documents_refuse_unknown_fields_at_every_level() {
    for (doc, field) in [
        ("tenantt = \"x\"\n", "tenantt"),
        (
            "[policies.pin]\nmax_failures = 3\nmax_failurez = 4\n",
            "max_failurez",
        ),
        (
            "[policies.pin]\nmax_failures = 3\nlockout = { kind = \"until_unlocked\", durration = \"1m\" }\n",
            "durration",
        ),
        (
            "[policies.pin]\nmax_failures = 3\nthrottle = [ { after = 1, wait = \"1s\", jitter = 2 } ]\n",
            "jitter",
        ),
        ("[apps.web]\npolicy = 1\n", "policy"),
        (
            r#"{"policies": {"pin": {"max_failures": 3, "colour": "red"}}}"#,
            "colour",
        ),
        (r#"{"apps": {"web": {"policies": {}, "x": 1}}}"#, "`x`"),
    ] {
        names(PolicyDocument::parse(doc).unwrap_err(), field);
    }
    // The policy types a host may read itself are strict too.
    let until: std::result::Result<Lockout, _> =
        serde_json::from_str(r#"{"kind": "until_unlocked", "duration": "1m"}"#);
    names(until.unwrap_err(), "duration");
    let step: std::result::Result<ThrottleStep, _> =
        serde_json::from_str(r#"{"after_failures": 1, "delay": "1s", "x": 0}"#);
    assert!(step.is_err());
}

#[test]
fn helpdesk_configurations_and_requests_refuse_unknown_fields() {
    names(
        HelpdeskConfig::from_json(r#"{"stores": {"corp": {}}, "rolez": {}}"#).unwrap_err(),
        "rolez",
    );
    names(
        HelpdeskConfig::from_json(r#"{"stores": {"corp": {"lockout": 3}}}"#).unwrap_err(),
        "lockout",
    );
    names(
        HelpdeskConfig::from_toml("[roles.r]\nmode = \"restricted\"\nmood = 1\n").unwrap_err(),
        "mood",
    );
    let f = engine_with(SIMPLE);
    let config = HelpdeskConfig::from_json(r#"{"stores": {"corp": {}}}"#).unwrap();
    let helpdesk = Helpdesk::new(&config, std::sync::Arc::new(f.engine)).unwrap();
    for (req, field) in [
        (r#"{"op": "state", "extra": 1}"#, "extra"),
        (
            r#"{"op": "account_status", "account": {"store": "corp", "user": "a", "zone": 1}}"#,
            "zone",
        ),
    ] {
        names(helpdesk.handle_json(req).unwrap_err(), field);
    }
}

#[test]
fn journey_steps_and_requests_refuse_unknown_fields() {
    names(
        Step::from_toml("name = \"s\"\ntype = \"lock_authenticator\"\nauthenticator_id = \"a.id\"\nretries = 1\n")
            .unwrap_err(),
        "retries",
    );
    let step = |reporting: &str| {
        format!(
            r#"{{"name": "s", "type": "lock_authenticator", "authenticator_id": "a.id", "data_reporting": {reporting}}}"#
        )
    };
    assert!(Step::from_json(&step(r#"{"kind": "input_output"}"#)).is_ok());
    names(
        Step::from_json(&step(r#"{"kind": "input_output", "verbose": true}"#)).unwrap_err(),
        "verbose",
    );
    names(
        Step::from_json(&step(r#"{"kind": "custom", "payload": {}, "extra": 1}"#)).unwrap_err(),
        "extra",
    );
    let f = engine_with(SIMPLE);
    let req = r#"{"step": {"name": "s", "type": "lock_authenticator", "authenticator_id": "a.id"},
        "context": {"journey": "j", "app": "web", "authenticated_user": "alice", "varz": {}}}"#;
    names(run_step_json(&f.engine, req).unwrap_err(), "varz");
}

/// The standard CRC-32 (IEEE), as a store's snapshot header carries it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_store_snapshot_with_an_empty_instance_list_and_a_valid_checksum_is_refused_on_open() {
    let dir = std::env::temp_dir().join(format!("authlock-integrity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let open = || {
        Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
            .clock(FakeClock::at(Timestamp::from_millis(T0)))
            .ids(SeededIds::new(7))
            .open_store(
                &dir,
                StoreOptions {
                    create: true,
                    ..StoreOptions::default()
                },
            )
    };
    {
        let (e, _) = open().unwrap();
        e.register(&Registration::new("alice", AuthenticatorType::Pin, "bank").on_device("phone"))
            .unwrap();
        e.register(&Registration::new(
            "alice",
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap();
        e.compact().unwrap();
    }
    let snap = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "snap"))
        .expect("a snapshot file");
    let bytes = std::fs::read(&snap).unwrap();
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let mut doc: Value = serde_json::from_slice(&bytes[nl + 1..]).unwrap();
    for rec in doc["records"].as_array_mut().unwrap() {
        if rec["kind"] == "pin" {
            rec["instances"] = Value::Array(vec![]);
        }
    }
    let body = doc.to_string();
    let header = String::from_utf8_lossy(&bytes[..nl]).to_string();
    let kind = header.split(' ').next().unwrap();
    let file = format!(
        "{kind} len={} crc32={:08x}\n{body}",
        body.len(),
        crc32(body.as_bytes())
    );
    std::fs::write(&snap, file).unwrap();
    let got = std::panic::catch_unwind(open).expect("open must not panic");
    let Err(err) = got else {
        panic!("a store snapshot with an empty instance list was accepted")
    };
    let err = err.to_string();
    assert!(err.contains("has no instance"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
