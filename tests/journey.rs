//! SPEC §7: Lock authenticator, Unlock authenticator and User authenticators
//! journey steps; their configuration, expressions, user lookup and outcomes.
mod common;

use authlock::journey::{
    ConfigProblem, DataReporting, FailureBehavior, JourneyEvent, StepKind, StepRequest,
    StepResponse, UserAuthState,
};
use authlock::*;
use common::*;
use serde_json::{Value, json};

const JOURNEY: &str = "sign-in";
const APP: &str = "web";

fn step(toml: &str) -> Step {
    Step::from_toml(toml).unwrap_or_else(|e| panic!("step loads: {e}"))
}

fn lock_step(extra: &str) -> Step {
    step(&format!(
        "name = \"lock it\"\ntype = \"lock_authenticator\"\nauthenticator_id = \"target.id\"\nerror_output_variable = \"err\"\n{extra}"
    ))
}

fn unlock_step(extra: &str) -> Step {
    step(&format!(
        "name = \"unlock it\"\ntype = \"unlock_authenticator\"\nauthenticator_id = \"target.id\"\nerror_output_variable = \"err\"\n{extra}"
    ))
}

fn ctx_for(user: &str, id: &AuthenticatorId) -> JourneyContext {
    JourneyContext::new(JOURNEY, APP)
        .authenticated_as(user)
        .with_variables(json!({ "target": { "id": id.to_string() } }))
}

fn run(f: &Fixture, s: &Step, ctx: &mut JourneyContext) -> StepResult {
    s.run(&f.engine, ctx).expect("the context is valid")
}

fn problems(err: JourneyError) -> Vec<ConfigProblem> {
    match err {
        JourneyError::InvalidConfig(p) => p,
        other => panic!("expected configuration problems, got {other}"),
    }
}

fn err_code(ctx: &JourneyContext) -> String {
    ctx.variable("err")
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no error in {:?}", ctx.variables))
        .to_string()
}

// ----- lock ------------------------------------------------------------------

#[test]
fn lock_step_locks_with_the_reason_and_the_journey_as_actor() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = lock_step("lock_reason = \"risk score 97\"");
    let mut ctx = ctx_for("alice", &pw);

    let r = run(&f, &s, &mut ctx);

    assert_eq!(r.outcome, StepOutcome::Continue);
    assert_eq!(r.error, None);
    assert_eq!(r.user.as_deref(), Some("alice"));
    assert_eq!(ctx.variable("err"), Some(&Value::Null));
    match f.check(&pw, APP) {
        Decision::Locked {
            lock,
            until,
            reason,
        } => {
            assert_eq!(lock, LockKind::Manual);
            assert_eq!(until, None);
            assert_eq!(reason.as_deref(), Some("risk score 97"));
        }
        other => panic!("not locked: {other:?}"),
    }
    let lock_event = r
        .events
        .iter()
        .find(|e| matches!(e.action, Action::Locked { .. }))
        .expect("a lock event");
    assert_eq!(lock_event.actor, Actor::journey(JOURNEY, "lock it"));
    assert_eq!(lock_event.reason.as_deref(), Some("risk score 97"));
    let history = f.engine.history("alice");
    assert!(
        history
            .on_user
            .iter()
            .any(|e| e.seq == lock_event.seq && e.actor == Actor::journey(JOURNEY, "lock it"))
    );
}

#[test]
fn locking_an_already_locked_authenticator_continues_without_new_events() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = lock_step("");
    let mut ctx = ctx_for("alice", &pw);
    assert_eq!(run(&f, &s, &mut ctx).outcome, StepOutcome::Continue);
    let before = f.engine.snapshot();
    let r = run(&f, &s, &mut ctx);
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert!(r.events.is_empty());
    assert_eq!(f.engine.snapshot(), before);
}

#[test]
fn lock_step_acts_only_on_the_journeys_app_instance() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    f.register("alice", AuthenticatorType::Password, "mobile");
    let r = run(&f, &lock_step(""), &mut ctx_for("alice", &pw));
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert_eq!(f.status(&pw, APP), Status::Locked);
    assert_eq!(f.status(&pw, "mobile"), Status::Registered);
}

// ----- unlock ----------------------------------------------------------------

#[test]
fn unlock_step_clears_a_policy_lock_and_its_counter() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    f.fail_n(&pw, APP, 3);
    assert!(matches!(f.check(&pw, APP), Decision::Locked { .. }));
    let r = run(&f, &unlock_step(""), &mut ctx_for("alice", &pw));
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert!(f.check(&pw, APP).is_allowed());
    let ev = r
        .events
        .iter()
        .find(|e| e.action == Action::Unlocked { cleared_lock: true })
        .expect("an unlock event");
    assert_eq!(ev.actor, Actor::journey(JOURNEY, "unlock it"));
    assert_eq!(f.fail(&pw, APP).failures, 1, "the counter starts again");
}

#[test]
fn unlock_step_fans_out_to_every_passkey_of_the_user_in_the_app() {
    let f = engine_with(SIMPLE);
    let laptop = f.register_device("alice", AuthenticatorType::Passkey, APP, "laptop");
    let phone = f.register_device("alice", AuthenticatorType::Passkey, APP, "phone");
    let elsewhere = f.register_device("alice", AuthenticatorType::Passkey, "mobile", "phone");
    for (id, app) in [(&laptop, APP), (&phone, APP), (&elsewhere, "mobile")] {
        f.fail_n(id, app, 2);
        assert!(matches!(f.check(id, app), Decision::Locked { .. }));
    }
    let r = run(&f, &unlock_step(""), &mut ctx_for("alice", &laptop));
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert!(f.check(&laptop, APP).is_allowed());
    assert!(f.check(&phone, APP).is_allowed(), "same type, same app");
    assert!(
        matches!(f.check(&elsewhere, "mobile"), Decision::Locked { .. }),
        "another app is untouched"
    );
    let unlocked: Vec<_> = r.events.iter().filter_map(|e| e.authenticator).collect();
    assert!(unlocked.contains(&laptop) && unlocked.contains(&phone));
    assert!(!unlocked.contains(&elsewhere));
}

// ----- unsupported types -----------------------------------------------------

#[test]
fn totp_and_otp_cannot_be_locked_or_unlocked_by_a_step() {
    let f = engine_with(SIMPLE);
    let totp = f.register("alice", AuthenticatorType::Totp, APP);
    let otps = f
        .engine
        .add_identifier(
            "alice",
            &Identifier::email("a@example.com"),
            &Actor::user("alice"),
        )
        .unwrap()
        .into_iter()
        .chain(
            f.engine
                .add_identifier(
                    "alice",
                    &Identifier::phone("+15550100"),
                    &Actor::user("alice"),
                )
                .unwrap(),
        )
        .filter(|id| {
            let k = f.engine.authenticator(id).unwrap().kind;
            matches!(k, AuthenticatorType::EmailOtp | AuthenticatorType::SmsOtp)
        })
        .collect::<Vec<_>>();
    assert_eq!(otps.len(), 2);
    for id in std::iter::once(totp).chain(otps) {
        let kind = f.engine.authenticator(&id).unwrap().kind;
        for (s, action) in [(lock_step(""), "locked"), (unlock_step(""), "unlocked")] {
            let before = f.engine.snapshot();
            let mut ctx = ctx_for("alice", &id);
            let r = run(&f, &s, &mut ctx);
            assert_eq!(r.outcome, StepOutcome::FailureBranch, "{kind} {action}");
            assert_eq!(
                r.error,
                Some(StepError::UnsupportedType {
                    authenticator_type: kind,
                    action: action.into()
                })
            );
            assert_eq!(err_code(&ctx), "unsupported_type");
            let msg = ctx.variable("err").unwrap()["message"].as_str().unwrap();
            assert!(msg.contains(kind.name()) && msg.contains(action), "{msg}");
            assert_eq!(f.engine.snapshot(), before, "{kind} {action} changed state");
        }
    }
}

// ----- outcomes: failure branch and abort ------------------------------------

#[test]
fn a_failure_takes_the_failure_branch_by_default_and_writes_the_error() {
    let f = engine_with(SIMPLE);
    let totp = f.register("alice", AuthenticatorType::Totp, APP);
    let s = lock_step("");
    assert_eq!(s.config().failure_behavior, FailureBehavior::FailureBranch);
    let mut ctx = ctx_for("alice", &totp);
    let r = run(&f, &s, &mut ctx);
    assert_eq!(r.outcome, StepOutcome::FailureBranch);
    assert!(r.events.is_empty());
    let err = ctx.variable("err").unwrap();
    assert_eq!(err["code"], "unsupported_type");
    assert_eq!(err["authenticator_type"], "totp");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("cannot be locked")
    );
}

#[test]
fn abort_returns_the_error_for_the_client_and_also_writes_it() {
    let f = engine_with(SIMPLE);
    let totp = f.register("alice", AuthenticatorType::Totp, APP);
    let s = lock_step("failure_behavior = \"abort\"");
    let mut ctx = ctx_for("alice", &totp);
    let before = f.engine.snapshot();
    let r = run(&f, &s, &mut ctx);
    match &r.outcome {
        StepOutcome::Abort { client_error } => {
            assert_eq!(Some(client_error), r.error.as_ref());
            assert!(matches!(client_error, StepError::UnsupportedType { .. }));
        }
        other => panic!("expected abort, got {other:?}"),
    }
    assert_eq!(err_code(&ctx), "unsupported_type");
    assert_eq!(f.engine.snapshot(), before);
}

#[test]
fn abort_on_success_is_still_continue() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = lock_step("failure_behavior = \"abort\"");
    let r = run(&f, &s, &mut ctx_for("alice", &pw));
    assert_eq!(r.outcome, StepOutcome::Continue);
}

#[test]
fn a_success_clears_an_earlier_error_in_the_output_variable() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = unlock_step("");
    let mut ctx = JourneyContext::new(JOURNEY, APP)
        .authenticated_as("alice")
        .with_variables(json!({ "target": {} }));
    run(&f, &s, &mut ctx);
    assert_eq!(err_code(&ctx), "authenticator_id_missing");
    ctx.variables["target"]["id"] = json!(pw.to_string());
    let r = run(&f, &s, &mut ctx);
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert_eq!(ctx.variable("err"), Some(&Value::Null));
}

#[test]
fn without_an_error_output_variable_the_variables_are_untouched() {
    let f = engine_with(SIMPLE);
    let totp = f.register("alice", AuthenticatorType::Totp, APP);
    let s = step("name = \"n\"\ntype = \"lock_authenticator\"\nauthenticator_id = \"target.id\"");
    let mut ctx = ctx_for("alice", &totp);
    let vars = ctx.variables.clone();
    let r = run(&f, &s, &mut ctx);
    assert_eq!(r.outcome, StepOutcome::FailureBranch);
    assert_eq!(ctx.variables, vars);
}

// ----- authenticator ID failures ---------------------------------------------

#[test]
fn an_authenticator_id_that_evaluates_to_nothing_is_a_step_failure() {
    let f = engine_with(SIMPLE);
    f.register("alice", AuthenticatorType::Password, APP);
    let s = unlock_step("");
    let cases = [
        (json!({}), "there is no variable `target`"),
        (json!({ "target": {} }), "`target` has no field `id`"),
        (json!({ "target": "x" }), "is a string, not an object"),
        (json!({ "target": { "id": null } }), "it is null"),
        (json!({ "target": { "id": "" } }), "empty string"),
    ];
    for (vars, why) in cases {
        let before = f.engine.snapshot();
        let mut ctx = JourneyContext::new(JOURNEY, APP)
            .authenticated_as("alice")
            .with_variables(vars.clone());
        let r = run(&f, &s, &mut ctx);
        assert_eq!(r.outcome, StepOutcome::FailureBranch, "{vars}");
        match &r.error {
            Some(StepError::AuthenticatorIdMissing { expression, why: w }) => {
                assert_eq!(expression, "target.id");
                assert!(w.contains(why), "{vars}: {w}");
            }
            other => panic!("{vars}: {other:?}"),
        }
        assert_eq!(f.engine.snapshot(), before);
    }
}

#[test]
fn an_authenticator_id_that_is_not_a_string_is_a_step_failure() {
    let f = engine_with(SIMPLE);
    f.register("alice", AuthenticatorType::Password, APP);
    for (value, found) in [
        (json!(42), "a number"),
        (json!({ "id": "x" }), "an object"),
        (json!(["x"]), "a list"),
        (json!(true), "a boolean"),
    ] {
        let mut ctx = JourneyContext::new(JOURNEY, APP)
            .authenticated_as("alice")
            .with_variables(json!({ "target": { "id": value } }));
        let r = run(&f, &lock_step(""), &mut ctx);
        assert_eq!(
            r.error,
            Some(StepError::AuthenticatorIdNotString {
                expression: "target.id".into(),
                found: found.into()
            })
        );
        assert!(
            r.error
                .unwrap()
                .to_string()
                .contains(&format!("evaluates to {found}, not a string"))
        );
    }
}

#[test]
fn a_string_that_is_not_an_id_is_a_step_failure() {
    let f = engine_with(SIMPLE);
    f.register("alice", AuthenticatorType::Password, APP);
    let mut ctx = JourneyContext::new(JOURNEY, APP)
        .authenticated_as("alice")
        .with_variables(json!({ "target": { "id": "not-an-id" } }));
    let r = run(&f, &lock_step(""), &mut ctx);
    assert_eq!(
        r.error,
        Some(StepError::InvalidAuthenticatorId {
            value: "not-an-id".into()
        })
    );
}

#[test]
fn unknown_and_deleted_authenticators_are_step_failures() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let unknown: AuthenticatorId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    let r = run(&f, &lock_step(""), &mut ctx_for("alice", &unknown));
    assert_eq!(
        r.error,
        Some(StepError::AuthenticatorNotFound {
            id: unknown.to_string()
        })
    );
    f.engine.delete(&pw, APP, &Fixture::admin(), None).unwrap();
    let r = run(&f, &unlock_step(""), &mut ctx_for("alice", &pw));
    assert_eq!(
        r.error,
        Some(StepError::AuthenticatorDeleted { id: pw.to_string() })
    );
}

#[test]
fn another_users_authenticator_is_refused_and_left_alone() {
    let f = engine_with(SIMPLE);
    f.register("alice", AuthenticatorType::Password, APP);
    let bobs = f.register("bob", AuthenticatorType::Password, APP);
    let before = f.engine.snapshot();
    let r = run(&f, &lock_step(""), &mut ctx_for("alice", &bobs));
    assert_eq!(
        r.error,
        Some(StepError::NotTheUsersAuthenticator {
            id: bobs.to_string()
        })
    );
    assert!(!r.error.unwrap().to_string().contains("bob"));
    assert_eq!(f.engine.snapshot(), before);
}

#[test]
fn an_authenticator_without_an_instance_in_the_journeys_app_is_a_failure() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, "mobile");
    let before = f.engine.snapshot();
    let r = run(&f, &lock_step(""), &mut ctx_for("alice", &pw));
    match r.error {
        Some(StepError::NotInApp {
            id,
            authenticator_type,
            app,
            ..
        }) => {
            assert_eq!(id, pw.to_string());
            assert_eq!(authenticator_type, AuthenticatorType::Password);
            assert_eq!(app, APP);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.engine.snapshot(), before);
}

#[test]
fn a_string_literal_can_name_the_authenticator() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = step(&format!(
        "name = \"n\"\ntype = \"lock_authenticator\"\nauthenticator_id = \"'{pw}'\""
    ));
    let r = run(
        &f,
        &s,
        &mut JourneyContext::new(JOURNEY, APP).authenticated_as("alice"),
    );
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert_eq!(f.status(&pw, APP), Status::Locked);
}

// ----- user lookup -----------------------------------------------------------

fn by_identifiers(kind: &str, identifiers: &str) -> Step {
    step(&format!(
        "name = \"by id\"\ntype = \"{kind}\"\nuser_auth_state = \"not_authenticated\"\nidentifiers = [{identifiers}]\nauthenticator_id = \"target.id\"\nerror_output_variable = \"err\""
    ))
}

#[test]
fn the_step_needs_an_authenticated_user_by_default() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = lock_step("");
    assert_eq!(s.config().user_auth_state, UserAuthState::Authenticated);
    let mut ctx = JourneyContext::new(JOURNEY, APP)
        .with_variables(json!({ "target": { "id": pw.to_string() } }));
    let r = run(&f, &s, &mut ctx);
    assert_eq!(r.error, Some(StepError::NoAuthenticatedUser));
    assert_eq!(err_code(&ctx), "no_authenticated_user");
}

#[test]
fn identifiers_find_the_user_when_the_journey_has_not_authenticated_one() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    f.engine
        .add_identifier(
            "alice",
            &Identifier::email("alice@example.com"),
            &Fixture::admin(),
        )
        .unwrap();
    f.engine
        .add_identifier(
            "alice",
            &Identifier::custom("loyalty", "L-1"),
            &Fixture::admin(),
        )
        .unwrap();
    let cases = [
        r#"{ kind = "email", value = "form.email" }"#,
        r#"{ kind = "custom", name = "loyalty", value = "form.card" }"#,
        r#"{ kind = "external_id", value = "'alice'" }"#,
    ];
    for ident in cases {
        f.engine.unlock(&pw, APP, &Fixture::admin(), None).unwrap();
        let s = by_identifiers("lock_authenticator", ident);
        let mut ctx = JourneyContext::new(JOURNEY, APP).with_variables(json!({
            "form": { "email": "alice@example.com", "card": "L-1" },
            "target": { "id": pw.to_string() }
        }));
        let r = run(&f, &s, &mut ctx);
        assert_eq!(r.outcome, StepOutcome::Continue, "{ident}: {:?}", r.error);
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(f.status(&pw, APP), Status::Locked);
    }
}

#[test]
fn the_authenticated_user_is_ignored_when_identifiers_are_configured() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    f.register("mallory", AuthenticatorType::Password, APP);
    f.engine
        .add_identifier("alice", &Identifier::username("al"), &Fixture::admin())
        .unwrap();
    let s = by_identifiers(
        "lock_authenticator",
        r#"{ kind = "username", value = "'al'" }"#,
    );
    let mut ctx = ctx_for("mallory", &pw);
    let r = run(&f, &s, &mut ctx);
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert_eq!(r.user.as_deref(), Some("alice"));
}

#[test]
fn an_unknown_identifier_is_a_step_failure() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = by_identifiers(
        "lock_authenticator",
        r#"{ kind = "email", value = "'nobody@example.com'" }"#,
    );
    let before = f.engine.snapshot();
    let mut ctx = ctx_for("alice", &pw);
    let r = run(&f, &s, &mut ctx);
    assert_eq!(
        r.error,
        Some(StepError::UnknownIdentifier {
            identifier: "email".into(),
            value: "nobody@example.com".into()
        })
    );
    assert_eq!(
        ctx.variable("err").unwrap()["message"],
        "no user has email `nobody@example.com`"
    );
    assert_eq!(f.engine.snapshot(), before);
}

#[test]
fn an_ambiguous_identifier_is_a_step_failure() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    for u in ["alice", "bob"] {
        f.engine
            .add_identifier(u, &Identifier::phone("+15550123"), &Fixture::admin())
            .unwrap();
    }
    let s = by_identifiers(
        "unlock_authenticator",
        r#"{ kind = "phone", value = "'+15550123'" }"#,
    );
    let before = f.engine.snapshot();
    let r = run(&f, &s, &mut ctx_for("alice", &pw));
    assert_eq!(
        r.error,
        Some(StepError::AmbiguousIdentifier {
            identifier: "phone number".into(),
            value: "+15550123".into(),
            users: 2
        })
    );
    let msg = r.error.unwrap().to_string();
    assert!(!msg.contains("alice") && !msg.contains("bob"), "{msg}");
    assert_eq!(f.engine.snapshot(), before);
}

#[test]
fn identifiers_that_name_different_users_are_a_step_failure() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    f.engine
        .add_identifier(
            "alice",
            &Identifier::email("a@example.com"),
            &Fixture::admin(),
        )
        .unwrap();
    f.engine
        .add_identifier("bob", &Identifier::username("bobby"), &Fixture::admin())
        .unwrap();
    let s = by_identifiers(
        "lock_authenticator",
        r#"{ kind = "email", value = "'a@example.com'" }, { kind = "username", value = "'bobby'" }"#,
    );
    let r = run(&f, &s, &mut ctx_for("alice", &pw));
    assert_eq!(
        r.error,
        Some(StepError::IdentifiersDisagree {
            first: "email `a@example.com`".into(),
            second: "username `bobby`".into()
        })
    );
    assert_eq!(f.status(&pw, APP), Status::Registered);
}

#[test]
fn identifiers_without_a_value_are_skipped_and_none_at_all_is_a_failure() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    f.engine
        .add_identifier("alice", &Identifier::phone("+15550100"), &Fixture::admin())
        .unwrap();
    let s = by_identifiers(
        "lock_authenticator",
        r#"{ kind = "email", value = "form.email" }, { kind = "phone", value = "form.phone" }"#,
    );
    let mut ctx = JourneyContext::new(JOURNEY, APP).with_variables(json!({
        "form": { "email": null, "phone": "+15550100" },
        "target": { "id": pw.to_string() }
    }));
    let r = run(&f, &s, &mut ctx);
    assert_eq!(r.outcome, StepOutcome::Continue, "{:?}", r.error);

    let mut ctx = JourneyContext::new(JOURNEY, APP).with_variables(json!({
        "form": { "email": "" },
        "target": { "id": pw.to_string() }
    }));
    let r = run(&f, &s, &mut ctx);
    match r.error {
        Some(StepError::NoIdentifierValue { why }) => {
            assert!(
                why.contains("email (`form.email`) is an empty string"),
                "{why}"
            );
            assert!(why.contains("`form` has no field `phone`"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_identifier_that_is_not_a_string_is_a_step_failure() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = by_identifiers(
        "lock_authenticator",
        r#"{ kind = "phone", value = "form.phone" }"#,
    );
    let mut ctx = JourneyContext::new(JOURNEY, APP).with_variables(json!({
        "form": { "phone": 15550100 },
        "target": { "id": pw.to_string() }
    }));
    let r = run(&f, &s, &mut ctx);
    assert_eq!(
        r.error,
        Some(StepError::IdentifierNotString {
            identifier: "phone number".into(),
            expression: "form.phone".into(),
            found: "a number".into()
        })
    );
}

// ----- user authenticators ---------------------------------------------------

fn list_step(extra: &str) -> Step {
    step(&format!(
        "name = \"list\"\ntype = \"user_authenticators\"\noutput_variable = \"authenticators\"\nerror_output_variable = \"err\"\n{extra}"
    ))
}

#[test]
fn user_authenticators_writes_id_type_and_status_per_app() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    f.register("alice", AuthenticatorType::Password, "mobile");
    let pk = f.register_device("alice", AuthenticatorType::Passkey, APP, "laptop");
    f.fail_n(&pw, "mobile", 3);
    f.succeed(&pk, APP);
    let mut ctx = JourneyContext::new(JOURNEY, APP).authenticated_as("alice");
    let r = run(&f, &list_step(""), &mut ctx);
    assert_eq!(r.outcome, StepOutcome::Continue);
    assert!(r.events.is_empty());
    assert_eq!(
        ctx.variable("authenticators").unwrap(),
        &json!([
            {
                "id": pw.to_string(),
                "type": "password",
                "status": "mixed",
                "apps": [
                    { "app": "web", "status": "registered" },
                    { "app": "mobile", "status": "locked" }
                ]
            },
            {
                "id": pk.to_string(),
                "type": "passkey",
                "status": "active",
                "apps": [ { "app": "web", "status": "active" } ]
            }
        ])
    );
}

#[test]
fn a_listed_id_can_be_indexed_by_the_next_step() {
    let f = engine_with(SIMPLE);
    let pk = f.register_device("alice", AuthenticatorType::Passkey, APP, "laptop");
    f.fail_n(&pk, APP, 2);
    let mut ctx = JourneyContext::new(JOURNEY, APP).authenticated_as("alice");
    run(&f, &list_step(""), &mut ctx);
    let unlock = step(
        "name = \"u\"\ntype = \"unlock_authenticator\"\nauthenticator_id = \"authenticators[0].id\"",
    );
    let r = run(&f, &unlock, &mut ctx);
    assert_eq!(r.outcome, StepOutcome::Continue, "{:?}", r.error);
    assert!(f.check(&pk, APP).is_allowed());
}

#[test]
fn user_authenticators_for_an_unknown_user_is_a_failure_and_writes_no_list() {
    let f = engine_with(SIMPLE);
    let mut ctx = JourneyContext::new(JOURNEY, APP).authenticated_as("ghost");
    let r = run(&f, &list_step("failure_behavior = \"abort\""), &mut ctx);
    assert!(matches!(r.outcome, StepOutcome::Abort { .. }));
    assert_eq!(
        r.error,
        Some(StepError::UnknownUser {
            user: "ghost".into()
        })
    );
    assert_eq!(ctx.variable("authenticators"), None);
}

// ----- loading ---------------------------------------------------------------

#[test]
fn a_step_loads_the_same_from_toml_and_json() {
    let from_toml = step(
        r#"
        name = "lock by email"
        type = "lock_authenticator"
        user_auth_state = "not_authenticated"
        identifiers = [ { kind = "email", value = "form.email" }, { kind = "custom", name = "crm", value = "form.crm" } ]
        authenticator_id = "auth.selected.id"
        lock_reason = "fraud"
        error_output_variable = "lock_error"
        failure_behavior = "abort"
        [data_reporting]
        kind = "custom"
        payload = { email = "form.email" }
        "#,
    );
    let from_json = Step::from_json(
        r#"{
            "name": "lock by email", "type": "lock_authenticator",
            "user_auth_state": "not_authenticated",
            "identifiers": [ {"kind": "email", "value": "form.email"}, {"kind": "custom", "name": "crm", "value": "form.crm"} ],
            "authenticator_id": "auth.selected.id", "lock_reason": "fraud",
            "error_output_variable": "lock_error", "failure_behavior": "abort",
            "data_reporting": {"kind": "custom", "payload": {"email": "form.email"}}
        }"#,
    )
    .unwrap();
    assert_eq!(from_toml, from_json);
    assert_eq!(from_toml.kind(), StepKind::LockAuthenticator);
    assert_eq!(from_toml.config().failure_behavior, FailureBehavior::Abort);
    // A step serialises as its configuration and reads back the same.
    let text = serde_json::to_string(&from_toml).unwrap();
    assert_eq!(Step::from_json(&text).unwrap(), from_toml);
    let again: Step = serde_json::from_str(&text).unwrap();
    assert_eq!(again, from_toml);
}

#[test]
fn an_invalid_expression_is_refused_when_the_step_is_loaded_with_its_column() {
    let cases = [
        ("authenticator_id = \"auth..id\"", "authenticator_id", 6),
        ("authenticator_id = \"list[x]\"", "authenticator_id", 6),
        ("authenticator_id = \"'unclosed\"", "authenticator_id", 1),
        ("authenticator_id = \"a b\"", "authenticator_id", 3),
        ("authenticator_id = \"\"", "authenticator_id", 1),
    ];
    for (line, field, column) in cases {
        let err = Step::from_toml(&format!(
            "name = \"n\"\ntype = \"lock_authenticator\"\n{line}"
        ))
        .unwrap_err();
        let text = err.to_string();
        let p = problems(err);
        assert_eq!(p.len(), 1, "{line}: {p:?}");
        assert_eq!(p[0].field, field);
        assert_eq!(p[0].column, Some(column), "{line}: {}", p[0].message);
        assert!(text.contains(&format!("at column {column}")), "{text}");
    }
    let err = Step::from_toml(
        "name = \"n\"\ntype = \"lock_authenticator\"\nauthenticator_id = \"x\"\nuser_auth_state = \"not_authenticated\"\nidentifiers = [{ kind = \"email\", value = \"form.\" }]\ndata_reporting = { kind = \"custom\", payload = { a = \"[0]\" } }",
    )
    .unwrap_err();
    let p = problems(err);
    let fields: Vec<_> = p.iter().map(|p| (p.field.as_str(), p.column)).collect();
    assert_eq!(
        fields,
        [
            ("identifiers[0].value", Some(6)),
            ("data_reporting.payload.a", Some(1))
        ]
    );
}

#[test]
fn configuration_rules_are_checked_and_every_problem_listed() {
    let err = Step::from_toml(
        r#"
        name = ""
        type = "unlock_authenticator"
        identifiers = [ { kind = "custom", value = "x" }, { kind = "email", name = "n", value = "y" } ]
        lock_reason = "no reason on unlock"
        error_output_variable = "not a name"
        output_variable = "list"
        "#,
    )
    .unwrap_err();
    let p = problems(err);
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "identifiers",
            "identifiers[0].name",
            "identifiers[1].name",
            "authenticator_id",
            "lock_reason",
            "error_output_variable",
            "output_variable"
        ],
        "{p:?}"
    );
    assert!(p[1].message.contains("not_authenticated"));
    assert!(p[4].message.contains("needs the authenticator ID"));
    assert!(p[5].message.contains("only lock_authenticator"));

    let p = problems(
        Step::from_toml(
            "name = \"n\"\ntype = \"user_authenticators\"\nuser_auth_state = \"not_authenticated\"\nauthenticator_id = \"x\"",
        )
        .unwrap_err(),
    );
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["identifiers", "authenticator_id", "output_variable"]
    );
}

#[test]
fn unknown_fields_and_wrong_shapes_are_parse_errors() {
    for (text, needle) in [
        (
            "name = \"n\"\ntype = \"lock_authenticator\"\nauthenticator = \"x\"",
            "unknown field `authenticator`",
        ),
        (
            "name = \"n\"\ntype = \"delete_authenticator\"",
            "unknown variant `delete_authenticator`",
        ),
        (
            "name = \"n\"\ntype = \"lock_authenticator\"\nfailure_behavior = \"retry\"",
            "unknown variant `retry`",
        ),
        ("name = \"n\"", "missing field `type`"),
        ("name = ", "TOML"),
    ] {
        match Step::from_toml(text) {
            Err(JourneyError::Parse { format, message }) => {
                assert_eq!(format, "TOML");
                let full = format!("{format} {message}");
                assert!(full.contains(needle), "{text}: {full}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(matches!(
        Step::from_json("{\"name\": 1}"),
        Err(JourneyError::Parse { format: "JSON", .. })
    ));
}

// ----- data reporting --------------------------------------------------------

#[test]
fn input_output_reporting_records_a_journey_event() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = lock_step("lock_reason = \"r\"\ndata_reporting = { kind = \"input_output\" }");
    let mut ctx = ctx_for("alice", &pw);
    let r = run(&f, &s, &mut ctx);
    assert_eq!(ctx.events.len(), 1);
    let ev: &JourneyEvent = &ctx.events[0];
    assert_eq!(r.report.as_ref(), Some(ev));
    assert_eq!(ev.journey, JOURNEY);
    assert_eq!(ev.step, "lock it");
    assert_eq!(ev.step_type, StepKind::LockAuthenticator);
    assert_eq!(ev.outcome, "continue");
    assert_eq!(ev.time, f.now());
    assert_eq!(
        ev.input.as_ref().unwrap(),
        &json!({
            "app": APP,
            "user_auth_state": "authenticated",
            "user": "alice",
            "authenticator_id": pw.to_string(),
            "lock_reason": "r"
        })
    );
    let out = ev.output.as_ref().unwrap();
    assert_eq!(out["outcome"], "continue");
    assert_eq!(out["error"], Value::Null);
    assert_eq!(out["events"][0]["action"], "locked");
    assert_eq!(out["events"][0]["authenticator"], pw.to_string());
    assert_eq!(ev.payload, None);
}

#[test]
fn custom_reporting_evaluates_the_payload_after_the_step() {
    let f = engine_with(SIMPLE);
    let totp = f.register("alice", AuthenticatorType::Totp, APP);
    let s = lock_step(
        "data_reporting = { kind = \"custom\", payload = { code = \"err.code\", note = \"'tried'\", absent = \"nope\" } }",
    );
    let mut ctx = ctx_for("alice", &totp);
    let r = run(&f, &s, &mut ctx);
    let ev = r.report.expect("a journey event");
    assert_eq!(ev.outcome, "failure_branch");
    assert_eq!(
        ev.payload,
        Some(json!({ "code": "unsupported_type", "note": "tried", "absent": null }))
    );
    assert_eq!(ev.input, None);
    assert_eq!(ctx.events, vec![ev]);
}

#[test]
fn without_reporting_no_journey_event_is_recorded() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let mut ctx = ctx_for("alice", &pw);
    let r = run(&f, &lock_step(""), &mut ctx);
    assert_eq!(r.report, None);
    assert!(ctx.events.is_empty());
}

#[test]
fn journey_events_are_not_written_to_the_authenticator_history() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = lock_step("data_reporting = { kind = \"input_output\" }");
    let before = f.engine.events().len();
    let r = run(&f, &s, &mut ctx_for("alice", &pw));
    assert_eq!(f.engine.events().len(), before + r.events.len());
    assert_eq!(r.events.len(), 1, "only the lock itself");
}

// ----- context and JSON ------------------------------------------------------

#[test]
fn an_unusable_context_is_an_error_and_changes_nothing() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let s = lock_step("data_reporting = { kind = \"input_output\" }");
    let cases = [
        JourneyContext::new("", APP).authenticated_as("alice"),
        JourneyContext::new(JOURNEY, "").authenticated_as("alice"),
        JourneyContext::new(JOURNEY, APP)
            .authenticated_as("alice")
            .with_variables(json!([pw.to_string()])),
    ];
    for mut ctx in cases {
        let copy = ctx.clone();
        let before = f.engine.snapshot();
        let err = s.run(&f.engine, &mut ctx).unwrap_err();
        assert!(matches!(err, JourneyError::InvalidContext { .. }), "{err}");
        assert_eq!(ctx, copy);
        assert_eq!(f.engine.snapshot(), before);
    }
}

#[test]
fn run_step_json_takes_and_returns_json() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let request = json!({
        "step": {
            "name": "lock", "type": "lock_authenticator",
            "authenticator_id": "target.id", "error_output_variable": "err",
            "data_reporting": { "kind": "input_output" }
        },
        "context": {
            "journey": JOURNEY, "app": APP, "authenticated_user": "alice",
            "variables": { "target": { "id": pw.to_string() } }
        }
    });
    let out = run_step_json(&f.engine, &request.to_string()).unwrap();
    let resp: StepResponse = serde_json::from_str(&out).unwrap();
    assert_eq!(resp.result.outcome, StepOutcome::Continue);
    assert_eq!(resp.context.variables["err"], Value::Null);
    assert_eq!(resp.context.events.len(), 1);
    assert_eq!(f.status(&pw, APP), Status::Locked);
    let raw: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(raw["result"]["outcome"], "continue");

    // A failure with abort: the client error carries code and message.
    let totp = f.register("alice", AuthenticatorType::Totp, APP);
    let mut req: StepRequest = serde_json::from_value(request).unwrap();
    req.step.failure_behavior = FailureBehavior::Abort;
    req.step.data_reporting = Some(DataReporting::InputOutput);
    req.context.variables = json!({ "target": { "id": totp.to_string() } });
    let out = run_step_json(&f.engine, &serde_json::to_string(&req).unwrap()).unwrap();
    let raw: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(raw["result"]["outcome"], "abort");
    assert_eq!(raw["result"]["client_error"]["code"], "unsupported_type");
    assert_eq!(
        raw["result"]["client_error"]["message"],
        "totp authenticators cannot be locked by a journey step"
    );
    let resp: StepResponse = serde_json::from_str(&out).unwrap();
    assert!(matches!(
        resp.result.outcome,
        StepOutcome::Abort {
            client_error: StepError::UnsupportedType { .. }
        }
    ));
}

#[test]
fn run_step_json_refuses_bad_requests_and_changes_nothing() {
    let f = engine_with(SIMPLE);
    let pw = f.register("alice", AuthenticatorType::Password, APP);
    let before = f.engine.snapshot();
    let bad_step = json!({
        "step": { "name": "n", "type": "lock_authenticator", "authenticator_id": "a..b" },
        "context": { "journey": JOURNEY, "app": APP, "authenticated_user": "alice",
                     "variables": { "a": pw.to_string() } }
    });
    match run_step_json(&f.engine, &bad_step.to_string()) {
        Err(JourneyError::InvalidConfig(p)) => assert_eq!(p[0].column, Some(3)),
        other => panic!("{other:?}"),
    }
    for bad in ["", "{", "[]", "{\"step\": {}}", "{\"context\": {}}"] {
        assert!(
            matches!(
                run_step_json(&f.engine, bad),
                Err(JourneyError::InvalidRequest { .. })
            ),
            "{bad}"
        );
    }
    assert_eq!(f.engine.snapshot(), before);
}
