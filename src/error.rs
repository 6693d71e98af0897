//! The crate's one error type.
//!
//! Every variant's message names the thing concerned and the reason, so a
//! host can show it or log it as it is. The C ABI and the uniffi layer each
//! map these variants in one place; nothing else inspects them.

use crate::ids::AuthenticatorId;
use crate::policy::PolicyErrors;
use crate::types::{AuthenticatorType, Operation};

/// Everything that can go wrong in authlock. An operation that returns an
/// error has changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No authenticator has this ID in this tenant.
    #[error("authenticator {id} not found")]
    NotFound {
        /// The ID asked for.
        id: AuthenticatorId,
    },
    /// The authenticator was deleted (or replaced by a new registration).
    #[error("authenticator {id} was deleted")]
    Deleted {
        /// The deleted ID.
        id: AuthenticatorId,
    },
    /// The type does not support the operation.
    #[error("{kind} does not support {operation}")]
    Unsupported {
        /// The authenticator's type.
        kind: AuthenticatorType,
        /// The refused operation.
        operation: Operation,
    },
    /// The call was made in an app where the authenticator has no instance.
    #[error("authenticator {id} ({kind}) has no instance in app `{app}`: {why}")]
    WrongApp {
        /// The authenticator.
        id: AuthenticatorId,
        /// Its type.
        kind: AuthenticatorType,
        /// The app of the call.
        app: String,
        /// Which scope rule refused it.
        why: &'static str,
    },
    /// The user is not known to the engine.
    #[error(
        "user `{user}` is not known: no authenticator or identifier was ever registered for it"
    )]
    UnknownUser {
        /// The user asked for.
        user: String,
    },
    /// An explicit registration that already exists.
    #[error("user `{user}` already has a {kind} registered in app `{app}` (authenticator {id})")]
    AlreadyRegistered {
        /// The user.
        user: String,
        /// The type.
        kind: AuthenticatorType,
        /// The app.
        app: String,
        /// The existing authenticator.
        id: AuthenticatorId,
    },
    /// A commit for a reservation that is not outstanding.
    #[error(
        "reservation {reservation} on authenticator {id} is not outstanding: it was already committed, never issued, or dropped as the oldest of more than 16 outstanding"
    )]
    UnknownReservation {
        /// The authenticator.
        id: AuthenticatorId,
        /// The reservation number given.
        reservation: u64,
    },
    /// An argument that is malformed (empty, too long, not UTF-8, ...).
    #[error("invalid {what}: {why}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A policy document that does not parse or does not validate.
    #[error("invalid policy document: {0}")]
    Policy(PolicyErrors),
    /// A snapshot that cannot be restored.
    #[error("snapshot refused: {0}")]
    Snapshot(String),
    /// A history that cannot be replayed.
    #[error("history refused: {0}")]
    History(String),
    /// The durable store failed (I/O error, directory in use, corrupt
    /// files); after a write failure the engine refuses every call.
    #[error("store: {0}")]
    Storage(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks a host-supplied identifier (user, app, device, identifier value).
#[inline]
pub(crate) fn check_name(what: &'static str, value: &str) -> Result<()> {
    // The common case, a short printable ASCII name, in one pass over the
    // bytes; anything else takes the full check and its precise message.
    if value.len() <= 256 && !value.is_empty() && value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    check_name_slow(what, value)
}

#[cold]
fn check_name_slow(what: &'static str, value: &str) -> Result<()> {
    const MAX: usize = 256;
    if value.is_empty() {
        return Err(Error::InvalidArgument {
            what,
            why: "it is empty".into(),
        });
    }
    if value.len() > MAX {
        return Err(Error::InvalidArgument {
            what,
            why: format!(
                "it is {} bytes long; at most {MAX} are allowed",
                value.len()
            ),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(Error::InvalidArgument {
            what,
            why: format!("`{}` contains control characters", value.escape_debug()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    /// The rule the fast path must agree with: not empty, at most 256
    /// bytes, no control character (Unicode category Cc).
    fn reference(value: &str) -> bool {
        !value.is_empty() && value.len() <= 256 && !value.chars().any(char::is_control)
    }

    #[test]
    fn names_are_accepted_exactly_when_the_rule_allows() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "web".into(),
            "a b".into(),
            "x".repeat(256),
            "x".repeat(257),
            "é".repeat(128),
            "é".repeat(129),
            "tab\there".into(),
            "del\u{7f}".into(),
            "next line\u{85}".into(),
            "c1 \u{9f}".into(),
            "nbsp\u{a0}".into(),
            "日本".into(),
            "\0".into(),
        ];
        // Every one-character name and every character after a prefix.
        for c in (0u32..0x300).filter_map(char::from_u32) {
            cases.push(c.to_string());
            cases.push(format!("app-{c}"));
        }
        for v in &cases {
            let got = check_name("app", v);
            assert_eq!(got.is_ok(), reference(v), "{v:?}: {got:?}");
        }
    }

    #[test]
    fn a_refused_name_says_why() {
        let why = |v: &str| check_name("app", v).unwrap_err().to_string();
        assert!(why("").contains("it is empty"), "{}", why(""));
        assert!(why(&"x".repeat(300)).contains("300 bytes long"));
        assert!(why("a\u{7f}").contains("control characters"));
        assert!(why("a\u{85}").contains("control characters"));
    }
}
