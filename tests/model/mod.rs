//! A reference model of authlock's rules, for the model-based property tests.
//!
//! It is written from the specification (SPEC §2-§6) and the rules stated in
//! the crate's documentation, not from the engine's code, and it is meant to
//! be obviously right rather than fast: every authenticator is one entry in
//! a `Vec`, every lookup is a linear scan, every operation works on a copy
//! of the whole state and keeps it only when the operation succeeds (so "an
//! error changes nothing" holds by construction), and every question about
//! time is answered from the stored facts at the moment it is asked.
//!
//! The model has its own capability table (SPEC §2), its own policy type
//! (SPEC §5) that also writes the TOML document the engine loads, and it
//! answers with the crate's public value types (`Decision`,
//! `AttemptOutcome`, `AuthenticatorView`, `Error`) so that the tests can
//! compare answers directly.

use authlock::{
    Action, AppDetail, AttemptOutcome, AuthenticatorId, AuthenticatorType, AuthenticatorView,
    Decision, Error, Event, IdGenerator, Identifier, IdentifierKind, LockKind, Operation, Scope,
    SeededIds, Status, Timestamp, UnifiedStatus,
};

/// Outstanding reservations kept per instance; the oldest is forgotten
/// beyond this (its failure stays counted).
pub const MAX_OUTSTANDING: usize = 16;

// ---------------------------------------------------------------------------
// SPEC §2: the capability table, written out again.
// ---------------------------------------------------------------------------

/// How a type comes to be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    /// `register`.
    Explicit,
    /// When the profile gains an email address.
    WithEmail,
    /// When the profile gains a phone number.
    WithPhone,
    /// On the first successful use.
    FirstUse,
}

/// One row of SPEC §2.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Its scope.
    pub scope: Scope,
    /// How it is registered.
    pub reg: Reg,
    /// Policy lockout.
    pub lockout: bool,
    /// Manual lock and unlock.
    pub manual: bool,
    /// Delete.
    pub delete: bool,
}

/// SPEC §2, row by row.
pub fn caps(kind: AuthenticatorType) -> Caps {
    use AuthenticatorType as T;
    use Scope::*;
    let c = |scope, reg, lockout, manual, delete| Caps {
        scope,
        reg,
        lockout,
        manual,
        delete,
    };
    match kind {
        T::Password => c(AppUser, Reg::Explicit, true, true, true),
        T::Pin => c(DeviceUser, Reg::Explicit, true, true, true),
        T::Passkey => c(DeviceUser, Reg::Explicit, true, true, true),
        T::MobileBiometrics => c(DeviceUser, Reg::Explicit, true, true, true),
        T::FaceAuthentication => c(AppUser, Reg::Explicit, true, true, true),
        T::Totp => c(AppUser, Reg::Explicit, true, false, true),
        T::EmailOtp => c(GlobalUser, Reg::WithEmail, true, false, false),
        T::SmsOtp | T::DirectOtp => c(GlobalUser, Reg::WithPhone, true, false, false),
        T::EmailMagicLink => c(GlobalUser, Reg::WithEmail, false, false, false),
        T::SocialLogin | T::Oidc | T::Saml => c(GlobalUser, Reg::FirstUse, false, false, false),
    }
}

fn unsupported(kind: AuthenticatorType, operation: Operation) -> Error {
    Error::Unsupported { kind, operation }
}

// ---------------------------------------------------------------------------
// SPEC §5: policies.
// ---------------------------------------------------------------------------

/// What a policy lock does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelLockout {
    /// The n-th successive temporary lockout (from 0) lasts
    /// `min(cap, first × factorⁿ + increment × n)`.
    Temporary {
        /// First length, in seconds.
        first_s: i64,
        /// Growth factor.
        factor: u32,
        /// Growth increment, in seconds.
        increment_s: i64,
        /// Cap, in seconds.
        cap_s: Option<i64>,
    },
    /// Only a manual unlock ends it.
    UntilUnlocked,
}

/// A lockout policy, with durations in whole seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPolicy {
    /// Counted failures that lock.
    pub max_failures: u32,
    /// Failures older than this stop counting.
    pub window_s: Option<i64>,
    /// What the lock does.
    pub lockout: ModelLockout,
    /// After this many temporary lockouts the next is until-unlocked.
    pub max_temporary: Option<u32>,
    /// (after N counted failures, wait this many seconds from the last).
    pub throttle: Vec<(u32, i64)>,
}

const MS: i64 = 1000;

impl ModelPolicy {
    /// Length in ms of the lockout that follows `earlier` temporary ones;
    /// `None` until unlocked.
    pub fn lockout_ms(&self, earlier: u32) -> Option<i64> {
        match &self.lockout {
            ModelLockout::UntilUnlocked => None,
            _ if self.max_temporary.is_some_and(|m| earlier >= m) => None,
            ModelLockout::Temporary {
                first_s,
                factor,
                increment_s,
                cap_s,
            } => {
                let mut len = *first_s * MS;
                for _ in 0..earlier {
                    len = len.saturating_mul(*factor as i64);
                }
                len = len.saturating_add((*increment_s * MS).saturating_mul(earlier as i64));
                if let Some(cap) = cap_s {
                    len = len.min(cap * MS);
                }
                Some(len)
            }
        }
    }

    /// Throttle delay in ms after `n` counted failures (0: none).
    pub fn throttle_ms(&self, n: usize) -> i64 {
        let mut delay = 0;
        for (after, wait_s) in &self.throttle {
            if *after as usize <= n {
                delay = *wait_s * MS;
            }
        }
        delay
    }

    /// The policy as the body of a TOML table.
    pub fn toml_body(&self) -> String {
        let mut s = format!("max_failures = {}\n", self.max_failures);
        match self.window_s {
            Some(w) => s += &format!("failure_window = \"{w}s\"\n"),
            None => s += "failure_window = \"none\"\n",
        }
        match &self.lockout {
            ModelLockout::UntilUnlocked => s += "lockout = { kind = \"until_unlocked\" }\n",
            ModelLockout::Temporary {
                first_s,
                factor,
                increment_s,
                cap_s,
            } => {
                s += &format!(
                    "lockout = {{ kind = \"temporary\", duration = \"{first_s}s\", \
                     factor = {factor}, increment = \"{increment_s}s\""
                );
                if let Some(c) = cap_s {
                    s += &format!(", max_duration = \"{c}s\"");
                }
                s += " }\n";
            }
        }
        if let Some(m) = self.max_temporary {
            s += &format!("max_temporary_lockouts = {m}\n");
        }
        let steps: Vec<String> = self
            .throttle
            .iter()
            .map(|(a, w)| format!("{{ after = {a}, wait = \"{w}s\" }}"))
            .collect();
        s += &format!("throttle = [{}]\n", steps.join(", "));
        s
    }
}

/// A tenant's policies: one per type, and per-app overrides for app-user
/// and device-user types.
#[derive(Clone, Debug, Default)]
pub struct ModelPolicies {
    /// Tenant-wide policies.
    pub tenant: Vec<(AuthenticatorType, ModelPolicy)>,
    /// Per-app overrides.
    pub overrides: Vec<(String, AuthenticatorType, ModelPolicy)>,
}

impl ModelPolicies {
    /// The policy for `kind` in `app`: an app's override wins for app-user
    /// and device-user types; a global-user type has one policy.
    pub fn get(&self, kind: AuthenticatorType, app: &str) -> Option<&ModelPolicy> {
        if !caps(kind).lockout {
            return None;
        }
        if caps(kind).scope != Scope::GlobalUser {
            for (a, k, p) in &self.overrides {
                if a == app && *k == kind {
                    return Some(p);
                }
            }
        }
        for (k, p) in &self.tenant {
            if *k == kind {
                return Some(p);
            }
        }
        panic!("the test configures no policy for {kind}")
    }

    /// The policy document the engine loads.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        for (k, p) in &self.tenant {
            s += &format!("[policies.{}]\n{}\n", k.name(), p.toml_body());
        }
        for (a, k, p) in &self.overrides {
            s += &format!("[apps.{a}.policies.{}]\n{}\n", k.name(), p.toml_body());
        }
        s
    }
}

// ---------------------------------------------------------------------------
// State.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Mark {
    at: i64,
    fingerprint: Option<Vec<u8>>,
    reservation: Option<u64>,
}

#[derive(Clone, Debug)]
struct Lock {
    kind: LockKind,
    reason: Option<String>,
    since: i64,
    len: Option<i64>,
    reservation: Option<u64>,
}

#[derive(Clone, Debug, Default)]
struct Lockout {
    marks: Vec<Mark>,
    temporary_lockouts: u32,
    lock: Option<Lock>,
    deactivated: bool,
    suspended: bool,
    /// Reservations not yet committed. Only a commit settles one (and the
    /// oldest is forgotten beyond `MAX_OUTSTANDING`): a success, an unlock
    /// or an expiry resets the counter but leaves them outstanding, so a
    /// late commit is still accepted.
    outstanding: Vec<u64>,
    next_reservation: u64,
}

#[derive(Clone, Debug)]
struct Inst {
    /// `None` for the shared state of a global-user authenticator.
    app: Option<String>,
    registered_at: i64,
    last_success: Option<i64>,
    s: Lockout,
}

#[derive(Clone, Debug)]
struct Link {
    app: String,
    linked_at: i64,
    last_success: Option<i64>,
}

#[derive(Clone, Debug)]
struct Rec {
    id: AuthenticatorId,
    user: String,
    kind: AuthenticatorType,
    device: Option<String>,
    identifier: Option<String>,
    registered_at: i64,
    /// The latest time the record has seen: the effective time of the last
    /// call that changed it.
    seen: i64,
    insts: Vec<Inst>,
    links: Vec<Link>,
    last_use: Option<(i64, String, Option<String>)>,
}

#[derive(Clone, Debug)]
struct User {
    name: String,
    suspended: bool,
    identifiers: Vec<Identifier>,
    auths: Vec<AuthenticatorId>,
}

/// An event as the model predicts it: everything but the sequence number,
/// the tenant and the actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEvent {
    /// When, in ms: the record's effective time (the clock's reading for a
    /// `clock_rewound` event and for events about no kept record).
    pub time: i64,
    /// Subject user.
    pub user: String,
    /// App of the call.
    pub app: Option<String>,
    /// Authenticator concerned.
    pub authenticator: Option<AuthenticatorId>,
    /// What happened.
    pub action: Action,
    /// Reason given.
    pub reason: Option<String>,
    /// Status before.
    pub before: Option<Status>,
    /// Status after.
    pub after: Option<Status>,
}

impl ModelEvent {
    /// The comparable part of an engine event.
    pub fn of(e: &Event) -> ModelEvent {
        ModelEvent {
            time: e.time.as_millis(),
            user: e.user.to_string(),
            app: e.app.as_deref().map(str::to_string),
            authenticator: e.authenticator,
            action: e.action.clone(),
            reason: e.reason.as_deref().map(str::to_string),
            before: e.before,
            after: e.after,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct State {
    users: Vec<User>,
    recs: Vec<Rec>,
    deleted: Vec<AuthenticatorId>,
    events: Vec<ModelEvent>,
}

/// The reference model of one tenant.
pub struct Model {
    policies: ModelPolicies,
    ids: SeededIds,
    /// The time, in ms, that the host's clock shows; while a call works on
    /// a record ([`Model::enter`]), that record's effective time.
    pub now: i64,
    /// The record a call is working on, if any.
    frame: Option<Frame>,
    st: State,
}

/// A call at work on one record: the clock's reading, the record's `seen`
/// before the call, and where the call's events about it start.
#[derive(Clone, Copy, Debug)]
struct Frame {
    id: AuthenticatorId,
    clock: i64,
    seen: i64,
    start: usize,
}

// ---------------------------------------------------------------------------
// Reading the time-dependent facts (all answers at `now`).
// ---------------------------------------------------------------------------

/// Every answer is at a record's effective time `now`: the later of the
/// clock and the latest time the record has seen, so no stored time is
/// later than `now`. A lock whose end is past `i64::MAX` ms has none: it
/// holds until unlocked.
fn lock_end(l: &Lock) -> Option<i64> {
    l.len.and_then(|d| l.since.checked_add(d))
}

fn lock_in_force(l: &Lock, now: i64) -> bool {
    lock_end(l).is_none_or(|end| now < end)
}

/// The failures that count at `now`: those younger than the window.
fn counted<'a>(s: &'a Lockout, p: Option<&ModelPolicy>, now: i64) -> Vec<&'a Mark> {
    let window = p.and_then(|p| p.window_s);
    s.marks
        .iter()
        .filter(|m| window.is_none_or(|w| now - m.at < w * MS))
        .collect()
}

/// While throttled: when the next attempt is allowed — the earliest moment
/// from `now` on at which the schedule allows one, found by trying every
/// moment at which the answer can change (a failure leaving the window, a
/// delay running out).
fn throttled_until(s: &Lockout, p: Option<&ModelPolicy>, now: i64) -> Option<i64> {
    let p = p?;
    let times: Vec<i64> = s.marks.iter().map(|m| m.at).collect();
    let allowed_at = |u: i64| {
        let live: Vec<i64> = times
            .iter()
            .copied()
            .filter(|&at| p.window_s.is_none_or(|w| u - at < w * MS))
            .collect();
        let delay = p.throttle_ms(live.len());
        match live.iter().max() {
            Some(&last) if delay > 0 => u >= last + delay,
            _ => true,
        }
    };
    let mut candidates = vec![now];
    for &at in &times {
        if let Some(w) = p.window_s {
            candidates.push(at + w * MS);
        }
        for k in 0..=times.len() {
            candidates.push(at + p.throttle_ms(k));
        }
    }
    candidates.retain(|&c| c >= now);
    candidates.sort_unstable();
    let first = candidates.into_iter().find(|&c| allowed_at(c))?;
    (first > now).then_some(first)
}

/// The status as stored (after time has been applied, any lock is in force).
fn stored_status(i: &Inst) -> Status {
    if i.s.deactivated || i.s.suspended {
        Status::Deactivated
    } else if i.s.lock.is_some() {
        Status::Locked
    } else if i.last_success.is_some() {
        Status::Active
    } else {
        Status::Registered
    }
}

/// Applies what time has done to an instance at its effective time: a
/// temporary lock whose end has passed is removed with the failure counter
/// (the count of temporary lockouts is kept). Stored times never move.
/// Returns the events, as (action, before, after).
fn apply_time(i: &mut Inst, now: i64) -> Vec<(Action, Status, Status)> {
    let mut out = Vec::new();
    let before = stored_status(i);
    if i.s.lock.as_ref().is_some_and(|l| !lock_in_force(l, now)) {
        i.s.lock = None;
        i.s.marks.clear();
        out.push((Action::LockExpired, before, stored_status(i)));
    }
    out
}

/// The decision for an instance whose time has been applied.
fn decide(i: &Inst, p: Option<&ModelPolicy>, now: i64) -> Decision {
    if i.s.deactivated || i.s.suspended {
        return Decision::Deactivated;
    }
    if let Some(l) = &i.s.lock {
        return Decision::Locked {
            lock: l.kind,
            until: lock_end(l).map(Timestamp::from_millis),
            reason: l.reason.as_deref().map(Into::into),
        };
    }
    if let Some(retry) = throttled_until(&i.s, p, now) {
        return Decision::Throttled {
            retry_at: Timestamp::from_millis(retry),
        };
    }
    Decision::Allowed
}

fn outcome(
    accepted: bool,
    counted_now: bool,
    i: &Inst,
    p: Option<&ModelPolicy>,
    now: i64,
    reservation: Option<u64>,
) -> AttemptOutcome {
    AttemptOutcome {
        accepted,
        counted: counted_now,
        failures: counted(&i.s, p, now).len() as u32,
        decision: decide(i, p, now),
        reservation,
    }
}

fn check_name(what: &'static str, v: &str) -> Result<(), Error> {
    if v.is_empty() || v.len() > 256 || v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument {
            what,
            why: String::new(),
        });
    }
    Ok(())
}

fn check_fingerprint(fp: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> {
    match fp {
        Some(b) if b.is_empty() || b.len() > 64 => Err(Error::InvalidArgument {
            what: "fingerprint",
            why: String::new(),
        }),
        other => Ok(other.map(<[u8]>::to_vec)),
    }
}

/// Which attempt a call makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Try {
    Failure,
    Reserve,
}

impl Model {
    /// An empty tenant with these policies, drawing IDs from a generator
    /// seeded like the engine's.
    pub fn new(policies: ModelPolicies, id_seed: u64, now: i64) -> Model {
        Model {
            policies,
            ids: SeededIds::new(id_seed),
            now,
            frame: None,
            st: State::default(),
        }
    }

    /// The events emitted since the last call, in order.
    pub fn take_events(&mut self) -> Vec<ModelEvent> {
        std::mem::take(&mut self.st.events)
    }

    /// Runs `f` on a copy of the state; keeps the copy only on success.
    fn atomically<T>(
        &mut self,
        f: impl FnOnce(&mut Model) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let saved = self.st.clone();
        let r = f(self);
        self.leave();
        if r.is_err() {
            self.st = saved;
        }
        r
    }

    fn fresh_id(&mut self) -> AuthenticatorId {
        loop {
            let id = self.ids.next_id();
            let used = self.st.recs.iter().any(|r| r.id == id) || self.st.deleted.contains(&id);
            if !used {
                return id;
            }
        }
    }

    fn user_mut(&mut self, name: &str) -> &mut User {
        if let Some(i) = self.st.users.iter().position(|u| u.name == name) {
            return &mut self.st.users[i];
        }
        self.st.users.push(User {
            name: name.into(),
            suspended: false,
            identifiers: Vec::new(),
            auths: Vec::new(),
        });
        self.st.users.last_mut().expect("just pushed")
    }

    fn is_suspended(&self, user: &str) -> bool {
        self.st.users.iter().any(|u| u.name == user && u.suspended)
    }

    /// The index of a live record, or the error for a missing one.
    fn find(&self, id: AuthenticatorId) -> Result<usize, Error> {
        if let Some(i) = self.st.recs.iter().position(|r| r.id == id) {
            Ok(i)
        } else if self.st.deleted.contains(&id) {
            Err(Error::Deleted { id })
        } else {
            Err(Error::NotFound { id })
        }
    }

    fn emit(
        &mut self,
        ri: usize,
        app: Option<&str>,
        action: Action,
        reason: Option<&str>,
        before: Option<Status>,
        after: Option<Status>,
    ) {
        let r = &self.st.recs[ri];
        self.st.events.push(ModelEvent {
            time: self.now,
            user: r.user.clone(),
            app: app.map(str::to_string),
            authenticator: Some(r.id),
            action,
            reason: reason.map(str::to_string),
            before,
            after,
        });
    }

    /// Starts the work of a call on record `ri` (ending the work on the
    /// record before, if any): until [`Model::leave`], `now` is the record's
    /// effective time, the later of the clock and the record's `seen`.
    fn enter(&mut self, ri: usize) {
        self.leave();
        let r = &self.st.recs[ri];
        self.frame = Some(Frame {
            id: r.id,
            clock: self.now,
            seen: r.seen,
            start: self.st.events.len(),
        });
        self.now = self.now.max(r.seen);
    }

    /// Ends the work on the current record: `now` is the clock's reading
    /// again. If the call changed the record (emitted events about it), its
    /// `seen` becomes the effective time, and if the clock read earlier than
    /// `seen`, one `clock_rewound` event at the clock's reading comes first.
    fn leave(&mut self) {
        let Some(f) = self.frame.take() else {
            return;
        };
        let effective = self.now;
        self.now = f.clock;
        let Some(first) = self.st.events.get(f.start).cloned() else {
            return;
        };
        if f.clock < f.seen {
            let rewound = ModelEvent {
                time: f.clock,
                action: Action::ClockRewound,
                reason: None,
                after: first.before,
                ..first
            };
            self.st.events.insert(f.start, rewound);
        }
        if let Some(r) = self.st.recs.iter_mut().find(|r| r.id == f.id) {
            r.seen = effective;
        }
    }

    /// Starts the work on record `ri` and applies time to the instance a
    /// call in `app` works on, emitting the events.
    fn time_on(&mut self, ri: usize, si: usize, app: &str) {
        self.enter(ri);
        let now = self.now;
        let evs = apply_time(&mut self.st.recs[ri].insts[si], now);
        for (action, b, a) in evs {
            self.emit(ri, Some(app), action, None, Some(b), Some(a));
        }
    }

    fn new_record(
        &mut self,
        user: &str,
        kind: AuthenticatorType,
        app: Option<&str>,
        device: Option<&str>,
        identifier: Option<&str>,
        replaces: Option<AuthenticatorId>,
    ) -> AuthenticatorId {
        let id = self.fresh_id();
        let suspended = self.is_suspended(user);
        let global = caps(kind).scope == Scope::GlobalUser;
        let inst = Inst {
            app: if global {
                None
            } else {
                app.map(str::to_string)
            },
            registered_at: self.now,
            last_success: None,
            s: Lockout {
                suspended,
                ..Lockout::default()
            },
        };
        let status = stored_status(&inst);
        self.st.recs.push(Rec {
            id,
            user: user.into(),
            kind,
            device: device.map(str::to_string),
            identifier: identifier.map(str::to_string),
            registered_at: self.now,
            seen: self.now,
            insts: vec![inst],
            links: Vec::new(),
            last_use: None,
        });
        self.user_mut(user).auths.push(id);
        let ri = self.st.recs.len() - 1;
        self.emit(
            ri,
            app,
            Action::Registered(Box::new(authlock::Registered {
                kind,
                device: device.map(Into::into),
                identifier: identifier.map(Into::into),
                public_key: None,
                replaces,
            })),
            None,
            None,
            Some(status),
        );
        id
    }

    fn remove_record(&mut self, ri: usize) {
        let r = self.st.recs.remove(ri);
        self.st.deleted.push(r.id);
        for u in &mut self.st.users {
            u.auths.retain(|a| *a != r.id);
        }
    }

    // -----------------------------------------------------------------------
    // Registration (SPEC §2, §3).
    // -----------------------------------------------------------------------

    /// `Engine::register` for `user`'s `kind` in `app`, on `device`.
    pub fn register(
        &mut self,
        user: &str,
        kind: AuthenticatorType,
        app: &str,
        device: Option<&str>,
    ) -> Result<AuthenticatorId, Error> {
        self.atomically(|m| m.register_inner(user, kind, app, device))
    }

    fn register_inner(
        &mut self,
        user: &str,
        kind: AuthenticatorType,
        app: &str,
        device: Option<&str>,
    ) -> Result<AuthenticatorId, Error> {
        check_name("user", user)?;
        check_name("app", app)?;
        let c = caps(kind);
        if c.reg != Reg::Explicit {
            return Err(unsupported(kind, Operation::Register));
        }
        match (c.scope, device) {
            (Scope::DeviceUser, Some(d)) => check_name("device", d)?,
            (Scope::DeviceUser, None) | (_, Some(_)) => {
                return Err(Error::InvalidArgument {
                    what: "device",
                    why: String::new(),
                });
            }
            _ => {}
        }
        let mine = |r: &&Rec| r.user == user && r.kind == kind;
        match c.scope {
            Scope::AppUser => {
                if let Some(ri) = self.st.recs.iter().position(|r| mine(&r)) {
                    let id = self.st.recs[ri].id;
                    if self.st.recs[ri]
                        .insts
                        .iter()
                        .any(|i| i.app.as_deref() == Some(app))
                    {
                        return Err(Error::AlreadyRegistered {
                            user: user.into(),
                            kind,
                            app: app.into(),
                            id,
                        });
                    }
                    // One more app's instance under the same ID, at the
                    // record's effective time.
                    self.enter(ri);
                    let inst = Inst {
                        app: Some(app.into()),
                        registered_at: self.now,
                        last_success: None,
                        s: Lockout {
                            suspended: self.is_suspended(user),
                            ..Lockout::default()
                        },
                    };
                    let status = stored_status(&inst);
                    self.st.recs[ri].insts.push(inst);
                    self.emit(
                        ri,
                        Some(app),
                        Action::Registered(Box::new(authlock::Registered {
                            kind,
                            device: None,
                            identifier: None,
                            public_key: None,
                            replaces: None,
                        })),
                        None,
                        None,
                        Some(status),
                    );
                    return Ok(id);
                }
                Ok(self.new_record(user, kind, Some(app), None, None, None))
            }
            Scope::DeviceUser => {
                let old = self.st.recs.iter().position(|r| {
                    mine(&r)
                        && r.device.as_deref() == device
                        && r.insts[0].app.as_deref() == Some(app)
                });
                if let Some(ri) = old {
                    // Re-registration on the same device and app replaces it.
                    let id = self.fresh_id();
                    let before = stored_status(&self.st.recs[ri].insts[0]);
                    self.emit(
                        ri,
                        Some(app),
                        Action::Deleted {
                            replaced_by: Some(id),
                        },
                        None,
                        Some(before),
                        None,
                    );
                    let old_id = self.st.recs[ri].id;
                    self.remove_record(ri);
                    // The ID drawn above is the new one.
                    let new = self.insert_with_id(id, user, kind, app, device, Some(old_id));
                    return Ok(new);
                }
                Ok(self.new_record(user, kind, Some(app), device, None, None))
            }
            Scope::GlobalUser => unreachable!("global-user types are not explicit"),
        }
    }

    /// `new_record` with an ID already drawn.
    fn insert_with_id(
        &mut self,
        id: AuthenticatorId,
        user: &str,
        kind: AuthenticatorType,
        app: &str,
        device: Option<&str>,
        replaces: Option<AuthenticatorId>,
    ) -> AuthenticatorId {
        let suspended = self.is_suspended(user);
        let inst = Inst {
            app: Some(app.into()),
            registered_at: self.now,
            last_success: None,
            s: Lockout {
                suspended,
                ..Lockout::default()
            },
        };
        let status = stored_status(&inst);
        self.st.recs.push(Rec {
            id,
            user: user.into(),
            kind,
            device: device.map(str::to_string),
            identifier: None,
            registered_at: self.now,
            seen: self.now,
            insts: vec![inst],
            links: Vec::new(),
            last_use: None,
        });
        self.user_mut(user).auths.push(id);
        let ri = self.st.recs.len() - 1;
        self.emit(
            ri,
            Some(app),
            Action::Registered(Box::new(authlock::Registered {
                kind,
                device: device.map(Into::into),
                identifier: None,
                public_key: None,
                replaces,
            })),
            None,
            None,
            Some(status),
        );
        id
    }

    /// `Engine::add_identifier`: an email registers email OTP and the email
    /// magic link; a phone registers SMS and direct OTP.
    pub fn add_identifier(
        &mut self,
        user: &str,
        ident: &Identifier,
    ) -> Result<Vec<AuthenticatorId>, Error> {
        self.atomically(|m| {
            check_name("user", user)?;
            check_name("identifier", &ident.value)?;
            m.user_mut(user);
            if m.st
                .users
                .iter()
                .any(|u| u.name == user && u.identifiers.contains(ident))
            {
                return Ok(Vec::new());
            }
            m.user_mut(user).identifiers.push(ident.clone());
            m.st.events.push(ModelEvent {
                time: m.now,
                user: user.into(),
                app: None,
                authenticator: None,
                action: Action::IdentifierAdded {
                    identifier: ident.clone(),
                },
                reason: None,
                before: None,
                after: None,
            });
            let wanted = match ident.kind {
                IdentifierKind::Email => Reg::WithEmail,
                IdentifierKind::Phone => Reg::WithPhone,
                _ => return Ok(Vec::new()),
            };
            let mut ids = Vec::new();
            for kind in AuthenticatorType::ALL {
                if caps(kind).reg == wanted {
                    ids.push(m.new_record(user, kind, None, None, Some(&ident.value), None));
                }
            }
            Ok(ids)
        })
    }

    /// `Engine::record_first_use`: registers a social / OIDC / SAML account
    /// on its first use, then records the success.
    pub fn record_first_use(
        &mut self,
        user: &str,
        kind: AuthenticatorType,
        account: &str,
        app: &str,
        device: Option<&str>,
    ) -> Result<(AuthenticatorId, AttemptOutcome), Error> {
        self.atomically(|m| {
            check_name("user", user)?;
            check_name("account", account)?;
            check_name("app", app)?;
            if caps(kind).reg != Reg::FirstUse {
                return Err(unsupported(kind, Operation::RegisterImplicit));
            }
            let found = m.st.recs.iter().find(|r| {
                r.user == user && r.kind == kind && r.identifier.as_deref() == Some(account)
            });
            let id = match found {
                Some(r) => r.id,
                None => m.new_record(user, kind, Some(app), None, Some(account), None),
            };
            let out = m.success_inner(id, app, device)?;
            Ok((id, out))
        })
    }

    // -----------------------------------------------------------------------
    // Attempts (SPEC §5).
    // -----------------------------------------------------------------------

    /// `Engine::check`.
    pub fn check(&mut self, id: AuthenticatorId, app: &str) -> Result<Decision, Error> {
        self.atomically(|m| {
            check_name("app", app)?;
            let ri = match m.find(id) {
                Ok(ri) => ri,
                Err(Error::Deleted { .. }) => return Ok(Decision::Deleted),
                Err(e) => return Err(e),
            };
            let si = slot(&m.st.recs[ri], app)?;
            m.time_on(ri, si, app);
            let r = &m.st.recs[ri];
            Ok(decide(&r.insts[si], m.policies.get(r.kind, app), m.now))
        })
    }

    /// The record and instance a call on `id` in `app` works on, after the
    /// common checks (the record exists, the type supports `op`, the app
    /// has an instance).
    fn target(
        &self,
        id: AuthenticatorId,
        app: &str,
        op: Option<Operation>,
    ) -> Result<(usize, usize), Error> {
        check_name("app", app)?;
        let ri = self.find(id)?;
        let kind = self.st.recs[ri].kind;
        if let Some(op) = op {
            let c = caps(kind);
            let ok = match op {
                Operation::RecordFailure | Operation::Reserve => c.lockout,
                Operation::Lock | Operation::Unlock => c.manual,
                Operation::Delete => c.delete,
                _ => true,
            };
            if !ok {
                return Err(unsupported(kind, op));
            }
        }
        let si = slot(&self.st.recs[ri], app)?;
        Ok((ri, si))
    }

    /// Why an attempt is refused now, if it is.
    fn refusal(&self, ri: usize, si: usize, app: &str) -> Option<Decision> {
        let r = &self.st.recs[ri];
        match decide(&r.insts[si], self.policies.get(r.kind, app), self.now) {
            Decision::Allowed => None,
            d => Some(d),
        }
    }

    /// A global-user authenticator is linked to every app it is used in.
    fn link(&mut self, ri: usize, app: &str, success: bool) {
        let now = self.now;
        let r = &mut self.st.recs[ri];
        if caps(r.kind).scope != Scope::GlobalUser {
            return;
        }
        let pos = match r.links.iter().position(|l| l.app == app) {
            Some(p) => p,
            None => {
                r.links.push(Link {
                    app: app.into(),
                    linked_at: now,
                    last_success: None,
                });
                r.links.len() - 1
            }
        };
        if success {
            r.links[pos].last_success = Some(now);
        }
    }

    /// `Engine::record_failure`.
    pub fn record_failure(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        fingerprint: Option<&[u8]>,
    ) -> Result<AttemptOutcome, Error> {
        self.atomically(|m| m.failure_inner(id, app, fingerprint, Try::Failure))
    }

    /// `Engine::reserve`.
    pub fn reserve(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        fingerprint: Option<&[u8]>,
    ) -> Result<AttemptOutcome, Error> {
        self.atomically(|m| m.failure_inner(id, app, fingerprint, Try::Reserve))
    }

    fn failure_inner(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        fingerprint: Option<&[u8]>,
        what: Try,
    ) -> Result<AttemptOutcome, Error> {
        let fp = check_fingerprint(fingerprint)?;
        let op = match what {
            Try::Failure => Operation::RecordFailure,
            Try::Reserve => Operation::Reserve,
        };
        let (ri, si) = self.target(id, app, Some(op))?;
        self.time_on(ri, si, app);
        let now = self.now;
        let kind = self.st.recs[ri].kind;
        let p = self.policies.get(kind, app).cloned();
        let p = p.as_ref();
        if let Some(d) = self.refusal(ri, si, app) {
            let i = &self.st.recs[ri].insts[si];
            return Ok(AttemptOutcome {
                accepted: false,
                counted: false,
                failures: counted(&i.s, p, now).len() as u32,
                decision: d,
                reservation: None,
            });
        }
        self.link(ri, app, false);
        let inst = &mut self.st.recs[ri].insts[si];
        let before = stored_status(inst);
        // Failures that have stopped counting are forgotten when the next one
        // is counted.
        let window = p.and_then(|p| p.window_s);
        inst.s
            .marks
            .retain(|mk| window.is_none_or(|w| now - mk.at < w * MS));
        // A repeated wrong secret counts once while its first failure counts.
        let repeated = fp.is_some()
            && counted(&inst.s, p, now)
                .iter()
                .any(|mk| mk.fingerprint == fp);
        let reservation = (what == Try::Reserve).then(|| {
            let r = inst.s.next_reservation;
            inst.s.next_reservation += 1;
            inst.s.outstanding.push(r);
            if inst.s.outstanding.len() > MAX_OUTSTANDING {
                inst.s.outstanding.remove(0);
            }
            r
        });
        let mut lock_len = None;
        if !repeated {
            inst.s.marks.push(Mark {
                at: now,
                fingerprint: fp.clone(),
                reservation,
            });
            let pol = p.expect("types with a lockout have a policy");
            if counted(&inst.s, p, now).len() as u32 >= pol.max_failures {
                let len = pol.lockout_ms(inst.s.temporary_lockouts);
                if len.is_some() {
                    inst.s.temporary_lockouts += 1;
                }
                inst.s.lock = Some(Lock {
                    kind: LockKind::Policy,
                    reason: None,
                    since: now,
                    len,
                    reservation,
                });
                lock_len = Some(len);
            }
        }
        let action = match what {
            Try::Failure => Action::Failure {
                fingerprint: fp
                    .as_deref()
                    .map(|b| authlock::Fingerprint::new(b).unwrap()),
                counted: !repeated,
            },
            Try::Reserve => Action::Reserved {
                reservation: reservation.expect("reserve issues one"),
                fingerprint: fp
                    .as_deref()
                    .map(|b| authlock::Fingerprint::new(b).unwrap()),
                counted: !repeated,
            },
        };
        self.emit(ri, Some(app), action, None, Some(before), Some(before));
        if let Some(len) = lock_len {
            let after = stored_status(&self.st.recs[ri].insts[si]);
            self.emit(
                ri,
                Some(app),
                Action::Locked {
                    lock: LockKind::Policy,
                    until: len
                        .and_then(|d| now.checked_add(d))
                        .map(Timestamp::from_millis),
                },
                None,
                Some(before),
                Some(after),
            );
        }
        let i = &self.st.recs[ri].insts[si];
        Ok(outcome(true, !repeated, i, p, now, reservation))
    }

    /// `Engine::record_success`.
    pub fn record_success(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        device: Option<&str>,
    ) -> Result<AttemptOutcome, Error> {
        self.atomically(|m| m.success_inner(id, app, device))
    }

    fn success_inner(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        device: Option<&str>,
    ) -> Result<AttemptOutcome, Error> {
        if let Some(d) = device {
            check_name("device", d)?;
        }
        let (ri, si) = self.target(id, app, None)?;
        self.time_on(ri, si, app);
        let now = self.now;
        let kind = self.st.recs[ri].kind;
        let p = self.policies.get(kind, app).cloned();
        let p = p.as_ref();
        if let Some(d) = self.refusal(ri, si, app) {
            let i = &self.st.recs[ri].insts[si];
            return Ok(AttemptOutcome {
                accepted: false,
                counted: false,
                failures: counted(&i.s, p, now).len() as u32,
                decision: d,
                reservation: None,
            });
        }
        let before = stored_status(&self.st.recs[ri].insts[si]);
        self.succeed(ri, si, app, device);
        self.emit(
            ri,
            Some(app),
            Action::Success {
                device: device.map(Into::into),
            },
            None,
            Some(before),
            Some(Status::Active),
        );
        let i = &self.st.recs[ri].insts[si];
        Ok(outcome(true, false, i, p, now, None))
    }

    /// A success: the counter and the count of temporary lockouts are
    /// cleared; the instance is Active.
    fn succeed(&mut self, ri: usize, si: usize, app: &str, device: Option<&str>) {
        let now = self.now;
        self.link(ri, app, true);
        let r = &mut self.st.recs[ri];
        let i = &mut r.insts[si];
        i.s.marks.clear();
        i.s.temporary_lockouts = 0;
        i.last_success = Some(now);
        // The device of a device-user authenticator is known without the host
        // naming it.
        let device = device.map(str::to_string).or_else(|| r.device.clone());
        r.last_use = Some((now, app.into(), device));
    }

    /// `Engine::commit`: settles a reservation. The outcome names the
    /// reservation settled.
    pub fn commit(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        reservation: u64,
        success: bool,
        device: Option<&str>,
    ) -> Result<AttemptOutcome, Error> {
        self.atomically(|m| {
            if let Some(d) = device {
                check_name("device", d)?;
            }
            let (ri, si) = m.target(id, app, Some(Operation::Reserve))?;
            m.time_on(ri, si, app);
            let now = m.now;
            let kind = m.st.recs[ri].kind;
            let p = m.policies.get(kind, app).cloned();
            let p = p.as_ref();
            let inst = &mut m.st.recs[ri].insts[si];
            let Some(pos) = inst.s.outstanding.iter().position(|r| *r == reservation) else {
                return Err(Error::UnknownReservation { id, reservation });
            };
            inst.s.outstanding.remove(pos);
            let before = stored_status(inst);
            if !success {
                m.emit(
                    ri,
                    Some(app),
                    Action::Committed {
                        reservation,
                        success: false,
                        device: device.map(Into::into),
                    },
                    None,
                    Some(before),
                    Some(before),
                );
                let i = &m.st.recs[ri].insts[si];
                return Ok(outcome(true, false, i, p, now, Some(reservation)));
            }
            // The reserved failure is refunded, with the lock it caused.
            inst.s
                .marks
                .retain(|mk| mk.reservation != Some(reservation));
            let refunded =
                inst.s.lock.as_ref().is_some_and(|l| {
                    l.kind == LockKind::Policy && l.reservation == Some(reservation)
                });
            if refunded {
                let l = inst.s.lock.take().expect("checked");
                if l.len.is_some() {
                    inst.s.temporary_lockouts = inst.s.temporary_lockouts.saturating_sub(1);
                }
            }
            let blocked = inst.s.deactivated || inst.s.suspended || inst.s.lock.is_some();
            if refunded {
                let after = stored_status(&m.st.recs[ri].insts[si]);
                m.emit(
                    ri,
                    Some(app),
                    Action::LockRefunded,
                    None,
                    Some(before),
                    Some(after),
                );
            }
            let mid = stored_status(&m.st.recs[ri].insts[si]);
            if blocked {
                m.emit(
                    ri,
                    Some(app),
                    Action::Committed {
                        reservation,
                        success: true,
                        device: device.map(Into::into),
                    },
                    None,
                    Some(mid),
                    Some(mid),
                );
                let i = &m.st.recs[ri].insts[si];
                return Ok(outcome(false, false, i, p, now, Some(reservation)));
            }
            m.succeed(ri, si, app, device);
            m.emit(
                ri,
                Some(app),
                Action::Committed {
                    reservation,
                    success: true,
                    device: device.map(Into::into),
                },
                None,
                Some(mid),
                Some(Status::Active),
            );
            let i = &m.st.recs[ri].insts[si];
            Ok(outcome(true, false, i, p, now, Some(reservation)))
        })
    }

    // -----------------------------------------------------------------------
    // Actions (SPEC §6).
    // -----------------------------------------------------------------------

    /// Runs `f` and returns the events it emitted.
    fn collect(
        &mut self,
        f: impl FnOnce(&mut Model) -> Result<(), Error>,
    ) -> Result<Vec<ModelEvent>, Error> {
        self.atomically(|m| {
            let start = m.st.events.len();
            f(m)?;
            m.leave();
            Ok(m.st.events[start..].to_vec())
        })
    }

    /// `Engine::lock`: a manual lock (until unlocked) with its reason.
    pub fn lock(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        reason: Option<&str>,
    ) -> Result<Vec<ModelEvent>, Error> {
        self.collect(|m| {
            let (ri, si) = m.target(id, app, Some(Operation::Lock))?;
            m.time_on(ri, si, app);
            let now = m.now;
            let inst = &mut m.st.recs[ri].insts[si];
            if inst
                .s
                .lock
                .as_ref()
                .is_some_and(|l| l.kind == LockKind::Manual)
            {
                return Ok(());
            }
            let before = stored_status(inst);
            inst.s.lock = Some(Lock {
                kind: LockKind::Manual,
                reason: reason.map(str::to_string),
                since: now,
                len: None,
                reservation: None,
            });
            let after = stored_status(inst);
            m.emit(
                ri,
                Some(app),
                Action::Locked {
                    lock: LockKind::Manual,
                    until: None,
                },
                reason,
                Some(before),
                Some(after),
            );
            Ok(())
        })
    }

    /// Clears the lock and the counter of one instance.
    fn unlock_one(&mut self, ri: usize, si: usize, app: &str, reason: Option<&str>) {
        self.time_on(ri, si, app);
        let inst = &mut self.st.recs[ri].insts[si];
        let had_lock = inst.s.lock.is_some();
        let changed = had_lock || !inst.s.marks.is_empty() || inst.s.temporary_lockouts > 0;
        if !changed {
            return;
        }
        let before = stored_status(inst);
        inst.s.lock = None;
        inst.s.marks.clear();
        inst.s.temporary_lockouts = 0;
        let after = stored_status(inst);
        self.emit(
            ri,
            Some(app),
            Action::Unlocked {
                cleared_lock: had_lock,
            },
            reason,
            Some(before),
            Some(after),
        );
    }

    /// Every instance of `kind` that `user` has in `app`.
    fn instances_in(&self, user: &str, kind: AuthenticatorType, app: &str) -> Vec<(usize, usize)> {
        let Some(u) = self.st.users.iter().find(|u| u.name == user) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for id in &u.auths {
            let ri = self.st.recs.iter().position(|r| r.id == *id).expect("live");
            let r = &self.st.recs[ri];
            match slot(r, app) {
                Ok(si) if r.kind == kind => out.push((ri, si)),
                _ => {}
            }
        }
        out
    }

    /// `Engine::unlock`: for a device-user type, every instance of the type
    /// the user has in `app`.
    pub fn unlock(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        reason: Option<&str>,
    ) -> Result<Vec<ModelEvent>, Error> {
        self.collect(|m| {
            let (ri, si) = m.target(id, app, Some(Operation::Unlock))?;
            let r = &m.st.recs[ri];
            let targets = if caps(r.kind).scope == Scope::DeviceUser {
                m.instances_in(&r.user.clone(), r.kind, app)
            } else {
                vec![(ri, si)]
            };
            for (ri, si) in targets {
                m.unlock_one(ri, si, app, reason);
            }
            Ok(())
        })
    }

    /// `Engine::unlock_type`.
    pub fn unlock_type(
        &mut self,
        user: &str,
        kind: AuthenticatorType,
        app: &str,
        reason: Option<&str>,
    ) -> Result<Vec<ModelEvent>, Error> {
        self.collect(|m| {
            check_name("app", app)?;
            if !caps(kind).manual {
                return Err(unsupported(kind, Operation::Unlock));
            }
            if !m.st.users.iter().any(|u| u.name == user) {
                return Err(Error::UnknownUser { user: user.into() });
            }
            for (ri, si) in m.instances_in(user, kind, app) {
                m.unlock_one(ri, si, app, reason);
            }
            Ok(())
        })
    }

    /// `Engine::delete`: the instance in `app`; the ID when it is the last.
    pub fn delete(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        reason: Option<&str>,
    ) -> Result<Vec<ModelEvent>, Error> {
        self.collect(|m| {
            let (ri, si) = m.target(id, app, Some(Operation::Delete))?;
            m.time_on(ri, si, app);
            let before = stored_status(&m.st.recs[ri].insts[si]);
            m.emit(
                ri,
                Some(app),
                Action::Deleted { replaced_by: None },
                reason,
                Some(before),
                None,
            );
            m.st.recs[ri].insts.remove(si);
            if m.st.recs[ri].insts.is_empty() {
                m.remove_record(ri);
            }
            Ok(())
        })
    }

    /// `Engine::deactivate` (`on = true`) and `Engine::reactivate`.
    pub fn set_deactivated(
        &mut self,
        id: AuthenticatorId,
        app: &str,
        on: bool,
        reason: Option<&str>,
    ) -> Result<Vec<ModelEvent>, Error> {
        self.collect(|m| {
            let (ri, si) = m.target(id, app, None)?;
            m.time_on(ri, si, app);
            let inst = &mut m.st.recs[ri].insts[si];
            if inst.s.deactivated == on {
                return Ok(());
            }
            let before = stored_status(inst);
            inst.s.deactivated = on;
            let after = stored_status(inst);
            let action = if on {
                Action::Deactivated
            } else {
                Action::Reactivated
            };
            m.emit(ri, Some(app), action, reason, Some(before), Some(after));
            Ok(())
        })
    }

    /// `Engine::suspend_user` (`on = true`) and `Engine::unsuspend_user`.
    pub fn set_suspended(
        &mut self,
        user: &str,
        on: bool,
        reason: Option<&str>,
    ) -> Result<Vec<ModelEvent>, Error> {
        self.collect(|m| {
            let Some(ui) = m.st.users.iter().position(|u| u.name == user) else {
                return Err(Error::UnknownUser { user: user.into() });
            };
            if m.st.users[ui].suspended == on {
                return Ok(());
            }
            m.st.users[ui].suspended = on;
            m.st.events.push(ModelEvent {
                time: m.now,
                user: user.into(),
                app: None,
                authenticator: None,
                action: if on {
                    Action::Suspended
                } else {
                    Action::Unsuspended
                },
                reason: reason.map(str::to_string),
                before: None,
                after: None,
            });
            for id in m.st.users[ui].auths.clone() {
                let ri = m.st.recs.iter().position(|r| r.id == id).expect("live");
                m.enter(ri);
                for si in 0..m.st.recs[ri].insts.len() {
                    let inst = &mut m.st.recs[ri].insts[si];
                    if inst.s.suspended == on {
                        continue;
                    }
                    let before = stored_status(inst);
                    inst.s.suspended = on;
                    let after = stored_status(inst);
                    let app = inst.app.clone();
                    let action = if on {
                        Action::Suspended
                    } else {
                        Action::Unsuspended
                    };
                    m.emit(
                        ri,
                        app.as_deref(),
                        action,
                        reason,
                        Some(before),
                        Some(after),
                    );
                }
            }
            Ok(())
        })
    }

    // -----------------------------------------------------------------------
    // Views (SPEC §4).
    // -----------------------------------------------------------------------

    /// `Engine::authenticators`: read at `now`, changing nothing.
    pub fn views(&self, user: &str) -> Result<Vec<AuthenticatorView>, Error> {
        let Some(u) = self.st.users.iter().find(|u| u.name == user) else {
            return Err(Error::UnknownUser { user: user.into() });
        };
        Ok(u.auths
            .iter()
            .map(|id| {
                let r = self.st.recs.iter().find(|r| r.id == *id).expect("live");
                self.view(r)
            })
            .collect())
    }

    fn detail(
        &self,
        r: &Rec,
        app: &str,
        registered_at: i64,
        last_success: Option<i64>,
        inst: &Inst,
    ) -> AppDetail {
        // At the record's effective time, as the engine answers.
        let now = self.now.max(r.seen);
        // What the next call would find: time applied to a copy.
        let mut i = inst.clone();
        apply_time(&mut i, now);
        let p = self.policies.get(r.kind, app);
        let status = stored_status(&i);
        AppDetail {
            app: app.into(),
            registered_at: Timestamp::from_millis(registered_at),
            last_success: last_success.map(Timestamp::from_millis),
            status,
            lock_kind: i.s.lock.as_ref().map(|l| l.kind),
            lock_reason: i.s.lock.as_ref().and_then(|l| l.reason.clone()),
            lock_expires_at: i
                .s
                .lock
                .as_ref()
                .and_then(lock_end)
                .map(Timestamp::from_millis),
            failures: counted(&i.s, p, now).len() as u32,
            throttled_until: match decide(&i, p, now) {
                Decision::Throttled { retry_at } => Some(retry_at),
                _ => None,
            },
        }
    }

    fn view(&self, r: &Rec) -> AuthenticatorView {
        let apps: Vec<AppDetail> = if caps(r.kind).scope == Scope::GlobalUser {
            r.links
                .iter()
                .map(|l| self.detail(r, &l.app, l.linked_at, l.last_success, &r.insts[0]))
                .collect()
        } else {
            r.insts
                .iter()
                .map(|i| {
                    let app = i.app.as_deref().expect("app-bound instance");
                    self.detail(r, app, i.registered_at, i.last_success, i)
                })
                .collect()
        };
        let status = if apps.is_empty() {
            let mut i = r.insts[0].clone();
            apply_time(&mut i, self.now.max(r.seen));
            unified(stored_status(&i))
        } else if apps.iter().all(|a| a.status == apps[0].status) {
            unified(apps[0].status)
        } else {
            UnifiedStatus::Mixed
        };
        AuthenticatorView {
            id: r.id,
            kind: r.kind,
            scope: caps(r.kind).scope,
            status,
            multiple_apps: apps.len() > 1,
            apps,
            registered_at: Timestamp::from_millis(r.registered_at),
            last_login: r.last_use.as_ref().map(|u| Timestamp::from_millis(u.0)),
            last_app: r.last_use.as_ref().map(|u| u.1.clone()),
            last_device: r.last_use.as_ref().and_then(|u| u.2.clone()),
            device: r.device.clone(),
            identifier: r.identifier.clone(),
            public_key: None,
        }
    }
}

fn unified(s: Status) -> UnifiedStatus {
    match s {
        Status::Registered => UnifiedStatus::Registered,
        Status::Active => UnifiedStatus::Active,
        Status::Locked => UnifiedStatus::Locked,
        Status::Deactivated => UnifiedStatus::Deactivated,
    }
}

/// The instance a call in `app` works on (SPEC §3): the shared one of a
/// global-user type; the app's own of an app-user type; the one instance of
/// a device-user type, only in its app.
fn slot(r: &Rec, app: &str) -> Result<usize, Error> {
    let wrong = || Error::WrongApp {
        id: r.id,
        kind: r.kind,
        app: app.into(),
        why: "",
    };
    match caps(r.kind).scope {
        Scope::GlobalUser => Ok(0),
        Scope::AppUser | Scope::DeviceUser => r
            .insts
            .iter()
            .position(|i| i.app.as_deref() == Some(app))
            .ok_or_else(wrong),
    }
}

/// The comparable part of an error: its variant and the values it names
/// (not its wording).
pub fn error_key(e: &Error) -> String {
    match e {
        Error::NotFound { id } => format!("NotFound({id})"),
        Error::Deleted { id } => format!("Deleted({id})"),
        Error::Unsupported { kind, operation } => format!("Unsupported({kind}, {operation:?})"),
        Error::WrongApp { id, kind, app, .. } => format!("WrongApp({id}, {kind}, {app})"),
        Error::UnknownUser { user } => format!("UnknownUser({user})"),
        Error::AlreadyRegistered {
            user,
            kind,
            app,
            id,
        } => format!("AlreadyRegistered({user}, {kind}, {app}, {id})"),
        Error::UnknownReservation { id, reservation } => {
            format!("UnknownReservation({id}, {reservation})")
        }
        Error::InvalidArgument { what, .. } => format!("InvalidArgument({what})"),
        other => format!("{other:?}"),
    }
}
