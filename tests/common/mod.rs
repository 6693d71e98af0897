//! Shared fixtures: an engine on a fake clock with deterministic IDs.
#![allow(dead_code)]

use std::time::Duration;

use authlock::*;

pub const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

pub struct Fixture {
    pub engine: Engine,
    pub clock: FakeClock,
}

pub fn engine_with(policy_toml: &str) -> Fixture {
    let clock = FakeClock::at(Timestamp::from_millis(T0));
    let policies = PolicyDocument::parse(policy_toml).expect("test policy is valid");
    let engine = Engine::builder(policies)
        .clock(clock.clone())
        .ids(SeededIds::new(42))
        .build();
    Fixture { engine, clock }
}

pub fn engine() -> Fixture {
    engine_with("")
}

impl Fixture {
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
    pub fn rewind(&self, secs: u64) {
        self.clock.rewind(Duration::from_secs(secs));
    }
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
    pub fn at(&self, secs_from_now: u64) -> Timestamp {
        self.clock.now().plus(Duration::from_secs(secs_from_now))
    }
    pub fn register(&self, user: &str, kind: AuthenticatorType, app: &str) -> AuthenticatorId {
        self.engine
            .register(&Registration::new(user, kind, app))
            .expect("registration succeeds")
    }
    pub fn register_device(
        &self,
        user: &str,
        kind: AuthenticatorType,
        app: &str,
        device: &str,
    ) -> AuthenticatorId {
        self.engine
            .register(&Registration::new(user, kind, app).on_device(device))
            .expect("registration succeeds")
    }
    pub fn fail(&self, id: &AuthenticatorId, app: &str) -> AttemptOutcome {
        self.engine
            .record_failure(id, &Attempt::in_app(app))
            .expect("failure recorded")
    }
    pub fn fail_n(&self, id: &AuthenticatorId, app: &str, n: usize) {
        for _ in 0..n {
            let out = self.fail(id, app);
            assert!(out.accepted, "failure refused: {out:?}");
        }
    }
    pub fn succeed(&self, id: &AuthenticatorId, app: &str) -> AttemptOutcome {
        self.engine
            .record_success(id, &Attempt::in_app(app))
            .expect("success recorded")
    }
    pub fn check(&self, id: &AuthenticatorId, app: &str) -> Decision {
        self.engine.check(id, app).expect("check answers")
    }
    pub fn status(&self, id: &AuthenticatorId, app: &str) -> Status {
        let v = self.engine.authenticator(id).expect("view");
        v.apps
            .iter()
            .find(|a| a.app == app)
            .unwrap_or_else(|| panic!("no app {app} in {v:?}"))
            .status
    }
    pub fn admin() -> Actor {
        Actor::admin("root")
    }
}

/// A policy document where most types lock quickly and simply.
pub const SIMPLE: &str = r#"
[policies.password]
max_failures = 3
failure_window = "none"
max_temporary_lockouts = 2
lockout = { kind = "temporary", duration = "5m" }

[policies.pin]
max_failures = 5
throttle = [ { after = 2, wait = "30s" }, { after = 3, wait = "1m" } ]
lockout = { kind = "until_unlocked" }

[policies.passkey]
max_failures = 2
failure_window = "none"
lockout = { kind = "until_unlocked" }

[policies.totp]
max_failures = 3
failure_window = "none"
lockout = { kind = "temporary", duration = "1m", factor = 2, max_duration = "10m" }

[policies.email_otp]
max_failures = 4
failure_window = "none"
lockout = { kind = "temporary", duration = "15m" }
"#;
