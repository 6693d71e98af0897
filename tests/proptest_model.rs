//! Model-based property tests of the core engine (SPEC §2-§6).
//!
//! Random sequences of operations (registrations, identifiers, first uses,
//! checks, failures, successes, reservations and commits, manual locks and
//! unlocks, deletes, deactivations, suspensions) over three users, three
//! apps, three devices and seven types run against the engine and against
//! the reference model in `model/`, on a fake clock that moves forward by
//! random amounts and sometimes backwards. Small policies, loaded through
//! `PolicyDocument::parse`, make locks, throttles and expiries frequent.
//!
//! Properties:
//! - after every step, the engine's answer (value or error) and its events
//!   equal the model's, and every user's view equals the model's view;
//! - replaying the history rebuilds exactly the same state and events;
//! - restoring a snapshot gives back exactly the same state;
//! - a reported wait (a temporary lock's end, a throttle's retry time) is
//!   exact: refused until then, allowed from then;
//! - setting the clock back, then forward again, never shortens a temporary
//!   lock or a throttle: the reported end stays the same;
//! - counted failures never exceed the policy's `max_failures`.
//!
//! Fixed scenarios at the end run rare paths through the same comparison,
//! and reproduce exactly the behaviours the properties require.
mod model;

use std::time::Duration;

use authlock::*;
use model::{ModelEvent, ModelLockout, ModelPolicies, ModelPolicy, error_key};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const ID_SEED: u64 = 7;
const USERS: [&str; 3] = ["u0", "u1", "u2"];
const APPS: [&str; 3] = ["a0", "a1", "a2"];
const DEVICES: [&str; 3] = ["d0", "d1", "d2"];
const ACCOUNTS: [&str; 2] = ["google:1", "github:2"];
const FINGERPRINTS: [&[u8]; 3] = [b"wrong-1", b"wrong-2", b""];

/// Explicitly registered types used, and two that are not explicit (their
/// registration must be refused).
const REGISTERED: [AuthenticatorType; 6] = [
    AuthenticatorType::Password,
    AuthenticatorType::Pin,
    AuthenticatorType::Passkey,
    AuthenticatorType::Totp,
    AuthenticatorType::EmailOtp,
    AuthenticatorType::SocialLogin,
];

/// Types named by `unlock_type`, two of which (TOTP, email OTP) cannot be
/// unlocked by hand.
const UNLOCKABLE: [AuthenticatorType; 5] = [
    AuthenticatorType::Password,
    AuthenticatorType::Pin,
    AuthenticatorType::Passkey,
    AuthenticatorType::Totp,
    AuthenticatorType::EmailOtp,
];

// ---------------------------------------------------------------------------
// Policies.
// ---------------------------------------------------------------------------

/// A small valid policy. `manual_unlock` says whether the type may be
/// unlocked by hand (if not, only temporary lockouts with no limit).
fn policy(
    manual_unlock: bool,
    max: std::ops::RangeInclusive<u32>,
) -> impl Strategy<Value = ModelPolicy> {
    (
        max,
        prop::option::weighted(0.4, 15i64..=90),
        0u8..4,
        (
            3i64..=30,
            1u32..=3,
            prop_oneof![Just(0i64), Just(5i64)],
            any::<bool>(),
        ),
        1u32..=3,
        prop::collection::vec((any::<bool>(), 0i64..=20), 3),
    )
        .prop_map(
            move |(
                max_failures,
                window_s,
                lock_pick,
                (first_s, factor, increment_s, capped),
                max_temp,
                steps,
            )| {
                let until = manual_unlock && lock_pick == 0;
                let lockout = if until {
                    ModelLockout::UntilUnlocked
                } else {
                    let grows = factor > 1 || increment_s > 0;
                    ModelLockout::Temporary {
                        first_s,
                        factor,
                        increment_s,
                        cap_s: (grows || capped).then_some(first_s * 3),
                    }
                };
                let mut throttle: Vec<(u32, i64)> = steps
                    .iter()
                    .enumerate()
                    .filter(|(i, (on, _))| *on && (*i as u32 + 1) < max_failures)
                    .map(|(i, (_, w))| (i as u32 + 1, *w))
                    .collect();
                // With a failure window, delays may not decrease (the
                // engine refuses such a policy).
                if window_s.is_some() {
                    let mut floor = 0;
                    for step in &mut throttle {
                        step.1 = step.1.max(floor);
                        floor = step.1;
                    }
                }
                ModelPolicy {
                    max_failures,
                    window_s,
                    max_temporary: (!until && manual_unlock).then_some(max_temp),
                    lockout,
                    throttle,
                }
            },
        )
}

fn policies() -> impl Strategy<Value = ModelPolicies> {
    (
        policy(true, 2..=4),
        policy(true, 3..=4).prop_map(|mut p| {
            // A PIN is always throttled before its lock.
            if p.throttle.is_empty() {
                p.throttle = vec![(1, 4)];
            }
            p
        }),
        policy(true, 2..=3),
        policy(false, 2..=4),
        policy(false, 2..=4),
        prop::option::of(policy(true, 1..=3)),
        prop::option::of(policy(true, 2..=4)),
    )
        .prop_map(|(password, pin, passkey, totp, email, pw_a2, pin_a2)| {
            let mut overrides = Vec::new();
            if let Some(p) = pw_a2 {
                overrides.push(("a2".to_string(), AuthenticatorType::Password, p));
            }
            if let Some(p) = pin_a2 {
                overrides.push(("a2".to_string(), AuthenticatorType::Pin, p));
            }
            ModelPolicies {
                tenant: vec![
                    (AuthenticatorType::Password, password),
                    (AuthenticatorType::Pin, pin),
                    (AuthenticatorType::Passkey, passkey),
                    (AuthenticatorType::Totp, totp),
                    (AuthenticatorType::EmailOtp, email),
                ],
                overrides,
            }
        })
}

// ---------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------

/// Which authenticator an operation names: usually a live one, sometimes
/// any ID ever issued (deleted ones included) or one never issued.
#[derive(Clone, Copy, Debug)]
struct Pick(u8);

/// Which app: usually one the authenticator is in, sometimes any app,
/// rarely an invalid (empty) app name.
#[derive(Clone, Copy, Debug)]
enum AppPick {
    Own(u8),
    Any(u8),
    Invalid,
}

/// Which reservation a commit settles.
#[derive(Clone, Copy, Debug)]
enum ResPick {
    /// One issued on that authenticator, counting back from the latest.
    Recent(u8),
    /// A number.
    Raw(u8),
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u16, bool),
    Rewind(u16),
    Register {
        user: u8,
        kind: u8,
        app: u8,
        device: u8,
        wrong_device: bool,
    },
    AddEmail {
        user: u8,
        alt: bool,
    },
    FirstUse {
        user: u8,
        account: u8,
        app: u8,
        device: Option<u8>,
    },
    Check(Pick, AppPick),
    Fail(Pick, AppPick, Option<u8>),
    Succeed(Pick, AppPick, Option<u8>),
    Reserve(Pick, AppPick, Option<u8>),
    Commit(Pick, AppPick, ResPick, bool, Option<u8>),
    Lock(Pick, AppPick, bool),
    Unlock(Pick, AppPick),
    UnlockType {
        user: u8,
        kind: u8,
        app: u8,
    },
    Delete(Pick, AppPick),
    Deactivate(Pick, AppPick),
    Reactivate(Pick, AppPick),
    Suspend(u8),
    Unsuspend(u8),
}

fn app_pick() -> impl Strategy<Value = AppPick> {
    prop_oneof![
        24 => any::<u8>().prop_map(AppPick::Own),
        3 => any::<u8>().prop_map(AppPick::Any),
        1 => Just(AppPick::Invalid),
    ]
}

fn fingerprint() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![12 => Just(None), 12 => (0u8..2).prop_map(Some), 1 => Just(Some(2))]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = any::<u8>().prop_map(Pick);
    prop_oneof![
        6 => (0u16..=90, any::<bool>()).prop_map(|(s, h)| Op::Advance(s, h)),
        2 => (1u16..=60).prop_map(Op::Rewind),
        4 => (0u8..3, 0u8..6, 0u8..3, 0u8..3, prop::bool::weighted(0.05)).prop_map(
            |(user, kind, app, device, wrong_device)| {
                Op::Register { user, kind, app, device, wrong_device }
            }
        ),
        2 => (0u8..3, any::<bool>()).prop_map(|(user, alt)| Op::AddEmail { user, alt }),
        2 => (0u8..3, 0u8..2, 0u8..3, prop::option::of(0u8..3))
            .prop_map(|(user, account, app, device)| {
                Op::FirstUse { user, account, app, device }
            }),
        4 => (pick.clone(), app_pick()).prop_map(|(p, a)| Op::Check(p, a)),
        14 => (pick.clone(), app_pick(), fingerprint()).prop_map(|(p, a, f)| Op::Fail(p, a, f)),
        4 => (pick.clone(), app_pick(), prop::option::of(0u8..3))
            .prop_map(|(p, a, d)| Op::Succeed(p, a, d)),
        5 => (pick.clone(), app_pick(), fingerprint()).prop_map(|(p, a, f)| Op::Reserve(p, a, f)),
        4 => (
            pick.clone(),
            app_pick(),
            prop_oneof![
                4 => (0u8..3).prop_map(ResPick::Recent),
                1 => (0u8..4).prop_map(ResPick::Raw),
            ],
            any::<bool>(),
            prop::option::of(0u8..3),
        )
            .prop_map(|(p, a, r, s, d)| Op::Commit(p, a, r, s, d)),
        2 => (pick.clone(), app_pick(), any::<bool>()).prop_map(|(p, a, r)| Op::Lock(p, a, r)),
        2 => (pick.clone(), app_pick()).prop_map(|(p, a)| Op::Unlock(p, a)),
        1 => (0u8..3, 0u8..5, 0u8..3)
            .prop_map(|(user, kind, app)| Op::UnlockType { user, kind, app }),
        1 => (pick.clone(), app_pick()).prop_map(|(p, a)| Op::Delete(p, a)),
        1 => (pick.clone(), app_pick()).prop_map(|(p, a)| Op::Deactivate(p, a)),
        1 => (pick.clone(), app_pick()).prop_map(|(p, a)| Op::Reactivate(p, a)),
        1 => (0u8..3).prop_map(Op::Suspend),
        1 => (0u8..3).prop_map(Op::Unsuspend),
    ]
}

/// A registration, an email or a first use.
fn setup_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 0u8..4, 0u8..3, 0u8..3).prop_map(|(user, kind, app, device)| Op::Register {
            user,
            kind,
            app,
            device,
            wrong_device: false
        }),
        1 => (0u8..3, any::<bool>()).prop_map(|(user, alt)| Op::AddEmail { user, alt }),
        1 => (0u8..3, 0u8..2, 0u8..3, prop::option::of(0u8..3))
            .prop_map(|(user, account, app, device)| Op::FirstUse { user, account, app, device }),
    ]
}

/// A few registrations, then up to `max` operations of every kind.
fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(setup_op(), 2..8),
        prop::collection::vec(op(), 1..max),
    )
        .prop_map(|(mut setup, rest)| {
            setup.extend(rest);
            setup
        })
}

// ---------------------------------------------------------------------------
// Running operations.
// ---------------------------------------------------------------------------

/// An answer, engine's or model's, in a comparable form.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Id(AuthenticatorId),
    Ids(Vec<AuthenticatorId>),
    FirstUse(AuthenticatorId, AttemptOutcome),
    Decision(Decision),
    Outcome(AttemptOutcome),
    Events(Vec<ModelEvent>),
    Error(String),
}

fn answer<T>(r: Result<T, Error>, f: impl FnOnce(T) -> Answer) -> Answer {
    match r {
        Ok(v) => f(v),
        Err(e) => Answer::Error(error_key(&e)),
    }
}

fn events(evs: Vec<Event>) -> Answer {
    Answer::Events(evs.iter().map(ModelEvent::of).collect())
}

/// An ID the generator never draws.
const NEVER_ISSUED: AuthenticatorId = AuthenticatorId::from_u128(0x0bad_0bad);

/// A call resolved to concrete arguments (the same for engine and model).
#[derive(Clone, Debug)]
enum Call {
    Advance(Duration),
    Rewind(Duration),
    Register(String, AuthenticatorType, String, Option<String>),
    AddEmail(String, String),
    FirstUse(String, String, String, Option<String>),
    Check(AuthenticatorId, String),
    Fail(AuthenticatorId, String, Option<&'static [u8]>),
    Succeed(AuthenticatorId, String, Option<String>),
    Reserve(AuthenticatorId, String, Option<&'static [u8]>),
    Commit(AuthenticatorId, String, u64, bool, Option<String>),
    Lock(AuthenticatorId, String, Option<String>),
    Unlock(AuthenticatorId, String),
    UnlockType(String, AuthenticatorType, String),
    Delete(AuthenticatorId, String),
    Deactivate(AuthenticatorId, String),
    Reactivate(AuthenticatorId, String),
    Suspend(String),
    Unsuspend(String),
}

struct World {
    policies_toml: String,
    engine: Engine,
    clock: FakeClock,
    /// Every ID the engine returned, in order.
    issued: Vec<AuthenticatorId>,
    /// Reservations the engine issued: (authenticator, app, number).
    reservations: Vec<(AuthenticatorId, String, u64)>,
}

fn engine_for(toml: &str, clock: &FakeClock) -> Engine {
    let doc = PolicyDocument::parse(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    Engine::builder(doc)
        .clock(clock.clone())
        .ids(SeededIds::new(ID_SEED))
        .build()
}

impl World {
    fn new(p: &ModelPolicies) -> World {
        let clock = FakeClock::at(Timestamp::from_millis(T0));
        let toml = p.to_toml();
        World {
            engine: engine_for(&toml, &clock),
            policies_toml: toml,
            clock,
            issued: Vec::new(),
            reservations: Vec::new(),
        }
    }

    fn live(&self, id: &AuthenticatorId) -> Option<AuthenticatorView> {
        self.engine.authenticator(id).ok()
    }

    fn pick(&self, p: Pick) -> AuthenticatorId {
        let live: Vec<(AuthenticatorId, AuthenticatorType)> = self
            .issued
            .iter()
            .filter_map(|id| self.live(id).map(|v| (*id, v.kind)))
            .collect();
        let counting: Vec<AuthenticatorId> = live
            .iter()
            .filter(|(_, k)| k.supports(Operation::RecordFailure))
            .map(|(id, _)| *id)
            .collect();
        let k = p.0 as usize / 8;
        match p.0 % 8 {
            1..=5 if !counting.is_empty() => counting[k % counting.len()],
            6 | 7 if !live.is_empty() => live[k % live.len()].0,
            _ => {
                // Any ID ever issued (deleted ones too), or one never issued.
                let n = self.issued.len() + 1;
                self.issued.get(k % n).copied().unwrap_or(NEVER_ISSUED)
            }
        }
    }

    fn app(&self, id: AuthenticatorId, a: AppPick) -> String {
        match a {
            AppPick::Invalid => String::new(),
            AppPick::Any(k) => APPS[k as usize % 3].into(),
            AppPick::Own(k) => {
                let own: Vec<String> = self
                    .live(&id)
                    .map(|v| v.apps.into_iter().map(|d| d.app).collect())
                    .unwrap_or_default();
                if own.is_empty() {
                    APPS[k as usize % 3].into()
                } else {
                    own[k as usize % own.len()].clone()
                }
            }
        }
    }

    fn resolve(&self, op: &Op) -> Call {
        let user = |u: u8| USERS[u as usize % 3].to_string();
        let dev = |d: Option<u8>| d.map(|d| DEVICES[d as usize % 3].to_string());
        let fp = |f: Option<u8>| f.map(|f| FINGERPRINTS[f as usize % 3]);
        let target = |p: Pick, a: AppPick| {
            let id = self.pick(p);
            (id, self.app(id, a))
        };
        match *op {
            Op::Advance(s, half) => Call::Advance(Duration::from_millis(
                s as u64 * 1000 + if half { 500 } else { 0 },
            )),
            Op::Rewind(s) => Call::Rewind(Duration::from_secs(s as u64)),
            Op::Register {
                user: u,
                kind,
                app,
                device,
                wrong_device,
            } => {
                let kind = REGISTERED[kind as usize % REGISTERED.len()];
                let device_user = kind.scope() == Scope::DeviceUser;
                let device =
                    (device_user != wrong_device).then(|| DEVICES[device as usize % 3].to_string());
                Call::Register(user(u), kind, APPS[app as usize % 3].into(), device)
            }
            Op::AddEmail { user: u, alt } => {
                let email = if alt {
                    format!("{}.alt@example.com", user(u))
                } else {
                    format!("{}@example.com", user(u))
                };
                Call::AddEmail(user(u), email)
            }
            Op::FirstUse {
                user: u,
                account,
                app,
                device,
            } => Call::FirstUse(
                user(u),
                ACCOUNTS[account as usize % 2].into(),
                APPS[app as usize % 3].into(),
                dev(device),
            ),
            Op::Check(p, a) => {
                let (id, app) = target(p, a);
                Call::Check(id, app)
            }
            Op::Fail(p, a, f) => {
                let (id, app) = target(p, a);
                Call::Fail(id, app, fp(f))
            }
            Op::Succeed(p, a, d) => {
                let (id, app) = target(p, a);
                Call::Succeed(id, app, dev(d))
            }
            Op::Reserve(p, a, f) => {
                let (id, app) = target(p, a);
                Call::Reserve(id, app, fp(f))
            }
            Op::Commit(p, a, r, success, d) => match r {
                ResPick::Recent(k) if !self.reservations.is_empty() => {
                    let n = self.reservations.len();
                    let (id, app, res) = self.reservations[n - 1 - (k as usize % n)].clone();
                    Call::Commit(id, app, res, success, dev(d))
                }
                ResPick::Recent(k) | ResPick::Raw(k) => {
                    let (id, app) = target(p, a);
                    Call::Commit(id, app, k as u64, success, dev(d))
                }
            },
            Op::Lock(p, a, reason) => {
                let (id, app) = target(p, a);
                Call::Lock(id, app, reason.then(|| "suspicious sign-ins".to_string()))
            }
            Op::Unlock(p, a) => {
                let (id, app) = target(p, a);
                Call::Unlock(id, app)
            }
            Op::UnlockType { user: u, kind, app } => Call::UnlockType(
                user(u),
                UNLOCKABLE[kind as usize % UNLOCKABLE.len()],
                APPS[app as usize % 3].into(),
            ),
            Op::Delete(p, a) => {
                let (id, app) = target(p, a);
                Call::Delete(id, app)
            }
            Op::Deactivate(p, a) => {
                let (id, app) = target(p, a);
                Call::Deactivate(id, app)
            }
            Op::Reactivate(p, a) => {
                let (id, app) = target(p, a);
                Call::Reactivate(id, app)
            }
            Op::Suspend(u) => Call::Suspend(user(u)),
            Op::Unsuspend(u) => Call::Unsuspend(user(u)),
        }
    }

    /// Runs a call on the engine, remembering the IDs and reservations it
    /// hands out.
    fn run(&mut self, call: &Call) -> Answer {
        let e = &self.engine;
        let admin = Actor::admin("ops");
        let reason = Some("ticket 42");
        let a = match call {
            Call::Advance(d) => {
                self.clock.advance(*d);
                Answer::Events(Vec::new())
            }
            Call::Rewind(d) => {
                self.clock.rewind(*d);
                Answer::Events(Vec::new())
            }
            Call::Register(u, k, app, dev) => {
                let mut r = Registration::new(u, *k, app);
                r.device = dev.clone();
                answer(e.register(&r), Answer::Id)
            }
            Call::AddEmail(u, email) => answer(
                e.add_identifier(u, &Identifier::email(email), &Actor::user(u)),
                Answer::Ids,
            ),
            Call::FirstUse(u, account, app, dev) => {
                let mut at = Attempt::in_app(app);
                at.device = dev.as_deref();
                answer(
                    e.record_first_use(u, AuthenticatorType::SocialLogin, account, &at),
                    |(id, o)| Answer::FirstUse(id, o),
                )
            }
            Call::Check(id, app) => answer(e.check(id, app), Answer::Decision),
            Call::Fail(id, app, fp) => {
                let mut at = Attempt::in_app(app);
                at.fingerprint = *fp;
                answer(e.record_failure(id, &at), Answer::Outcome)
            }
            Call::Succeed(id, app, dev) => {
                let mut at = Attempt::in_app(app);
                at.device = dev.as_deref();
                answer(e.record_success(id, &at), Answer::Outcome)
            }
            Call::Reserve(id, app, fp) => {
                let mut at = Attempt::in_app(app);
                at.fingerprint = *fp;
                answer(e.reserve(id, &at), Answer::Outcome)
            }
            Call::Commit(id, app, n, success, dev) => {
                let mut at = Attempt::in_app(app);
                at.device = dev.as_deref();
                answer(e.commit(id, &at, *n, *success), Answer::Outcome)
            }
            Call::Lock(id, app, why) => answer(e.lock(id, app, &admin, why.as_deref()), events),
            Call::Unlock(id, app) => answer(e.unlock(id, app, &admin, reason), events),
            Call::UnlockType(u, k, app) => {
                answer(e.unlock_type(u, *k, app, &admin, reason), events)
            }
            Call::Delete(id, app) => answer(e.delete(id, app, &admin, reason), events),
            Call::Deactivate(id, app) => answer(e.deactivate(id, app, &admin, reason), events),
            Call::Reactivate(id, app) => answer(e.reactivate(id, app, &admin, reason), events),
            Call::Suspend(u) => answer(e.suspend_user(u, &admin, reason), events),
            Call::Unsuspend(u) => answer(e.unsuspend_user(u, &admin, reason), events),
        };
        match (&a, call) {
            (Answer::Id(id), _) | (Answer::FirstUse(id, _), _) if !self.issued.contains(id) => {
                self.issued.push(*id)
            }
            (Answer::Ids(ids), _) => self.issued.extend(ids.iter().copied()),
            (Answer::Outcome(o), Call::Reserve(id, app, _)) => {
                if let Some(n) = o.reservation {
                    self.reservations.push((*id, app.clone(), n));
                }
            }
            _ => {}
        }
        a
    }
}

/// Runs the same call on the model.
fn run_model(m: &mut model::Model, call: &Call) -> Answer {
    let reason = Some("ticket 42");
    match call {
        Call::Advance(_) | Call::Rewind(_) => Answer::Events(Vec::new()),
        Call::Register(u, k, app, dev) => {
            answer(m.register(u, *k, app, dev.as_deref()), Answer::Id)
        }
        Call::AddEmail(u, email) => {
            answer(m.add_identifier(u, &Identifier::email(email)), Answer::Ids)
        }
        Call::FirstUse(u, account, app, dev) => answer(
            m.record_first_use(
                u,
                AuthenticatorType::SocialLogin,
                account,
                app,
                dev.as_deref(),
            ),
            |(id, o)| Answer::FirstUse(id, o),
        ),
        Call::Check(id, app) => answer(m.check(*id, app), Answer::Decision),
        Call::Fail(id, app, fp) => answer(m.record_failure(*id, app, *fp), Answer::Outcome),
        Call::Succeed(id, app, dev) => {
            answer(m.record_success(*id, app, dev.as_deref()), Answer::Outcome)
        }
        Call::Reserve(id, app, fp) => answer(m.reserve(*id, app, *fp), Answer::Outcome),
        Call::Commit(id, app, n, s, dev) => {
            answer(m.commit(*id, app, *n, *s, dev.as_deref()), Answer::Outcome)
        }
        Call::Lock(id, app, why) => answer(m.lock(*id, app, why.as_deref()), Answer::Events),
        Call::Unlock(id, app) => answer(m.unlock(*id, app, reason), Answer::Events),
        Call::UnlockType(u, k, app) => answer(m.unlock_type(u, *k, app, reason), Answer::Events),
        Call::Delete(id, app) => answer(m.delete(*id, app, reason), Answer::Events),
        Call::Deactivate(id, app) => {
            answer(m.set_deactivated(*id, app, true, reason), Answer::Events)
        }
        Call::Reactivate(id, app) => {
            answer(m.set_deactivated(*id, app, false, reason), Answer::Events)
        }
        Call::Suspend(u) => answer(m.set_suspended(u, true, reason), Answer::Events),
        Call::Unsuspend(u) => answer(m.set_suspended(u, false, reason), Answer::Events),
    }
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

/// 1,000 cases per property, unless `PROPTEST_CASES` asks for another
/// number (for a longer search).
fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            1000
        },
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptest_model.txt",
        ))),
        ..default
    }
}

/// Runs `ops` on the engine and the model side by side and compares, after
/// every step, the answers, the events and every user's view.
fn agrees_with_model(p: &ModelPolicies, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut w = World::new(p);
    let mut m = model::Model::new(p.clone(), ID_SEED, T0);
    let mut seen = 0;
    for (step, op) in ops.iter().enumerate() {
        let call = w.resolve(op);
        let got = w.run(&call);
        let now = w.clock.now();
        m.now = now.as_millis();
        let want = run_model(&mut m, &call);
        prop_assert_eq!(&got, &want, "step {}: {:?} at {}", step, call, now);
        let all = w.engine.events();
        let new: Vec<ModelEvent> = all[seen..].iter().map(ModelEvent::of).collect();
        for (k, e) in all[seen..].iter().enumerate() {
            prop_assert_eq!(
                e.seq,
                (seen + k + 1) as u64,
                "events are numbered without gaps"
            );
        }
        seen = all.len();
        prop_assert_eq!(new, m.take_events(), "events of step {}: {:?}", step, call);
        for u in USERS {
            let got = w.engine.authenticators(u).map_err(|e| error_key(&e));
            let want = m.views(u).map_err(|e| error_key(&e));
            prop_assert_eq!(
                got,
                want,
                "view of {} after step {}: {:?} at {}",
                u,
                step,
                call,
                now
            );
        }
    }
    Ok(())
}

/// Runs `ops` on the world's engine only, handing each answer to `after`.
fn run_all(
    w: &mut World,
    ops: &[Op],
    mut after: impl FnMut(&World, &Call, &Answer) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    for op in ops {
        let call = w.resolve(op);
        let a = w.run(&call);
        after(w, &call, &a)?;
    }
    Ok(())
}

/// A second world over `engine`, at the same time as `w`, that knows the
/// same IDs and reservations, with an ID generator that has drawn as many
/// IDs as `w`'s.
fn twin(w: &World, engine: impl FnOnce(FakeClock, SeededIds) -> Engine) -> World {
    let clock = FakeClock::at(w.clock.now());
    let ids = SeededIds::new(ID_SEED);
    for _ in 0..w.issued.len() {
        ids.next_id();
    }
    World {
        engine: engine(clock.clone(), ids),
        policies_toml: w.policies_toml.clone(),
        clock,
        issued: w.issued.clone(),
        reservations: w.reservations.clone(),
    }
}

/// Runs `ops` on both worlds and requires the same answers and views.
fn same_behaviour(a: &mut World, b: &mut World, ops: &[Op]) -> Result<(), TestCaseError> {
    for (step, op) in ops.iter().enumerate() {
        let call = a.resolve(op);
        let x = a.run(&call);
        let y = b.run(&call);
        prop_assert_eq!(x, y, "step {}: {:?}", step, call);
        for u in USERS {
            prop_assert_eq!(
                a.engine.authenticators(u),
                b.engine.authenticators(u),
                "view of {} after step {}",
                u,
                step
            );
        }
    }
    Ok(())
}

/// The time a decision says the next attempt is allowed, for waits that end
/// by themselves (a temporary lock or a throttle).
fn wait_end(d: &Decision) -> Option<Timestamp> {
    match d {
        Decision::Throttled { retry_at } => Some(*retry_at),
        Decision::Locked { until, .. } => *until,
        _ => None,
    }
}

/// Replaying the history from empty rebuilds exactly the same state,
/// regenerates exactly the same events, and behaves the same afterwards.
fn replay_rebuilds(p: &ModelPolicies, ops: &[Op], more: &[Op]) -> Result<(), TestCaseError> {
    let mut w = World::new(p);
    run_all(&mut w, ops, |_, _, _| Ok(()))?;
    let history = w.engine.events();
    let toml = w.policies_toml.clone();
    let mut again = twin(&w, |clock, ids| {
        Engine::builder(PolicyDocument::parse(&toml).expect("valid"))
            .clock(clock)
            .ids(ids)
            .replay(&history)
            .unwrap_or_else(|e| panic!("replay refused its own history: {e}"))
    });
    prop_assert_eq!(again.engine.snapshot(), w.engine.snapshot());
    prop_assert_eq!(again.engine.events(), history);
    same_behaviour(&mut w, &mut again, more)
}

/// Restoring a snapshot (through its JSON) into a fresh engine gives back
/// exactly the same state, which then behaves the same.
fn restore_gives_back(p: &ModelPolicies, ops: &[Op], more: &[Op]) -> Result<(), TestCaseError> {
    let mut w = World::new(p);
    run_all(&mut w, ops, |_, _, _| Ok(()))?;
    let json = w.engine.snapshot_json();
    let toml = w.policies_toml.clone();
    let mut restored = twin(&w, |clock, ids| {
        let e = Engine::builder(PolicyDocument::parse(&toml).expect("valid"))
            .clock(clock)
            .ids(ids)
            .build();
        e.restore_json(&json)
            .unwrap_or_else(|e| panic!("own snapshot refused: {e}"));
        e
    });
    prop_assert_eq!(restored.engine.snapshot(), w.engine.snapshot());
    prop_assert_eq!(restored.engine.snapshot_json(), json);
    same_behaviour(&mut w, &mut restored, more)
}

/// Every (authenticator, app) whose check at the current time reports a
/// wait that ends by itself.
fn waiting(w: &World) -> Vec<(AuthenticatorId, String)> {
    let mut targets = Vec::new();
    for id in &w.issued {
        let Some(v) = w.live(id) else { continue };
        for d in v.apps {
            let wait = w.engine.check(id, &d.app).ok().as_ref().and_then(wait_end);
            if wait.is_some() {
                targets.push((*id, d.app));
            }
        }
    }
    targets
}

/// Setting the clock back, then forward again, never shortens a wait.
///
/// The property: if a check at time `t` reports that the next attempt is
/// allowed only from `u` (the end of a temporary lock, or the retry time of
/// a throttle), and the clock is then set back by `r` to `t' = t - r`, then
/// the authenticator refuses attempts at every moment from `t'` on, then
/// forward again past `t`, to just before `u` (and a failure there is not
/// counted), and the retry time it reports is `u` throughout: the wait is
/// measured against the latest time the record has seen, so it neither ends
/// early nor restarts. At `u` an attempt is allowed.
fn rewind_keeps_waits(
    p: &ModelPolicies,
    ops: &[Op],
    rewinds: &[u64],
    probes: &[f64],
) -> Result<(), TestCaseError> {
    let mut w = World::new(p);
    run_all(&mut w, ops, |_, _, _| Ok(()))?;
    let t = w.clock.now();
    for (k, (id, app)) in waiting(&w).into_iter().enumerate() {
        // Each target is looked at from `t` again (an earlier target may
        // have been the shared state of the same global authenticator).
        w.clock.set(t);
        let Some(u) = wait_end(&w.engine.check(&id, &app).expect("live")) else {
            continue;
        };
        prop_assert!(u > t, "a wait ending at {} is reported at {}", u, t);
        let ahead = u.as_millis() - t.as_millis();
        let back = t.as_millis() - rewinds[k % rewinds.len()] as i64;
        let end = u.as_millis();
        // Back first, then forward: past `t` to the end of the wait.
        let mut moments = vec![back, back + ahead - 1];
        moments.extend(probes.iter().map(|f| back + (f * ahead as f64) as i64));
        moments.sort_unstable();
        let mut forward = vec![t.as_millis(), end - 1];
        forward.extend(
            probes
                .iter()
                .map(|f| t.as_millis() + (f * ahead as f64) as i64),
        );
        forward.sort_unstable();
        moments.extend(forward);
        for (i, at) in moments.into_iter().enumerate() {
            w.clock.set(Timestamp::from_millis(at));
            let d = w.engine.check(&id, &app).expect("live");
            prop_assert!(
                !d.is_allowed(),
                "{} in {} allowed at {} (a wait to {} reported at {}, rewound to {})",
                id,
                app,
                at,
                u,
                t,
                back
            );
            prop_assert_eq!(
                wait_end(&d),
                Some(u),
                "{} in {} at {}: {:?} (a wait to {} reported at {}, rewound to {})",
                id,
                app,
                at,
                d,
                u,
                t,
                back
            );
            // Hammering during the wait is refused and not counted.
            let attempt = (i == 0)
                .then(|| w.engine.record_failure(&id, &Attempt::in_app(&app)).ok())
                .flatten();
            if let Some(o) = attempt {
                prop_assert!(!o.accepted && !o.counted, "attempt during a wait: {:?}", o);
            }
        }
        w.clock.set(u);
        let d = w.engine.check(&id, &app).expect("live");
        prop_assert!(d.is_allowed(), "{} in {} at {}: {:?}", id, app, u, d);
    }
    Ok(())
}

/// A reported wait is exact: when a check at `t` says the next attempt is
/// allowed from `u` (a temporary lock's end or a throttle's retry time),
/// attempts are refused, with the same `u`, at every moment before `u`, and
/// allowed at `u`, if nothing else happens in between.
fn waits_are_exact(p: &ModelPolicies, ops: &[Op], probes: &[f64]) -> Result<(), TestCaseError> {
    let mut w = World::new(p);
    run_all(&mut w, ops, |_, _, _| Ok(()))?;
    let t = w.clock.now();
    for (id, app) in waiting(&w) {
        w.clock.set(t);
        let Some(u) = wait_end(&w.engine.check(&id, &app).expect("live")) else {
            continue;
        };
        let ahead = u.as_millis() - t.as_millis();
        let mut moments: Vec<i64> = probes
            .iter()
            .map(|f| t.as_millis() + (f * ahead as f64) as i64)
            .collect();
        moments.push(u.as_millis() - 1);
        moments.sort_unstable();
        for at in moments {
            w.clock.set(Timestamp::from_millis(at));
            let d = w.engine.check(&id, &app).expect("live");
            prop_assert_eq!(
                wait_end(&d),
                Some(u),
                "{} in {} at {}: {:?}, reported at {}",
                id,
                app,
                at,
                d,
                t
            );
        }
        w.clock.set(u);
        let d = w.engine.check(&id, &app).expect("live");
        prop_assert!(
            d.is_allowed(),
            "{} in {} at {} (the end of the reported wait): {:?}",
            id,
            app,
            u,
            d
        );
    }
    Ok(())
}

/// Counted failures never exceed the policy's `max_failures`, in any view or
/// attempt outcome, after any step.
fn failures_stay_bounded(p: &ModelPolicies, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut w = World::new(p);
    run_all(&mut w, ops, |w, call, a| {
        let max_of = |kind: AuthenticatorType, app: &str| {
            w.engine
                .policies()
                .policy(kind, app)
                .map(|p| p.max_failures)
        };
        let counting = match (a, call) {
            (
                Answer::Outcome(o),
                Call::Fail(id, app, _) | Call::Reserve(id, app, _) | Call::Commit(id, app, ..),
            ) => w.engine.authenticator(id).ok().map(|v| (o, v.kind, app)),
            _ => None,
        };
        if let Some((o, kind, app)) = counting {
            let max = max_of(kind, app).expect("lockout types have a policy");
            prop_assert!(o.failures <= max, "{:?} after {:?} (max {})", o, call, max);
        }
        for u in USERS {
            for v in w.engine.authenticators(u).unwrap_or_default() {
                for d in &v.apps {
                    let max = max_of(v.kind, &d.app).unwrap_or(0);
                    prop_assert!(
                        d.failures <= max,
                        "{} in {}: {} failures, max {}",
                        v.kind,
                        d.app,
                        d.failures,
                        max
                    );
                }
            }
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(config())]

    /// The engine answers, records and shows exactly what the model does.
    #[test]
    fn engine_agrees_with_the_model(p in policies(), ops in ops(60)) {
        agrees_with_model(&p, &ops)?;
    }

    /// See [`replay_rebuilds`].
    #[test]
    fn replaying_the_history_rebuilds_the_state(p in policies(), ops in ops(60), more in ops(10)) {
        replay_rebuilds(&p, &ops, &more)?;
    }

    /// See [`restore_gives_back`].
    #[test]
    fn restoring_a_snapshot_gives_back_the_state(p in policies(), ops in ops(60), more in ops(10)) {
        restore_gives_back(&p, &ops, &more)?;
    }

    /// See [`rewind_keeps_waits`].
    #[test]
    fn rewinding_the_clock_never_shortens_a_wait(
        p in policies(),
        ops in ops(60),
        rewinds in prop::collection::vec(1u64..=120_000, 1..4),
        probes in prop::collection::vec(0.0f64..1.0, 3),
    ) {
        rewind_keeps_waits(&p, &ops, &rewinds, &probes)?;
    }

    /// See [`waits_are_exact`].
    #[test]
    fn a_reported_wait_is_exact(
        p in policies(),
        ops in ops(60),
        probes in prop::collection::vec(0.0f64..1.0, 3),
    ) {
        waits_are_exact(&p, &ops, &probes)?;
    }

    /// See [`failures_stay_bounded`].
    #[test]
    fn counted_failures_never_exceed_max_failures(p in policies(), ops in ops(60)) {
        failures_stay_bounded(&p, &ops)?;
    }
}

// ---------------------------------------------------------------------------
// Fixed scenarios: rare paths the random sequences seldom reach, run
// through the same comparison with the model, and exact reproductions of
// behaviours the properties above require.
// ---------------------------------------------------------------------------

/// Small fixed policies: password 2 failures, temporary 10 s doubling up to
/// 40 s, 3 temporary lockouts; PIN throttled after 1 failure; OTP 2 failures.
fn fixed_policies() -> ModelPolicies {
    let temporary = |first_s, factor, cap_s| ModelLockout::Temporary {
        first_s,
        factor,
        increment_s: 0,
        cap_s,
    };
    let policy = |max_failures, lockout, max_temporary, throttle| ModelPolicy {
        max_failures,
        window_s: None,
        lockout,
        max_temporary,
        throttle,
    };
    ModelPolicies {
        tenant: vec![
            (
                AuthenticatorType::Password,
                policy(2, temporary(10, 2, Some(40)), Some(3), vec![]),
            ),
            (
                AuthenticatorType::Pin,
                policy(3, ModelLockout::UntilUnlocked, None, vec![(1, 4)]),
            ),
            (
                AuthenticatorType::Passkey,
                policy(2, ModelLockout::UntilUnlocked, None, vec![]),
            ),
            (
                AuthenticatorType::Totp,
                policy(2, temporary(5, 1, None), None, vec![]),
            ),
            (
                AuthenticatorType::EmailOtp,
                policy(2, temporary(5, 1, None), None, vec![]),
            ),
        ],
        overrides: Vec::new(),
    }
}

/// The first live authenticator that counts failures, in its first app.
const FIRST: (Pick, AppPick) = (Pick(1), AppPick::Own(0));

#[test]
fn at_most_sixteen_reservations_stay_outstanding() {
    let mut ops = vec![Op::Register {
        user: 0,
        kind: 0,
        app: 0,
        device: 0,
        wrong_device: false,
    }];
    // The same wrong secret: counted once, so nothing locks; 17 reservations.
    ops.extend((0..17).map(|_| Op::Reserve(FIRST.0, FIRST.1, Some(0))));
    // The oldest was dropped; the next one is still outstanding.
    ops.push(Op::Commit(FIRST.0, FIRST.1, ResPick::Raw(0), true, None));
    ops.push(Op::Commit(FIRST.0, FIRST.1, ResPick::Raw(1), true, None));
    agrees_with_model(&fixed_policies(), &ops).unwrap();
}

#[test]
fn a_refunded_lock_no_longer_counts_towards_growth_even_if_the_success_is_refused() {
    let ops = vec![
        Op::Register {
            user: 0,
            kind: 0,
            app: 0,
            device: 0,
            wrong_device: false,
        },
        Op::Fail(FIRST.0, FIRST.1, None),
        // Locks for 10 s: the first temporary lockout.
        Op::Reserve(FIRST.0, FIRST.1, None),
        Op::Deactivate(FIRST.0, FIRST.1),
        // The secret was right: the lock is refunded, but the success is
        // refused because the password is deactivated now.
        Op::Commit(FIRST.0, FIRST.1, ResPick::Recent(0), true, None),
        Op::Reactivate(FIRST.0, FIRST.1),
        Op::Fail(FIRST.0, FIRST.1, None),
        // The lock that follows is again a first one (10 s, not 20 s).
        Op::Fail(FIRST.0, FIRST.1, None),
        Op::Advance(10, false),
        Op::Check(FIRST.0, FIRST.1),
    ];
    agrees_with_model(&fixed_policies(), &ops).unwrap();
}

#[test]
fn unlocking_a_passkey_unlocks_every_passkey_of_the_user_in_that_app_only() {
    let passkey = |app, device| Op::Register {
        user: 0,
        kind: 2,
        app,
        device,
        wrong_device: false,
    };
    let ops = vec![
        passkey(0, 0),
        passkey(0, 1),
        passkey(1, 0),
        // Each one locked by its own failures (two failures lock a passkey).
        Op::Fail(Pick(1), AppPick::Own(0), None),
        Op::Fail(Pick(1), AppPick::Own(0), None),
        Op::Fail(Pick(9), AppPick::Own(0), None),
        Op::Fail(Pick(9), AppPick::Own(0), None),
        Op::Fail(Pick(17), AppPick::Own(0), None),
        Op::Fail(Pick(17), AppPick::Own(0), None),
        Op::Unlock(Pick(1), AppPick::Own(0)),
        // Registering again on the same device and app replaces the passkey.
        passkey(0, 0),
        Op::Check(Pick(0), AppPick::Own(0)),
    ];
    agrees_with_model(&fixed_policies(), &ops).unwrap();
}

fn fixture(toml: &str) -> (Engine, FakeClock) {
    let clock = FakeClock::at(Timestamp::from_millis(T0));
    (engine_for(toml, &clock), clock)
}

/// Every call names its app, and an empty app name is refused as invalid:
/// `check` included, whatever the authenticator's scope, and nothing is
/// recorded.
#[test]
fn check_refuses_an_empty_app_name() {
    let (engine, clock) = fixture("");
    let ids = engine
        .add_identifier(
            "u0",
            &Identifier::email("u0@example.com"),
            &Actor::user("u0"),
        )
        .unwrap();
    engine
        .record_failure(&ids[0], &Attempt::in_app("a0"))
        .unwrap();
    clock.rewind(Duration::from_secs(1));
    let before = engine.snapshot();
    let answer = engine.check(&ids[0], "");
    assert!(
        matches!(answer, Err(Error::InvalidArgument { what: "app", .. })),
        "check with an empty app name answered {answer:?}"
    );
    assert_eq!(engine.snapshot(), before, "a refused call changes nothing");
}

/// Replaying a history rebuilds exactly the same state, record versions
/// included, also when a call first applied what time had done (here, a
/// clock that went back) and then its own change.
#[test]
fn replay_rebuilds_the_versions_of_records_a_rewound_clock_touched() {
    let (engine, clock) = fixture("");
    let ids = engine
        .add_identifier(
            "u0",
            &Identifier::email("u0@example.com"),
            &Actor::user("u0"),
        )
        .unwrap();
    engine
        .record_failure(&ids[0], &Attempt::in_app("a0"))
        .unwrap();
    clock.rewind(Duration::from_secs(1));
    engine
        .record_success(&ids[0], &Attempt::in_app("a0"))
        .unwrap();
    let replayed = Engine::builder(PolicyDocument::new())
        .clock(clock.clone())
        .ids(SeededIds::new(ID_SEED))
        .replay(&engine.events())
        .unwrap();
    assert_eq!(replayed.snapshot(), engine.snapshot());
}

/// A throttled attempt says when the next is allowed, and that time holds:
/// attempts stay refused until it, also when failures leave the failure
/// window in the meantime. (A policy whose throttle could not be honoured
/// that way may instead be refused when loaded.)
#[test]
fn a_reported_throttle_wait_holds_when_failures_leave_the_window() {
    let cases = [
        // One failure, a 16 s wait, a 15 s window.
        (r#"throttle = [ { after = 1, wait = "16s" } ]"#, 1),
        // Two failures 7 s apart: 10 s from the second; the first leaves the
        // window at 15 s, where the one-failure step (2 s) would apply.
        (
            r#"throttle = [ { after = 1, wait = "2s" }, { after = 2, wait = "10s" } ]"#,
            2,
        ),
    ];
    for (throttle, failures) in cases {
        let toml = format!(
            "[policies.email_otp]\nmax_failures = 3\nfailure_window = \"15s\"\n{throttle}\n"
        );
        let Ok(doc) = PolicyDocument::parse(&toml) else {
            continue;
        };
        let clock = FakeClock::at(Timestamp::from_millis(T0));
        let engine = Engine::builder(doc).clock(clock.clone()).build();
        let ids = engine
            .add_identifier(
                "u0",
                &Identifier::email("u0@example.com"),
                &Actor::user("u0"),
            )
            .unwrap();
        for k in 0..failures {
            if k > 0 {
                clock.advance(Duration::from_secs(7));
            }
            engine
                .record_failure(&ids[0], &Attempt::in_app("a0"))
                .unwrap();
        }
        let retry_at = match engine.check(&ids[0], "a0").unwrap() {
            Decision::Throttled { retry_at } => retry_at,
            d => panic!("{throttle}: expected a throttle, got {d:?}"),
        };
        clock.set(Timestamp::from_millis(retry_at.as_millis() - 1));
        let d = engine.check(&ids[0], "a0").unwrap();
        assert!(
            !d.is_allowed(),
            "{throttle}: the next attempt was to be allowed at {retry_at}, but it is allowed at {}",
            clock.now()
        );
    }
}

// ----- strict decoders and the shared invariant checker ----------------------

/// Replaces the `pick`-th leaf (in document order, modulo the number of
/// leaves) of `v` with a different value of a related kind: another number,
/// the other boolean, null for a string, a string for null.
fn mutate_leaf(v: &mut serde_json::Value, pick: usize, delta: i64) {
    fn count(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Object(m) => m.values().map(count).sum(),
            serde_json::Value::Array(a) => a.iter().map(count).sum(),
            _ => 1,
        }
    }
    /// The `n`-th leaf of `v` (`n` counts down as leaves are passed).
    fn nth<'a>(v: &'a mut serde_json::Value, n: &mut usize) -> Option<&'a mut serde_json::Value> {
        match v {
            serde_json::Value::Object(m) => m.values_mut().find_map(|x| nth(x, n)),
            serde_json::Value::Array(a) => a.iter_mut().find_map(|x| nth(x, n)),
            leaf if *n == 0 => Some(leaf),
            _ => {
                *n -= 1;
                None
            }
        }
    }
    let total = count(v);
    let mut n = pick % total.max(1);
    let Some(leaf) = nth(v, &mut n) else {
        return;
    };
    *leaf = match leaf.take() {
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(u) => serde_json::Value::from(u.wrapping_add_signed(delta.max(1))),
            None => serde_json::Value::from(n.as_i64().unwrap_or(0).wrapping_add(delta.max(1))),
        },
        serde_json::Value::Bool(b) => serde_json::Value::Bool(!b),
        serde_json::Value::String(_) => serde_json::Value::Null,
        _ => serde_json::Value::String("web".into()),
    };
}

/// Restores `text` into a fresh engine of `toml`; on success checks that
/// nothing was dropped or defaulted (the engine writes back exactly what
/// was read) and that the state passes the checker again (its own
/// snapshot restores, to the same text).
fn refused_or_exact(toml: &str, text: &str) -> Result<bool, TestCaseError> {
    let fresh = || Engine::new(PolicyDocument::parse(toml).expect("valid"));
    let e = fresh();
    if e.restore_json(text).is_err() {
        return Ok(false);
    }
    let want: serde_json::Value = serde_json::from_str(text).expect("it restored");
    let again = e.snapshot_json();
    let got: serde_json::Value = serde_json::from_str(&again).expect("own JSON");
    prop_assert_eq!(got, want, "accepted, but not read exactly");
    let twice = fresh();
    twice
        .restore_json(&again)
        .map_err(|err| TestCaseError::fail(format!("its own snapshot was refused: {err}")))?;
    prop_assert_eq!(twice.snapshot_json(), again);
    Ok(true)
}

/// Any history that replays (through its JSON) gives a state whose
/// snapshot restores to an equal engine; a mutated snapshot (one bit
/// flipped, or one value changed) is either refused or read exactly, into
/// a state that passes the invariant checker again.
fn snapshots_of_replays_restore(
    p: &ModelPolicies,
    ops: &[Op],
    flip: (usize, u8),
    leaf: (usize, i64),
) -> Result<(), TestCaseError> {
    let mut w = World::new(p);
    run_all(&mut w, ops, |_, _, _| Ok(()))?;
    let toml = w.policies_toml.clone();
    let json = history_to_json("default", &w.engine.events());
    let (_, history) = history_from_json(&json).expect("own history reads");
    let replayed = Engine::builder(PolicyDocument::parse(&toml).expect("valid"))
        .clock(FakeClock::at(w.clock.now()))
        .replay(&history)
        .map_err(|e| TestCaseError::fail(format!("replay refused its own history: {e}")))?;
    let text = replayed.snapshot_json();
    let restored = Engine::new(PolicyDocument::parse(&toml).expect("valid"));
    restored.restore_json(&text).map_err(|e| {
        TestCaseError::fail(format!("the replayed state's snapshot was refused: {e}"))
    })?;
    prop_assert_eq!(restored.snapshot(), replayed.snapshot());
    prop_assert_eq!(restored.snapshot(), w.engine.snapshot());
    prop_assert!(refused_or_exact(&toml, &text)?, "own snapshot refused");

    let mut bytes = text.clone().into_bytes();
    let i = flip.0 % bytes.len();
    bytes[i] ^= 1 << (flip.1 % 8);
    if let Ok(flipped) = std::str::from_utf8(&bytes) {
        refused_or_exact(&toml, flipped)?;
    }
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("own JSON");
    mutate_leaf(&mut doc, leaf.0, leaf.1);
    refused_or_exact(&toml, &doc.to_string())?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..config() })]

    /// See [`snapshots_of_replays_restore`].
    #[test]
    fn snapshots_of_replays_restore_and_mutations_are_refused_or_exact(
        p in policies(),
        ops in ops(40),
        flip in (any::<usize>(), any::<u8>()),
        leaf in (any::<usize>(), -3i64..1_000_000),
    ) {
        snapshots_of_replays_restore(&p, &ops, flip, leaf)?;
    }
}
