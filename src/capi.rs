//! The C ABI: the engine for C and for any language with a C FFI (iOS and
//! Android native code, backends in other languages).
//!
//! This module is the only place in the crate that may use `unsafe`, and it
//! decides nothing: every function converts its arguments, makes one call
//! into [`Engine`], and converts the result. `include/authlock.h` is
//! generated from this file by cbindgen (`cbindgen.toml` at the crate root),
//! so the doc comments below are the header's documentation.
//!
//! # Conventions
//!
//! - Every fallible function returns an [`authlock_status`]; results go out
//!   through out-parameters, which are written only when the status is
//!   `AUTHLOCK_STATUS_OK`. All pointers are checked before anything changes,
//!   so a call refused for a bad argument has changed nothing.
//! - No panic crosses the boundary: every entry point runs inside
//!   [`std::panic::catch_unwind`]; a caught panic becomes
//!   `AUTHLOCK_STATUS_PANIC`.
//! - Strings are NUL-terminated UTF-8. Authenticator IDs cross as strings of
//!   32 lowercase hex digits; functions that produce an ID write it, with its
//!   NUL, into a caller buffer of `AUTHLOCK_ID_SIZE` bytes. The hot-path
//!   calls also come with an `_id` suffix taking the ID as an
//!   [`authlock_id`] (16 bytes, by value), which spares each call parsing
//!   the text; both forms share one body.
//! - Time crosses as `int64_t` milliseconds since the Unix epoch.
//! - Strings the library hands out are owned by the caller and freed with
//!   `authlock_string_free`; the engine handle (a boxed [`Engine`], shared
//!   by reference between threads, since every engine operation takes
//!   `&self`) is freed with `authlock_engine_free`; a helpdesk handle (a
//!   boxed [`Helpdesk`] bound to an engine) with `authlock_helpdesk_free`;
//!   static and thread-local strings are never freed.
//! - Journey steps and the helpdesk take and give JSON documents: one call
//!   of [`run_step_json`] or [`Helpdesk::handle_json`] each.
//!
//! All raw-pointer handling sits in the few helpers at the end of this file
//! (`try_ref`, `c_str`, `try_bytes`, `Out`, `free_box`,
//! `free_c_string`); the only other `unsafe` is the promise, made by the
//! header, that callback `user_data` may be used from any thread.

#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{Attempt, Engine, Identifier, Observer, Registration};
use crate::error::Error;
use crate::helpdesk::{Helpdesk, HelpdeskConfig, HelpdeskError};
use crate::history::{Action, Actor, Event};
use crate::ids::AuthenticatorId;
use crate::journey::{JourneyError, run_step_json};
use crate::policy::PolicyDocument;
use crate::record::LockKind;
use crate::store::{Durability, Recovery, StoreOptions};
use crate::time::{Clock, Timestamp};
use crate::transition::{AttemptOutcome, Decision};
use crate::types::AuthenticatorType;

// ---------------------------------------------------------------------------
// Status codes
// ---------------------------------------------------------------------------

/// The result of every fallible authlock function.
///
/// Numbered in blocks of a thousand per family: 0 is success; 1xxx, an
/// argument the caller passed is unusable; 2xxx, the thing named does not
/// exist (or no longer does, or already does); 3xxx, the authenticator's
/// type does not support the operation; 4xxx, the app of the call is not
/// one the authenticator is used in;
/// 5xxx, a configuration document (policies, a journey step, the helpdesk)
/// is invalid; 6xxx, a snapshot or history document is refused; 7xxx, an
/// internal error; 8xxx, the durable store failed; 9xxx, the helpdesk
/// refused a step of its flow (a permission, an authentication or an
/// enrolment is missing). A number, once given, is never reused for
/// another meaning.
///
/// `authlock_status_message` gives a fixed description of each value;
/// `authlock_last_error_message` gives the details of the calling thread's
/// last failure.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum authlock_status {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL was NULL.
    NullParameter = 1000,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 1001,
    /// An argument is malformed: empty, too long, with control characters,
    /// a fingerprint of the wrong length, a device given where none belongs.
    InvalidArgument = 1002,
    /// A string that should be an authenticator ID is not 32 lowercase hex
    /// digits.
    InvalidId = 1003,
    /// A number that should be one of the header's `AUTHLOCK_TYPE_*`,
    /// `AUTHLOCK_IDENTIFIER_*`, `AUTHLOCK_ACTOR_*`, `AUTHLOCK_DURABILITY_*`
    /// or `AUTHLOCK_RECOVERY_*` constants is not.
    InvalidKind = 1004,
    /// A JSON request (a journey step request, a helpdesk request) does not
    /// parse or does not have the request's shape: an unknown field or
    /// operation, a missing or mistyped field.
    InvalidRequest = 1005,
    /// No authenticator has this ID.
    NotFound = 2000,
    /// The authenticator was deleted (or replaced by a new registration).
    Deleted = 2001,
    /// The user is not known: nothing was ever registered for it.
    UnknownUser = 2002,
    /// The user already has this authenticator type in this app.
    AlreadyRegistered = 2003,
    /// The reservation passed to commit is not outstanding.
    UnknownReservation = 2004,
    /// The helpdesk has no such operator, identity store or account.
    HelpdeskNotFound = 2005,
    /// There is no open helpdesk unlock session with this number (never
    /// opened, finished, cancelled, or closed as the operator's oldest).
    UnknownSession = 2006,
    /// The helpdesk account exists already.
    AccountExists = 2007,
    /// The authenticator's type does not support the operation (a manual
    /// lock of an OTP, a failure counted on a social login, ...).
    Unsupported = 3000,
    /// The authenticator has no instance in the app named by the call.
    WrongApp = 4000,
    /// The policy document does not parse or does not validate.
    InvalidPolicy = 5000,
    /// A journey step configuration does not parse or breaks the rules
    /// (every problem is listed, with its field).
    InvalidStepConfig = 5001,
    /// The helpdesk configuration does not parse or breaks the rules, or
    /// the engine was not built with its stores' account lockout policies.
    InvalidHelpdeskConfig = 5002,
    /// The snapshot is corrupt, of another format or version, or of another
    /// tenant.
    InvalidSnapshot = 6000,
    /// The history document is refused.
    InvalidHistory = 6001,
    /// An internal error (a result that could not be encoded).
    Internal = 7000,
    /// A panic was caught at the boundary; the details are in
    /// `authlock_last_error_message`.
    Panic = 7001,
    /// The durable store failed (I/O error, directory in use, corrupt
    /// files); after a write failure the engine refuses every call.
    Storage = 8000,
    /// The operator's role lacks a permission (Unlock Account, Unlock Any
    /// Account) or the mode it needs (an unenrolled user's account needs
    /// the unrestricted mode).
    HelpdeskPermissionDenied = 9000,
    /// Restricted mode: the user must first be authenticated with one of
    /// their enrolled types.
    HelpdeskAuthenticationRequired = 9001,
    /// The user is not enrolled with the authentication type given, or with
    /// none.
    HelpdeskNotEnrolled = 9002,
    /// The selection is empty, or an account selected is not one the
    /// Unlock page offers (not locked, or not the dialog's account or
    /// linked to it).
    HelpdeskNotUnlockable = 9003,
    /// The unlock session was opened by another operator.
    HelpdeskSessionOfAnotherOperator = 9004,
    /// Two accounts cannot be linked or unlinked (the same store, already
    /// linked, not linked).
    HelpdeskLinkRefused = 9005,
}

impl authlock_status {
    /// Every status, in numeric order.
    pub fn all() -> [authlock_status; 31] {
        [
            authlock_status::Ok,
            authlock_status::NullParameter,
            authlock_status::InvalidUtf8,
            authlock_status::InvalidArgument,
            authlock_status::InvalidId,
            authlock_status::InvalidKind,
            authlock_status::InvalidRequest,
            authlock_status::NotFound,
            authlock_status::Deleted,
            authlock_status::UnknownUser,
            authlock_status::AlreadyRegistered,
            authlock_status::UnknownReservation,
            authlock_status::HelpdeskNotFound,
            authlock_status::UnknownSession,
            authlock_status::AccountExists,
            authlock_status::Unsupported,
            authlock_status::WrongApp,
            authlock_status::InvalidPolicy,
            authlock_status::InvalidStepConfig,
            authlock_status::InvalidHelpdeskConfig,
            authlock_status::InvalidSnapshot,
            authlock_status::InvalidHistory,
            authlock_status::Internal,
            authlock_status::Panic,
            authlock_status::Storage,
            authlock_status::HelpdeskPermissionDenied,
            authlock_status::HelpdeskAuthenticationRequired,
            authlock_status::HelpdeskNotEnrolled,
            authlock_status::HelpdeskNotUnlockable,
            authlock_status::HelpdeskSessionOfAnotherOperator,
            authlock_status::HelpdeskLinkRefused,
        ]
    }

    /// The status with number `n`, if there is one.
    pub fn from_u32(n: u32) -> Option<authlock_status> {
        use authlock_status as S;
        Some(match n {
            0 => S::Ok,
            1000 => S::NullParameter,
            1001 => S::InvalidUtf8,
            1002 => S::InvalidArgument,
            1003 => S::InvalidId,
            1004 => S::InvalidKind,
            1005 => S::InvalidRequest,
            2000 => S::NotFound,
            2001 => S::Deleted,
            2002 => S::UnknownUser,
            2003 => S::AlreadyRegistered,
            2004 => S::UnknownReservation,
            2005 => S::HelpdeskNotFound,
            2006 => S::UnknownSession,
            2007 => S::AccountExists,
            3000 => S::Unsupported,
            4000 => S::WrongApp,
            5000 => S::InvalidPolicy,
            5001 => S::InvalidStepConfig,
            5002 => S::InvalidHelpdeskConfig,
            6000 => S::InvalidSnapshot,
            6001 => S::InvalidHistory,
            7000 => S::Internal,
            7001 => S::Panic,
            8000 => S::Storage,
            9000 => S::HelpdeskPermissionDenied,
            9001 => S::HelpdeskAuthenticationRequired,
            9002 => S::HelpdeskNotEnrolled,
            9003 => S::HelpdeskNotUnlockable,
            9004 => S::HelpdeskSessionOfAnotherOperator,
            9005 => S::HelpdeskLinkRefused,
            _ => return None,
        })
    }

    /// The fixed description of this status.
    pub fn message(self) -> &'static CStr {
        use authlock_status as S;
        match self {
            S::Ok => c"success",
            S::NullParameter => c"a required pointer argument was NULL",
            S::InvalidUtf8 => c"a string argument is not valid UTF-8",
            S::InvalidArgument => c"an argument is malformed (empty, too long, control characters, wrong length or not allowed here)",
            S::InvalidId => c"an authenticator ID must be 32 lowercase hex digits",
            S::InvalidKind => c"a type, identifier kind, actor kind, durability or recovery mode number is not one of the header's constants",
            S::InvalidRequest => c"a JSON request does not parse or does not have the request's shape",
            S::NotFound => c"no authenticator has this ID",
            S::Deleted => c"the authenticator was deleted",
            S::UnknownUser => c"the user is not known",
            S::AlreadyRegistered => c"the user already has this authenticator type in this app",
            S::UnknownReservation => c"the reservation is not outstanding",
            S::HelpdeskNotFound => c"the helpdesk has no such operator, identity store or account",
            S::UnknownSession => c"there is no open helpdesk unlock session with this number",
            S::AccountExists => c"the helpdesk account exists already",
            S::Unsupported => c"the authenticator's type does not support this operation",
            S::WrongApp => c"the authenticator has no instance in this app",
            S::InvalidPolicy => c"the policy document is invalid",
            S::InvalidStepConfig => c"the journey step configuration is invalid",
            S::InvalidHelpdeskConfig => c"the helpdesk configuration is invalid",
            S::InvalidSnapshot => c"the snapshot is refused",
            S::InvalidHistory => c"the history document is refused",
            S::Internal => c"internal error",
            S::Panic => c"internal error: a panic was caught at the C boundary",
            S::Storage => c"the durable store failed",
            S::HelpdeskPermissionDenied => c"the helpdesk operator's role lacks a permission or mode this needs",
            S::HelpdeskAuthenticationRequired => c"the helpdesk operator must authenticate the user first",
            S::HelpdeskNotEnrolled => c"the user is not enrolled with this authentication type",
            S::HelpdeskNotUnlockable => c"the selection is empty or names an account the Unlock page does not offer",
            S::HelpdeskSessionOfAnotherOperator => c"the unlock session was opened by another operator",
            S::HelpdeskLinkRefused => c"the accounts cannot be linked or unlinked",
        }
    }
}

/// An error of the library, whichever part reported it.
#[derive(Clone, Copy, Debug)]
enum LibraryError<'a> {
    Engine(&'a Error),
    Journey(&'a JourneyError),
    Helpdesk(&'a HelpdeskError),
}

/// The one place that decides which status each library error becomes.
fn status_of(error: LibraryError<'_>) -> authlock_status {
    use HelpdeskError as H;
    use JourneyError as J;
    use LibraryError as L;
    use authlock_status as S;
    match error {
        L::Engine(Error::NotFound { .. }) => S::NotFound,
        L::Engine(Error::Deleted { .. }) => S::Deleted,
        L::Engine(Error::Unsupported { .. }) => S::Unsupported,
        L::Engine(Error::WrongApp { .. }) => S::WrongApp,
        L::Engine(Error::UnknownUser { .. }) => S::UnknownUser,
        L::Engine(Error::AlreadyRegistered { .. }) => S::AlreadyRegistered,
        L::Engine(Error::UnknownReservation { .. }) => S::UnknownReservation,
        L::Engine(Error::InvalidArgument { .. }) => S::InvalidArgument,
        L::Engine(Error::Policy(_)) => S::InvalidPolicy,
        L::Engine(Error::Snapshot(_)) => S::InvalidSnapshot,
        L::Engine(Error::History(_)) => S::InvalidHistory,
        L::Engine(Error::Storage(_)) => S::Storage,
        L::Journey(J::Parse { .. } | J::InvalidConfig(_)) => S::InvalidStepConfig,
        L::Journey(J::InvalidContext { .. }) => S::InvalidArgument,
        L::Journey(J::InvalidRequest { .. }) => S::InvalidRequest,
        L::Helpdesk(H::MissingPermission { .. } | H::UnrestrictedModeRequired { .. }) => {
            S::HelpdeskPermissionDenied
        }
        L::Helpdesk(H::AuthenticationRequired { .. }) => S::HelpdeskAuthenticationRequired,
        L::Helpdesk(H::NotEnrolledWith { .. } | H::NotEnrolled { .. }) => S::HelpdeskNotEnrolled,
        L::Helpdesk(H::NotOnUnlockPage { .. } | H::NothingSelected) => S::HelpdeskNotUnlockable,
        L::Helpdesk(H::SessionOfAnotherOperator { .. }) => S::HelpdeskSessionOfAnotherOperator,
        L::Helpdesk(H::LinkRefused { .. }) => S::HelpdeskLinkRefused,
        L::Helpdesk(H::UnknownSession { .. }) => S::UnknownSession,
        L::Helpdesk(
            H::UnknownOperator { .. } | H::UnknownStore { .. } | H::UnknownAccount { .. },
        ) => S::HelpdeskNotFound,
        L::Helpdesk(H::AccountExists { .. }) => S::AccountExists,
        L::Helpdesk(H::InvalidArgument { .. }) => S::InvalidArgument,
        L::Helpdesk(H::InvalidConfig(_)) => S::InvalidHelpdeskConfig,
        L::Helpdesk(H::InvalidRequest { .. }) => S::InvalidRequest,
        L::Helpdesk(H::Engine(e)) => status_of(L::Engine(e)),
    }
}

// ---------------------------------------------------------------------------
// Constants and plain C types
// ---------------------------------------------------------------------------

/// Bytes in a buffer that receives an authenticator ID: 32 hex digits and
/// the terminating NUL.
pub const AUTHLOCK_ID_SIZE: usize = 33;

/// Bytes in an `authlock_id`: the 128 bits of an authenticator ID.
pub const AUTHLOCK_ID_BYTES: usize = 16;

/// An authenticator ID as 16 bytes: the binary form of the 32 hex digits,
/// for the hot path, where it spares every call parsing the text.
///
/// `bytes` holds the ID's 128 bits most significant byte first, so
/// `bytes[0]` is the value of the first two hex digits and
/// `bytes[15]` that of the last two. Every value of the 16 bytes is a
/// well-formed ID (one no authenticator has is `AUTHLOCK_STATUS_NOT_FOUND`
/// when used); two IDs are equal exactly when their bytes are
/// (`memcmp`). Plain data, passed by value: nothing to free. Convert with
/// `authlock_id_parse` (text to struct) and `authlock_id_format` (struct to
/// text).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct authlock_id {
    /// The ID's bits, big-endian.
    pub bytes: [u8; AUTHLOCK_ID_BYTES],
}

impl From<AuthenticatorId> for authlock_id {
    fn from(id: AuthenticatorId) -> authlock_id {
        authlock_id {
            bytes: id.as_u128().to_be_bytes(),
        }
    }
}

impl From<authlock_id> for AuthenticatorId {
    fn from(id: authlock_id) -> AuthenticatorId {
        AuthenticatorId::from_u128(u128::from_be_bytes(id.bytes))
    }
}

/// The longest fingerprint of a wrong secret accepted, in bytes.
pub const AUTHLOCK_FINGERPRINT_MAX_LEN: usize = 64;

/// An authenticator type: one of the `AUTHLOCK_TYPE_*` constants.
pub type authlock_authenticator_type = u32;
/// A password (app-user, registered explicitly).
pub const AUTHLOCK_TYPE_PASSWORD: authlock_authenticator_type = 0;
/// A mobile PIN code (device-user, registered explicitly with a device).
pub const AUTHLOCK_TYPE_PIN: authlock_authenticator_type = 1;
/// A WebAuthn passkey (device-user, registered explicitly with a device).
pub const AUTHLOCK_TYPE_PASSKEY: authlock_authenticator_type = 2;
/// Mobile biometrics (device-user, registered explicitly with a device).
pub const AUTHLOCK_TYPE_MOBILE_BIOMETRICS: authlock_authenticator_type = 3;
/// Server-side face authentication (app-user, registered explicitly).
pub const AUTHLOCK_TYPE_FACE_AUTHENTICATION: authlock_authenticator_type = 4;
/// A TOTP app (app-user, registered explicitly).
pub const AUTHLOCK_TYPE_TOTP: authlock_authenticator_type = 5;
/// A code sent to the profile's email (global-user, registered by an email
/// identifier).
pub const AUTHLOCK_TYPE_EMAIL_OTP: authlock_authenticator_type = 6;
/// A code sent by SMS (global-user, registered by a phone identifier).
pub const AUTHLOCK_TYPE_SMS_OTP: authlock_authenticator_type = 7;
/// A code the host delivers to the profile's phone itself (global-user,
/// registered by a phone identifier).
pub const AUTHLOCK_TYPE_DIRECT_OTP: authlock_authenticator_type = 8;
/// A sign-in link sent to the profile's email (global-user, registered by
/// an email identifier).
pub const AUTHLOCK_TYPE_EMAIL_MAGIC_LINK: authlock_authenticator_type = 9;
/// A social provider account (global-user, registered on first use).
pub const AUTHLOCK_TYPE_SOCIAL_LOGIN: authlock_authenticator_type = 10;
/// An OpenID Connect provider (global-user, registered on first use).
pub const AUTHLOCK_TYPE_OIDC: authlock_authenticator_type = 11;
/// A SAML identity provider (global-user, registered on first use).
pub const AUTHLOCK_TYPE_SAML: authlock_authenticator_type = 12;

/// A kind of user identifier: one of the `AUTHLOCK_IDENTIFIER_*` constants.
pub type authlock_identifier_kind = u32;
/// The host's external user ID.
pub const AUTHLOCK_IDENTIFIER_EXTERNAL_ID: authlock_identifier_kind = 0;
/// An email address (registers email OTP and the email magic link).
pub const AUTHLOCK_IDENTIFIER_EMAIL: authlock_identifier_kind = 1;
/// A phone number (registers SMS OTP and direct OTP).
pub const AUTHLOCK_IDENTIFIER_PHONE: authlock_identifier_kind = 2;
/// A username.
pub const AUTHLOCK_IDENTIFIER_USERNAME: authlock_identifier_kind = 3;
/// A tenant-defined identifier, named by `custom_name`.
pub const AUTHLOCK_IDENTIFIER_CUSTOM: authlock_identifier_kind = 4;

/// Who acts: one of the `AUTHLOCK_ACTOR_*` constants.
pub type authlock_actor_kind = u32;
/// The end user; `id` is the user's ID.
pub const AUTHLOCK_ACTOR_USER: authlock_actor_kind = 0;
/// A tenant administrator; `id` is the admin's ID.
pub const AUTHLOCK_ACTOR_ADMIN: authlock_actor_kind = 1;
/// A helpdesk operator; `id` is the operator's ID.
pub const AUTHLOCK_ACTOR_HELPDESK: authlock_actor_kind = 2;
/// A journey step; `id` is the journey's name and `step` the step's.
pub const AUTHLOCK_ACTOR_JOURNEY: authlock_actor_kind = 3;
/// authlock itself; `id` and `step` are ignored.
pub const AUTHLOCK_ACTOR_SYSTEM: authlock_actor_kind = 4;

/// Who performs an action; recorded in the history.
///
/// The strings are borrowed for the duration of the call only. `step` is
/// read for `AUTHLOCK_ACTOR_JOURNEY` only, `id` for every kind but
/// `AUTHLOCK_ACTOR_SYSTEM`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct authlock_actor {
    /// One of the `AUTHLOCK_ACTOR_*` constants.
    pub kind: authlock_actor_kind,
    /// The person's ID, or the journey's name.
    pub id: *const c_char,
    /// The journey step's name.
    pub step: *const c_char,
}

/// Whether an authenticator may be used now.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum authlock_verdict {
    /// It may be used.
    Allowed = 0,
    /// Too many recent failures: wait until `retry_at_ms`.
    Throttled = 1,
    /// Locked, by the lockout policy or by hand.
    Locked = 2,
    /// Deactivated by an admin, or its user is suspended.
    Deactivated = 3,
    /// The authenticator was deleted.
    Deleted = 4,
}

/// Why an authenticator may not be used.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum authlock_reason {
    /// Nothing stands in the way (the verdict is allowed).
    None = 0,
    /// Recent failures impose a wait (a throttle step).
    RecentFailures = 1,
    /// The lockout policy locked it after too many failures.
    PolicyLock = 2,
    /// An admin, helpdesk operator or journey locked it by hand.
    ManualLock = 3,
    /// It is deactivated.
    Deactivated = 4,
    /// It was deleted.
    Deleted = 5,
}

/// A decision, as plain data (no pointer, nothing to free).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct authlock_decision {
    /// May it be used now?
    pub verdict: authlock_verdict,
    /// If not, why.
    pub reason: authlock_reason,
    /// Whether `retry_at_ms` is set: for a throttle and a temporary lock.
    pub has_retry_at: bool,
    /// When the next attempt is allowed (ms since the Unix epoch); 0 when
    /// `has_retry_at` is false.
    pub retry_at_ms: i64,
    /// Whether a manual lock carries a reason text (read it in the
    /// authenticator's JSON view).
    pub has_lock_reason: bool,
}

/// The outcome of an attempt (failure, success, reserve, commit), as plain
/// data.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct authlock_outcome {
    /// False when the attempt was refused because the authenticator is
    /// locked, throttled or deactivated: nothing was counted then, and
    /// `decision` says why.
    pub accepted: bool,
    /// Whether this call counted a failure (a repeated wrong secret, by
    /// fingerprint, is not counted again).
    pub counted: bool,
    /// Failures counted now, after this call.
    pub failures: u32,
    /// The decision for the next attempt.
    pub decision: authlock_decision,
    /// Whether `reservation` is set (by `authlock_engine_reserve`).
    pub has_reservation: bool,
    /// The reservation to pass to `authlock_engine_commit`.
    pub reservation: u64,
}

/// What an event records.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum authlock_event_action {
    /// An authenticator was registered (or gained an app instance).
    Registered = 0,
    /// A failed attempt.
    Failure = 1,
    /// A successful attempt.
    Success = 2,
    /// A failure counted before verification.
    Reserved = 3,
    /// A reservation was settled.
    Committed = 4,
    /// A lock began.
    Locked = 5,
    /// A temporary lock ended by itself.
    LockExpired = 6,
    /// The lock and the counter were cleared.
    Unlocked = 7,
    /// A policy lock caused by a reserved failure was lifted by a
    /// successful commit.
    LockRefunded = 8,
    /// A change was made with the clock behind the record's latest time.
    ClockRewound = 9,
    /// The registration was removed.
    Deleted = 10,
    /// Deactivated by an admin.
    Deactivated = 11,
    /// Reactivated by an admin.
    Reactivated = 12,
    /// Deactivated by the user's suspension.
    Suspended = 13,
    /// Restored by the user's unsuspension.
    Unsuspended = 14,
    /// An identifier was added to the user's profile.
    IdentifierAdded = 15,
}

/// Who put a lock in place.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum authlock_lock_kind {
    /// Not a lock event.
    None = 0,
    /// The lockout policy.
    Policy = 1,
    /// An admin, helpdesk operator or journey.
    Manual = 2,
}

/// One event, as handed to the event callback.
///
/// Every pointer in it is owned by the library and valid only during the
/// callback: copy what you keep. Nothing in it is to be freed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct authlock_event {
    /// Position in the tenant's history, from 1.
    pub seq: u64,
    /// When it happened (ms since the Unix epoch, by the engine's clock).
    pub time_ms: i64,
    /// What happened.
    pub action: authlock_event_action,
    /// For `AUTHLOCK_EVENT_ACTION_LOCKED`: who locked.
    pub lock_kind: authlock_lock_kind,
    /// Whether `until_ms` is set: a lock that ends by itself.
    pub has_until: bool,
    /// When the lock ends (ms since the Unix epoch); 0 otherwise.
    pub until_ms: i64,
    /// The authenticator's ID (empty for user-level events).
    pub authenticator_id: [c_char; AUTHLOCK_ID_SIZE],
    /// The user.
    pub user: *const c_char,
    /// The app of the call, or NULL when the event has none.
    pub app: *const c_char,
    /// The whole event as a JSON object (the history's format).
    pub json: *const c_char,
}

/// Called on every lock and unlock (a policy or manual lock, a temporary
/// lock's expiry, a refunded lock, an unlock that cleared a lock).
///
/// It runs on the thread whose authlock call made the change, after the
/// engine has released its internal locks and before that call returns; so
/// it may call any authlock function on the same engine, except
/// `authlock_engine_free`. Several threads may run it at once: `user_data`
/// must be safe to use from any thread. Keep it quick (the caller waits),
/// and never let it unwind (no C++ exception, no longjmp out of it).
/// `event` and every pointer in it are valid only during the call.
pub type authlock_event_callback =
    Option<extern "C" fn(user_data: *mut c_void, event: *const authlock_event)>;

/// A host clock: returns the current time in milliseconds since the Unix
/// epoch.
///
/// The engine reads it once per operation, on the calling thread, possibly
/// from several threads at once: it must be thread-safe and must not call
/// into authlock. It may go backwards (the engine never lets that shorten a
/// lock or a wait). It must not unwind.
pub type authlock_clock_callback = Option<extern "C" fn(user_data: *mut c_void) -> i64>;

/// When a store's journal writes reach the disk: one of the
/// `AUTHLOCK_DURABILITY_*` constants.
pub type authlock_durability = u32;
/// Every call's events are written and synced (`fdatasync`) before the call
/// returns: nothing acknowledged is lost, even by a machine crash. The
/// slowest mode, and the default (0).
pub const AUTHLOCK_DURABILITY_SYNC: authlock_durability = 0;
/// Group commit: events are buffered and written and synced by a
/// background thread at most `batch_max_delay_ms` later or once
/// `batch_max_events` are waiting, whichever comes first. A process killed,
/// or a machine that crashes, within that window may lose the events of the
/// window (and with them the failures they counted). Reservations
/// (`authlock_engine_reserve`) are always synced, with every event before
/// them, before the call returns.
pub const AUTHLOCK_DURABILITY_BATCHED: authlock_durability = 1;
/// Events are buffered in memory and written when the buffer fills or the
/// engine is freed, never synced: a killed process loses the buffer. For
/// tests and simulations only.
pub const AUTHLOCK_DURABILITY_NONE: authlock_durability = 2;

/// What opening a store does when its newest snapshot is corrupt: one of
/// the `AUTHLOCK_RECOVERY_*` constants.
pub type authlock_recovery = u32;
/// Refuse to open (`AUTHLOCK_STATUS_STORAGE`, with what is wrong in
/// `authlock_last_error_message`). The default (0).
pub const AUTHLOCK_RECOVERY_STRICT: authlock_recovery = 0;
/// Open from the previous snapshot and the journal after it (the store
/// keeps both for this); the open report says so.
pub const AUTHLOCK_RECOVERY_PREVIOUS_SNAPSHOT: authlock_recovery = 1;

/// How to open a store (`authlock_engine_open_store`).
///
/// A zeroed struct is valid: synced writes, no directory creation, strict
/// recovery, compaction only by `authlock_engine_compact`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct authlock_store_options {
    /// One of the `AUTHLOCK_DURABILITY_*` constants.
    pub durability: authlock_durability,
    /// For `AUTHLOCK_DURABILITY_BATCHED`: the longest time, in
    /// milliseconds, an event stays unsynced (at least 1). 0 for the other
    /// modes.
    pub batch_max_delay_ms: u64,
    /// For `AUTHLOCK_DURABILITY_BATCHED`: the most events that stay
    /// unsynced (at least 1). 0 for the other modes.
    pub batch_max_events: usize,
    /// Create the directory (and its parents) if it does not exist. When
    /// false a missing directory is refused, so a mistyped path cannot
    /// silently start a fresh store with fresh attempts.
    pub create: bool,
    /// One of the `AUTHLOCK_RECOVERY_*` constants.
    pub recovery: authlock_recovery,
    /// Compact (write a snapshot and start a new journal segment) once this
    /// many events were written since the last snapshot; 0 means never
    /// automatically, only by `authlock_engine_compact`.
    pub compact_every: u64,
}

/// What opening a store found, as plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct authlock_open_report {
    /// The sequence number of the snapshot loaded (0: none).
    pub snapshot_seq: u64,
    /// Events replayed from the journal after that snapshot.
    pub replayed_events: u64,
    /// Bytes dropped from the end of the journal: a last write cut short by
    /// a crash (0 normally).
    pub dropped_tail_bytes: u64,
    /// Whether the newest snapshot was corrupt and, as
    /// `AUTHLOCK_RECOVERY_PREVIOUS_SNAPSHOT` allows, the previous one used.
    pub used_previous_snapshot: bool,
}

/// How a store's compactions went (`authlock_engine_store_status`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct authlock_store_status {
    /// The sequence number of the newest snapshot written or loaded (0: none).
    pub snapshot_seq: u64,
    /// Compactions that wrote a snapshot since the store was opened.
    pub compactions: u64,
    /// Compactions that failed since the store was opened. A failed
    /// compaction does not stop the engine (the journal keeps every event);
    /// the compactor tries again after another `compact_every` events.
    pub failed_compactions: u64,
    /// Whether the latest compaction failed (cleared by the next one that
    /// succeeds).
    pub last_failed: bool,
}

/// An engine: the lockout state of one tenant, in memory, optionally backed
/// by a durable store.
///
/// Opaque. Created by `authlock_engine_new`,
/// `authlock_engine_new_with_clock` or `authlock_engine_open_store`, freed
/// once by `authlock_engine_free`.
/// Thread-safe: any number of threads may call functions on the same
/// handle at once (hence `const authlock_engine *`: the engine synchronises
/// internally). It must not be freed while another thread still uses it.
pub struct authlock_engine {
    engine: Arc<Engine>,
}

impl authlock_engine {
    /// Wraps an engine built in Rust, so that Rust code can hand it to C
    /// (as `Box::into_raw(Box::new(..))`, freed by `authlock_engine_free`)
    /// or call the C functions on it.
    pub fn wrap(engine: Engine) -> authlock_engine {
        authlock_engine {
            engine: Arc::new(engine),
        }
    }

    /// The engine behind the handle, for Rust code holding one.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

// ---------------------------------------------------------------------------
// Messages and strings
// ---------------------------------------------------------------------------

/// The fixed description of a status, as a static NUL-terminated string.
///
/// Never NULL and never to be freed. A number that is no status gets
/// "unknown status". Takes the number (`uint32_t`), so any value is safe to
/// pass.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_status_message(status: u32) -> *const c_char {
    boundary_or(UNKNOWN_STATUS_MESSAGE.as_ptr(), || {
        authlock_status::from_u32(status)
            .map_or(UNKNOWN_STATUS_MESSAGE, authlock_status::message)
            .as_ptr()
    })
}

/// What `authlock_status_message` answers for a number that is no status:
/// one static string, so that its address identifies it.
pub static UNKNOWN_STATUS_MESSAGE: &CStr = c"unknown status";

/// The detailed message of the calling thread's last call that did not
/// return `AUTHLOCK_STATUS_OK` (what was wrong and why), or "" if there was
/// none.
///
/// Never NULL and never to be freed. Owned by the library, per thread: it
/// stays valid until the calling thread's next authlock call that fails.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_last_error_message() -> *const c_char {
    boundary_or(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|e| e.borrow().as_ptr())
            .unwrap_or(c"".as_ptr())
    })
}

/// Frees a string the library handed out (JSON documents). NULL is
/// accepted and ignored. Each string is freed once; never pass a string
/// that came from elsewhere.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_string_free(string: *mut c_char) {
    boundary_or((), || free_c_string(string))
}

// ---------------------------------------------------------------------------
// Policies and engines
// ---------------------------------------------------------------------------

/// Checks a policy document (TOML, or JSON when it starts with `{`) without
/// creating an engine.
///
/// Returns `AUTHLOCK_STATUS_INVALID_POLICY` with every invalid field, and
/// its line where known, in `authlock_last_error_message`. `document` is
/// borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_policy_validate(document: *const c_char) -> authlock_status {
    boundary(|| {
        PolicyDocument::parse(try_str(document, "document")?)?;
        Ok(())
    })
}

/// Creates an engine with the policies in `document` (TOML, or JSON when it
/// starts with `{`) and the system clock.
///
/// On success `*out_engine` receives a new engine the caller owns and frees
/// with `authlock_engine_free`. `document` is borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_new(
    document: *const c_char,
    out_engine: *mut *mut authlock_engine,
) -> authlock_status {
    boundary(|| {
        let document = try_str(document, "document")?;
        let out = Out::new(out_engine, "out_engine")?;
        let policies = PolicyDocument::parse(document)?;
        out.write(new_handle(Engine::builder(policies).build()));
        Ok(())
    })
}

/// Creates an engine with the policies in `document` that reads the time
/// from the host's `clock(clock_user_data)`.
///
/// `clock` must not be NULL; `clock_user_data` is passed back as it is and
/// must stay valid until the engine is freed. On success `*out_engine`
/// receives a new engine the caller owns and frees with
/// `authlock_engine_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_new_with_clock(
    document: *const c_char,
    clock: authlock_clock_callback,
    clock_user_data: *mut c_void,
    out_engine: *mut *mut authlock_engine,
) -> authlock_status {
    boundary(|| {
        let clock = clock.ok_or_else(|| Failure::null("clock"))?;
        let document = try_str(document, "document")?;
        let out = Out::new(out_engine, "out_engine")?;
        let policies = PolicyDocument::parse(document)?;
        let clock = HostClock {
            clock,
            user_data: UserData(clock_user_data),
        };
        out.write(new_handle(Engine::builder(policies).clock(clock).build()));
        Ok(())
    })
}

/// Frees an engine and everything it holds. NULL is accepted and ignored.
/// No other thread may be using the engine; the handle is invalid after.
/// For a store-backed engine, this writes out buffered events (syncing them
/// unless the durability is `AUTHLOCK_DURABILITY_NONE`) and releases the
/// store's directory for the next opener.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_free(engine: *mut authlock_engine) {
    boundary_or((), || free_box(engine))
}

/// Sets the callback told about every lock and unlock (see
/// `authlock_event_callback`), replacing any earlier one; NULL removes it.
///
/// `user_data` is passed back as it is and must stay valid while the
/// callback is set. A call already under way on another thread may still
/// reach the previous callback.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_set_event_callback(
    engine: *const authlock_engine,
    callback: authlock_event_callback,
    user_data: *mut c_void,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let observer = callback.map(|callback| {
            Arc::new(CallbackObserver {
                callback,
                user_data: UserData(user_data),
            }) as Arc<dyn Observer>
        });
        engine.set_observer(observer);
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The durable store
// ---------------------------------------------------------------------------

/// Opens the durable store in directory `dir` (or creates it, with
/// `options->create`) and returns the engine it backs, its state recovered
/// from the newest snapshot and the journal after it. Every change made
/// through the engine is written to the store's journal; a restarted
/// process that opens the same directory gets the same counters and locks.
///
/// - `dir`: the directory's path, NUL-terminated UTF-8. One process at a
///   time: while an engine has the directory open (in this process or
///   another), opening it again is refused with `AUTHLOCK_STATUS_STORAGE`
///   and a message saying it is in use. `authlock_engine_free` releases it.
/// - `document`: the policies (TOML, or JSON when it starts with `{`).
/// - `clock`: the host clock, as for `authlock_engine_new_with_clock`, or
///   NULL for the system clock. `clock_user_data` is passed back as it is
///   and must stay valid until the engine is freed.
/// - `options`: how to open it (see `authlock_store_options`); a number
///   that is no `AUTHLOCK_DURABILITY_*` or `AUTHLOCK_RECOVERY_*` constant
///   is `AUTHLOCK_STATUS_INVALID_KIND`, batch settings of 0 for
///   `AUTHLOCK_DURABILITY_BATCHED` (or set for another mode) are
///   `AUTHLOCK_STATUS_INVALID_ARGUMENT`.
///
/// A missing directory without `create`, a directory in use, an I/O error
/// or corrupt files are `AUTHLOCK_STATUS_STORAGE`, with the details in
/// `authlock_last_error_message`. A write that fails later stops the
/// engine: every call after it returns `AUTHLOCK_STATUS_STORAGE`.
///
/// `dir`, `document` and `options` are borrowed for the call. On success
/// `*out_engine` receives a new engine the caller owns and frees with
/// `authlock_engine_free`, and `*out_report` what opening found. The
/// history functions of a store-backed engine return the events since its
/// last snapshot.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_open_store(
    dir: *const c_char,
    document: *const c_char,
    clock: authlock_clock_callback,
    clock_user_data: *mut c_void,
    options: *const authlock_store_options,
    out_engine: *mut *mut authlock_engine,
    out_report: *mut authlock_open_report,
) -> authlock_status {
    boundary(|| {
        let dir = try_dir(dir)?;
        let document = try_str(document, "document")?;
        let options = try_store_options(options)?;
        let out_engine = Out::new(out_engine, "out_engine")?;
        let out_report = Out::new(out_report, "out_report")?;
        let mut builder = Engine::builder(PolicyDocument::parse(document)?);
        if let Some(clock) = clock {
            builder = builder.clock(HostClock {
                clock,
                user_data: UserData(clock_user_data),
            });
        }
        let (engine, report) = builder.open_store(dir, options)?;
        out_engine.write(new_handle(engine));
        out_report.write(authlock_open_report {
            snapshot_seq: report.snapshot_seq,
            replayed_events: report.replayed_events,
            dropped_tail_bytes: report.dropped_tail_bytes,
            used_previous_snapshot: report.used_previous_snapshot,
        });
        Ok(())
    })
}

/// Compacts a store-backed engine's store now, on the calling thread:
/// seals the journal segment in use, rebuilds the state at its end in a
/// scratch engine (calls go on meanwhile), writes it as a snapshot
/// (temporary file, sync, rename, directory sync), then removes the files
/// the two newest snapshots no longer need. Opening the store later replays
/// only the events after this snapshot. With `compact_every` set, the store
/// also compacts by itself on a background thread.
///
/// On success `*out_seq` receives the snapshot's sequence number (the last
/// event it includes). An engine without a store, or a failed write, is
/// `AUTHLOCK_STATUS_STORAGE`; a failed compaction leaves the store as it
/// was, with every event still in the journal.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_compact(
    engine: *const authlock_engine,
    out_seq: *mut u64,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let out = Out::new(out_seq, "out_seq")?;
        out.write(engine.compact()?);
        Ok(())
    })
}

/// How a store-backed engine's compactions went: `*out` receives the
/// newest snapshot's sequence number and the counts of compactions that
/// succeeded and failed since the store was opened. The reason of the
/// latest failure is the message of `authlock_engine_compact` when called
/// by the host. An engine without a store is `AUTHLOCK_STATUS_STORAGE`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_store_status(
    engine: *const authlock_engine,
    out: *mut authlock_store_status,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let out = Out::new(out, "out")?;
        let status = engine
            .store_status()
            .ok_or_else(|| Error::Storage("this engine is not backed by a store".into()))?;
        out.write(authlock_store_status {
            snapshot_seq: status.snapshot_seq,
            compactions: status.compactions,
            failed_compactions: status.failed_compactions,
            last_failed: status.last_error.is_some(),
        });
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

/// Registers an explicitly registered authenticator (password, PIN,
/// passkey, mobile biometrics, face authentication, TOTP) for `user` in
/// `app`.
///
/// `device` is required for PIN, passkey and mobile biometrics and must be
/// NULL for the others; `public_key` (a passkey's) may be NULL; `actor` may
/// be NULL, meaning the user registers it. All strings are borrowed for the
/// call. On success the new ID (or, for an app-user type already registered
/// in another app, the existing ID) is written to `out_id`, a buffer of at
/// least `AUTHLOCK_ID_SIZE` bytes.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_register(
    engine: *const authlock_engine,
    user: *const c_char,
    kind: authlock_authenticator_type,
    app: *const c_char,
    device: *const c_char,
    public_key: *const c_char,
    actor: *const authlock_actor,
    out_id: *mut c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let mut reg = Registration::new(
            try_str(user, "user")?,
            try_type(kind)?,
            try_str(app, "app")?,
        );
        reg.device = try_opt_str(device, "device")?.map(str::to_string);
        reg.public_key = try_opt_str(public_key, "public_key")?.map(str::to_string);
        reg.actor = try_opt_actor(actor)?;
        let out = Out::id_buffer(out_id, "out_id")?;
        let id = engine.register(&reg)?;
        out.write(id_text(&id));
        Ok(())
    })
}

/// Adds an identifier to a user's profile (creating the user if new) and
/// registers the authenticators it implies: an email registers email OTP
/// and the email magic link; a phone number registers SMS OTP and direct
/// OTP.
///
/// `custom_name` names the identifier for `AUTHLOCK_IDENTIFIER_CUSTOM` and
/// must be NULL for the other kinds. `actor` may be NULL, meaning the user.
/// On success `*out_ids_json` receives a JSON array of the IDs registered
/// (empty if the user already had the identifier); the caller frees it with
/// `authlock_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_add_identifier(
    engine: *const authlock_engine,
    user: *const c_char,
    identifier_kind: authlock_identifier_kind,
    custom_name: *const c_char,
    value: *const c_char,
    actor: *const authlock_actor,
    out_ids_json: *mut *mut c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let user = try_str(user, "user")?;
        let identifier = try_identifier(
            identifier_kind,
            try_opt_str(custom_name, "custom_name")?,
            try_str(value, "value")?,
        )?;
        let actor = try_opt_actor(actor)?.unwrap_or_else(|| Actor::user(user));
        let out = Out::new(out_ids_json, "out_ids_json")?;
        let ids = engine.add_identifier(user, &identifier, &actor)?;
        out.write(json_string(&ids)?);
        Ok(())
    })
}

/// Records a successful sign-in with a social login, OIDC or SAML account,
/// registering the authenticator on its first use.
///
/// `account` identifies the provider account (for example "google:1234");
/// `device` may be NULL. On success the authenticator's ID is written to
/// `out_id` (a buffer of at least `AUTHLOCK_ID_SIZE` bytes) and the
/// success's outcome to `*out_outcome`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_record_first_use(
    engine: *const authlock_engine,
    user: *const c_char,
    kind: authlock_authenticator_type,
    account: *const c_char,
    app: *const c_char,
    device: *const c_char,
    out_id: *mut c_char,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let (user, kind) = (try_str(user, "user")?, try_type(kind)?);
        let account = try_str(account, "account")?;
        let attempt = try_attempt(app, device, None)?;
        let out_id = Out::id_buffer(out_id, "out_id")?;
        let out_outcome = Out::new(out_outcome, "out_outcome")?;
        let (id, outcome) = engine.record_first_use(user, kind, account, &attempt)?;
        out_id.write(id_text(&id));
        out_outcome.write(outcome_of(&outcome));
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Authenticator IDs: text and binary forms
// ---------------------------------------------------------------------------

/// Parses an authenticator ID from its text, 32 lowercase hex digits, into
/// `*out_id`.
///
/// Text that is not exactly 32 lowercase hex digits (upper case, too short
/// or too long, other characters) is `AUTHLOCK_STATUS_INVALID_ID`. Parsing
/// does not look the ID up: an ID no authenticator has parses. `text` is
/// borrowed for the call. Parse an ID once (after `authlock_engine_register`,
/// for example) and pass the struct to the `_id` calls of the hot path.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_id_parse(
    text: *const c_char,
    out_id: *mut authlock_id,
) -> authlock_status {
    boundary(|| {
        let id = try_id_named(text, "text")?;
        let out = Out::new(out_id, "out_id")?;
        out.write(id.into());
        Ok(())
    })
}

/// Writes the text of `id` (32 lowercase hex digits and the terminating
/// NUL) to `out_text`, a buffer of at least `AUTHLOCK_ID_SIZE` bytes: the
/// form the string calls take and `authlock_engine_register` writes.
/// `authlock_id_parse` of that text gives `id` back.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_id_format(id: authlock_id, out_text: *mut c_char) -> authlock_status {
    boundary(|| {
        let out = Out::id_buffer(out_text, "out_text")?;
        out.write(id_text(&id.into()));
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The hot path and attempts
// ---------------------------------------------------------------------------
//
// Each call comes in two forms: the ID as text (`const char *`, 32 hex
// digits) and, suffixed `_id`, as an `authlock_id`. Both run the same body.

/// May authenticator `id` be used in `app` now? Writes the decision to
/// `*out_decision`; allocates nothing.
///
/// A deleted ID is a success with the verdict
/// `AUTHLOCK_VERDICT_DELETED`; an unknown ID is
/// `AUTHLOCK_STATUS_NOT_FOUND`; an app where it has no instance is
/// `AUTHLOCK_STATUS_WRONG_APP`. `authlock_engine_check_id` is the same call
/// with the ID as an `authlock_id`, and faster.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_check(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    out_decision: *mut authlock_decision,
) -> authlock_status {
    check(engine, id, app, out_decision)
}

/// May authenticator `id` be used in `app` now? The fast path of
/// `authlock_engine_check`: the same call, with the ID as an `authlock_id`,
/// so no ID text is parsed. Writes the decision to `*out_decision`;
/// allocates nothing.
///
/// A deleted ID is a success with the verdict
/// `AUTHLOCK_VERDICT_DELETED`; an unknown ID is
/// `AUTHLOCK_STATUS_NOT_FOUND`; an app where it has no instance is
/// `AUTHLOCK_STATUS_WRONG_APP`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_check_id(
    engine: *const authlock_engine,
    id: authlock_id,
    app: *const c_char,
    out_decision: *mut authlock_decision,
) -> authlock_status {
    check(engine, id, app, out_decision)
}

/// Counts a failed attempt of `id` in `app`. Writes the outcome to
/// `*out_outcome`; allocates nothing the caller must free.
///
/// `device` may be NULL. `fingerprint` is the host's fingerprint of the
/// wrong secret (an HMAC, never the secret), 1 to
/// `AUTHLOCK_FINGERPRINT_MAX_LEN` bytes, or NULL with `fingerprint_len` 0
/// for none; a repeated fingerprint is not counted twice. An attempt on a
/// locked, throttled or deactivated authenticator is refused
/// (`accepted` false) and counts nothing. `authlock_engine_record_failure_id`
/// is the same call with the ID as an `authlock_id`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_record_failure(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    device: *const c_char,
    fingerprint: *const u8,
    fingerprint_len: usize,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    failure_attempt(
        engine,
        id,
        app,
        device,
        fingerprint,
        fingerprint_len,
        out_outcome,
        Engine::record_failure,
    )
}

/// Counts a failed attempt of `id` in `app`: `authlock_engine_record_failure`
/// with the ID as an `authlock_id`. Writes the outcome to `*out_outcome`;
/// allocates nothing the caller must free.
///
/// `device` may be NULL. `fingerprint` is the host's fingerprint of the
/// wrong secret (an HMAC, never the secret), 1 to
/// `AUTHLOCK_FINGERPRINT_MAX_LEN` bytes, or NULL with `fingerprint_len` 0
/// for none; a repeated fingerprint is not counted twice. An attempt on a
/// locked, throttled or deactivated authenticator is refused
/// (`accepted` false) and counts nothing.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_record_failure_id(
    engine: *const authlock_engine,
    id: authlock_id,
    app: *const c_char,
    device: *const c_char,
    fingerprint: *const u8,
    fingerprint_len: usize,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    failure_attempt(
        engine,
        id,
        app,
        device,
        fingerprint,
        fingerprint_len,
        out_outcome,
        Engine::record_failure,
    )
}

/// Records a successful attempt of `id` in `app`: clears the failure
/// counter and marks it active. Writes the outcome to `*out_outcome`.
///
/// `device` may be NULL. Refused (`accepted` false) while the
/// authenticator is locked, throttled or deactivated.
/// `authlock_engine_record_success_id` is the same call with the ID as an
/// `authlock_id`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_record_success(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    device: *const c_char,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    record_success(engine, id, app, device, out_outcome)
}

/// Records a successful attempt of `id` in `app`:
/// `authlock_engine_record_success` with the ID as an `authlock_id`. Clears
/// the failure counter and marks it active; writes the outcome to
/// `*out_outcome`.
///
/// `device` may be NULL. Refused (`accepted` false) while the
/// authenticator is locked, throttled or deactivated.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_record_success_id(
    engine: *const authlock_engine,
    id: authlock_id,
    app: *const c_char,
    device: *const c_char,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    record_success(engine, id, app, device, out_outcome)
}

/// Counts a failure before the secret is verified and returns a
/// reservation (`out_outcome->reservation`) to settle with
/// `authlock_engine_commit`. If the process dies before the commit, the
/// failure stays counted.
///
/// When the reservation is made (`accepted` true), this attempt goes on to
/// verify the secret, and `decision` is the decision for the attempts after
/// it: a lock or throttle the reserved failure caused holds for them until a
/// successful commit refunds it. When the authenticator is locked,
/// throttled or deactivated, nothing is reserved (`accepted` false) and
/// `decision` says why. `device` and `fingerprint` are as for
/// `authlock_engine_record_failure`. `authlock_engine_reserve_id` is the
/// same call with the ID as an `authlock_id`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_reserve(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    device: *const c_char,
    fingerprint: *const u8,
    fingerprint_len: usize,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    failure_attempt(
        engine,
        id,
        app,
        device,
        fingerprint,
        fingerprint_len,
        out_outcome,
        Engine::reserve,
    )
}

/// Counts a failure before the secret is verified and returns a
/// reservation: `authlock_engine_reserve` with the ID as an `authlock_id`.
/// Settle the reservation (`out_outcome->reservation`) with
/// `authlock_engine_commit_id` or `authlock_engine_commit`. If the process
/// dies before the commit, the failure stays counted.
///
/// When the reservation is made (`accepted` true), this attempt goes on to
/// verify the secret, and `decision` is the decision for the attempts after
/// it: a lock or throttle the reserved failure caused holds for them until a
/// successful commit refunds it. When the authenticator is locked,
/// throttled or deactivated, nothing is reserved (`accepted` false) and
/// `decision` says why. `device` and `fingerprint` are as for
/// `authlock_engine_record_failure`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_reserve_id(
    engine: *const authlock_engine,
    id: authlock_id,
    app: *const c_char,
    device: *const c_char,
    fingerprint: *const u8,
    fingerprint_len: usize,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    failure_attempt(
        engine,
        id,
        app,
        device,
        fingerprint,
        fingerprint_len,
        out_outcome,
        Engine::reserve,
    )
}

/// Settles a reservation: when `success` is true the reserved failure is
/// refunded (lifting a lock it caused) and the success recorded; otherwise
/// the failure stays counted. `device` may be NULL.
/// `authlock_engine_commit_id` is the same call with the ID as an
/// `authlock_id`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_commit(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    device: *const c_char,
    reservation: u64,
    success: bool,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    commit(engine, id, app, device, reservation, success, out_outcome)
}

/// Settles a reservation: `authlock_engine_commit` with the ID as an
/// `authlock_id`. When `success` is true the reserved failure is refunded
/// (lifting a lock it caused) and the success recorded; otherwise the
/// failure stays counted. `device` may be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_commit_id(
    engine: *const authlock_engine,
    id: authlock_id,
    app: *const c_char,
    device: *const c_char,
    reservation: u64,
    success: bool,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    commit(engine, id, app, device, reservation, success, out_outcome)
}

// ---------------------------------------------------------------------------
// Admin actions
// ---------------------------------------------------------------------------

/// Locks `id` by hand in `app` (for a global-user type: in every app).
/// `reason` (kept with the lock) may be NULL; `actor` may not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_lock(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    admin_action(engine, id, app, actor, reason, Engine::lock)
}

/// Clears the lock and the failure counter of `id` in `app`. For a
/// device-user type the unlock reaches every instance of that type the user
/// has in `app`. `reason` may be NULL; `actor` may not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_unlock(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    admin_action(engine, id, app, actor, reason, Engine::unlock)
}

/// Unlocks every authenticator of type `kind` that `user` has in `app`.
/// `reason` may be NULL; `actor` may not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_unlock_type(
    engine: *const authlock_engine,
    user: *const c_char,
    kind: authlock_authenticator_type,
    app: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let (user, kind) = (try_str(user, "user")?, try_type(kind)?);
        let (app, actor) = (try_str(app, "app")?, try_actor(actor)?);
        engine.unlock_type(user, kind, app, &actor, try_opt_str(reason, "reason")?)?;
        Ok(())
    })
}

/// Deletes the instance of `id` in `app` (the whole ID when it was the last
/// one; a deleted ID answers "deleted" for ever). `reason` may be NULL;
/// `actor` may not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_delete(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    admin_action(engine, id, app, actor, reason, Engine::delete)
}

/// Deactivates `id` in `app` by hand. `reason` may be NULL; `actor` may
/// not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_deactivate(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    admin_action(engine, id, app, actor, reason, Engine::deactivate)
}

/// Undoes a manual deactivation of `id` in `app` (a user's suspension stays
/// until the user is unsuspended). `reason` may be NULL; `actor` may not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_reactivate(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    admin_action(engine, id, app, actor, reason, Engine::reactivate)
}

/// Suspends `user`: every one of the user's authenticators is deactivated
/// in every app until `authlock_engine_unsuspend_user`. `reason` may be
/// NULL; `actor` may not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_suspend_user(
    engine: *const authlock_engine,
    user: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    user_action(engine, user, actor, reason, Engine::suspend_user)
}

/// Lifts the suspension of `user`: each authenticator returns to what it
/// was (one an admin deactivated stays deactivated). `reason` may be NULL;
/// `actor` may not.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_unsuspend_user(
    engine: *const authlock_engine,
    user: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
) -> authlock_status {
    user_action(engine, user, actor, reason, Engine::unsuspend_user)
}

// ---------------------------------------------------------------------------
// Views, history, snapshots
// ---------------------------------------------------------------------------

/// Lists a user's authenticators, each once, with its unified status,
/// per-app details and last use, as a JSON array.
///
/// On success `*out_json` receives a string the caller frees with
/// `authlock_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_authenticators_json(
    engine: *const authlock_engine,
    user: *const c_char,
    out_json: *mut *mut c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let user = try_str(user, "user")?;
        let out = Out::new(out_json, "out_json")?;
        out.write(json_string(&engine.authenticators(user)?)?);
        Ok(())
    })
}

/// One authenticator's view as a JSON object (the shape of one element of
/// `authlock_engine_authenticators_json`).
///
/// On success `*out_json` receives a string the caller frees with
/// `authlock_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_authenticator_json(
    engine: *const authlock_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let id = try_id(id)?;
        let out = Out::new(out_json, "out_json")?;
        out.write(json_string(&engine.authenticator(&id)?)?);
        Ok(())
    })
}

/// A user's history as a JSON object with two arrays of events:
/// `on_user` (what happened to the user) and `by_user` (what the user did,
/// as user, admin or operator). An unknown user has empty arrays.
///
/// On success `*out_json` receives a string the caller frees with
/// `authlock_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_history_json(
    engine: *const authlock_engine,
    user: *const c_char,
    out_json: *mut *mut c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let user = try_str(user, "user")?;
        let out = Out::new(out_json, "out_json")?;
        out.write(json_string(&engine.history(user))?);
        Ok(())
    })
}

/// The engine's whole state as a versioned JSON snapshot.
///
/// On success `*out_json` receives a string the caller frees with
/// `authlock_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_snapshot_json(
    engine: *const authlock_engine,
    out_json: *mut *mut c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let out = Out::new(out_json, "out_json")?;
        out.write(c_string(engine.snapshot_json())?);
        Ok(())
    })
}

/// Replaces the engine's whole state with a JSON snapshot, after checking
/// it completely (format, version, tenant, every record). A refused
/// snapshot (`AUTHLOCK_STATUS_INVALID_SNAPSHOT`) leaves the engine as it
/// was. `snapshot` is borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_engine_restore_json(
    engine: *const authlock_engine,
    snapshot: *const c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        engine.restore_json(try_str(snapshot, "snapshot")?)?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Journey steps
// ---------------------------------------------------------------------------

/// Runs one journey step (lock authenticator, unlock authenticator, user
/// authenticators) on `engine`, with JSON in and out.
///
/// `request_json` is `{"step": <step configuration>, "context": <journey
/// context>}` (see docs/JOURNEYS_AND_HELPDESK.md). On success
/// `*out_json` receives `{"result": <step result>, "context": <context
/// after the step>}`: the result's `outcome` is `"continue"`,
/// `"failure_branch"` or `"abort"`; a step that fails is a success of this
/// call, with the failure in the result. The engine records every change
/// with the journey and step as actor.
///
/// A request that does not parse is `AUTHLOCK_STATUS_INVALID_REQUEST`, a
/// step configuration that breaks the rules
/// `AUTHLOCK_STATUS_INVALID_STEP_CONFIG`, an unusable context (an empty
/// journey or app name, variables that are not an object)
/// `AUTHLOCK_STATUS_INVALID_ARGUMENT`; nothing changes then.
///
/// Ownership: `engine` and `request_json` are borrowed for the call; the
/// string written to `*out_json` is owned by the caller, who frees it once
/// with `authlock_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_journey_run_step(
    engine: *const authlock_engine,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let request = try_str(request_json, "request_json")?;
        let out = Out::new(out_json, "out_json")?;
        out.write(c_string(run_step_json(engine, request)?)?);
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The helpdesk
// ---------------------------------------------------------------------------

/// A helpdesk: identity stores, operators and roles, and the Unlock
/// Account flow, over one engine (an account's lockout state is the state
/// of the user's password in the store's app, `identity-store:<store>`).
///
/// Opaque. Created by `authlock_helpdesk_new`, freed once by
/// `authlock_helpdesk_free`. Thread-safe: any number of threads may call
/// `authlock_helpdesk_handle` on the same handle at once. It must not be
/// freed while another thread still uses it.
pub struct authlock_helpdesk {
    helpdesk: Helpdesk,
}

/// Creates a helpdesk bound to `engine` from the helpdesk configuration
/// `config_json` (JSON: `stores`, `roles`, `operators`; see
/// docs/JOURNEYS_AND_HELPDESK.md).
///
/// The engine must have been created with each store's account lockout
/// policy as its password policy for the store's app (in the policy
/// document: `[apps."identity-store:<store>".policies.password]` with the
/// same fields), so that failed logins lock accounts as configured;
/// otherwise, or for a configuration that breaks the rules, the call
/// returns `AUTHLOCK_STATUS_INVALID_HELPDESK_CONFIG` with every problem in
/// `authlock_last_error_message`.
///
/// Lifetime: the engine must outlive the helpdesk. Free the helpdesk with
/// `authlock_helpdesk_free` before freeing the engine with
/// `authlock_engine_free`. (The helpdesk holds a reference to the engine's
/// state, so the other order does not leave a dangling pointer, but then
/// the engine, and a store directory it has open, is released only when
/// the helpdesk is freed.)
///
/// Ownership: `engine` and `config_json` are borrowed for the call. On
/// success `*out_helpdesk` receives a new helpdesk the caller owns and
/// frees once with `authlock_helpdesk_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_helpdesk_new(
    engine: *const authlock_engine,
    config_json: *const c_char,
    out_helpdesk: *mut *mut authlock_helpdesk,
) -> authlock_status {
    boundary(|| {
        let engine = try_shared_engine(engine)?;
        let config = try_str(config_json, "config_json")?;
        let out = Out::new(out_helpdesk, "out_helpdesk")?;
        let helpdesk = Helpdesk::new(&HelpdeskConfig::from_json(config)?, engine)?;
        out.write(Box::into_raw(Box::new(authlock_helpdesk { helpdesk })));
        Ok(())
    })
}

/// Frees a helpdesk and everything it holds (accounts, enrolment, links,
/// open dialogs, the helpdesk log; the lockout state stays in the engine).
/// NULL is accepted and ignored. No other thread may be using the
/// helpdesk; the handle is invalid after. Free it before its engine.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_helpdesk_free(helpdesk: *mut authlock_helpdesk) {
    boundary_or((), || free_box(helpdesk))
}

/// Handles one helpdesk request, with JSON in and out.
///
/// `request_json` is an object tagged by `op`: `add_account`, `enrol`,
/// `unenrol`, `link_accounts`, `unlink_accounts`, `record_login_failure`,
/// `record_login_success`, `change_password`, `account_status`,
/// `begin_unlock`, `authenticate_user`, `unlock_page`, `unlock`,
/// `cancel_unlock`, `history` or `state`, with that operation's fields (see
/// docs/JOURNEYS_AND_HELPDESK.md). On success `*out_json` receives the
/// operation's result as JSON (`null` for those that return nothing).
///
/// A refusal changes nothing, and its status says why: the
/// `AUTHLOCK_STATUS_HELPDESK_*` family (9xxx) for a step of the flow the
/// operator may not take yet or at all (the message names the missing
/// permission or step), `AUTHLOCK_STATUS_HELPDESK_NOT_FOUND`,
/// `AUTHLOCK_STATUS_UNKNOWN_SESSION` and `AUTHLOCK_STATUS_ACCOUNT_EXISTS`
/// for names, `AUTHLOCK_STATUS_INVALID_REQUEST` for a request that does not
/// parse, and the engine's own statuses when the engine refused.
///
/// Ownership: `helpdesk` and `request_json` are borrowed for the call; the
/// string written to `*out_json` is owned by the caller, who frees it once
/// with `authlock_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn authlock_helpdesk_handle(
    helpdesk: *const authlock_helpdesk,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> authlock_status {
    boundary(|| {
        let helpdesk = try_helpdesk(helpdesk)?;
        let request = try_str(request_json, "request_json")?;
        let out = Out::new(out_json, "out_json")?;
        out.write(c_string(helpdesk.handle_json(request)?)?);
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Shared shapes of the entry points
// ---------------------------------------------------------------------------

type FailureAction = fn(&Engine, &AuthenticatorId, &Attempt<'_>) -> crate::Result<AttemptOutcome>;

fn check(
    engine: *const authlock_engine,
    id: impl IdArg,
    app: *const c_char,
    out_decision: *mut authlock_decision,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let (id, app) = (id.id()?, try_str(app, "app")?);
        let out = Out::new(out_decision, "out_decision")?;
        out.write(decision_of(read_ok(&engine.check(&id, app))?));
        Ok(())
    })
}

/// A failure counted now (`record_failure`) or before verification
/// (`reserve`).
#[allow(clippy::too_many_arguments)]
fn failure_attempt(
    engine: *const authlock_engine,
    id: impl IdArg,
    app: *const c_char,
    device: *const c_char,
    fingerprint: *const u8,
    fingerprint_len: usize,
    out_outcome: *mut authlock_outcome,
    action: FailureAction,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let id = id.id()?;
        let attempt = try_attempt(app, device, try_bytes(fingerprint, fingerprint_len)?)?;
        let out = Out::new(out_outcome, "out_outcome")?;
        out.write(outcome_of(read_ok(&action(engine, &id, &attempt))?));
        Ok(())
    })
}

fn record_success(
    engine: *const authlock_engine,
    id: impl IdArg,
    app: *const c_char,
    device: *const c_char,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let id = id.id()?;
        let attempt = try_attempt(app, device, None)?;
        let out = Out::new(out_outcome, "out_outcome")?;
        out.write(outcome_of(read_ok(&engine.record_success(&id, &attempt))?));
        Ok(())
    })
}

fn commit(
    engine: *const authlock_engine,
    id: impl IdArg,
    app: *const c_char,
    device: *const c_char,
    reservation: u64,
    success: bool,
    out_outcome: *mut authlock_outcome,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let id = id.id()?;
        let attempt = try_attempt(app, device, None)?;
        let out = Out::new(out_outcome, "out_outcome")?;
        let outcome = engine.commit(&id, &attempt, reservation, success);
        out.write(outcome_of(read_ok(&outcome)?));
        Ok(())
    })
}

type AuthenticatorAction =
    fn(&Engine, &AuthenticatorId, &str, &Actor, Option<&str>) -> crate::Result<Vec<Event>>;

type UserAction = fn(&Engine, &str, &Actor, Option<&str>) -> crate::Result<Vec<Event>>;

fn admin_action(
    engine: *const authlock_engine,
    id: *const c_char,
    app: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
    action: AuthenticatorAction,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let (id, app) = (try_id(id)?, try_str(app, "app")?);
        let actor = try_actor(actor)?;
        action(engine, &id, app, &actor, try_opt_str(reason, "reason")?)?;
        Ok(())
    })
}

fn user_action(
    engine: *const authlock_engine,
    user: *const c_char,
    actor: *const authlock_actor,
    reason: *const c_char,
    action: UserAction,
) -> authlock_status {
    boundary(|| {
        let engine = try_engine(engine)?;
        let (user, actor) = (try_str(user, "user")?, try_actor(actor)?);
        action(engine, user, &actor, try_opt_str(reason, "reason")?)?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The panic boundary and the thread's last error
// ---------------------------------------------------------------------------

/// A refused call: its status and the detailed message.
#[derive(Debug)]
struct Failure {
    status: authlock_status,
    message: String,
}

impl Failure {
    fn new(status: authlock_status, message: String) -> Failure {
        Failure { status, message }
    }

    fn null(what: &str) -> Failure {
        Failure::new(
            authlock_status::NullParameter,
            format!("`{what}` is NULL; this argument is required"),
        )
    }

    fn internal(message: String) -> Failure {
        Failure::new(authlock_status::Internal, message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::from(&error)
    }
}

impl From<&Error> for Failure {
    fn from(error: &Error) -> Failure {
        Failure::new(status_of(LibraryError::Engine(error)), error.to_string())
    }
}

/// The value of an engine result, read where it lies. The hot-path bodies
/// convert a decision or outcome by reference: moving it out of its
/// `Result` first (as `?` on the result would) copies it through the stack
/// and measurably slows the call.
fn read_ok<T>(result: &crate::Result<T>) -> Result<&T, Failure> {
    result.as_ref().map_err(Failure::from)
}

impl From<JourneyError> for Failure {
    fn from(error: JourneyError) -> Failure {
        Failure::new(status_of(LibraryError::Journey(&error)), error.to_string())
    }
}

impl From<HelpdeskError> for Failure {
    fn from(error: HelpdeskError) -> Failure {
        Failure::new(status_of(LibraryError::Helpdesk(&error)), error.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // At thread exit the slot may be gone; the status still tells the caller.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
}

/// Runs an entry point's body: a caught panic becomes
/// `AUTHLOCK_STATUS_PANIC`, a failure its status; either sets the thread's
/// last error message.
fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> authlock_status {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Err(Failure::new(
            authlock_status::Panic,
            format!("internal error: a panic was caught at the C boundary: {what}"),
        ))
    });
    match result {
        Ok(()) => authlock_status::Ok,
        Err(failure) => {
            set_last_error(&failure.message);
            failure.status
        }
    }
}

/// The boundary for the few functions that return no status: a caught
/// panic returns `default`.
fn boundary_or<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

fn new_handle(engine: Engine) -> *mut authlock_engine {
    Box::into_raw(Box::new(authlock_engine::wrap(engine)))
}

fn try_engine<'a>(engine: *const authlock_engine) -> Result<&'a Engine, Failure> {
    Ok(&try_ref(engine, "engine")?.engine)
}

/// The shared engine behind a handle, for a helpdesk bound to it.
fn try_shared_engine(engine: *const authlock_engine) -> Result<Arc<Engine>, Failure> {
    Ok(Arc::clone(&try_ref(engine, "engine")?.engine))
}

fn try_helpdesk<'a>(helpdesk: *const authlock_helpdesk) -> Result<&'a Helpdesk, Failure> {
    Ok(&try_ref(helpdesk, "helpdesk")?.helpdesk)
}

fn try_id(id: *const c_char) -> Result<AuthenticatorId, Failure> {
    try_id_named(id, "id")
}

/// An ID in its text form, from the argument named `what`.
fn try_id_named(text: *const c_char, what: &str) -> Result<AuthenticatorId, Failure> {
    let Some(ptr) = NonNull::new(text.cast_mut()) else {
        return Err(Failure::null(what));
    };
    // An ID is 32 characters: `strlen` finds its end faster than the
    // byte-by-byte scan that suits short names.
    // SAFETY: the header requires a non-NULL string argument to be
    // NUL-terminated and valid for the duration of the call.
    let bytes = unsafe { CStr::from_ptr(ptr.as_ptr()) }.to_bytes();
    checked_str(bytes, bytes.is_ascii(), what)?
        .parse()
        .map_err(|why| Failure::new(authlock_status::InvalidId, why))
}

/// The ID argument of an entry point that comes in both forms: text
/// (`const char *`) or binary (`authlock_id`).
trait IdArg {
    /// The ID, or why the argument is not one.
    fn id(self) -> Result<AuthenticatorId, Failure>;
}

impl IdArg for *const c_char {
    fn id(self) -> Result<AuthenticatorId, Failure> {
        try_id(self)
    }
}

impl IdArg for authlock_id {
    fn id(self) -> Result<AuthenticatorId, Failure> {
        Ok(self.into())
    }
}

/// A store directory: a required, non-empty UTF-8 path.
fn try_dir<'a>(dir: *const c_char) -> Result<&'a Path, Failure> {
    match try_str(dir, "dir")? {
        "" => Err(Failure::new(
            authlock_status::InvalidArgument,
            "invalid dir: it is empty; name the store's directory".into(),
        )),
        dir => Ok(Path::new(dir)),
    }
}

fn try_store_options(options: *const authlock_store_options) -> Result<StoreOptions, Failure> {
    let options = try_ref(options, "options")?;
    let batch_set = options.batch_max_delay_ms != 0 || options.batch_max_events != 0;
    let durability = match options.durability {
        AUTHLOCK_DURABILITY_BATCHED => {
            if options.batch_max_delay_ms == 0 || options.batch_max_events == 0 {
                return Err(Failure::new(
                    authlock_status::InvalidArgument,
                    "invalid options: AUTHLOCK_DURABILITY_BATCHED needs batch_max_delay_ms and batch_max_events of at least 1".into(),
                ));
            }
            Durability::Batched {
                max_delay: Duration::from_millis(options.batch_max_delay_ms),
                max_events: options.batch_max_events,
            }
        }
        AUTHLOCK_DURABILITY_SYNC | AUTHLOCK_DURABILITY_NONE if batch_set => {
            return Err(Failure::new(
                authlock_status::InvalidArgument,
                "invalid options: batch_max_delay_ms and batch_max_events are only given with AUTHLOCK_DURABILITY_BATCHED".into(),
            ));
        }
        AUTHLOCK_DURABILITY_SYNC => Durability::Sync,
        AUTHLOCK_DURABILITY_NONE => Durability::None,
        other => {
            return Err(Failure::new(
                authlock_status::InvalidKind,
                format!("{other} is not a durability mode: use one of AUTHLOCK_DURABILITY_*"),
            ));
        }
    };
    let recovery = match options.recovery {
        AUTHLOCK_RECOVERY_STRICT => Recovery::Strict,
        AUTHLOCK_RECOVERY_PREVIOUS_SNAPSHOT => Recovery::PreviousSnapshot,
        other => {
            return Err(Failure::new(
                authlock_status::InvalidKind,
                format!("{other} is not a recovery mode: use one of AUTHLOCK_RECOVERY_*"),
            ));
        }
    };
    Ok(StoreOptions {
        durability,
        create: options.create,
        recovery,
        compact_every: (options.compact_every != 0).then_some(options.compact_every),
    })
}

fn try_type(kind: authlock_authenticator_type) -> Result<AuthenticatorType, Failure> {
    // The capability table is indexed by the type's discriminant, which the
    // AUTHLOCK_TYPE_* constants repeat.
    AuthenticatorType::ALL
        .get(kind as usize)
        .copied()
        .ok_or_else(|| {
            Failure::new(
                authlock_status::InvalidKind,
                format!(
                    "{kind} is not an authenticator type: use one of AUTHLOCK_TYPE_* (0 to {})",
                    AuthenticatorType::ALL.len() - 1
                ),
            )
        })
}

fn try_identifier(
    kind: authlock_identifier_kind,
    custom_name: Option<&str>,
    value: &str,
) -> Result<Identifier, Failure> {
    let plain = |make: fn(&str) -> Identifier| match custom_name {
        None => Ok(make(value)),
        Some(_) => Err(Failure::new(
            authlock_status::InvalidArgument,
            "invalid custom_name: it is only given with AUTHLOCK_IDENTIFIER_CUSTOM".into(),
        )),
    };
    match kind {
        AUTHLOCK_IDENTIFIER_EXTERNAL_ID => plain(Identifier::external_id),
        AUTHLOCK_IDENTIFIER_EMAIL => plain(Identifier::email),
        AUTHLOCK_IDENTIFIER_PHONE => plain(Identifier::phone),
        AUTHLOCK_IDENTIFIER_USERNAME => plain(Identifier::username),
        AUTHLOCK_IDENTIFIER_CUSTOM => match custom_name {
            Some(name) => Ok(Identifier::custom(name, value)),
            None => Err(Failure::null("custom_name")),
        },
        other => Err(Failure::new(
            authlock_status::InvalidKind,
            format!("{other} is not an identifier kind: use one of AUTHLOCK_IDENTIFIER_*"),
        )),
    }
}

fn try_actor(actor: *const authlock_actor) -> Result<Actor, Failure> {
    let actor = try_ref(actor, "actor")?;
    let id = || try_str(actor.id, "actor.id");
    Ok(match actor.kind {
        AUTHLOCK_ACTOR_USER => Actor::user(id()?),
        AUTHLOCK_ACTOR_ADMIN => Actor::admin(id()?),
        AUTHLOCK_ACTOR_HELPDESK => Actor::helpdesk(id()?),
        AUTHLOCK_ACTOR_JOURNEY => Actor::journey(id()?, try_str(actor.step, "actor.step")?),
        AUTHLOCK_ACTOR_SYSTEM => Actor::System,
        other => {
            return Err(Failure::new(
                authlock_status::InvalidKind,
                format!("{other} is not an actor kind: use one of AUTHLOCK_ACTOR_*"),
            ));
        }
    })
}

fn try_opt_actor(actor: *const authlock_actor) -> Result<Option<Actor>, Failure> {
    if actor.is_null() {
        Ok(None)
    } else {
        try_actor(actor).map(Some)
    }
}

fn try_attempt<'a>(
    app: *const c_char,
    device: *const c_char,
    fingerprint: Option<&'a [u8]>,
) -> Result<Attempt<'a>, Failure> {
    let mut attempt = Attempt::in_app(try_str(app, "app")?);
    attempt.device = try_opt_str(device, "device")?;
    attempt.fingerprint = fingerprint;
    Ok(attempt)
}

fn id_text(id: &AuthenticatorId) -> [c_char; AUTHLOCK_ID_SIZE] {
    let mut buf = [0 as c_char; AUTHLOCK_ID_SIZE];
    for (slot, byte) in buf.iter_mut().zip(id.to_string().bytes()) {
        *slot = byte as c_char;
    }
    buf
}

fn decision_of(decision: &Decision) -> authlock_decision {
    let plain = |verdict, reason| authlock_decision {
        verdict,
        reason,
        has_retry_at: false,
        retry_at_ms: 0,
        has_lock_reason: false,
    };
    match decision {
        Decision::Allowed => plain(authlock_verdict::Allowed, authlock_reason::None),
        Decision::Throttled { retry_at } => authlock_decision {
            has_retry_at: true,
            retry_at_ms: retry_at.as_millis(),
            ..plain(authlock_verdict::Throttled, authlock_reason::RecentFailures)
        },
        Decision::Locked {
            lock,
            until,
            reason,
        } => authlock_decision {
            has_retry_at: until.is_some(),
            retry_at_ms: until.map_or(0, Timestamp::as_millis),
            has_lock_reason: reason.is_some(),
            ..plain(
                authlock_verdict::Locked,
                match lock {
                    LockKind::Policy => authlock_reason::PolicyLock,
                    LockKind::Manual => authlock_reason::ManualLock,
                },
            )
        },
        Decision::Deactivated => plain(authlock_verdict::Deactivated, authlock_reason::Deactivated),
        Decision::Deleted => plain(authlock_verdict::Deleted, authlock_reason::Deleted),
    }
}

fn outcome_of(outcome: &AttemptOutcome) -> authlock_outcome {
    authlock_outcome {
        accepted: outcome.accepted,
        counted: outcome.counted,
        failures: outcome.failures,
        decision: decision_of(&outcome.decision),
        has_reservation: outcome.reservation.is_some(),
        reservation: outcome.reservation.unwrap_or(0),
    }
}

fn c_string(text: String) -> Result<*mut c_char, Failure> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|e| Failure::internal(format!("a result contains a NUL byte: {e}")))
}

fn json_string<T: Serialize + ?Sized>(value: &T) -> Result<*mut c_char, Failure> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::internal(format!("a result could not be encoded as JSON: {e}")))?;
    c_string(text)
}

/// Carries a host pointer that the host has promised may be used from any
/// thread (the header says so for every `user_data`).
struct UserData(*mut c_void);

// SAFETY: the header requires every `user_data` to be usable from any
// thread; the library only passes it back to the host's own callback.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

struct HostClock {
    clock: extern "C" fn(*mut c_void) -> i64,
    user_data: UserData,
}

impl Clock for HostClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis((self.clock)(self.user_data.0))
    }
}

struct CallbackObserver {
    callback: extern "C" fn(*mut c_void, *const authlock_event),
    user_data: UserData,
}

impl Observer for CallbackObserver {
    fn on_lock_change(&self, event: &Event) {
        let user = CString::new(event.user.as_bytes()).unwrap_or_default();
        let app = event
            .app
            .as_deref()
            .map(|a| CString::new(a).unwrap_or_default());
        let json =
            CString::new(serde_json::to_string(event).unwrap_or_default()).unwrap_or_default();
        let (action, lock_kind, until) = action_of(&event.action);
        let c_event = authlock_event {
            seq: event.seq,
            time_ms: event.time.as_millis(),
            action,
            lock_kind,
            has_until: until.is_some(),
            until_ms: until.map_or(0, Timestamp::as_millis),
            authenticator_id: event
                .authenticator
                .as_ref()
                .map_or([0; AUTHLOCK_ID_SIZE], id_text),
            user: user.as_ptr(),
            app: app.as_ref().map_or(std::ptr::null(), |a| a.as_ptr()),
            json: json.as_ptr(),
        };
        (self.callback)(self.user_data.0, &c_event);
    }
}

fn action_of(action: &Action) -> (authlock_event_action, authlock_lock_kind, Option<Timestamp>) {
    use authlock_event_action as A;
    let none = authlock_lock_kind::None;
    match action {
        Action::Registered(_) => (A::Registered, none, None),
        Action::Failure { .. } => (A::Failure, none, None),
        Action::Success { .. } => (A::Success, none, None),
        Action::Reserved { .. } => (A::Reserved, none, None),
        Action::Committed { .. } => (A::Committed, none, None),
        Action::Locked { lock, until } => (
            A::Locked,
            match lock {
                LockKind::Policy => authlock_lock_kind::Policy,
                LockKind::Manual => authlock_lock_kind::Manual,
            },
            *until,
        ),
        Action::LockExpired => (A::LockExpired, none, None),
        Action::Unlocked { .. } => (A::Unlocked, none, None),
        Action::LockRefunded => (A::LockRefunded, none, None),
        Action::ClockRewound => (A::ClockRewound, none, None),
        Action::Deleted { .. } => (A::Deleted, none, None),
        Action::Deactivated => (A::Deactivated, none, None),
        Action::Reactivated => (A::Reactivated, none, None),
        Action::Suspended => (A::Suspended, none, None),
        Action::Unsuspended => (A::Unsuspended, none, None),
        Action::IdentifierAdded { .. } => (A::IdentifierAdded, none, None),
    }
}

// ---------------------------------------------------------------------------
// Raw pointers: the only code that dereferences what C hands in
// ---------------------------------------------------------------------------

/// A reference to what `ptr` points to, or a NULL-argument failure.
fn try_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the header requires a non-NULL pointer argument to point to a
    // live, properly initialised value for the duration of the call.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(what))
}

/// A required string argument: NULL and invalid UTF-8 are refused.
///
/// This and the two helpers below are always inlined: they run for every
/// string argument, on the hot path too, and a call to them costs more than
/// their work on a short name.
#[inline(always)]
fn try_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    match NonNull::new(ptr.cast_mut()) {
        Some(ptr) => c_str(ptr, what),
        None => Err(Failure::null(what)),
    }
}

/// An optional string argument: NULL is `None`; invalid UTF-8 is refused.
#[inline(always)]
fn try_opt_str<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    match NonNull::new(ptr.cast_mut()) {
        Some(ptr) => c_str(ptr, what).map(Some),
        None => Ok(None),
    }
}

/// A non-NULL string argument, checked to be UTF-8.
///
/// Names (apps, devices) are short and almost always ASCII, which is
/// confirmed in a fraction of the time the general UTF-8 validator takes
/// on a few bytes; any other string gets the full validation.
///
/// One pass finds the terminating NUL and notes whether every byte before
/// it is ASCII, where `strlen` and then `is_ascii` would read a short name
/// twice and pay a library call.
#[inline(always)]
fn c_str<'a>(ptr: NonNull<c_char>, what: &str) -> Result<&'a str, Failure> {
    let start = ptr.as_ptr().cast::<u8>().cast_const();
    let mut len = 0;
    let mut high = 0u8;
    loop {
        // SAFETY: the header requires a non-NULL string argument to be
        // NUL-terminated and valid for the duration of the call, so every
        // byte up to and including the NUL may be read.
        let b = unsafe { *start.add(len) };
        if b == 0 {
            break;
        }
        high |= b;
        len += 1;
    }
    // SAFETY: the `len` bytes before the NUL were just read.
    let bytes = unsafe { std::slice::from_raw_parts(start, len) };
    checked_str(bytes, high < 0x80, what)
}

/// `bytes` as a string: without validation when the caller found them all
/// ASCII (`ascii`), else after full UTF-8 validation.
#[inline(always)]
fn checked_str<'a>(bytes: &'a [u8], ascii: bool, what: &str) -> Result<&'a str, Failure> {
    if ascii {
        debug_assert!(bytes.is_ascii());
        // SAFETY: ASCII is valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        utf8_str(bytes, what)
    }
}

/// A string argument that is not all ASCII: valid UTF-8, or refused.
#[cold]
fn utf8_str<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, Failure> {
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            authlock_status::InvalidUtf8,
            format!("`{what}` is not valid UTF-8: {e}"),
        )
    })
}

/// An optional byte string: NULL with length 0 is `None`; NULL with a
/// length is refused.
fn try_bytes<'a>(ptr: *const u8, len: usize) -> Result<Option<&'a [u8]>, Failure> {
    match (ptr.is_null(), len) {
        (true, 0) => Ok(None),
        (true, _) => Err(Failure::null("fingerprint")),
        (false, _) if len > isize::MAX as usize => Err(Failure::new(
            authlock_status::InvalidArgument,
            format!("invalid fingerprint: a length of {len} bytes is impossible"),
        )),
        // SAFETY: the header requires `len` readable bytes at a non-NULL
        // `ptr` for the duration of the call.
        (false, _) => Ok(Some(unsafe { std::slice::from_raw_parts(ptr, len) })),
    }
}

/// An out-parameter, checked for NULL before the call does anything, and
/// written once on success.
struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    fn new(ptr: *mut T, what: &str) -> Result<Out<T>, Failure> {
        NonNull::new(ptr)
            .map(Out)
            .ok_or_else(|| Failure::null(what))
    }

    fn write(self, value: T) {
        // SAFETY: the header requires a non-NULL out-parameter to point to
        // writable memory for a `T`; it is written without reading or
        // dropping what was there.
        unsafe { self.0.as_ptr().write(value) }
    }
}

impl Out<[c_char; AUTHLOCK_ID_SIZE]> {
    /// A caller buffer of `AUTHLOCK_ID_SIZE` bytes for an ID's text, the
    /// argument named `what`.
    fn id_buffer(ptr: *mut c_char, what: &str) -> Result<Self, Failure> {
        Out::new(ptr.cast(), what)
    }
}

/// Drops a boxed value handed out with `Box::into_raw`; NULL is ignored.
fn free_box<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the header allows only pointers this library returned, each
        // freed once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Drops a string handed out with `CString::into_raw`; NULL is ignored.
fn free_c_string(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: the header allows only strings this library returned, each
        // freed once.
        drop(unsafe { CString::from_raw(ptr) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_an_entry_point_becomes_the_panic_status_with_a_message() {
        let status = boundary(|| panic!("deliberate test panic"));
        assert_eq!(status, authlock_status::Panic);
        let message = unsafe { CStr::from_ptr(authlock_last_error_message()) };
        assert!(
            message
                .to_str()
                .unwrap()
                .contains("panic was caught at the C boundary: deliberate test panic"),
            "{message:?}"
        );
        assert_eq!(boundary_or(7, || panic!("deliberate test panic")), 7);
    }

    #[test]
    fn strings_are_validated_whether_ascii_or_not() {
        assert_eq!(try_str(c"web".as_ptr(), "app").unwrap(), "web");
        assert_eq!(try_str(c"".as_ptr(), "app").unwrap(), "");
        assert_eq!(try_str(c"caf\xc3\xa9".as_ptr(), "app").unwrap(), "café");
        for bad in [c"caf\xc3", c"\xa9", c"a\xc0\xafb", c"a\xed\xa0\x80b"] {
            let failure = try_str(bad.as_ptr(), "app").unwrap_err();
            assert_eq!(failure.status, authlock_status::InvalidUtf8, "{bad:?}");
            assert!(failure.message.contains("`app` is not valid UTF-8"));
        }
        assert_eq!(
            try_str(std::ptr::null(), "app").unwrap_err().status,
            authlock_status::NullParameter
        );
        assert_eq!(try_opt_str(std::ptr::null(), "device").unwrap(), None);
    }

    #[test]
    fn id_structs_are_the_ids_bits_big_endian() {
        let id: AuthenticatorId = "0123456789abcdef00ff10203040a0f1".parse().unwrap();
        let bytes = authlock_id::from(id).bytes;
        assert_eq!(bytes[0], 0x01);
        assert_eq!(bytes[8], 0x00);
        assert_eq!(bytes[9], 0xff);
        assert_eq!(bytes[15], 0xf1);
        assert_eq!(AuthenticatorId::from(authlock_id { bytes }), id);
        assert_eq!(std::mem::size_of::<authlock_id>(), AUTHLOCK_ID_BYTES);
    }

    #[test]
    fn type_constants_are_the_type_discriminants() {
        let constants = [
            (AUTHLOCK_TYPE_PASSWORD, AuthenticatorType::Password),
            (AUTHLOCK_TYPE_PIN, AuthenticatorType::Pin),
            (AUTHLOCK_TYPE_PASSKEY, AuthenticatorType::Passkey),
            (
                AUTHLOCK_TYPE_MOBILE_BIOMETRICS,
                AuthenticatorType::MobileBiometrics,
            ),
            (
                AUTHLOCK_TYPE_FACE_AUTHENTICATION,
                AuthenticatorType::FaceAuthentication,
            ),
            (AUTHLOCK_TYPE_TOTP, AuthenticatorType::Totp),
            (AUTHLOCK_TYPE_EMAIL_OTP, AuthenticatorType::EmailOtp),
            (AUTHLOCK_TYPE_SMS_OTP, AuthenticatorType::SmsOtp),
            (AUTHLOCK_TYPE_DIRECT_OTP, AuthenticatorType::DirectOtp),
            (
                AUTHLOCK_TYPE_EMAIL_MAGIC_LINK,
                AuthenticatorType::EmailMagicLink,
            ),
            (AUTHLOCK_TYPE_SOCIAL_LOGIN, AuthenticatorType::SocialLogin),
            (AUTHLOCK_TYPE_OIDC, AuthenticatorType::Oidc),
            (AUTHLOCK_TYPE_SAML, AuthenticatorType::Saml),
        ];
        assert_eq!(constants.len(), AuthenticatorType::ALL.len());
        for (constant, kind) in constants {
            assert_eq!(try_type(constant).unwrap(), kind);
        }
        assert_eq!(
            try_type(13).unwrap_err().status,
            authlock_status::InvalidKind
        );
    }

    #[test]
    fn every_engine_error_maps_to_its_family() {
        let id = AuthenticatorId::from_u128(1);
        let cases = [
            (Error::NotFound { id }, 2),
            (Error::Deleted { id }, 2),
            (
                Error::Unsupported {
                    kind: AuthenticatorType::EmailOtp,
                    operation: crate::Operation::Lock,
                },
                3,
            ),
            (
                Error::WrongApp {
                    id,
                    kind: AuthenticatorType::Password,
                    app: "x".into(),
                    why: "test",
                },
                4,
            ),
            (Error::UnknownUser { user: "u".into() }, 2),
            (Error::UnknownReservation { id, reservation: 3 }, 2),
            (
                Error::InvalidArgument {
                    what: "x",
                    why: "y".into(),
                },
                1,
            ),
            (Error::Policy(crate::PolicyErrors(Vec::new())), 5),
            (
                Error::AlreadyRegistered {
                    user: "u".into(),
                    kind: AuthenticatorType::Password,
                    app: "a".into(),
                    id,
                },
                2,
            ),
            (Error::Snapshot("x".into()), 6),
            (Error::History("x".into()), 6),
            (Error::Storage("x".into()), 8),
        ];
        for (error, family) in cases {
            assert_eq!(
                status_of(LibraryError::Engine(&error)) as u32 / 1000,
                family,
                "{error:?}"
            );
            // The helpdesk passes engine refusals through unchanged.
            assert_eq!(
                status_of(LibraryError::Helpdesk(&HelpdeskError::Engine(
                    error.clone()
                ))),
                status_of(LibraryError::Engine(&error)),
            );
        }
    }

    #[test]
    fn every_journey_and_helpdesk_error_maps_to_its_status() {
        use HelpdeskError as H;
        use JourneyError as J;
        use authlock_status as S;
        let journey = [
            (
                J::Parse {
                    format: "JSON",
                    message: "x".into(),
                },
                S::InvalidStepConfig,
            ),
            (J::InvalidConfig(Vec::new()), S::InvalidStepConfig),
            (J::InvalidContext { why: "x".into() }, S::InvalidArgument),
            (J::InvalidRequest { why: "x".into() }, S::InvalidRequest),
        ];
        for (error, status) in journey {
            assert_eq!(
                status_of(LibraryError::Journey(&error)),
                status,
                "{error:?}"
            );
        }
        let account = crate::helpdesk::AccountRef::new("corp", "alice");
        let helpdesk = [
            (
                H::MissingPermission {
                    operator: "o".into(),
                    role: "r".into(),
                    permission: crate::Permission::UnlockAnyAccount,
                    why: "w".into(),
                },
                S::HelpdeskPermissionDenied,
            ),
            (
                H::UnrestrictedModeRequired {
                    operator: "o".into(),
                    role: "r".into(),
                },
                S::HelpdeskPermissionDenied,
            ),
            (
                H::AuthenticationRequired {
                    role: "r".into(),
                    enrolled: Vec::new(),
                },
                S::HelpdeskAuthenticationRequired,
            ),
            (
                H::NotEnrolledWith {
                    user: "u".into(),
                    method: "m".into(),
                    enrolled: Vec::new(),
                },
                S::HelpdeskNotEnrolled,
            ),
            (H::NotEnrolled { user: "u".into() }, S::HelpdeskNotEnrolled),
            (
                H::NotOnUnlockPage {
                    account: account.clone(),
                    why: "w".into(),
                },
                S::HelpdeskNotUnlockable,
            ),
            (H::NothingSelected, S::HelpdeskNotUnlockable),
            (
                H::SessionOfAnotherOperator { session: 1 },
                S::HelpdeskSessionOfAnotherOperator,
            ),
            (
                H::LinkRefused {
                    accounts: "a".into(),
                    action: "linked",
                    why: "w",
                },
                S::HelpdeskLinkRefused,
            ),
            (H::UnknownSession { session: 1 }, S::UnknownSession),
            (
                H::UnknownOperator {
                    operator: "o".into(),
                },
                S::HelpdeskNotFound,
            ),
            (H::UnknownStore { store: "s".into() }, S::HelpdeskNotFound),
            (
                H::UnknownAccount {
                    account: account.clone(),
                },
                S::HelpdeskNotFound,
            ),
            (H::AccountExists { account }, S::AccountExists),
            (
                H::InvalidArgument {
                    what: "w",
                    why: "y".into(),
                },
                S::InvalidArgument,
            ),
            (H::InvalidConfig(Vec::new()), S::InvalidHelpdeskConfig),
            (H::InvalidRequest { why: "x".into() }, S::InvalidRequest),
        ];
        for (error, status) in helpdesk {
            assert_eq!(
                status_of(LibraryError::Helpdesk(&error)),
                status,
                "{error:?}"
            );
        }
    }
}
