//! SPEC §6: history, user history on and by, replay, snapshots.
mod common;

use authlock::*;
use common::*;

fn busy_engine() -> Fixture {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.register("alice", AuthenticatorType::Password, "mobile");
    let pin = f.register_device("alice", AuthenticatorType::Pin, "bank", "phone");
    f.register_device("alice", AuthenticatorType::Pin, "bank", "phone"); // replaces
    f.engine
        .add_identifier("alice", &Identifier::email("a@x.io"), &Actor::user("alice"))
        .unwrap();
    f.engine
        .record_first_use(
            "bob",
            AuthenticatorType::Oidc,
            "idp:bob",
            &Attempt::in_app("web"),
        )
        .unwrap();
    f.fail_n(&pw, "web", 3);
    f.advance(400);
    f.check(&pw, "web");
    f.engine
        .record_failure(&pw, &Attempt::in_app("mobile").with_fingerprint(b"x"))
        .unwrap();
    f.succeed(&pw, "mobile");
    f.engine
        .lock(&pw, "web", &Actor::helpdesk("op"), Some("call"))
        .unwrap();
    f.engine
        .suspend_user("alice", &Fixture::admin(), Some("review"))
        .unwrap();
    f.engine
        .unsuspend_user("alice", &Fixture::admin(), None)
        .unwrap();
    let _ = pin;
    let pk = f.register_device("bob", AuthenticatorType::Passkey, "web", "d");
    f.fail(&pk, "web");
    let r = f.engine.reserve(&pk, &Attempt::in_app("web")).unwrap();
    f.engine
        .commit(&pk, &Attempt::in_app("web"), r.reservation.unwrap(), true)
        .unwrap();
    f.rewind(100);
    f.engine
        .deactivate(&pk, "web", &Fixture::admin(), None)
        .unwrap();
    f
}

#[test]
fn every_change_appends_an_event_with_all_fields() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    f.fail_n(&pw, "web", 3);
    let events = f.engine.events();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let lock = &events[4];
    assert_eq!(lock.tenant.as_ref(), "default");
    assert_eq!(lock.app.as_deref(), Some("web"));
    assert_eq!(lock.actor, Actor::System);
    assert_eq!(&*lock.user, "alice");
    assert_eq!(lock.authenticator, Some(pw));
    assert_eq!(
        lock.action,
        Action::Locked {
            lock: LockKind::Policy,
            until: Some(f.at(300))
        }
    );
    assert_eq!(
        (lock.before, lock.after),
        (Some(Status::Registered), Some(Status::Locked))
    );
    assert_eq!(lock.time, f.now());
    assert_eq!(events[1].actor, Actor::user("alice"));
}

#[test]
fn user_history_lists_actions_on_and_by_the_user() {
    let f = engine();
    let pw = f.register("alice", AuthenticatorType::Password, "web");
    let bobs = f.register("bob", AuthenticatorType::Password, "web");
    f.engine
        .lock(
            &bobs,
            "web",
            &Actor::helpdesk("alice"),
            Some("asked by bob"),
        )
        .unwrap();
    f.engine
        .lock(&pw, "web", &Actor::admin("carol"), None)
        .unwrap();
    let h = f.engine.history("alice");
    assert!(h.on_user.iter().all(|e| &*e.user == "alice"));
    assert_eq!(h.on_user.len(), 2, "registration and carol's lock");
    assert_eq!(
        h.by_user.len(),
        2,
        "her own registration and her helpdesk lock on bob"
    );
    assert!(h.by_user.iter().any(|e| &*e.user == "bob"));
    let carol = f.engine.history("carol");
    assert!(carol.on_user.is_empty());
    assert_eq!(carol.by_user.len(), 1);
}

#[test]
fn replaying_the_history_from_empty_rebuilds_exactly_the_same_state() {
    let f = busy_engine();
    let events = f.engine.events();
    let replayed = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .clock(FakeClock::default())
        .ids(SeededIds::new(999))
        .replay(&events)
        .unwrap();
    assert_eq!(replayed.snapshot(), f.engine.snapshot());
    assert_eq!(replayed.events(), events);
}

#[test]
fn history_round_trips_through_json_and_replays() {
    let f = busy_engine();
    let json = history_to_json("default", &f.engine.events());
    let (tenant, events) = history_from_json(&json).unwrap();
    assert_eq!(tenant, "default");
    let replayed = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .replay(&events)
        .unwrap();
    assert_eq!(replayed.snapshot(), f.engine.snapshot());
}

#[test]
fn a_tampered_history_is_refused_at_the_first_event_that_does_not_follow() {
    let f = busy_engine();
    let mut events = f.engine.events();
    // Drop the third failure: the policy lock no longer follows.
    let pos = events
        .iter()
        .position(|e| {
            matches!(
                e.action,
                Action::Locked {
                    lock: LockKind::Policy,
                    ..
                }
            )
        })
        .unwrap();
    events.remove(pos - 1);
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
    }
    let err = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .replay(&events)
        .unwrap_err();
    assert!(matches!(err, Error::History(_)), "{err}");
    assert!(err.to_string().contains(&format!("event {pos}")), "{err}");

    let mut gap = f.engine.events();
    gap.remove(3);
    let err = Engine::builder(PolicyDocument::parse(SIMPLE).unwrap())
        .replay(&gap)
        .unwrap_err();
    assert!(err.to_string().contains("out of sequence"), "{err}");

    let err =
        history_from_json(r#"{"format":"authlock-history","version":9,"tenant":"t","events":[]}"#)
            .unwrap_err();
    assert!(err.to_string().contains("version 9"), "{err}");
}

#[test]
fn restore_of_a_snapshot_gives_back_the_same_state() {
    let f = busy_engine();
    let json = f.engine.snapshot_json();
    let g = engine_with(SIMPLE);
    g.engine.restore_json(&json).unwrap();
    assert_eq!(g.engine.snapshot(), f.engine.snapshot());
    for user in ["alice", "bob"] {
        g.clock.set(f.now());
        assert_eq!(
            g.engine.authenticators(user).unwrap(),
            f.engine.authenticators(user).unwrap()
        );
    }
    // Event numbering continues after a restore.
    let pw = g.engine.authenticators("alice").unwrap()[0].id;
    g.engine
        .unlock(&pw, "web", &Fixture::admin(), None)
        .unwrap();
    assert_eq!(g.engine.events()[0].seq, f.engine.last_seq() + 1);
}

#[test]
fn corrupt_or_foreign_snapshots_are_refused_and_change_nothing() {
    let f = busy_engine();
    let good = f.engine.snapshot_json();
    let g = engine_with(SIMPLE);
    let id = g.register("zed", AuthenticatorType::Password, "web");
    let before = g.engine.snapshot();
    let mut wrong_version: serde_json::Value = serde_json::from_str(&good).unwrap();
    wrong_version["version"] = 2.into();
    let mut wrong_tenant: serde_json::Value = serde_json::from_str(&good).unwrap();
    wrong_tenant["tenant"] = "other".into();
    let mut orphan: serde_json::Value = serde_json::from_str(&good).unwrap();
    orphan["users"][0]["authenticators"] = serde_json::json!([]);
    let mut dup: serde_json::Value = serde_json::from_str(&good).unwrap();
    let first = dup["records"][0].clone();
    dup["records"].as_array_mut().unwrap().push(first);
    // A user lists one of its authenticators twice.
    let mut twice: serde_json::Value = serde_json::from_str(&good).unwrap();
    let listed = twice["users"][0]["authenticators"][0].clone();
    twice["users"][0]["authenticators"]
        .as_array_mut()
        .unwrap()
        .push(listed);
    // A user lists another user's authenticator (and its owner lists it too).
    let mut stolen: serde_json::Value = serde_json::from_str(&good).unwrap();
    let theirs = stolen["users"][1]["authenticators"][0].clone();
    stolen["users"][0]["authenticators"]
        .as_array_mut()
        .unwrap()
        .push(theirs);
    // A user lists an ID that is no live record.
    let mut ghost: serde_json::Value = serde_json::from_str(&good).unwrap();
    ghost["users"][0]["authenticators"]
        .as_array_mut()
        .unwrap()
        .push("0123456789abcdef0123456789abcdef".into());
    let mut bad_scope: serde_json::Value = serde_json::from_str(&good).unwrap();
    for r in bad_scope["records"].as_array_mut().unwrap() {
        if r["kind"] == "pin" {
            r["device"] = serde_json::Value::Null;
        }
    }
    let cases = [
        ("", "not a JSON snapshot"),
        ("{\"format\":\"zip\"}", "format is `zip`"),
        (&good[..good.len() / 2], "not a JSON snapshot"),
        (&wrong_version.to_string(), "version 2 is not supported"),
        (&wrong_tenant.to_string(), "tenant `other`"),
        (&orphan.to_string(), "not listed under its user"),
        (&dup.to_string(), "appears twice"),
        (&twice.to_string(), "listed twice"),
        (&stolen.to_string(), "which belongs to"),
        (&ghost.to_string(), "which is not a live record"),
        (&bad_scope.to_string(), "one device and one app"),
        (
            &good.replacen("\"kind\":\"password\"", "\"kind\":7", 1),
            "corrupt snapshot",
        ),
    ];
    for (text, why) in cases {
        let err = g.engine.restore_json(text).unwrap_err();
        assert!(matches!(err, Error::Snapshot(_)), "{err:?}");
        assert!(err.to_string().contains(why), "expected `{why}` in `{err}`");
        assert_eq!(
            g.engine.snapshot(),
            before,
            "a refused snapshot changed the engine"
        );
    }
    assert!(g.check(&id, "web").is_allowed());
}

/// Enough users that a restore reads and links on two threads (users
/// with one password, users with a password and device PINs, suspended
/// users, locked authenticators).
fn large_engine() -> Fixture {
    let f = engine_with(SIMPLE);
    for i in 0..3_000 {
        let user = format!("user-{i:05}");
        let pw = f.register(&user, AuthenticatorType::Password, "web");
        if i % 3 == 0 {
            f.register_device(&user, AuthenticatorType::Pin, "bank", "phone");
            f.register_device(&user, AuthenticatorType::Pin, "bank", "tablet");
        }
        if i % 7 == 0 {
            f.fail_n(&pw, "web", 3);
        }
        if i % 11 == 0 {
            f.engine
                .suspend_user(&user, &Fixture::admin(), None)
                .unwrap();
        }
    }
    f
}

#[test]
fn a_large_snapshot_restores_the_same_state_in_any_record_order() {
    let f = large_engine();
    let json = f.engine.snapshot_json();
    let want = f.engine.snapshot();
    assert!(want.records.len() > 4_096, "large enough for two threads");
    // As written (records by ID), and with the records reversed, which
    // takes the record-by-record path.
    let mut reversed: serde_json::Value = serde_json::from_str(&json).unwrap();
    reversed["records"].as_array_mut().unwrap().reverse();
    for text in [json, reversed.to_string()] {
        let g = engine_with(SIMPLE);
        g.engine.restore_json(&text).unwrap();
        assert_eq!(g.engine.snapshot(), want);
        g.clock.set(f.now());
        for user in ["user-00000", "user-01001", "user-02999"] {
            assert_eq!(
                g.engine.authenticators(user).unwrap(),
                f.engine.authenticators(user).unwrap()
            );
        }
    }
}

#[test]
fn a_large_snapshot_with_one_bad_link_is_refused_and_changes_nothing() {
    let f = large_engine();
    let good: serde_json::Value = serde_json::from_str(&f.engine.snapshot_json()).unwrap();
    let g = engine_with(SIMPLE);
    let id = g.register("zed", AuthenticatorType::Password, "web");
    let before = g.engine.snapshot();
    let records = good["records"].as_array().unwrap();
    let last = records.len() - 1;
    // The last record (read by the second thread) names another user.
    let mut stolen = good.clone();
    stolen["records"][last]["user"] = "user-00001".into();
    // A suspended user's authenticator that is not suspended.
    let mut unsuspended = good.clone();
    let suspended_user = good["users"]
        .as_array()
        .unwrap()
        .iter()
        .rposition(|u| u["suspended"] == true)
        .unwrap();
    let their_id = good["users"][suspended_user]["authenticators"][0].clone();
    let pos = records.iter().position(|r| r["id"] == their_id).unwrap();
    for inst in unsuspended["records"][pos]["instances"]
        .as_array_mut()
        .unwrap()
    {
        inst["state"]["suspended"] = false.into();
    }
    // Two of one user's PINs on one device.
    let mut same_place = good.clone();
    for r in same_place["records"].as_array_mut().unwrap() {
        if r["kind"] == "pin" && r["device"] == "tablet" && r["user"] == "user-02997" {
            r["device"] = "phone".into();
        }
    }
    // A user listed twice.
    let mut user_twice = good.clone();
    let users = user_twice["users"].as_array_mut().unwrap();
    let copy = users[10].clone();
    users[10]["authenticators"] = serde_json::json!([]);
    users.push(copy);
    let cases = [
        (stolen, "which belongs to"),
        (unsuspended, "does not match its user's suspension"),
        (same_place, "in the same place"),
        (user_twice, "appears twice"),
    ];
    for (text, why) in cases {
        let err = g.engine.restore_json(&text.to_string()).unwrap_err();
        assert!(err.to_string().contains(why), "expected `{why}` in `{err}`");
        assert_eq!(
            g.engine.snapshot(),
            before,
            "a refused snapshot changed the engine"
        );
    }
    assert!(g.check(&id, "web").is_allowed());
}
