//! The one error type the bindings see, and the one place that maps the
//! core's errors (the engine's, the journey steps' and the helpdesk's) to
//! it.

use crate::error::Error;
use crate::helpdesk::HelpdeskError;
use crate::journey::JourneyError;

/// An error from authlock, as Kotlin (`AuthlockException`), Swift
/// (`AuthlockError`) and Python (`AuthlockError`) see it.
///
/// Each variant carries the core's message, which names the thing concerned
/// and the reason (for example `totp does not support manual lock`). An
/// operation that fails has changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum AuthlockError {
    /// No authenticator has this ID.
    #[error("{0}")]
    NotFound(String),
    /// The authenticator was deleted (or replaced by a new registration).
    #[error("{0}")]
    Deleted(String),
    /// The authenticator's type does not support the operation.
    #[error("{0}")]
    Unsupported(String),
    /// The authenticator has no instance in the app of the call.
    #[error("{0}")]
    WrongApp(String),
    /// The user is not known.
    #[error("{0}")]
    UnknownUser(String),
    /// The registration already exists.
    #[error("{0}")]
    AlreadyRegistered(String),
    /// The reservation given to `commit` is not outstanding.
    #[error("{0}")]
    UnknownReservation(String),
    /// An argument is malformed (empty, too long, not an ID, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// The policy document does not parse or does not validate.
    #[error("{0}")]
    InvalidPolicy(String),
    /// A snapshot cannot be restored.
    #[error("{0}")]
    InvalidSnapshot(String),
    /// A history cannot be replayed.
    #[error("{0}")]
    InvalidHistory(String),
    /// The durable store failed; after a write failure the engine refuses
    /// every call.
    #[error("{0}")]
    Storage(String),
    /// A journey step request cannot be run: it does not parse, its step
    /// configuration breaks the rules (every problem is listed), or its
    /// context is unusable. A step that runs and fails is not an error: its
    /// result says so.
    #[error("{0}")]
    InvalidJourneyStep(String),
    /// The helpdesk configuration breaks the rules, or the engine was not
    /// built with the stores' account lockout policies.
    #[error("{0}")]
    InvalidHelpdeskConfig(String),
    /// The helpdesk refused the request: a missing permission or step
    /// (authenticate the user first, unrestricted mode required), an
    /// account not offered on the Unlock page, an unknown operator, store,
    /// account or session.
    #[error("{0}")]
    HelpdeskRefused(String),
}

impl From<Error> for AuthlockError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::NotFound { .. } => AuthlockError::NotFound(message),
            Error::Deleted { .. } => AuthlockError::Deleted(message),
            Error::Unsupported { .. } => AuthlockError::Unsupported(message),
            Error::WrongApp { .. } => AuthlockError::WrongApp(message),
            Error::UnknownUser { .. } => AuthlockError::UnknownUser(message),
            Error::AlreadyRegistered { .. } => AuthlockError::AlreadyRegistered(message),
            Error::UnknownReservation { .. } => AuthlockError::UnknownReservation(message),
            Error::InvalidArgument { .. } => AuthlockError::InvalidArgument(message),
            Error::Policy(_) => AuthlockError::InvalidPolicy(message),
            Error::Snapshot(_) => AuthlockError::InvalidSnapshot(message),
            Error::History(_) => AuthlockError::InvalidHistory(message),
            Error::Storage(_) => AuthlockError::Storage(message),
        }
    }
}

impl From<JourneyError> for AuthlockError {
    fn from(e: JourneyError) -> Self {
        AuthlockError::InvalidJourneyStep(e.to_string())
    }
}

impl From<HelpdeskError> for AuthlockError {
    fn from(e: HelpdeskError) -> Self {
        let message = e.to_string();
        match e {
            HelpdeskError::Engine(e) => e.into(),
            HelpdeskError::InvalidArgument { .. } | HelpdeskError::InvalidRequest { .. } => {
                AuthlockError::InvalidArgument(message)
            }
            HelpdeskError::InvalidConfig(_) => AuthlockError::InvalidHelpdeskConfig(message),
            HelpdeskError::MissingPermission { .. }
            | HelpdeskError::UnrestrictedModeRequired { .. }
            | HelpdeskError::AuthenticationRequired { .. }
            | HelpdeskError::NotEnrolledWith { .. }
            | HelpdeskError::NotEnrolled { .. }
            | HelpdeskError::NotOnUnlockPage { .. }
            | HelpdeskError::NothingSelected
            | HelpdeskError::UnknownSession { .. }
            | HelpdeskError::SessionOfAnotherOperator { .. }
            | HelpdeskError::UnknownOperator { .. }
            | HelpdeskError::UnknownStore { .. }
            | HelpdeskError::UnknownAccount { .. }
            | HelpdeskError::AccountExists { .. }
            | HelpdeskError::LinkRefused { .. } => AuthlockError::HelpdeskRefused(message),
        }
    }
}

/// Raised by a host's `LockListener` to report that
/// it could not handle an event.
///
/// The change the event reports has already happened and stays: a
/// listener's failure neither undoes it nor fails the call that made it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ListenerError {
    /// The listener failed; `reason` says why.
    #[error("lock listener failed: {reason}")]
    Failed {
        /// What went wrong, in the listener's words.
        reason: String,
    },
}

/// Any other exception a foreign listener throws arrives as
/// [`ListenerError::Failed`] rather than as a panic.
impl From<uniffi::UnexpectedUniFFICallbackError> for ListenerError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ListenerError::Failed { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AuthenticatorType, Operation};

    #[test]
    fn the_mapping_keeps_the_core_message() {
        let e = Error::Unsupported {
            kind: AuthenticatorType::Totp,
            operation: Operation::Lock,
        };
        let text = e.to_string();
        assert_eq!(AuthlockError::from(e), AuthlockError::Unsupported(text));
    }

    #[test]
    fn an_engine_error_inside_a_helpdesk_error_maps_as_the_engine_error() {
        let e = Error::Storage("disk full".into());
        let text = e.to_string();
        assert_eq!(
            AuthlockError::from(HelpdeskError::Engine(e)),
            AuthlockError::Storage(text)
        );
    }

    #[test]
    fn helpdesk_refusals_and_journey_errors_keep_their_message() {
        let e = HelpdeskError::NothingSelected;
        let text = e.to_string();
        assert_eq!(AuthlockError::from(e), AuthlockError::HelpdeskRefused(text));
        let e = JourneyError::InvalidRequest {
            why: "expected value".into(),
        };
        let text = e.to_string();
        assert_eq!(
            AuthlockError::from(e),
            AuthlockError::InvalidJourneyStep(text)
        );
    }
}
