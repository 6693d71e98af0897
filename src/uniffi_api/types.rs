//! The records and enums the bindings see, and their conversions from and
//! to the core's types.
//!
//! Conversions only: IDs cross as 32 lowercase hex characters, times as
//! milliseconds since the Unix epoch (`i64`, fields ending in `_ms`), and
//! durations as milliseconds (`i64`, fields ending in `_ms`).

use std::time::Duration;

use crate::record::{LockKind as CoreLockKind, Status as CoreStatus};
use crate::store::Recovery as CoreRecovery;
use crate::time::Timestamp;
use crate::types::{AuthenticatorType as CoreAuthenticatorType, Scope as CoreScope};
use crate::view::UnifiedStatus as CoreUnifiedStatus;

/// Unit enums mirrored one to one, converted both ways by exhaustive
/// matches (a new core variant fails to compile here until it is mirrored).
macro_rules! mirror_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident mirrors $core:ident { $( $(#[$vmeta:meta])* $variant:ident ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                match v { $( $core::$variant => $name::$variant ),+ }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                match v { $( $name::$variant => $core::$variant ),+ }
            }
        }
    };
}

mirror_enum! {
    /// The kinds of authenticator.
    pub enum AuthenticatorType mirrors CoreAuthenticatorType {
        /// A password (app-user).
        Password,
        /// A mobile PIN code (device-user).
        Pin,
        /// A WebAuthn passkey (device-user).
        Passkey,
        /// Fingerprint or face unlock on the device (device-user).
        MobileBiometrics,
        /// Server-side face authentication (app-user).
        FaceAuthentication,
        /// A time-based one-time password app (app-user).
        Totp,
        /// A one-time code sent to the profile's email (global-user).
        EmailOtp,
        /// A one-time code sent by SMS to the profile's phone (global-user).
        SmsOtp,
        /// A one-time code the host delivers to the profile's phone (global-user).
        DirectOtp,
        /// A sign-in link sent to the profile's email (global-user).
        EmailMagicLink,
        /// Sign-in with a social provider account (global-user).
        SocialLogin,
        /// Sign-in through an OpenID Connect provider (global-user).
        Oidc,
        /// Sign-in through a SAML identity provider (global-user).
        Saml,
    }
}

mirror_enum! {
    /// How far an authenticator's state reaches.
    pub enum Scope mirrors CoreScope {
        /// One state per user, shared by every app.
        GlobalUser,
        /// One instance per user per app, under one ID.
        AppUser,
        /// One instance, with its own ID, per (device, app).
        DeviceUser,
    }
}

mirror_enum! {
    /// The status of an authenticator in one app.
    pub enum Status mirrors CoreStatus {
        /// Ready, never used successfully.
        Registered,
        /// Used successfully at least once.
        Active,
        /// Locked by a lockout policy or by hand.
        Locked,
        /// Deactivated by an admin, or its user is suspended.
        Deactivated,
    }
}

mirror_enum! {
    /// The status the view shows for an authenticator across its apps.
    pub enum UnifiedStatus mirrors CoreUnifiedStatus {
        /// Registered in every app.
        Registered,
        /// Active in every app.
        Active,
        /// Locked in every app.
        Locked,
        /// Deactivated in every app.
        Deactivated,
        /// The apps disagree (Active in one, Locked in another, ...).
        Mixed,
    }
}

mirror_enum! {
    /// Who put a lock in place.
    pub enum LockKind mirrors CoreLockKind {
        /// The lockout policy, after too many failures.
        Policy,
        /// An admin, helpdesk operator or journey, by hand.
        Manual,
    }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millis()
}

fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

fn duration_ms(d: Duration) -> i64 {
    crate::time::duration_millis(d)
}

fn opt_string(s: Option<impl AsRef<str>>) -> Option<String> {
    s.map(|s| s.as_ref().to_string())
}

/// Whether an authenticator may be used now, and if not, why and until when.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Decision {
    /// It may be used.
    Allowed,
    /// Too many recent failures: the next attempt is allowed from `retry_at_ms`.
    Throttled {
        /// When the next attempt is allowed (ms since the epoch).
        retry_at_ms: i64,
    },
    /// Locked: until `until_ms`, or until unlocked when `until_ms` is absent.
    Locked {
        /// Policy or manual.
        lock: LockKind,
        /// When the lock ends by itself (ms since the epoch); absent until unlocked.
        until_ms: Option<i64>,
        /// The reason given with a manual lock.
        reason: Option<String>,
    },
    /// Deactivated by an admin or by the user's suspension.
    Deactivated,
    /// The authenticator was deleted.
    Deleted,
}

impl From<crate::Decision> for Decision {
    fn from(d: crate::Decision) -> Self {
        use crate::Decision as C;
        match d {
            C::Allowed => Decision::Allowed,
            C::Throttled { retry_at } => Decision::Throttled {
                retry_at_ms: ms(retry_at),
            },
            C::Locked {
                lock,
                until,
                reason,
            } => Decision::Locked {
                lock: lock.into(),
                until_ms: opt_ms(until),
                reason: opt_string(reason),
            },
            C::Deactivated => Decision::Deactivated,
            C::Deleted => Decision::Deleted,
        }
    }
}

/// The result of an attempt (failure, success, reserve or commit).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AttemptOutcome {
    /// Whether the attempt was taken into account; `false` when it was
    /// refused because the authenticator is locked, throttled or
    /// deactivated (nothing was counted then).
    pub accepted: bool,
    /// Whether a failure was counted by this call.
    pub counted: bool,
    /// Failures counted now, after this call.
    pub failures: u32,
    /// The decision for the next attempt (for a refused attempt: why).
    pub decision: Decision,
    /// The reservation made by `reserve`, to pass to `commit`.
    pub reservation: Option<u64>,
}

impl From<crate::AttemptOutcome> for AttemptOutcome {
    fn from(o: crate::AttemptOutcome) -> Self {
        AttemptOutcome {
            accepted: o.accepted,
            counted: o.counted,
            failures: o.failures,
            decision: o.decision.into(),
            reservation: o.reservation,
        }
    }
}

/// The context of an attempt: the app, and optionally the device and the
/// host's fingerprint of the secret tried (never the secret itself).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Attempt {
    /// The app the attempt is made in.
    pub app: String,
    /// The device, if the host knows it (recorded as the last device).
    #[uniffi(default = None)]
    pub device: Option<String>,
    /// The host's fingerprint of the secret (1 to 64 bytes), so that the
    /// same wrong secret repeated counts once.
    #[uniffi(default = None)]
    pub fingerprint: Option<Vec<u8>>,
}

impl Attempt {
    /// The core's view of this attempt, borrowing from it.
    pub(super) fn core(&self) -> crate::Attempt<'_> {
        crate::Attempt {
            app: &self.app,
            device: self.device.as_deref(),
            fingerprint: self.fingerprint.as_deref(),
        }
    }
}

/// Who caused a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Actor {
    /// The end user.
    User {
        /// The user's ID.
        id: String,
    },
    /// A tenant administrator.
    Admin {
        /// The admin's ID.
        id: String,
    },
    /// A helpdesk operator.
    Helpdesk {
        /// The operator's ID.
        id: String,
    },
    /// A journey step.
    Journey {
        /// The journey's name.
        journey: String,
        /// The step's name.
        step: String,
    },
    /// authlock itself: policy locks, expiries, clock corrections.
    System,
}

impl From<Actor> for crate::Actor {
    fn from(a: Actor) -> Self {
        match a {
            Actor::User { id } => crate::Actor::user(&id),
            Actor::Admin { id } => crate::Actor::admin(&id),
            Actor::Helpdesk { id } => crate::Actor::helpdesk(&id),
            Actor::Journey { journey, step } => crate::Actor::journey(&journey, &step),
            Actor::System => crate::Actor::System,
        }
    }
}

impl From<crate::Actor> for Actor {
    fn from(a: crate::Actor) -> Self {
        use crate::Actor as C;
        match a {
            C::User { id } => Actor::User { id: id.to_string() },
            C::Admin { id } => Actor::Admin { id: id.to_string() },
            C::Helpdesk { operator } => Actor::Helpdesk {
                id: operator.to_string(),
            },
            C::Journey { journey, step } => Actor::Journey {
                journey: journey.to_string(),
                step: step.to_string(),
            },
            C::System => Actor::System,
        }
    }
}

/// An explicit registration request (password, PIN, passkey, biometrics,
/// face, TOTP).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Registration {
    /// The user.
    pub user: String,
    /// The type (an explicitly registered one).
    pub kind: AuthenticatorType,
    /// The app it is registered in.
    pub app: String,
    /// The device: required for device-user types, refused otherwise.
    #[uniffi(default = None)]
    pub device: Option<String>,
    /// Credential metadata: a passkey's public key.
    #[uniffi(default = None)]
    pub public_key: Option<String>,
    /// Who registers it (the user when absent).
    #[uniffi(default = None)]
    pub actor: Option<Actor>,
}

impl From<Registration> for crate::Registration {
    fn from(r: Registration) -> Self {
        crate::Registration {
            user: r.user,
            kind: r.kind.into(),
            app: r.app,
            device: r.device,
            public_key: r.public_key,
            actor: r.actor.map(Into::into),
        }
    }
}

/// A kind of user identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum IdentifierKind {
    /// The host's external user ID.
    ExternalId,
    /// An email address (registers email OTP and the email magic link).
    Email,
    /// A phone number (registers SMS OTP and direct OTP).
    Phone,
    /// A username.
    Username,
    /// A custom identifier the tenant defines, by name.
    Custom {
        /// The identifier's name.
        name: String,
    },
}

/// One identifier on a user's profile.
#[derive(Clone, Debug, PartialEq, Eq, Hash, uniffi::Record)]
pub struct Identifier {
    /// Its kind.
    pub kind: IdentifierKind,
    /// Its value.
    pub value: String,
}

impl From<Identifier> for crate::Identifier {
    fn from(i: Identifier) -> Self {
        use crate::IdentifierKind as C;
        crate::Identifier {
            kind: match i.kind {
                IdentifierKind::ExternalId => C::ExternalId,
                IdentifierKind::Email => C::Email,
                IdentifierKind::Phone => C::Phone,
                IdentifierKind::Username => C::Username,
                IdentifierKind::Custom { name } => C::Custom(name),
            },
            value: i.value,
        }
    }
}

impl From<crate::Identifier> for Identifier {
    fn from(i: crate::Identifier) -> Self {
        use crate::IdentifierKind as C;
        Identifier {
            kind: match i.kind {
                C::ExternalId => IdentifierKind::ExternalId,
                C::Email => IdentifierKind::Email,
                C::Phone => IdentifierKind::Phone,
                C::Username => IdentifierKind::Username,
                C::Custom(name) => IdentifierKind::Custom { name },
            },
            value: i.value,
        }
    }
}

/// The result of a first sign-in with a social, OIDC or SAML account.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FirstUse {
    /// The authenticator's ID (registered by this call if it was new).
    pub id: String,
    /// The success recorded.
    pub outcome: AttemptOutcome,
}

/// An authenticator's details in one app.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AppDetail {
    /// The app.
    pub app: String,
    /// Registration in this app (for a global-user type: first use here).
    pub registered_at_ms: i64,
    /// Last successful authentication in this app.
    pub last_success_ms: Option<i64>,
    /// Status in this app now.
    pub status: Status,
    /// Policy or manual, when locked.
    pub lock_kind: Option<LockKind>,
    /// The reason given with a manual lock.
    pub lock_reason: Option<String>,
    /// When a temporary lock ends.
    pub lock_expires_at_ms: Option<i64>,
    /// Failures counted now.
    pub failures: u32,
    /// When the next attempt is allowed, while throttled.
    pub throttled_until_ms: Option<i64>,
}

impl From<crate::AppDetail> for AppDetail {
    fn from(d: crate::AppDetail) -> Self {
        AppDetail {
            app: d.app,
            registered_at_ms: ms(d.registered_at),
            last_success_ms: opt_ms(d.last_success),
            status: d.status.into(),
            lock_kind: d.lock_kind.map(Into::into),
            lock_reason: d.lock_reason,
            lock_expires_at_ms: opt_ms(d.lock_expires_at),
            failures: d.failures,
            throttled_until_ms: opt_ms(d.throttled_until),
        }
    }
}

/// One authenticator as the view lists it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AuthenticatorView {
    /// Its ID.
    pub id: String,
    /// Its type.
    pub kind: AuthenticatorType,
    /// Its scope.
    pub scope: Scope,
    /// The common status of its apps, or Mixed.
    pub status: UnifiedStatus,
    /// Whether it is linked to more than one app.
    pub multiple_apps: bool,
    /// Per-app details, in registration order.
    pub apps: Vec<AppDetail>,
    /// When it was registered.
    pub registered_at_ms: i64,
    /// The last successful login with it, in any app.
    pub last_login_ms: Option<i64>,
    /// The app of that login.
    pub last_app: Option<String>,
    /// The device of that login, if known.
    pub last_device: Option<String>,
    /// Its device (device-user types).
    pub device: Option<String>,
    /// Its email, phone number or provider account (global-user types).
    pub identifier: Option<String>,
    /// Credential metadata: a passkey's public key.
    pub public_key: Option<String>,
}

impl From<crate::AuthenticatorView> for AuthenticatorView {
    fn from(v: crate::AuthenticatorView) -> Self {
        AuthenticatorView {
            id: v.id.to_string(),
            kind: v.kind.into(),
            scope: v.scope.into(),
            status: v.status.into(),
            multiple_apps: v.multiple_apps,
            apps: v.apps.into_iter().map(Into::into).collect(),
            registered_at_ms: ms(v.registered_at),
            last_login_ms: opt_ms(v.last_login),
            last_app: v.last_app,
            last_device: v.last_device,
            device: v.device,
            identifier: v.identifier,
            public_key: v.public_key,
        }
    }
}

/// What happened, in a history event. Each variant is a primitive the
/// engine can apply again.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Action {
    /// A new authenticator ID, or a new app instance of an app-user one.
    Registered {
        /// Its type.
        kind: AuthenticatorType,
        /// Its device (device-user).
        device: Option<String>,
        /// The email, phone or provider account (global-user).
        identifier: Option<String>,
        /// Credential metadata (a passkey's public key).
        public_key: Option<String>,
        /// The ID of the device-user instance this registration replaces.
        replaces: Option<String>,
    },
    /// A failed attempt; `counted` is false for a repeated wrong secret.
    Failure {
        /// The wrong secret's fingerprint.
        fingerprint: Option<Vec<u8>>,
        /// Whether it counted towards the lockout.
        counted: bool,
    },
    /// A successful attempt.
    Success {
        /// The device used, if the host said.
        device: Option<String>,
    },
    /// A failure counted before verification.
    Reserved {
        /// The reservation's number.
        reservation: u64,
        /// The fingerprint of the secret being verified.
        fingerprint: Option<Vec<u8>>,
        /// Whether it counted (a repeated wrong secret does not).
        counted: bool,
    },
    /// The outcome of a reserved attempt.
    Committed {
        /// The reservation's number.
        reservation: u64,
        /// Whether the secret was right (the failure is refunded).
        success: bool,
        /// The device used, if the host said.
        device: Option<String>,
    },
    /// A lock began.
    Locked {
        /// Policy or manual.
        lock: LockKind,
        /// When it ends by itself (ms since the epoch); absent until unlocked.
        until_ms: Option<i64>,
    },
    /// A temporary lock ended by itself (found at the next call).
    LockExpired,
    /// The lock and the counter were cleared.
    Unlocked {
        /// Whether a lock was in place (otherwise only the counter was reset).
        cleared_lock: bool,
    },
    /// A policy lock caused by a reserved failure was lifted because the
    /// reservation was committed as a success.
    LockRefunded,
    /// A change was made with the clock behind the record's latest time, which it carries.
    ClockRewound,
    /// The registration was removed.
    Deleted {
        /// The ID of the registration that replaced it, if any.
        replaced_by: Option<String>,
    },
    /// Deactivated by an admin.
    Deactivated,
    /// Reactivated by an admin.
    Reactivated,
    /// Deactivated because its user was suspended (or the user itself).
    Suspended,
    /// Restored because its user was unsuspended (or the user itself).
    Unsuspended,
    /// An identifier was added to the user's profile.
    IdentifierAdded {
        /// The identifier.
        identifier: Identifier,
    },
}

impl From<crate::Action> for Action {
    fn from(a: crate::Action) -> Self {
        use crate::Action as C;
        let bytes = |f: Option<crate::Fingerprint>| f.map(|f| f.as_bytes().to_vec());
        match a {
            C::Registered(r) => {
                let crate::history::Registered {
                    kind,
                    device,
                    identifier,
                    public_key,
                    replaces,
                } = *r;
                Action::Registered {
                    kind: kind.into(),
                    device: opt_string(device),
                    identifier: opt_string(identifier),
                    public_key: opt_string(public_key),
                    replaces: replaces.map(|id| id.to_string()),
                }
            }
            C::Failure {
                fingerprint,
                counted,
            } => Action::Failure {
                fingerprint: bytes(fingerprint),
                counted,
            },
            C::Success { device } => Action::Success {
                device: opt_string(device),
            },
            C::Reserved {
                reservation,
                fingerprint,
                counted,
            } => Action::Reserved {
                reservation,
                fingerprint: bytes(fingerprint),
                counted,
            },
            C::Committed {
                reservation,
                success,
                device,
            } => Action::Committed {
                reservation,
                success,
                device: opt_string(device),
            },
            C::Locked { lock, until } => Action::Locked {
                lock: lock.into(),
                until_ms: opt_ms(until),
            },
            C::LockExpired => Action::LockExpired,
            C::Unlocked { cleared_lock } => Action::Unlocked { cleared_lock },
            C::LockRefunded => Action::LockRefunded,
            C::ClockRewound => Action::ClockRewound,
            C::Deleted { replaced_by } => Action::Deleted {
                replaced_by: replaced_by.map(|id| id.to_string()),
            },
            C::Deactivated => Action::Deactivated,
            C::Reactivated => Action::Reactivated,
            C::Suspended => Action::Suspended,
            C::Unsuspended => Action::Unsuspended,
            C::IdentifierAdded { identifier } => Action::IdentifierAdded {
                identifier: identifier.into(),
            },
        }
    }
}

/// One entry of the history.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEvent {
    /// Position in the tenant's history, from 1, without gaps.
    pub seq: u64,
    /// When it happened (ms since the epoch, by the engine's clock).
    pub time_ms: i64,
    /// The tenant.
    pub tenant: String,
    /// The app of the call, where there is one.
    pub app: Option<String>,
    /// Who caused it.
    pub actor: Actor,
    /// The user it happened to.
    pub user: String,
    /// The authenticator's ID, for authenticator events.
    pub authenticator: Option<String>,
    /// What happened.
    pub action: Action,
    /// The reason given (a lock reason, a deactivation reason, ...).
    pub reason: Option<String>,
    /// Status before, in the event's app (absent when it did not exist).
    pub before: Option<Status>,
    /// Status after (absent when it no longer exists).
    pub after: Option<Status>,
}

impl From<crate::Event> for HistoryEvent {
    fn from(e: crate::Event) -> Self {
        HistoryEvent {
            seq: e.seq,
            time_ms: ms(e.time),
            tenant: e.tenant.to_string(),
            app: opt_string(e.app),
            actor: e.actor.into(),
            user: e.user.to_string(),
            authenticator: e.authenticator.map(|id| id.to_string()),
            action: e.action.into(),
            reason: opt_string(e.reason),
            before: e.before.map(Into::into),
            after: e.after.map(Into::into),
        }
    }
}

/// Converts the core's events, in order.
pub(super) fn events(events: Vec<crate::Event>) -> Vec<HistoryEvent> {
    events.into_iter().map(Into::into).collect()
}

/// A user's history: the actions performed on the user and by the user.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct UserHistory {
    /// Events whose subject is the user.
    pub on_user: Vec<HistoryEvent>,
    /// Events the user caused (as user, admin or helpdesk operator),
    /// including on other users.
    pub by_user: Vec<HistoryEvent>,
}

impl From<crate::UserHistory> for UserHistory {
    fn from(h: crate::UserHistory) -> Self {
        UserHistory {
            on_user: events(h.on_user),
            by_user: events(h.by_user),
        }
    }
}

/// How long a policy lock lasts.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Lockout {
    /// The lock ends by itself. The n-th successive lockout (from 0) lasts
    /// `min(max_duration, duration × factorⁿ + increment × n)`.
    Temporary {
        /// The first lockout's length (ms).
        duration_ms: i64,
        /// Multiplier per earlier lockout (1 = no multiplicative growth).
        factor: u32,
        /// Added per earlier lockout (ms).
        increment_ms: i64,
        /// Upper bound of a grown lockout (ms).
        max_duration_ms: Option<i64>,
    },
    /// Only a manual unlock ends the lock.
    UntilUnlocked,
}

/// After `after_failures` consecutive failures, the next attempt waits
/// `delay_ms` from the last failure.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ThrottleStep {
    /// Number of consecutive failures from which this delay applies.
    pub after_failures: u32,
    /// The wait imposed after each such failure (ms).
    pub delay_ms: i64,
}

/// One type's lockout policy, as the engine applies it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Policy {
    /// Consecutive counted failures that lock (1 to 100).
    pub max_failures: u32,
    /// Failures older than this stop counting (ms); absent: every failure
    /// since the last reset counts.
    pub failure_window_ms: Option<i64>,
    /// What a policy lock does.
    pub lockout: Lockout,
    /// After this many temporary lockouts, the next is until-unlocked.
    pub max_temporary_lockouts: Option<u32>,
    /// Delays before the hard lock, by number of consecutive failures.
    pub throttle: Vec<ThrottleStep>,
}

impl From<&crate::Policy> for Policy {
    fn from(p: &crate::Policy) -> Self {
        Policy {
            max_failures: p.max_failures,
            failure_window_ms: p.failure_window.map(duration_ms),
            lockout: match &p.lockout {
                crate::Lockout::Temporary {
                    duration,
                    factor,
                    increment,
                    max_duration,
                } => Lockout::Temporary {
                    duration_ms: duration_ms(*duration),
                    factor: *factor,
                    increment_ms: duration_ms(*increment),
                    max_duration_ms: max_duration.map(duration_ms),
                },
                crate::Lockout::UntilUnlocked => Lockout::UntilUnlocked,
            },
            max_temporary_lockouts: p.max_temporary_lockouts,
            throttle: p
                .throttle
                .iter()
                .map(|s| ThrottleStep {
                    after_failures: s.after_failures,
                    delay_ms: duration_ms(s.delay),
                })
                .collect(),
        }
    }
}

/// When a store's journal writes reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Durability {
    /// Each call's events are synced before it returns.
    Sync,
    /// Group commit: synced at most every `max_delay_ms` milliseconds or
    /// every `max_events` events; reservations are always synced at once.
    /// Both must be above zero.
    Batched {
        /// The longest time an event stays unsynced, in milliseconds.
        max_delay_ms: u64,
        /// The most events that stay unsynced.
        max_events: u64,
    },
    /// Buffered, never synced: a killed process loses the buffer (tests and
    /// simulations).
    None,
}

impl From<Durability> for crate::Durability {
    fn from(d: Durability) -> Self {
        match d {
            Durability::Sync => crate::Durability::Sync,
            Durability::Batched {
                max_delay_ms,
                max_events,
            } => crate::Durability::Batched {
                max_delay: Duration::from_millis(max_delay_ms),
                // Above `usize::MAX` (32-bit hosts) the count cannot be
                // reached anyway: the delay bounds the batch.
                max_events: usize::try_from(max_events).unwrap_or(usize::MAX),
            },
            Durability::None => crate::Durability::None,
        }
    }
}

mirror_enum! {
    /// What to do when a store's newest snapshot is corrupt.
    pub enum Recovery mirrors CoreRecovery {
        /// Refuse to open, with an error that says what is wrong.
        Strict,
        /// Open from the previous snapshot and the journal after it.
        PreviousSnapshot,
    }
}

/// How to open a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StoreOptions {
    /// When writes reach the disk.
    pub durability: Durability,
    /// What to do with a corrupt newest snapshot.
    pub recovery: Recovery,
    /// Create the directory if it does not exist. Off by default: a
    /// mistyped path must not silently start a fresh store with fresh
    /// attempts.
    #[uniffi(default = false)]
    pub create: bool,
    /// Compact after this many events since the last snapshot; `None`
    /// compacts only on `compact()`.
    #[uniffi(default = Some(100000))]
    pub compact_every: Option<u64>,
}

impl From<StoreOptions> for crate::StoreOptions {
    fn from(o: StoreOptions) -> Self {
        crate::StoreOptions {
            durability: o.durability.into(),
            create: o.create,
            recovery: o.recovery.into(),
            compact_every: o.compact_every,
        }
    }
}

/// What opening a store found.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OpenReport {
    /// The sequence number of the snapshot loaded (0: none).
    pub snapshot_seq: u64,
    /// Events replayed from the journal.
    pub replayed_events: u64,
    /// Bytes dropped from the end of the journal (a torn last write).
    pub dropped_tail_bytes: u64,
    /// Whether the newest snapshot was corrupt and the previous one used.
    pub used_previous_snapshot: bool,
}

/// How a store's compactions went (`Engine.store_status()`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StoreStatus {
    /// The sequence number of the newest snapshot written or loaded (0: none).
    pub snapshot_seq: u64,
    /// Compactions that wrote a snapshot since the store was opened.
    pub compactions: u64,
    /// Compactions that failed since the store was opened. A failed
    /// compaction does not stop the engine (the journal keeps every event);
    /// it is tried again after another `compact_every` events.
    pub failed_compactions: u64,
    /// Why the latest compaction failed, if it did.
    pub last_error: Option<String>,
}

impl From<crate::StoreStatus> for StoreStatus {
    fn from(s: crate::StoreStatus) -> Self {
        StoreStatus {
            snapshot_seq: s.snapshot_seq,
            compactions: s.compactions,
            failed_compactions: s.failed_compactions,
            last_error: s.last_error,
        }
    }
}

impl From<crate::OpenReport> for OpenReport {
    fn from(r: crate::OpenReport) -> Self {
        OpenReport {
            snapshot_seq: r.snapshot_seq,
            replayed_events: r.replayed_events,
            dropped_tail_bytes: r.dropped_tail_bytes,
            used_previous_snapshot: r.used_previous_snapshot,
        }
    }
}
