//! Journey steps: Lock authenticator, Unlock authenticator and
//! User authenticators, as an orchestration engine runs them.
//!
//! This module owns step configurations (loaded from TOML or JSON and
//! checked when loaded), the [`expr`] language their fields are written in,
//! the journey context a step reads and writes (variables, the
//! authenticated user, the journey's event log), and the outcome of a run.
//! It decides nothing about lockout: every change goes through the
//! [`Engine`], with [`Actor::journey`] (journey and step names) as the actor,
//! so the authenticator history records it like any other change.
//!
//! A step run:
//!
//! 1. finds the user: the journey's authenticated user, or the one user
//!    every configured identifier names;
//! 2. evaluates the authenticator ID expression, and checks the ID belongs
//!    to that user and its type may be locked or unlocked by hand;
//! 3. calls the engine (a device-user unlock fans out to every instance of
//!    the type in the journey's app, as the engine's scope rules say);
//! 4. writes the error (or `null` on success) to the error output variable,
//!    and returns [`StepOutcome::Continue`], [`StepOutcome::FailureBranch`]
//!    or [`StepOutcome::Abort`] with the error for the client;
//! 5. records a [`JourneyEvent`] in the context's event log when data
//!    reporting is configured.
//!
//! Only a malformed context (an empty journey or app name, variables that
//! are not an object) is an `Err`; everything that goes wrong while the step
//! does its work is a step failure, handled as the step's failure behaviour
//! says.
//!
//! ```
//! use authlock::journey::{JourneyContext, Step, StepOutcome};
//! use authlock::*;
//! use serde_json::json;
//!
//! let engine = Engine::builder(PolicyDocument::new()).ids(SeededIds::new(1)).build();
//! let pw = engine.register(&Registration::new("alice", AuthenticatorType::Password, "web")).unwrap();
//!
//! let step = Step::from_toml(r#"
//!     name = "lock after risk"
//!     type = "lock_authenticator"
//!     authenticator_id = "risk.authenticator"
//!     lock_reason = "risk score above 90"
//!     error_output_variable = "lock_error"
//! "#).unwrap();
//!
//! let mut ctx = JourneyContext::new("sign-in", "web")
//!     .authenticated_as("alice")
//!     .with_variables(json!({ "risk": { "authenticator": pw.to_string() } }));
//! let result = step.run(&engine, &mut ctx).unwrap();
//! assert_eq!(result.outcome, StepOutcome::Continue);
//! assert!(!engine.check(&pw, "web").unwrap().is_allowed());
//! ```

pub mod expr;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::engine::{Engine, Identifier, IdentifierKind};
use crate::error::{Error, check_name};
use crate::history::{Actor, Event};
use crate::ids::AuthenticatorId;
use crate::time::Timestamp;
use crate::types::{AuthenticatorType, Operation};
use crate::view::AuthenticatorView;

pub use expr::{Expression, ExpressionError, Missing};
use expr::{is_variable_name, json_kind};

/// The most identifiers a step may configure.
pub const MAX_IDENTIFIERS: usize = 8;
/// The longest lock reason, in bytes (the engine's limit).
pub const MAX_LOCK_REASON_LEN: usize = 1024;

/// Which step a configuration describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Locks one authenticator of the user by hand.
    LockAuthenticator,
    /// Unlocks one authenticator of the user (clearing lock and counter).
    UnlockAuthenticator,
    /// Writes the user's authenticators to a variable.
    UserAuthenticators,
}

impl StepKind {
    fn name(self) -> &'static str {
        match self {
            StepKind::LockAuthenticator => "lock_authenticator",
            StepKind::UnlockAuthenticator => "unlock_authenticator",
            StepKind::UserAuthenticators => "user_authenticators",
        }
    }
}

/// Whether the journey has authenticated the user before the step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAuthState {
    /// The user is the journey's authenticated user (the default).
    #[default]
    Authenticated,
    /// The user is found by the configured identifiers.
    NotAuthenticated,
}

/// The kinds of identifier a step may look a user up by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierType {
    /// The host's external user ID.
    ExternalId,
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A username.
    Username,
    /// A custom identifier the tenant defines (named by `name`).
    Custom,
}

/// One identifier of a step: its kind and an expression for its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierConfig {
    /// The identifier's kind.
    pub kind: IdentifierType,
    /// The custom identifier's name (for `custom` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An expression for the value, e.g. `form.email` or `'alice@example.com'`.
    pub value: String,
}

/// What a failed step does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureBehavior {
    /// The journey proceeds to the step's failure branch (the default).
    #[default]
    FailureBranch,
    /// The journey is aborted and the error is sent to the client.
    Abort,
}

/// Optional step data reporting, recorded as a [`JourneyEvent`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "DataReportingIn")]
pub enum DataReporting {
    /// Record the step's input and output.
    InputOutput,
    /// Record a custom payload: each entry's expression is evaluated after
    /// the step ran (so it may read the error output variable); an entry
    /// whose path finds nothing is `null`.
    Custom {
        /// Entry name → expression.
        payload: BTreeMap<String, String>,
    },
}

/// What [`DataReporting`] is read from: the same, with its unit variants as
/// empty struct variants, because serde lets an internally tagged unit
/// variant carry any unknown field while it refuses one in a struct
/// variant.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum DataReportingIn {
    InputOutput {},
    Custom { payload: BTreeMap<String, String> },
}

impl From<DataReportingIn> for DataReporting {
    fn from(a: DataReportingIn) -> DataReporting {
        match a {
            DataReportingIn::InputOutput {} => DataReporting::InputOutput,
            DataReportingIn::Custom { payload } => DataReporting::Custom { payload },
        }
    }
}

/// A step's configuration, as written in TOML or JSON (see
/// `docs/JOURNEYS_AND_HELPDESK.md` for every field and rule). Turn it into a
/// runnable [`Step`] with [`Step::from_config`], which checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// The step's name (recorded as the actor's step).
    pub name: String,
    /// Which step.
    #[serde(rename = "type")]
    pub kind: StepKind,
    /// Whether the journey authenticated the user (default) or the
    /// identifiers find them.
    #[serde(default)]
    pub user_auth_state: UserAuthState,
    /// Identifiers (only with `not_authenticated`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<IdentifierConfig>,
    /// An expression for the authenticator ID (lock and unlock only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_id: Option<String>,
    /// The reason stored with the lock event (lock only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_reason: Option<String>,
    /// The variable the step writes its error to (`null` on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_output_variable: Option<String>,
    /// The variable the user's authenticators are written to (user
    /// authenticators only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_variable: Option<String>,
    /// What a failure does.
    #[serde(default)]
    pub failure_behavior: FailureBehavior,
    /// Optional data reporting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_reporting: Option<DataReporting>,
}

/// One problem found in a step configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigProblem {
    /// The field, as a path (`identifiers[0].value`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// For an expression: the column (in characters, from 1) of the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a step could not be loaded or run at all. A step that runs and fails
/// is not an error: see [`StepOutcome`] and [`StepError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JourneyError {
    /// The document is not valid TOML or JSON, or does not have the shape
    /// of a step configuration.
    #[error("the step configuration is not a valid {format} step document: {message}")]
    Parse {
        /// `TOML` or `JSON`.
        format: &'static str,
        /// The parser's message (with its line and column).
        message: String,
    },
    /// The configuration parses but breaks the rules; every problem is
    /// listed.
    #[error("invalid step configuration: {}", join(.0))]
    InvalidConfig(Vec<ConfigProblem>),
    /// The journey context cannot be used.
    #[error("invalid journey context: {why}")]
    InvalidContext {
        /// What is wrong with it.
        why: String,
    },
    /// A JSON request to [`run_step_json`] that does not parse.
    #[error("invalid step request: {why}")]
    InvalidRequest {
        /// What is wrong with it.
        why: String,
    },
}

fn join(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a step failed. Written to the error output variable as an object
/// with `code` (the variant, in snake case), `message` and the variant's
/// fields; sent to the client when the step aborts.
///
/// Messages name the identifiers and IDs the journey supplied, never other
/// users. An identifier lookup error does tell whether an identifier is
/// registered: a journey open to anonymous clients should take the failure
/// branch rather than abort with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepError {
    /// The step is configured for the authenticated user, and the journey
    /// has none.
    #[error(
        "the journey has not authenticated a user, and the step is configured for the authenticated user (user_auth_state = authenticated)"
    )]
    NoAuthenticatedUser,
    /// Every identifier expression evaluated to nothing.
    #[error("no identifier has a value: {why}")]
    NoIdentifierValue {
        /// Why each expression gave nothing.
        why: String,
    },
    /// An identifier expression evaluated to something other than a string.
    #[error("{identifier} (`{expression}`) evaluates to {found}, not a string")]
    IdentifierNotString {
        /// The identifier's kind.
        identifier: String,
        /// Its expression.
        expression: String,
        /// What it evaluated to.
        found: String,
    },
    /// No user has the identifier.
    #[error("no user has {identifier} `{value}`")]
    UnknownIdentifier {
        /// The identifier's kind.
        identifier: String,
        /// Its value.
        value: String,
    },
    /// Several users have the identifier.
    #[error("{users} users have {identifier} `{value}`: it does not name one user")]
    AmbiguousIdentifier {
        /// The identifier's kind.
        identifier: String,
        /// Its value.
        value: String,
        /// How many users have it.
        users: usize,
    },
    /// The identifiers each name one user, but not the same one.
    #[error("the identifiers name different users: {first} and {second}")]
    IdentifiersDisagree {
        /// The first identifier, as `kind `value``.
        first: String,
        /// The first one that names another user.
        second: String,
    },
    /// The authenticator ID expression evaluated to nothing.
    #[error("the authenticator ID `{expression}` evaluates to nothing: {why}")]
    AuthenticatorIdMissing {
        /// The expression.
        expression: String,
        /// Where its path stopped, or what it found instead.
        why: String,
    },
    /// The authenticator ID expression evaluated to a non-string.
    #[error("the authenticator ID `{expression}` evaluates to {found}, not a string")]
    AuthenticatorIdNotString {
        /// The expression.
        expression: String,
        /// What it evaluated to.
        found: String,
    },
    /// The authenticator ID is not in the form of an ID.
    #[error("`{value}` is not an authenticator ID: expected 32 lowercase hex digits")]
    InvalidAuthenticatorId {
        /// The value (shortened if long).
        value: String,
    },
    /// No authenticator has the ID.
    #[error("authenticator {id} not found")]
    AuthenticatorNotFound {
        /// The ID.
        id: String,
    },
    /// The authenticator was deleted.
    #[error("authenticator {id} was deleted")]
    AuthenticatorDeleted {
        /// The ID.
        id: String,
    },
    /// The authenticator belongs to another user than the step's.
    #[error("authenticator {id} does not belong to the step's user")]
    NotTheUsersAuthenticator {
        /// The ID.
        id: String,
    },
    /// The type cannot be locked or unlocked by hand (TOTP, OTP, ...).
    #[error("{authenticator_type} authenticators cannot be {action} by a journey step")]
    UnsupportedType {
        /// The authenticator's type.
        authenticator_type: AuthenticatorType,
        /// `locked` or `unlocked`.
        action: String,
    },
    /// The authenticator has no instance in the journey's app.
    #[error("authenticator {id} ({authenticator_type}) has no instance in app `{app}`: {why}")]
    NotInApp {
        /// The ID.
        id: String,
        /// Its type.
        authenticator_type: AuthenticatorType,
        /// The journey's app.
        app: String,
        /// Which scope rule refused it.
        why: String,
    },
    /// The user is not known to the engine.
    #[error("user `{user}` is not known")]
    UnknownUser {
        /// The user.
        user: String,
    },
    /// The engine refused the change for another reason.
    #[error("the change was refused: {message}")]
    Refused {
        /// The engine's message.
        message: String,
    },
}

impl StepError {
    /// The error's code (`unknown_identifier`, ...).
    pub fn code(&self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        }
    }

    /// The error as written to the error output variable: `code`,
    /// `message` and the variant's fields.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        if let Value::Object(m) = &mut v {
            m.insert("message".into(), Value::String(self.to_string()));
        }
        v
    }

    fn from_engine(e: Error) -> StepError {
        match e {
            Error::NotFound { id } => StepError::AuthenticatorNotFound { id: id.to_string() },
            Error::Deleted { id } => StepError::AuthenticatorDeleted { id: id.to_string() },
            Error::Unsupported { kind, operation } => StepError::UnsupportedType {
                authenticator_type: kind,
                action: match operation {
                    Operation::Lock => "locked".into(),
                    Operation::Unlock => "unlocked".into(),
                    other => other.to_string(),
                },
            },
            Error::WrongApp { id, kind, app, why } => StepError::NotInApp {
                id: id.to_string(),
                authenticator_type: kind,
                app,
                why: why.into(),
            },
            Error::UnknownUser { user } => StepError::UnknownUser { user },
            other => StepError::Refused {
                message: other.to_string(),
            },
        }
    }
}

/// Serialises a [`StepError`] with its message (see [`StepError::to_value`]).
mod error_with_message {
    use super::StepError;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(e: &StepError, s: S) -> Result<S::Ok, S::Error> {
        e.to_value().serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StepError, D::Error> {
        StepError::deserialize(d)
    }

    pub mod option {
        use super::StepError;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        pub fn serialize<S: Serializer>(e: &Option<StepError>, s: S) -> Result<S::Ok, S::Error> {
            e.as_ref().map(StepError::to_value).serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<StepError>, D::Error> {
            Option::<StepError>::deserialize(d)
        }
    }
}

/// Where the journey goes after the step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    /// The step succeeded: continue with the next step.
    Continue,
    /// The step failed: take the failure branch.
    FailureBranch,
    /// The step failed: abort the journey and send this error to the client.
    Abort {
        /// The error for the client.
        #[serde(with = "error_with_message")]
        client_error: StepError,
    },
}

impl StepOutcome {
    fn name(&self) -> &'static str {
        match self {
            StepOutcome::Continue => "continue",
            StepOutcome::FailureBranch => "failure_branch",
            StepOutcome::Abort { .. } => "abort",
        }
    }
}

/// One entry of a journey's event log: a step's reported data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyEvent {
    /// When the step ran (the engine's clock).
    pub time: Timestamp,
    /// The journey.
    pub journey: String,
    /// The step's name.
    pub step: String,
    /// The step's type.
    pub step_type: StepKind,
    /// `continue`, `failure_branch` or `abort`.
    pub outcome: String,
    /// The step's input (input/output reporting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The step's output (input/output reporting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The custom payload (custom reporting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// What a step reads and writes: the journey, its app, its authenticated
/// user, its variables (a JSON object) and its event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyContext {
    /// The journey's name (recorded as the actor's journey).
    pub journey: String,
    /// The app the journey runs in: every engine call is made in it.
    pub app: String,
    /// The user the journey has authenticated, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated_user: Option<String>,
    /// The journey's variables: a JSON object.
    #[serde(default = "empty_object")]
    pub variables: Value,
    /// Events recorded by steps with data reporting, oldest first.
    #[serde(default)]
    pub events: Vec<JourneyEvent>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

impl JourneyContext {
    /// A context for `journey` running in `app`, with no user and no
    /// variables.
    pub fn new(journey: &str, app: &str) -> JourneyContext {
        JourneyContext {
            journey: journey.into(),
            app: app.into(),
            authenticated_user: None,
            variables: empty_object(),
            events: Vec::new(),
        }
    }

    /// Sets the journey's authenticated user.
    pub fn authenticated_as(mut self, user: &str) -> JourneyContext {
        self.authenticated_user = Some(user.into());
        self
    }

    /// Replaces the variables (must be a JSON object to run a step).
    pub fn with_variables(mut self, variables: Value) -> JourneyContext {
        self.variables = variables;
        self
    }

    /// A top-level variable.
    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    fn validate(&self) -> Result<(), JourneyError> {
        let bad = |e: Error| JourneyError::InvalidContext { why: e.to_string() };
        check_name("journey name", &self.journey).map_err(bad)?;
        check_name("app", &self.app).map_err(bad)?;
        if let Some(u) = &self.authenticated_user {
            check_name("authenticated user", u).map_err(bad)?;
        }
        if !self.variables.is_object() {
            return Err(JourneyError::InvalidContext {
                why: format!(
                    "variables must be a JSON object, not {}",
                    json_kind(&self.variables)
                ),
            });
        }
        Ok(())
    }

    fn set(&mut self, name: &str, value: Value) {
        if let Value::Object(m) = &mut self.variables {
            m.insert(name.to_string(), value);
        }
    }
}

/// What a step run produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// Where the journey goes next.
    #[serde(flatten)]
    pub outcome: StepOutcome,
    /// The error, when the step failed.
    #[serde(default, with = "error_with_message::option")]
    pub error: Option<StepError>,
    /// The user the step acted on, once found.
    #[serde(default)]
    pub user: Option<String>,
    /// The history events the step caused (empty when nothing changed).
    #[serde(default)]
    pub events: Vec<Event>,
    /// The journey event recorded, with data reporting.
    #[serde(default)]
    pub report: Option<JourneyEvent>,
}

/// A checked, runnable step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    config: StepConfig,
    identifiers: Vec<(IdentifierKind, Expression)>,
    authenticator_id: Option<Expression>,
    payload: Vec<(String, Expression)>,
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Step::from_config(StepConfig::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            field: field.into(),
            message: message.into(),
            column: None,
        });
    }
    fn expression(&mut self, field: String, source: &str) -> Option<Expression> {
        match Expression::parse(source) {
            Ok(e) => Some(e),
            Err(e) => {
                self.0.push(ConfigProblem {
                    field,
                    message: format!(
                        "invalid expression `{}` at column {}: {}",
                        source.escape_debug(),
                        e.column,
                        e.message
                    ),
                    column: Some(e.column),
                });
                None
            }
        }
    }
    fn name(&mut self, field: &str, what: &'static str, value: &str) {
        if let Err(e) = check_name(what, value) {
            self.push(field, e.to_string());
        }
    }
    fn variable(&mut self, field: &str, name: &str) {
        if !is_variable_name(name) {
            self.push(
                field,
                format!(
                    "`{}` is not a variable name: a letter or `_`, then letters, digits or `_` (at most 128)",
                    name.escape_debug()
                ),
            );
        }
    }
}

impl Step {
    /// Loads and checks a step from TOML.
    pub fn from_toml(text: &str) -> Result<Step, JourneyError> {
        let config: StepConfig = toml::from_str(text).map_err(|e| JourneyError::Parse {
            format: "TOML",
            message: e.to_string().trim_end().to_string(),
        })?;
        Step::from_config(config)
    }

    /// Loads and checks a step from JSON.
    pub fn from_json(text: &str) -> Result<Step, JourneyError> {
        let config: StepConfig = serde_json::from_str(text).map_err(|e| JourneyError::Parse {
            format: "JSON",
            message: e.to_string(),
        })?;
        Step::from_config(config)
    }

    /// Checks a configuration: every problem is reported, with the column
    /// of an invalid expression.
    pub fn from_config(config: StepConfig) -> Result<Step, JourneyError> {
        let mut p = Problems(Vec::new());
        p.name("name", "step name", &config.name);
        let kind = config.kind;
        let acts_on_one = matches!(
            kind,
            StepKind::LockAuthenticator | StepKind::UnlockAuthenticator
        );

        let mut identifiers = Vec::new();
        match config.user_auth_state {
            UserAuthState::Authenticated if !config.identifiers.is_empty() => p.push(
                "identifiers",
                "identifiers are configured only when user_auth_state = \"not_authenticated\"; the authenticated user is implicit",
            ),
            UserAuthState::NotAuthenticated if config.identifiers.is_empty() => p.push(
                "identifiers",
                "user_auth_state = \"not_authenticated\" needs at least one identifier to find the user",
            ),
            _ => {}
        }
        if config.identifiers.len() > MAX_IDENTIFIERS {
            p.push(
                "identifiers",
                format!(
                    "{} identifiers are configured; at most {MAX_IDENTIFIERS} are allowed",
                    config.identifiers.len()
                ),
            );
        }
        for (i, ident) in config.identifiers.iter().enumerate() {
            let field = format!("identifiers[{i}]");
            let kind = match (ident.kind, &ident.name) {
                (IdentifierType::Custom, Some(name)) => {
                    p.name(&format!("{field}.name"), "custom identifier name", name);
                    Some(IdentifierKind::Custom(name.clone()))
                }
                (IdentifierType::Custom, None) => {
                    p.push(
                        format!("{field}.name"),
                        "a custom identifier needs the name the tenant defined for it",
                    );
                    None
                }
                (_, Some(_)) => {
                    p.push(
                        format!("{field}.name"),
                        "only a custom identifier has a name",
                    );
                    None
                }
                (IdentifierType::ExternalId, None) => Some(IdentifierKind::ExternalId),
                (IdentifierType::Email, None) => Some(IdentifierKind::Email),
                (IdentifierType::Phone, None) => Some(IdentifierKind::Phone),
                (IdentifierType::Username, None) => Some(IdentifierKind::Username),
            };
            let value = p.expression(format!("{field}.value"), &ident.value);
            if let (Some(k), Some(v)) = (kind, value) {
                identifiers.push((k, v));
            }
        }

        let authenticator_id = match (&config.authenticator_id, acts_on_one) {
            (Some(src), true) => p.expression("authenticator_id".into(), src),
            (None, true) => {
                p.push(
                    "authenticator_id",
                    format!(
                        "{} needs the authenticator ID, as an expression",
                        kind.name()
                    ),
                );
                None
            }
            (Some(_), false) => {
                p.push(
                    "authenticator_id",
                    "user_authenticators lists every authenticator; it takes no authenticator ID",
                );
                None
            }
            (None, false) => None,
        };

        if let Some(reason) = &config.lock_reason {
            if kind != StepKind::LockAuthenticator {
                p.push(
                    "lock_reason",
                    format!(
                        "only lock_authenticator stores a lock reason, not {}",
                        kind.name()
                    ),
                );
            } else if reason.len() > MAX_LOCK_REASON_LEN {
                p.push(
                    "lock_reason",
                    format!(
                        "it is {} bytes long; at most {MAX_LOCK_REASON_LEN} are allowed",
                        reason.len()
                    ),
                );
            } else if reason.chars().any(|c| c.is_control() && c != '\n') {
                p.push("lock_reason", "it contains control characters");
            }
        }

        if let Some(v) = &config.error_output_variable {
            p.variable("error_output_variable", v);
        }
        match (&config.output_variable, kind) {
            (Some(v), StepKind::UserAuthenticators) => {
                p.variable("output_variable", v);
                if config.error_output_variable.as_deref() == Some(v.as_str()) {
                    p.push(
                        "output_variable",
                        "it is also the error output variable; use two names",
                    );
                }
            }
            (None, StepKind::UserAuthenticators) => p.push(
                "output_variable",
                "user_authenticators needs the variable to write the list to",
            ),
            (Some(_), _) => p.push(
                "output_variable",
                format!(
                    "{} writes no list; output_variable is for user_authenticators",
                    kind.name()
                ),
            ),
            (None, _) => {}
        }

        let mut payload = Vec::new();
        if let Some(DataReporting::Custom { payload: entries }) = &config.data_reporting {
            if entries.is_empty() {
                p.push(
                    "data_reporting.payload",
                    "a custom payload needs at least one entry (or use kind = \"input_output\")",
                );
            }
            for (key, src) in entries {
                if key.is_empty() || key.len() > 128 || key.chars().any(char::is_control) {
                    p.push(
                        format!("data_reporting.payload.{key}"),
                        "entry names are 1 to 128 characters without control characters",
                    );
                }
                if let Some(e) = p.expression(format!("data_reporting.payload.{key}"), src) {
                    payload.push((key.clone(), e));
                }
            }
        }

        if !p.0.is_empty() {
            return Err(JourneyError::InvalidConfig(p.0));
        }
        Ok(Step {
            config,
            identifiers,
            authenticator_id,
            payload,
        })
    }

    /// The configuration the step was loaded from.
    pub fn config(&self) -> &StepConfig {
        &self.config
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The step's type.
    pub fn kind(&self) -> StepKind {
        self.config.kind
    }

    /// Runs the step against `engine` in `ctx`: acts, writes the error
    /// output variable (and the output variable), records the journey
    /// event, and says where the journey goes next.
    ///
    /// Returns `Err` only when the context itself is unusable; then nothing
    /// has changed.
    pub fn run(
        &self,
        engine: &Engine,
        ctx: &mut JourneyContext,
    ) -> Result<StepResult, JourneyError> {
        ctx.validate()?;
        let actor = Actor::journey(&ctx.journey, &self.config.name);
        let mut trace = Trace::default();
        let done = self.execute(engine, ctx, &actor, &mut trace);

        let (outcome, error, events, listed) = match done {
            Ok(d) => (StepOutcome::Continue, None, d.events, d.listed),
            Err(e) => {
                let outcome = match self.config.failure_behavior {
                    FailureBehavior::FailureBranch => StepOutcome::FailureBranch,
                    FailureBehavior::Abort => StepOutcome::Abort {
                        client_error: e.clone(),
                    },
                };
                (outcome, Some(e), Vec::new(), None)
            }
        };

        if let Some(var) = &self.config.error_output_variable {
            ctx.set(var, error.as_ref().map_or(Value::Null, StepError::to_value));
        }
        if let (Some(var), Some(list)) = (&self.config.output_variable, &listed) {
            ctx.set(var, list.clone());
        }

        let report = self.config.data_reporting.as_ref().map(|r| {
            let mut ev = JourneyEvent {
                time: engine.now(),
                journey: ctx.journey.clone(),
                step: self.config.name.clone(),
                step_type: self.config.kind,
                outcome: outcome.name().into(),
                input: None,
                output: None,
                payload: None,
            };
            match r {
                DataReporting::InputOutput => {
                    ev.input = Some(self.input_record(ctx, &trace));
                    ev.output = Some(json!({
                        "outcome": outcome.name(),
                        "error": error.as_ref().map(StepError::to_value),
                        "events": events.iter().map(event_summary).collect::<Vec<_>>(),
                        "authenticators": listed,
                    }));
                }
                DataReporting::Custom { .. } => {
                    let mut m = Map::new();
                    for (key, e) in &self.payload {
                        let v = e.evaluate(&ctx.variables).cloned().unwrap_or(Value::Null);
                        m.insert(key.clone(), v);
                    }
                    ev.payload = Some(Value::Object(m));
                }
            }
            ctx.events.push(ev.clone());
            ev
        });

        Ok(StepResult {
            outcome,
            error,
            user: trace.user,
            events,
            report,
        })
    }

    fn input_record(&self, ctx: &JourneyContext, trace: &Trace) -> Value {
        let mut m = Map::new();
        m.insert("app".into(), json!(ctx.app));
        m.insert(
            "user_auth_state".into(),
            serde_json::to_value(self.config.user_auth_state).unwrap_or(Value::Null),
        );
        m.insert("user".into(), json!(trace.user));
        if !self.identifiers.is_empty() {
            m.insert(
                "identifiers".into(),
                Value::Array(trace.identifiers.clone()),
            );
        }
        if self.authenticator_id.is_some() {
            m.insert("authenticator_id".into(), json!(trace.authenticator_id));
        }
        if let Some(r) = &self.config.lock_reason {
            m.insert("lock_reason".into(), json!(r));
        }
        Value::Object(m)
    }

    fn execute(
        &self,
        engine: &Engine,
        ctx: &JourneyContext,
        actor: &Actor,
        trace: &mut Trace,
    ) -> Result<Done, StepError> {
        let user = self.resolve_user(engine, ctx, trace)?;
        trace.user = Some(user.clone());
        let operation = match self.config.kind {
            StepKind::LockAuthenticator => Operation::Lock,
            StepKind::UnlockAuthenticator => Operation::Unlock,
            StepKind::UserAuthenticators => {
                let views = engine
                    .authenticators(&user)
                    .map_err(StepError::from_engine)?;
                return Ok(Done {
                    events: Vec::new(),
                    listed: Some(Value::Array(views.iter().map(listing).collect())),
                });
            }
        };
        let id = self.authenticator(ctx, trace)?;
        let view = engine.authenticator(&id).map_err(StepError::from_engine)?;
        let owned = engine
            .authenticators(&user)
            .map_err(StepError::from_engine)?
            .iter()
            .any(|v| v.id == id);
        if !owned {
            return Err(StepError::NotTheUsersAuthenticator { id: id.to_string() });
        }
        if !view.kind.supports(operation) {
            return Err(StepError::from_engine(Error::Unsupported {
                kind: view.kind,
                operation,
            }));
        }
        let events = match operation {
            Operation::Lock => {
                engine.lock(&id, &ctx.app, actor, self.config.lock_reason.as_deref())
            }
            _ => engine.unlock(&id, &ctx.app, actor, None),
        }
        .map_err(StepError::from_engine)?;
        Ok(Done {
            events,
            listed: None,
        })
    }

    fn resolve_user(
        &self,
        engine: &Engine,
        ctx: &JourneyContext,
        trace: &mut Trace,
    ) -> Result<String, StepError> {
        if self.config.user_auth_state == UserAuthState::Authenticated {
            return ctx
                .authenticated_user
                .clone()
                .ok_or(StepError::NoAuthenticatedUser);
        }
        let mut found: Option<(String, String)> = None; // (user, label)
        let mut nothing = Vec::new();
        for (kind, e) in &self.identifiers {
            let label = kind_label(kind);
            let value = match e.evaluate(&ctx.variables) {
                Err(m) => {
                    nothing.push(format!("{label} (`{e}`): {m}"));
                    trace
                        .identifiers
                        .push(json!({ "kind": label, "value": null }));
                    continue;
                }
                Ok(Value::Null) => {
                    nothing.push(format!("{label} (`{e}`) is null"));
                    trace
                        .identifiers
                        .push(json!({ "kind": label, "value": null }));
                    continue;
                }
                Ok(Value::String(s)) if s.is_empty() => {
                    nothing.push(format!("{label} (`{e}`) is an empty string"));
                    trace
                        .identifiers
                        .push(json!({ "kind": label, "value": "" }));
                    continue;
                }
                Ok(Value::String(s)) => s.clone(),
                Ok(other) => {
                    return Err(StepError::IdentifierNotString {
                        identifier: label,
                        expression: e.source().into(),
                        found: json_kind(other).into(),
                    });
                }
            };
            trace
                .identifiers
                .push(json!({ "kind": label, "value": value }));
            let identifier = Identifier {
                kind: kind.clone(),
                value: value.clone(),
            };
            let shown = shorten(&value);
            let users = engine.find_users(&identifier);
            let user = match users.as_slice() {
                [] => {
                    return Err(StepError::UnknownIdentifier {
                        identifier: label,
                        value: shown,
                    });
                }
                [one] => one.clone(),
                many => {
                    return Err(StepError::AmbiguousIdentifier {
                        identifier: label,
                        value: shown,
                        users: many.len(),
                    });
                }
            };
            let described = format!("{label} `{shown}`");
            match &found {
                None => found = Some((user, described)),
                Some((u, first)) if *u != user => {
                    return Err(StepError::IdentifiersDisagree {
                        first: first.clone(),
                        second: described,
                    });
                }
                Some(_) => {}
            }
        }
        found
            .map(|(u, _)| u)
            .ok_or_else(|| StepError::NoIdentifierValue {
                why: nothing.join("; "),
            })
    }

    fn authenticator(
        &self,
        ctx: &JourneyContext,
        trace: &mut Trace,
    ) -> Result<AuthenticatorId, StepError> {
        let e = self
            .authenticator_id
            .as_ref()
            .expect("checked when loaded: lock and unlock have an authenticator ID");
        let missing = |why: String| StepError::AuthenticatorIdMissing {
            expression: e.source().into(),
            why,
        };
        let value = match e.evaluate(&ctx.variables) {
            Err(m) => return Err(missing(m.why)),
            Ok(Value::Null) => return Err(missing("it is null".into())),
            Ok(Value::String(s)) if s.is_empty() => {
                return Err(missing("it is an empty string".into()));
            }
            Ok(Value::String(s)) => s,
            Ok(other) => {
                return Err(StepError::AuthenticatorIdNotString {
                    expression: e.source().into(),
                    found: json_kind(other).into(),
                });
            }
        };
        trace.authenticator_id = Some(value.clone());
        value
            .parse()
            .map_err(|_| StepError::InvalidAuthenticatorId {
                value: shorten(value),
            })
    }
}

#[derive(Default)]
struct Trace {
    user: Option<String>,
    identifiers: Vec<Value>,
    authenticator_id: Option<String>,
}

struct Done {
    events: Vec<Event>,
    listed: Option<Value>,
}

/// An identifier kind as messages name it.
fn kind_label(kind: &IdentifierKind) -> String {
    match kind {
        IdentifierKind::ExternalId => "external user ID".into(),
        IdentifierKind::Email => "email".into(),
        IdentifierKind::Phone => "phone number".into(),
        IdentifierKind::Username => "username".into(),
        IdentifierKind::Custom(name) => format!("custom identifier `{name}`"),
    }
}

/// A value for a message: at most 64 characters, escaped.
fn shorten(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(64)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// One authenticator as the user authenticators step writes it.
fn listing(v: &AuthenticatorView) -> Value {
    json!({
        "id": v.id.to_string(),
        "type": v.kind,
        "status": v.status,
        "apps": v.apps.iter().map(|a| json!({ "app": a.app, "status": a.status })).collect::<Vec<_>>(),
    })
}

fn event_summary(e: &Event) -> Value {
    json!({
        "seq": e.seq,
        "authenticator": e.authenticator.map(|a| a.to_string()),
        "action": e.action.name(),
        "after": e.after,
    })
}

/// The request [`run_step_json`] reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// The step's configuration.
    pub step: StepConfig,
    /// The journey context.
    pub context: JourneyContext,
}

/// The response [`run_step_json`] writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepResponse {
    /// The step's result.
    pub result: StepResult,
    /// The context after the step (variables written, event recorded).
    pub context: JourneyContext,
}

/// Runs one step with JSON in and out, for the C and uniffi layers.
///
/// The request is `{"step": <step configuration>, "context": <journey
/// context>}`; the response is `{"result": <step result>, "context":
/// <updated context>}`. A request that does not parse, a configuration that
/// does not load and an unusable context are errors, and nothing changes.
pub fn run_step_json(engine: &Engine, request: &str) -> Result<String, JourneyError> {
    let req: StepRequest = serde_json::from_str(request)
        .map_err(|e| JourneyError::InvalidRequest { why: e.to_string() })?;
    let step = Step::from_config(req.step)?;
    let mut context = req.context;
    let result = step.run(engine, &mut context)?;
    serde_json::to_string(&StepResponse { result, context }).map_err(|e| {
        JourneyError::InvalidRequest {
            why: format!("the response cannot be written as JSON: {e}"),
        }
    })
}
