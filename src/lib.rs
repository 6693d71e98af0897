//! # authlock
//!
//! An embedded, in-process library that decides, for every user
//! authenticator (password, PIN, passkey, biometrics, TOTP, OTP, ...),
//! whether it may be used right now, and keeps the record of why.
//!
//! - [`types`]: the authenticator types and their capabilities, as one table.
//! - [`policy`]: lockout policies, their TOML/JSON documents and defaults.
//! - [`record`]: the record of one authenticator and its statuses.
//! - [`transition`]: the pure state machine over one record.
//! - [`engine`]: the thread-safe in-memory engine and its API.
//! - [`view`]: the authenticator view (unified status, Mixed, per app).
//! - [`history`]: events, actors, sinks; [`snapshot`]: saving and restoring.
//!
//! Time, ID generation and event output are injected: the core reads no
//! clock and does no I/O of its own.
//!
//! ```
//! use authlock::*;
//! use std::time::Duration;
//!
//! let clock = FakeClock::at(Timestamp::from_secs(1_700_000_000));
//! let policies = PolicyDocument::parse(r#"
//!     [policies.password]
//!     max_failures = 3
//!     failure_window = "none"
//!     max_temporary_lockouts = 2
//!     lockout = { kind = "temporary", duration = "5m" }
//! "#).unwrap();
//! let engine = Engine::builder(policies).clock(clock.clone()).build();
//!
//! let pw = engine.register(&Registration::new("alice", AuthenticatorType::Password, "web")).unwrap();
//! for _ in 0..3 {
//!     engine.record_failure(&pw, &Attempt::in_app("web")).unwrap();
//! }
//! let decision = engine.check(&pw, "web").unwrap();
//! assert_eq!(decision.retry_at(), Some(clock.now().plus(Duration::from_secs(300))));
//!
//! clock.advance(Duration::from_secs(300));
//! assert!(engine.check(&pw, "web").unwrap().is_allowed());
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod capi;
pub mod engine;
pub mod error;
pub mod helpdesk;
pub mod history;
pub mod ids;
pub mod invariants;
pub mod journey;
pub mod policy;
pub mod record;
mod replay;
pub mod snapshot;
pub mod store;
mod table;
pub mod time;
pub mod transition;
pub mod types;
pub mod uniffi_api;
pub mod view;

// uniffi's derives name `crate::UniFfiTag`; its scaffolding is in `uniffi_api`.
#[doc(hidden)]
pub use uniffi_api::UniFfiTag;

pub use engine::{
    Attempt, Engine, EngineBuilder, Identifier, IdentifierKind, Observer, Registration,
};
pub use error::{Error, Result};
pub use helpdesk::{AccountRef, Helpdesk, HelpdeskConfig, HelpdeskError, Permission, PolicyMode};
pub use history::{
    Action, Actor, Event, EventSink, MemoryHistory, NoHistory, Registered, UserHistory,
    history_from_json, history_to_json,
};
pub use ids::{AppId, AuthenticatorId, DeviceId, IdGenerator, RandomIds, SeededIds, UserId};
pub use journey::{
    JourneyContext, JourneyError, Step, StepConfig, StepError, StepOutcome, StepResult,
    run_step_json,
};
pub use policy::{FieldError, Lockout, Policy, PolicyDocument, PolicyErrors, ThrottleStep};
pub use record::{Fingerprint, LockKind, Status};
pub use snapshot::{Snapshot, UserSnapshot};
pub use store::{Durability, OpenReport, Recovery, StoreOptions, StoreStatus};
pub use time::{Clock, FakeClock, SystemClock, Timestamp, format_duration, parse_duration};
pub use transition::{AttemptOutcome, Decision};
pub use types::{AuthenticatorType, Operation, RegistrationMode, Scope, TypeInfo};
pub use view::{AppDetail, AuthenticatorView, UnifiedStatus};

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
