//! The uniffi layer: what Kotlin, Swift and Python see of authlock.
//!
//! A thin wrapper: [`Engine`] wraps the core [`crate::Engine`], and every
//! exported method converts its arguments, makes one call into the core and
//! converts the result. This module decides nothing; the rules are the
//! core's. It owns:
//!
//! - the foreign-facing records and enums ([`Decision`],
//!   [`AuthenticatorView`], [`HistoryEvent`], [`Policy`], ...) and their
//!   conversions, in `types`;
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
    Decision, FirstUse, HistoryEvent, Identifier, IdentifierKind, LockKind, Lockout, Policy,
    Registration, Scope, Status, ThrottleStep, UnifiedStatus, UserHistory,
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
/// Thread-safe: share one engine between threads.
#[derive(uniffi::Object)]
pub struct Engine {
    inner: crate::Engine,
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
        let mut builder = crate::Engine::builder(crate::PolicyDocument::parse(&policy_document)?);
        if let Some(clock) = clock {
            builder = builder.clock(ForeignClock(clock));
        }
        if let Some(listener) = listener {
            builder = builder.observer(observer(listener));
        }
        Ok(Arc::new(Engine {
            inner: builder.build(),
        }))
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
