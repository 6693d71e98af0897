//! The uniffi layer: what Kotlin, Swift and Python see of authlock.
//!
//! A thin wrapper: [`Engine`] wraps the core [`crate::Engine`], and every
//! exported method converts its arguments, makes one call into the core and
//! converts the result. This module decides nothing; the rules are the
//! core's. It owns:
//!
//! - the foreign-facing records and enums ([`Decision`],
//!   [`AuthenticatorView`], [`HistoryEvent`], [`Policy`], [`StoreOptions`],
//!   ...) and their conversions, in `types`;
//! - the durable store ([`Engine::open_store`], [`Engine::compact`]), the
//!   journey steps ([`Engine::run_journey_step`], JSON in and out) and the
//!   [`Helpdesk`] (JSON requests), each one call into the core;
//! - the one public error type, [`AuthlockError`], mapped from
//!   [`crate::Error`] in one place, in `error`;
//! - two traits the host may implement in its own language: a
//!   [`LockListener`] told about every lock and unlock, and a [`HostClock`]
//!   (a trusted or monotonic time source) in place of the system clock.
//!
//! IDs cross as 32 lowercase hex characters; times as `i64` milliseconds
//! since the Unix epoch. Rust panics never cross the boundary: uniffi's
//! scaffolding turns one into the foreign language's internal error.
//!
//! The bindings are generated from the built library by the
//! `uniffi-bindgen` binary (feature `bindgen-cli`) into `bindings/`.

// uniffi's scaffolding exports `#[unsafe(no_mangle)] extern "C"` functions;
// all of it is generated, none is written here.
#![allow(unsafe_code)]

mod error;
mod types;

use std::sync::Arc;

pub use error::{AuthlockError, ListenerError};
pub use types::{
    Action, Actor, AppDetail, Attempt, AttemptOutcome, AuthenticatorType, AuthenticatorView,
    Decision, Durability, FirstUse, HistoryEvent, Identifier, IdentifierKind, LockKind, Lockout,
    OpenReport, Policy, Recovery, Registration, Scope, Status, StoreOptions, StoreStatus,
    ThrottleStep, UnifiedStatus, UserHistory,
};

use crate::ids::AuthenticatorId;
use crate::time::Timestamp;

uniffi::setup_scaffolding!("authlock");

type Result<T, E = AuthlockError> = std::result::Result<T, E>;

/// A source of the current time that the host implements, for example a
/// trusted network time or a clock that a user cannot turn back.
///
/// The engine reads it once per call, before it changes anything. A clock
/// that goes backwards never shortens a lock or a throttle delay: the
/// engine restarts the wait instead. It must not throw: a call whose clock
/// throws fails with the language's internal error (`InternalException`
/// in Kotlin, `InternalError` in Python) and changes nothing.
#[uniffi::export(with_foreign)]
pub trait HostClock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// Told about every lock and unlock: a policy or manual lock, an expiry, a
/// refunded lock, a manual unlock that cleared a lock.
///
/// Called on the thread that made the change, after the engine has released
/// its locks, so the listener may call back into the engine. The change has
/// happened by then: an error the listener raises is dropped and neither
/// undoes the change nor fails the call that made it.
#[uniffi::export(with_foreign)]
pub trait LockListener: Send + Sync {
    /// One lock change; `event.action` says which.
    fn on_lock_change(&self, event: HistoryEvent) -> Result<(), ListenerError>;
}

/// Adapts a host clock to the core's [`crate::Clock`].
struct ForeignClock(Arc<dyn HostClock>);

impl crate::Clock for ForeignClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.now_ms())
    }
}

/// Adapts a host listener to the core's [`crate::Observer`].
struct ForeignListener(Arc<dyn LockListener>);

impl crate::Observer for ForeignListener {
    fn on_lock_change(&self, event: &crate::Event) {
        // The change already happened; see `LockListener`.
        let _ = self.0.on_lock_change(event.clone().into());
    }
}

fn observer(listener: Arc<dyn LockListener>) -> Arc<dyn crate::Observer> {
    Arc::new(ForeignListener(listener))
}

/// Parses an ID received from the host.
fn id(text: &str) -> Result<AuthenticatorId> {
    text.parse().map_err(|why| {
        crate::Error::InvalidArgument {
            what: "authenticator ID",
            why,
        }
        .into()
    })
}

fn ids(ids: Vec<AuthenticatorId>) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

/// The authenticator lockout engine for one tenant.
///
/// Thread-safe: share one engine between threads. An engine opened on a
/// store holds the store's directory until it is closed (`close()` in
/// Kotlin, `destroy()` in Swift, the last reference dropped in Python) and
/// until every [`Helpdesk`] built on it is closed too.
#[derive(uniffi::Object)]
pub struct Engine {
    inner: Arc<crate::Engine>,
    /// What opening the store found; `None` for an in-memory engine.
    open_report: Option<OpenReport>,
}

/// A builder for `policy_document` with the host's clock and listener.
fn builder(
    policy_document: &str,
    clock: Option<Arc<dyn HostClock>>,
    listener: Option<Arc<dyn LockListener>>,
) -> Result<crate::EngineBuilder> {
    let mut builder = crate::Engine::builder(crate::PolicyDocument::parse(policy_document)?);
    if let Some(clock) = clock {
        builder = builder.clock(ForeignClock(clock));
    }
    if let Some(listener) = listener {
        builder = builder.observer(observer(listener));
    }
    Ok(builder)
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl Engine {
    /// An engine for the tenant and policies of `policy_document` (TOML, or
    /// JSON when it starts with `{`). Time comes from `clock` if given,
    /// else from the system clock; `listener`, if given, is told about every
    /// lock and unlock.
    #[uniffi::constructor(default(clock = None, listener = None))]
    pub fn new(
        policy_document: String,
        clock: Option<Arc<dyn HostClock>>,
        listener: Option<Arc<dyn LockListener>>,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(Engine {
            inner: Arc::new(builder(&policy_document, clock, listener)?.build()),
            open_report: None,
        }))
    }

    /// An engine backed by the durable store in directory `dir`, with its
    /// state recovered from the store (the newest snapshot plus the journal
    /// after it); `open_report()` says what opening found. The policies,
    /// clock and listener are as for the primary constructor. One process
    /// at a time: while an engine holds the store, another opener gets a
    /// `Storage` error saying the store is in use. A missing directory is a
    /// `Storage` error unless `options.create` is set.
    #[uniffi::constructor(default(clock = None, listener = None))]
    pub fn open_store(
        dir: String,
        policy_document: String,
        options: StoreOptions,
        clock: Option<Arc<dyn HostClock>>,
        listener: Option<Arc<dyn LockListener>>,
    ) -> Result<Arc<Self>> {
        let (inner, report) =
            builder(&policy_document, clock, listener)?.open_store(dir, options.into())?;
        Ok(Arc::new(Engine {
            inner: Arc::new(inner),
            open_report: Some(report.into()),
        }))
    }

    /// What opening the store found (the snapshot loaded, the events
    /// replayed, a torn tail dropped); `None` for an engine without a store.
    pub fn open_report(&self) -> Option<OpenReport> {
        self.open_report.clone()
    }

    /// Compacts the store now, on this thread: seals the journal segment
    /// in use, writes the state at its end as a snapshot (atomically) and
    /// removes what the two newest snapshots no longer need; returns the
    /// snapshot's sequence number. With `compact_every` set the store also
    /// compacts by itself on a background thread. An engine without a store
    /// answers a `Storage` error.
    pub fn compact(&self) -> Result<u64> {
        Ok(self.inner.compact()?)
    }

    /// How the store's compactions went (background ones included);
    /// `None` for an engine without a store.
    pub fn store_status(&self) -> Option<StoreStatus> {
        self.inner.store_status().map(Into::into)
    }

    /// Runs one journey step, JSON in and out: the request is
    /// `{"step": <step configuration>, "context": <journey context>}`, the
    /// answer `{"result": <step result>, "context": <context after the
    /// step>}`. A step that fails is not an error: its result's `outcome`
    /// is `failure_branch` or `abort`. A request that does not parse, a
    /// configuration that breaks the rules or an unusable context is an
    /// `InvalidJourneyStep` error, and nothing changes.
    pub fn run_journey_step(&self, request_json: String) -> Result<String> {
        Ok(crate::run_step_json(&self.inner, &request_json)?)
    }

    /// Sets or removes the lock listener.
    pub fn set_listener(&self, listener: Option<Arc<dyn LockListener>>) {
        self.inner.set_observer(listener.map(observer));
    }

    /// The tenant this engine serves.
    pub fn tenant(&self) -> String {
        self.inner.tenant().to_string()
    }

    /// The current time by the engine's clock (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.inner.now().as_millis()
    }

    /// The policy that applies to `kind` in `app`, if the type has one.
    pub fn policy(&self, kind: AuthenticatorType, app: String) -> Option<Policy> {
        self.inner
            .policies()
            .policy(kind.into(), &app)
            .map(Into::into)
    }

    /// The policies in force, as a JSON policy document.
    pub fn policy_document_json(&self) -> String {
        self.inner.policies().to_json()
    }

    /// Registers an explicitly registered authenticator and returns its ID.
    pub fn register(&self, registration: Registration) -> Result<String> {
        Ok(self.inner.register(&registration.into())?.to_string())
    }

    /// Adds an identifier to a user's profile (creating the user if new) and
    /// returns the IDs of the authenticators it implies (email OTP and
    /// magic link for an email; SMS and direct OTP for a phone number).
    pub fn add_identifier(
        &self,
        user: String,
        identifier: Identifier,
        actor: Actor,
    ) -> Result<Vec<String>> {
        Ok(ids(self.inner.add_identifier(
            &user,
            &identifier.into(),
            &actor.into(),
        )?))
    }

    /// A successful sign-in with a social, OIDC or SAML `account`: registers
    /// the authenticator on first use, then records the success.
    pub fn record_first_use(
        &self,
        user: String,
        kind: AuthenticatorType,
        account: String,
        attempt: Attempt,
    ) -> Result<FirstUse> {
        let (id, outcome) =
            self.inner
                .record_first_use(&user, kind.into(), &account, &attempt.core())?;
        Ok(FirstUse {
            id: id.to_string(),
            outcome: outcome.into(),
        })
    }

    /// May authenticator `id` be used in `app` now? If not, why, and from
    /// when again. A deleted ID answers `Deleted`.
    pub fn check(&self, id: String, app: String) -> Result<Decision> {
        Ok(self.inner.check(&self::id(&id)?, &app)?.into())
    }

    /// Counts a failed attempt. A refused attempt (locked, throttled,
    /// deactivated) counts nothing and says why.
    pub fn record_failure(&self, id: String, attempt: Attempt) -> Result<AttemptOutcome> {
        Ok(self
            .inner
            .record_failure(&self::id(&id)?, &attempt.core())?
            .into())
    }

    /// Records a successful attempt: clears the counter.
    pub fn record_success(&self, id: String, attempt: Attempt) -> Result<AttemptOutcome> {
        Ok(self
            .inner
            .record_success(&self::id(&id)?, &attempt.core())?
            .into())
    }

    /// Counts a failure before the secret is verified; settle the returned
    /// reservation with `commit`.
    pub fn reserve(&self, id: String, attempt: Attempt) -> Result<AttemptOutcome> {
        Ok(self.inner.reserve(&self::id(&id)?, &attempt.core())?.into())
    }

    /// Settles a reservation: `success` refunds the reserved failure and
    /// records the success; otherwise the failure stays counted.
    pub fn commit(
        &self,
        id: String,
        attempt: Attempt,
        reservation: u64,
        success: bool,
    ) -> Result<AttemptOutcome> {
        Ok(self
            .inner
            .commit(&self::id(&id)?, &attempt.core(), reservation, success)?
            .into())
    }

    /// Locks an authenticator by hand in `app`, with an optional reason.
    /// Returns the events (none if it was already locked by hand).
    #[uniffi::method(default(reason = None))]
    pub fn lock(
        &self,
        id: String,
        app: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.lock(
            &self::id(&id)?,
            &app,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Clears the lock and the counter. For a device-user type this applies
    /// to every instance of the same type the user has in `app` (every
    /// passkey, say). Returns the events of the instances that changed.
    #[uniffi::method(default(reason = None))]
    pub fn unlock(
        &self,
        id: String,
        app: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.unlock(
            &self::id(&id)?,
            &app,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Unlocks every instance of `kind` that `user` has in `app`.
    #[uniffi::method(default(reason = None))]
    pub fn unlock_type(
        &self,
        user: String,
        kind: AuthenticatorType,
        app: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.unlock_type(
            &user,
            kind.into(),
            &app,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Deletes the authenticator's instance in `app` (the whole ID when it
    /// was the last one; a deleted ID answers `Deleted` for ever).
    #[uniffi::method(default(reason = None))]
    pub fn delete(
        &self,
        id: String,
        app: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.delete(
            &self::id(&id)?,
            &app,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Deactivates the authenticator in `app` by hand.
    #[uniffi::method(default(reason = None))]
    pub fn deactivate(
        &self,
        id: String,
        app: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.deactivate(
            &self::id(&id)?,
            &app,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Undoes a manual deactivation in `app`.
    #[uniffi::method(default(reason = None))]
    pub fn reactivate(
        &self,
        id: String,
        app: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.reactivate(
            &self::id(&id)?,
            &app,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Suspends a user: every one of the user's authenticators is
    /// Deactivated in every app until `unsuspend_user`.
    #[uniffi::method(default(reason = None))]
    pub fn suspend_user(
        &self,
        user: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.suspend_user(
            &user,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Lifts a user's suspension.
    #[uniffi::method(default(reason = None))]
    pub fn unsuspend_user(
        &self,
        user: String,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Vec<HistoryEvent>> {
        Ok(types::events(self.inner.unsuspend_user(
            &user,
            &actor.into(),
            reason.as_deref(),
        )?))
    }

    /// Whether the user is suspended.
    pub fn is_suspended(&self, user: String) -> Result<bool> {
        Ok(self.inner.is_suspended(&user)?)
    }

    /// A user's authenticators, each listed once, in registration order.
    pub fn authenticators(&self, user: String) -> Result<Vec<AuthenticatorView>> {
        Ok(self
            .inner
            .authenticators(&user)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One authenticator's view.
    pub fn authenticator(&self, id: String) -> Result<AuthenticatorView> {
        Ok(self.inner.authenticator(&self::id(&id)?)?.into())
    }

    /// The users whose profile carries `identifier`.
    pub fn find_users(&self, identifier: Identifier) -> Vec<String> {
        self.inner.find_users(&identifier.into())
    }

    /// The identifiers on a user's profile.
    pub fn identifiers(&self, user: String) -> Result<Vec<Identifier>> {
        Ok(self
            .inner
            .identifiers(&user)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// A user's history: the actions performed on the user and by the user.
    pub fn history(&self, user: String) -> UserHistory {
        self.inner.history(&user).into()
    }

    /// Every event of the tenant, in sequence order.
    pub fn events(&self) -> Vec<HistoryEvent> {
        types::events(self.inner.events())
    }

    /// The whole state as a versioned JSON snapshot.
    pub fn snapshot_json(&self) -> String {
        self.inner.snapshot_json()
    }

    /// Replaces the state with a snapshot's; a bad or corrupt snapshot is
    /// refused and changes nothing.
    pub fn restore_json(&self, snapshot: String) -> Result<()> {
        Ok(self.inner.restore_json(&snapshot)?)
    }
}

/// The helpdesk's Unlock Account flow over one engine: operators, roles,
/// identity stores and their accounts.
///
/// Requests and answers are JSON, as docs/JOURNEYS_AND_HELPDESK.md
/// describes: one request tagged by `op` (`add_account`, `enrol`,
/// `record_login_failure`, `begin_unlock`, `authenticate_user`,
/// `unlock_page`, `unlock`, `history`, ...). A refusal is a
/// `HelpdeskRefused` error whose message names the missing permission or
/// step, and changes nothing.
#[derive(Debug, uniffi::Object)]
pub struct Helpdesk {
    inner: crate::Helpdesk,
}

#[uniffi::export]
impl Helpdesk {
    /// A helpdesk over `engine` with the configuration `config_json` (the
    /// helpdesk configuration as JSON: `stores`, `roles`, `operators`). A
    /// store with an account lockout policy needs the engine built with
    /// that policy for the store's app; otherwise this is refused.
    #[uniffi::constructor]
    pub fn new(engine: Arc<Engine>, config_json: String) -> Result<Arc<Self>> {
        let config = crate::HelpdeskConfig::from_json(&config_json)?;
        Ok(Arc::new(Helpdesk {
            inner: crate::Helpdesk::new(&config, Arc::clone(&engine.inner))?,
        }))
    }

    /// Runs one request (JSON, tagged by `op`) and returns the JSON of its
    /// result (`null` for a request that returns nothing).
    pub fn handle(&self, request_json: String) -> Result<String> {
        Ok(self.inner.handle_json(&request_json)?)
    }
}
