//! The scenario format (see `docs/SIMULATOR.md`) and its checking.
//!
//! A scenario is read in two passes. The first is serde with
//! `deny_unknown_fields` everywhere, so a misspelt key stops the read at its
//! line. The second resolves every name (users, apps, devices,
//! authenticator labels, steps, accounts, operators), parses every time and
//! validates the policies through the library, producing a [`Plan`] in which
//! nothing can be unknown any more. Every problem found is reported with its
//! place; a scenario with any problem is not run at all.

use std::collections::{BTreeMap, BTreeSet};

use authlock::helpdesk::{AccountRef, HelpdeskConfig, HelpdeskError, store_app};
use authlock::journey::{JourneyError, Step, StepConfig};
use authlock::{
    Actor, AuthenticatorType, Error, Identifier, PolicyDocument, RegistrationMode, Scope,
    Timestamp, parse_duration,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::source::{Format, InputError, Locator, Path, Source};

/// The default start of a scenario's clock.
pub const DEFAULT_START: &str = "2026-01-05T09:00:00Z";

// ----- the raw document ------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    start: Option<String>,
    seed: Option<u64>,
    tenant: Option<String>,
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    apps: BTreeMap<String, RawApp>,
    #[serde(default)]
    users: BTreeMap<String, RawUser>,
    #[serde(default)]
    authenticators: Vec<RawRegistration>,
    #[serde(default)]
    steps: Vec<StepConfig>,
    helpdesk: Option<HelpdeskConfig>,
    #[serde(default)]
    accounts: Vec<RawAccount>,
    #[serde(default)]
    timeline: Timeline,
}

/// The timeline: an array of entries (`[[timeline]]`, or `timeline = [...]`
/// before the first table), or a `[timeline]` table whose `entries` is that
/// array (which may come last in a TOML file).
#[derive(Default)]
struct Timeline {
    entries: Vec<RawEntry>,
    /// Written as a table with `entries`.
    table: bool,
}

impl<'de> Deserialize<'de> for Timeline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Timeline;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of timeline entries, or a table with `entries`")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Timeline, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = seq.next_element::<RawEntry>()? {
                    entries.push(e);
                }
                Ok(Timeline {
                    entries,
                    table: false,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Timeline, A::Error> {
                let mut entries = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "entries" && entries.is_none() {
                        entries = Some(map.next_value::<Vec<RawEntry>>()?);
                    } else if key == "entries" {
                        return Err(serde::de::Error::duplicate_field("entries"));
                    } else {
                        return Err(serde::de::Error::unknown_field(&key, &["entries"]));
                    }
                }
                Ok(Timeline {
                    entries: entries.unwrap_or_default(),
                    table: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A policy as the policy document writes it; checked by the library.
#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_failures: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_window: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lockout: Option<RawLockout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_temporary_lockouts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    throttle: Option<Vec<RawThrottle>>,
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawLockout {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    factor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    increment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_duration: Option<String>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    after: i64,
    wait: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApp {
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUser {
    #[serde(default)]
    identifiers: RawIdentifiers,
    #[serde(default)]
    devices: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIdentifiers {
    email: Option<String>,
    phone: Option<String>,
    username: Option<String>,
    external_id: Option<String>,
    #[serde(default)]
    custom: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRegistration {
    name: Option<String>,
    user: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    app: Option<String>,
    apps: Option<Vec<String>>,
    device: Option<String>,
    public_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Option<String>,
    store: String,
    user: String,
    display_name: Option<String>,
    #[serde(default)]
    enrolled: Vec<String>,
    /// Labels of accounts in other stores the user linked to this one.
    #[serde(default)]
    links: Vec<String>,
}

/// One timeline entry: `do` says what; the other fields are its arguments.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    at: Option<String>,
    #[serde(rename = "do")]
    action: Option<String>,
    note: Option<String>,
    auth: Option<String>,
    app: Option<String>,
    apps: Option<Vec<String>>,
    device: Option<String>,
    fingerprint: Option<String>,
    reservation: Option<String>,
    success: Option<bool>,
    reason: Option<String>,
    by: Option<String>,
    user: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    public_key: Option<String>,
    account: Option<String>,
    journey: Option<String>,
    step: Option<String>,
    variables: Option<Value>,
    operator: Option<String>,
    authenticate_with: Option<String>,
    select: Option<Vec<String>>,
}

impl RawEntry {
    /// The argument fields that are set, by name.
    fn present(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut f = |name: &'static str, set: bool| {
            if set {
                v.push(name);
            }
        };
        f("auth", self.auth.is_some());
        f("app", self.app.is_some());
        f("apps", self.apps.is_some());
        f("device", self.device.is_some());
        f("fingerprint", self.fingerprint.is_some());
        f("reservation", self.reservation.is_some());
        f("success", self.success.is_some());
        f("reason", self.reason.is_some());
        f("by", self.by.is_some());
        f("user", self.user.is_some());
        f("type", self.kind.is_some());
        f("name", self.name.is_some());
        f("public_key", self.public_key.is_some());
        f("account", self.account.is_some());
        f("journey", self.journey.is_some());
        f("step", self.step.is_some());
        f("variables", self.variables.is_some());
        f("operator", self.operator.is_some());
        f("authenticate_with", self.authenticate_with.is_some());
        f("select", self.select.is_some());
        v
    }
}

/// Every `do` and the fields it takes: (name, required, optional).
const ACTIONS: &[(&str, &[&str], &[&str])] = &[
    ("failure", &["auth"], &["app", "device", "fingerprint"]),
    ("success", &["auth"], &["app", "device"]),
    ("check", &["auth"], &["app"]),
    (
        "reserve",
        &["auth"],
        &["app", "device", "fingerprint", "reservation"],
    ),
    (
        "commit",
        &["auth", "success"],
        &["app", "device", "reservation"],
    ),
    ("lock", &["auth"], &["app", "reason", "by"]),
    ("unlock", &["auth"], &["app", "reason", "by"]),
    ("unlock_type", &["user", "type", "app"], &["reason", "by"]),
    ("delete", &["auth"], &["app", "reason", "by"]),
    ("deactivate", &["auth"], &["app", "reason", "by"]),
    ("reactivate", &["auth"], &["app", "reason", "by"]),
    ("suspend", &["user"], &["reason", "by"]),
    ("unsuspend", &["user"], &["reason", "by"]),
    (
        "register",
        &["name", "user", "type"],
        &["app", "apps", "device", "public_key", "by"],
    ),
    (
        "first_use",
        &["name", "user", "type", "account", "app"],
        &["device"],
    ),
    ("clock", &[], &[]),
    (
        "journey",
        &["journey", "step"],
        &["app", "user", "variables"],
    ),
    (
        "helpdesk_unlock",
        &["operator", "account"],
        &["authenticate_with", "select", "reason"],
    ),
];

// ----- the plan --------------------------------------------------------------

/// A checked scenario, ready to run.
#[derive(Debug)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The file it was read from.
    pub file: String,
    /// When its clock starts.
    pub start: Timestamp,
    /// The seed of its authenticator IDs.
    pub seed: u64,
    /// The policies in force (with the helpdesk stores' account lockout).
    pub policies: PolicyDocument,
    /// Users, in name order.
    pub users: Vec<UserPlan>,
    /// Registrations made at the start, in declaration order.
    pub registrations: Vec<RegPlan>,
    /// Journey steps by name.
    pub steps: BTreeMap<String, Step>,
    /// The helpdesk, if the scenario has one.
    pub helpdesk: Option<HelpdeskConfig>,
    /// Helpdesk accounts, created at the start.
    pub accounts: Vec<AccountPlan>,
    /// Links between accounts (by account label).
    pub links: Vec<(String, String)>,
    /// The timeline.
    pub entries: Vec<EntryPlan>,
}

/// A user and its profile.
#[derive(Debug)]
pub struct UserPlan {
    /// The user ID.
    pub name: String,
    /// Identifiers added to the profile at the start.
    pub identifiers: Vec<Identifier>,
}

/// An explicit registration.
#[derive(Debug, Clone)]
pub struct RegPlan {
    /// The label the scenario uses.
    pub label: String,
    /// The user.
    pub user: String,
    /// The type.
    pub kind: AuthenticatorType,
    /// The apps it is registered in.
    pub apps: Vec<String>,
    /// Its device (device-user types).
    pub device: Option<String>,
    /// A passkey's public key.
    pub public_key: Option<String>,
    /// Who registers it.
    pub by: Option<Actor>,
}

/// A helpdesk account.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    /// Its label (also the label of the user's password in the store).
    pub label: String,
    /// The account.
    pub account: AccountRef,
    /// The name the store shows.
    pub display_name: Option<String>,
    /// Enrolled authentication types.
    pub enrolled: Vec<String>,
}

/// One checked timeline entry.
#[derive(Debug)]
pub struct EntryPlan {
    /// Its number, from 1.
    pub number: usize,
    /// Its line in a TOML scenario.
    pub line: Option<usize>,
    /// When it happens.
    pub at: Timestamp,
    /// The `do` value.
    pub action: String,
    /// The scenario's comment on it.
    pub note: Option<String>,
    /// What it does.
    pub op: Op,
}

/// An authenticator named by its label, with the app of the call.
#[derive(Debug, Clone)]
pub struct Target {
    /// The label.
    pub label: String,
    /// The app of the call.
    pub app: String,
}

/// What an entry does, with every name resolved.
#[derive(Debug, Clone)]
pub enum Op {
    /// A failed attempt.
    Failure {
        /// The authenticator.
        target: Target,
        /// The device used.
        device: Option<String>,
        /// The wrong secret's fingerprint.
        fingerprint: Option<String>,
    },
    /// A successful attempt.
    Success {
        /// The authenticator.
        target: Target,
        /// The device used.
        device: Option<String>,
    },
    /// Asks whether it may be used.
    Check {
        /// The authenticator.
        target: Target,
    },
    /// Counts a failure before verifying.
    Reserve {
        /// The authenticator.
        target: Target,
        /// The device used.
        device: Option<String>,
        /// The fingerprint of the secret being verified.
        fingerprint: Option<String>,
        /// The reservation's label.
        reservation: String,
    },
    /// Settles a reservation.
    Commit {
        /// The authenticator.
        target: Target,
        /// The device used.
        device: Option<String>,
        /// The reservation's label.
        reservation: String,
        /// Whether the secret was right.
        success: bool,
    },
    /// An admin action on one authenticator.
    Admin {
        /// Which (`lock`, `unlock`, `delete`, `deactivate`, `reactivate`).
        what: AdminAction,
        /// The authenticator.
        target: Target,
        /// The reason.
        reason: Option<String>,
        /// Who.
        by: Actor,
    },
    /// Unlocks every instance of a type a user has in an app.
    UnlockType {
        /// The user.
        user: String,
        /// The type.
        kind: AuthenticatorType,
        /// The app.
        app: String,
        /// The reason.
        reason: Option<String>,
        /// Who.
        by: Actor,
    },
    /// Suspends or unsuspends a user.
    Suspend {
        /// Suspend (`true`) or unsuspend.
        suspend: bool,
        /// The user.
        user: String,
        /// The reason.
        reason: Option<String>,
        /// Who.
        by: Actor,
    },
    /// A registration during the timeline.
    Register(RegPlan),
    /// A first sign-in with a social, OIDC or SAML account.
    FirstUse {
        /// The label of the authenticator it registers.
        label: String,
        /// The user.
        user: String,
        /// The type.
        kind: AuthenticatorType,
        /// The provider account.
        account: String,
        /// The app.
        app: String,
        /// The device used.
        device: Option<String>,
    },
    /// The clock is set (forward or back); nothing else happens.
    Clock,
    /// A journey step runs.
    Journey {
        /// The journey (one context per journey name).
        journey: String,
        /// The step's name.
        step: String,
        /// The app, when the entry sets it.
        app: Option<String>,
        /// The authenticated user, when the entry sets it.
        user: Option<String>,
        /// Variables merged into the context, `@label` already resolved to
        /// the label (the runner substitutes IDs).
        variables: Option<Value>,
    },
    /// A helpdesk operator unlocks an account.
    HelpdeskUnlock {
        /// The operator.
        operator: String,
        /// The account the dialog is opened for (label).
        account: String,
        /// The enrolled type the operator authenticated the user with.
        authenticate_with: Option<String>,
        /// The accounts selected on the Unlock page (labels); all offered
        /// ones when absent.
        select: Option<Vec<String>>,
        /// The reason.
        reason: Option<String>,
    },
}

/// The admin actions on one authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// Manual lock.
    Lock,
    /// Unlock.
    Unlock,
    /// Delete.
    Delete,
    /// Deactivate.
    Deactivate,
    /// Reactivate.
    Reactivate,
}

/// What the planner knows about a label.
#[derive(Debug, Clone)]
struct LabelInfo {
    user: String,
    kind: AuthenticatorType,
    apps: Vec<String>,
}

// ----- reading ---------------------------------------------------------------

/// Reads and checks a scenario. `policy_override` replaces the scenario's
/// policies with a policy document.
pub fn load(source: &Source, policy_override: Option<&Source>) -> Result<Plan, Vec<InputError>> {
    let raw: RawScenario = match source.format {
        Format::Toml => toml::from_str(&source.text).map_err(|e| {
            vec![InputError::at_offset(
                source,
                e.span().map(|s| s.start),
                None,
                e.message().trim().to_string(),
            )]
        })?,
        Format::Json => serde_json::from_str(&source.text).map_err(|e| {
            let at = (e.line() > 0).then(|| (e.line(), e.column().max(1)));
            vec![InputError::at_line(
                source,
                at,
                None,
                json_message(&e.to_string()),
            )]
        })?,
    };
    let locator = Locator::new(source);
    let mut p = Planner {
        source,
        locator,
        errors: Vec::new(),
        labels: BTreeMap::new(),
        apps: BTreeSet::new(),
        users: BTreeMap::new(),
        journeys: BTreeSet::new(),
        later: BTreeMap::new(),
        broken_steps: BTreeSet::new(),
    };
    let plan = p.plan(raw, policy_override);
    if p.errors.is_empty() {
        Ok(plan)
    } else {
        Err(p.errors)
    }
}

/// serde_json appends " at line L column C"; the place is reported apart.
fn json_message(m: &str) -> String {
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

struct Planner<'a> {
    source: &'a Source,
    locator: Locator<'a>,
    errors: Vec<InputError>,
    labels: BTreeMap<String, LabelInfo>,
    apps: BTreeSet<String>,
    /// Users and their devices.
    users: BTreeMap<String, BTreeSet<String>>,
    /// Journeys started by an earlier entry.
    journeys: BTreeSet<String>,
    /// Labels that a timeline entry registers, and which entry.
    later: BTreeMap<String, usize>,
    /// Steps whose configuration is invalid (already reported).
    broken_steps: BTreeSet<String>,
}

/// Describes a path in words: `timeline entry 7, field `auth``.
fn place_of(path: &Path) -> String {
    use crate::source::Seg;
    let segs = &path.0;
    match segs.as_slice() {
        [Seg::Key(t), Seg::Key(en), Seg::Index(i), rest @ ..]
            if t == "timeline" && en == "entries" =>
        {
            let mut s = format!("timeline entry {}", i + 1);
            if !rest.is_empty() {
                s.push_str(&format!(", field `{}`", Path(rest.to_vec())));
            }
            s
        }
        [Seg::Key(t), Seg::Index(i), rest @ ..] if t == "timeline" => {
            let mut s = format!("timeline entry {}", i + 1);
            if !rest.is_empty() {
                s.push_str(&format!(", field `{}`", Path(rest.to_vec())));
            }
            s
        }
        [Seg::Key(t), Seg::Index(i), rest @ ..]
            if t == "authenticators" || t == "steps" || t == "accounts" =>
        {
            let what = match t.as_str() {
                "authenticators" => "authenticator",
                "steps" => "step",
                _ => "account",
            };
            let mut s = format!("{what} {}", i + 1);
            if !rest.is_empty() {
                s.push_str(&format!(", field `{}`", Path(rest.to_vec())));
            }
            s
        }
        [] => "scenario".to_string(),
        _ => format!("`{path}`"),
    }
}

impl Planner<'_> {
    fn err(&mut self, path: &Path, message: impl Into<String>) {
        let span = self.locator.span(path);
        self.errors.push(InputError::at_offset(
            self.source,
            span.map(|s| s.start),
            Some(place_of(path)),
            message.into(),
        ));
    }

    fn line_of(&self, path: &Path) -> Option<usize> {
        self.locator
            .span(path)
            .map(|s| self.source.line_col(s.start).0)
    }

    fn time(&mut self, path: &Path, s: &str) -> Option<Timestamp> {
        match Timestamp::parse_rfc3339(s) {
            Ok(t) => Some(t),
            Err(_) => {
                self.err(
                    path,
                    format!(
                        "`{}` is not a time: write an RFC 3339 time such as 2026-01-05T09:00:00Z",
                        s.escape_debug()
                    ),
                );
                None
            }
        }
    }

    fn kind(&mut self, path: &Path, s: &str) -> Option<AuthenticatorType> {
        match s.parse::<AuthenticatorType>() {
            Ok(k) => Some(k),
            Err(e) => {
                self.err(path, e);
                None
            }
        }
    }

    fn name_ok(&mut self, path: &Path, what: &str, s: &str) -> bool {
        if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
            self.err(
                path,
                format!(
                    "{what} `{}` must be 1 to 256 bytes without control characters",
                    s.escape_debug()
                ),
            );
            false
        } else {
            true
        }
    }

    fn app(&mut self, path: &Path, app: &str) -> bool {
        if self.apps.contains(app) {
            true
        } else {
            let known: Vec<&str> = self.apps.iter().map(String::as_str).collect();
            self.err(
                path,
                format!(
                    "app `{}` is not declared (declared: {}); declare it under `apps`",
                    app.escape_debug(),
                    list_or_none(&known)
                ),
            );
            false
        }
    }

    fn user(&mut self, path: &Path, user: &str) -> bool {
        if self.users.contains_key(user) {
            true
        } else {
            let known: Vec<&str> = self.users.keys().map(String::as_str).collect();
            self.err(
                path,
                format!(
                    "user `{}` is not declared (declared: {}); declare it under `users`",
                    user.escape_debug(),
                    list_or_none(&known)
                ),
            );
            false
        }
    }

    fn actor(&mut self, path: &Path, by: Option<&str>) -> Actor {
        let Some(by) = by else {
            return Actor::admin("ops");
        };
        let parsed = match by.split_once(':') {
            Some(("admin", id)) if !id.is_empty() => Some(Actor::admin(id)),
            Some(("helpdesk", id)) if !id.is_empty() => Some(Actor::helpdesk(id)),
            Some(("user", id)) if !id.is_empty() => Some(Actor::user(id)),
            Some(("journey", rest)) => rest
                .split_once('/')
                .filter(|(j, s)| !j.is_empty() && !s.is_empty())
                .map(|(j, s)| Actor::journey(j, s)),
            None if by == "system" => Some(Actor::System),
            _ => None,
        };
        parsed.unwrap_or_else(|| {
            self.err(
                path,
                format!(
                    "`{}` is not an actor: write admin:ID, helpdesk:ID, user:ID, journey:JOURNEY/STEP or system",
                    by.escape_debug()
                ),
            );
            Actor::System
        })
    }

    fn plan(&mut self, raw: RawScenario, policy_override: Option<&Source>) -> Plan {
        let root = Path::root();
        let name = raw.name.clone().unwrap_or_else(|| {
            std::path::Path::new(&self.source.name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        });
        let start = match &raw.start {
            Some(s) => self.time(&root.key("start"), s),
            None => Timestamp::parse_rfc3339(DEFAULT_START).ok(),
        }
        .unwrap_or(Timestamp::EPOCH);

        // Apps, and the identity stores' apps.
        for app in raw.apps.keys() {
            if self.name_ok(&root.key("apps").key(app), "app", app) {
                self.apps.insert(app.clone());
            }
        }
        if let Some(h) = &raw.helpdesk {
            for store in h.stores.keys() {
                self.apps.insert(store_app(store));
            }
        }

        let policies = self.policies(&raw, policy_override);

        // Users.
        let mut users = Vec::new();
        for (user, ru) in &raw.users {
            let up = root.key("users").key(user);
            if !self.name_ok(&up, "user", user) {
                continue;
            }
            let mut identifiers = Vec::new();
            let ids = &ru.identifiers;
            let ip = up.key("identifiers");
            for (key, value, make) in [
                (
                    "email",
                    &ids.email,
                    Identifier::email as fn(&str) -> Identifier,
                ),
                ("phone", &ids.phone, Identifier::phone),
                ("username", &ids.username, Identifier::username),
                ("external_id", &ids.external_id, Identifier::external_id),
            ] {
                if let Some(v) = value
                    && self.name_ok(&ip.key(key), "identifier", v)
                {
                    identifiers.push(make(v));
                }
            }
            for (k, v) in &ids.custom {
                let cp = ip.key("custom").key(k);
                if self.name_ok(&cp, "custom identifier name", k)
                    && self.name_ok(&cp, "identifier", v)
                {
                    identifiers.push(Identifier::custom(k, v));
                }
            }
            let mut devices = BTreeSet::new();
            for (i, d) in ru.devices.iter().enumerate() {
                if self.name_ok(&up.key("devices").index(i), "device", d) {
                    devices.insert(d.clone());
                }
            }
            self.users.insert(user.clone(), devices);
            // Implicit authenticators get labels `user/type`.
            for ident in &identifiers {
                let mode = match ident.kind {
                    authlock::IdentifierKind::Email => RegistrationMode::ImplicitWithEmail,
                    authlock::IdentifierKind::Phone => RegistrationMode::ImplicitWithPhone,
                    _ => continue,
                };
                for kind in AuthenticatorType::ALL {
                    if kind.info().registration == mode {
                        self.labels.insert(
                            format!("{user}/{kind}"),
                            LabelInfo {
                                user: user.clone(),
                                kind,
                                apps: Vec::new(),
                            },
                        );
                    }
                }
            }
            users.push(UserPlan {
                name: user.clone(),
                identifiers,
            });
        }

        // Registrations at the start.
        let mut registrations = Vec::new();
        for (i, r) in raw.authenticators.iter().enumerate() {
            let path = root.key("authenticators").index(i);
            if let Some(reg) = self.registration(&path, r, None) {
                registrations.push(reg);
            }
        }

        // Journey steps.
        let mut steps = BTreeMap::new();
        for (i, cfg) in raw.steps.iter().enumerate() {
            let path = root.key("steps").index(i);
            let step_name = cfg.name.clone();
            if steps.contains_key(&step_name) {
                self.err(
                    &path.key("name"),
                    format!("step `{step_name}` is defined twice"),
                );
                continue;
            }
            match Step::from_config(cfg.clone()) {
                Ok(step) => {
                    steps.insert(step_name, step);
                }
                Err(JourneyError::InvalidConfig(problems)) => {
                    self.broken_steps.insert(step_name.clone());
                    for pr in problems {
                        self.err(&path.join_dotted(&pr.field), pr.message);
                    }
                }
                Err(other) => {
                    self.broken_steps.insert(step_name.clone());
                    self.err(&path, other.to_string())
                }
            }
        }

        // Helpdesk accounts and links.
        let mut accounts = Vec::new();
        let mut account_labels: BTreeMap<String, AccountRef> = BTreeMap::new();
        if !raw.accounts.is_empty() && raw.helpdesk.is_none() {
            self.err(
                &root.key("accounts"),
                "accounts need a [helpdesk] section that configures their identity stores",
            );
        }
        for (i, a) in raw.accounts.iter().enumerate() {
            let path = root.key("accounts").index(i);
            let Some(h) = &raw.helpdesk else { break };
            if !h.stores.contains_key(&a.store) {
                let known: Vec<&str> = h.stores.keys().map(String::as_str).collect();
                self.err(
                    &path.key("store"),
                    format!(
                        "identity store `{}` is not configured (configured: {})",
                        a.store,
                        list_or_none(&known)
                    ),
                );
                continue;
            }
            if !self.user(&path.key("user"), &a.user) {
                continue;
            }
            let label = a
                .name
                .clone()
                .unwrap_or_else(|| format!("{}@{}", a.user, a.store));
            if self.labels.contains_key(&label) {
                self.err(&path, format!("the label `{label}` is used twice"));
                continue;
            }
            let account = AccountRef::new(&a.store, &a.user);
            if account_labels.values().any(|x| *x == account) {
                self.err(&path, format!("account {account} is declared twice"));
                continue;
            }
            self.labels.insert(
                label.clone(),
                LabelInfo {
                    user: a.user.clone(),
                    kind: AuthenticatorType::Password,
                    apps: vec![store_app(&a.store)],
                },
            );
            account_labels.insert(label.clone(), account.clone());
            accounts.push(AccountPlan {
                label,
                account,
                display_name: a.display_name.clone(),
                enrolled: a.enrolled.clone(),
            });
        }
        let mut links = Vec::new();
        for (i, a) in raw.accounts.iter().enumerate() {
            let Some(from) = accounts
                .iter()
                .find(|p| p.account == AccountRef::new(&a.store, &a.user))
            else {
                continue;
            };
            let from = from.label.clone();
            for (j, label) in a.links.iter().enumerate() {
                let path = root.key("accounts").index(i).key("links").index(j);
                match account_labels.get(label) {
                    None => {
                        let known: Vec<&str> = account_labels.keys().map(String::as_str).collect();
                        self.err(
                            &path,
                            format!(
                                "no account is labelled `{label}` (accounts: {})",
                                list_or_none(&known)
                            ),
                        );
                    }
                    Some(to) if to.store == account_labels[&from].store => {
                        self.err(&path, format!("`{from}` and `{label}` are in the same identity store: linked accounts are in different stores"));
                    }
                    Some(_) => links.push((from.clone(), label.clone())),
                }
            }
        }

        // The timeline.
        let mut entries = Vec::new();
        let mut now = start;
        let mut reservations: BTreeMap<String, (String, bool)> = BTreeMap::new();
        let timeline_path = if raw.timeline.table {
            root.key("timeline").key("entries")
        } else {
            root.key("timeline")
        };
        for (i, e) in raw.timeline.entries.iter().enumerate() {
            if let (Some("register" | "first_use"), Some(name)) = (e.action.as_deref(), &e.name) {
                self.later.entry(name.clone()).or_insert(i);
            }
        }
        for (i, e) in raw.timeline.entries.iter().enumerate() {
            let path = timeline_path.index(i);
            let at = match &e.at {
                None => now,
                Some(s) => match parse_at(s, now) {
                    Ok(x) => x,
                    Err(m) => {
                        self.err(&path.key("at"), m);
                        now
                    }
                },
            };
            now = at;
            let Some(action) = e.action.clone() else {
                self.err(
                    &path,
                    format!("missing `do`: say what happens ({})", action_names()),
                );
                continue;
            };
            let Some((_, required, optional)) = ACTIONS.iter().find(|(n, ..)| *n == action) else {
                self.err(
                    &path.key("do"),
                    format!(
                        "`{}` is not something a timeline entry does (known: {})",
                        action.escape_debug(),
                        action_names()
                    ),
                );
                continue;
            };
            let present = e.present();
            let mut shape_ok = true;
            for f in &present {
                if !required.contains(f) && !optional.contains(f) {
                    let takes: Vec<&str> =
                        required.iter().chain(optional.iter()).copied().collect();
                    self.err(
                        &path.key(f),
                        format!(
                            "`{f}` does not apply to `{action}` (it takes: {})",
                            list_or_none(&takes)
                        ),
                    );
                    shape_ok = false;
                }
            }
            for f in *required {
                if !present.contains(f) {
                    self.err(&path, format!("`{action}` needs `{f}`"));
                    shape_ok = false;
                }
            }
            if !shape_ok {
                continue;
            }
            let op = self.entry_op(
                &path,
                i,
                &action,
                e,
                &steps,
                &account_labels,
                raw.helpdesk.as_ref(),
                &mut reservations,
            );
            if let Some(op) = op {
                entries.push(EntryPlan {
                    number: i + 1,
                    line: self.line_of(&path),
                    at,
                    action,
                    note: e.note.clone(),
                    op,
                });
            }
        }

        Plan {
            name,
            description: raw.description.clone(),
            file: self.source.name.clone(),
            start,
            seed: raw.seed.unwrap_or(1),
            policies,
            users,
            registrations,
            steps,
            helpdesk: raw.helpdesk.clone(),
            accounts,
            links,
            entries,
        }
    }

    /// The policy document: the scenario's `[policies]` and
    /// `[apps.X.policies]` (or the override file), plus the helpdesk stores'
    /// account lockout policies.
    fn policies(&mut self, raw: &RawScenario, policy_override: Option<&Source>) -> PolicyDocument {
        let root = Path::root();
        let mut doc = match policy_override {
            Some(src) => match PolicyDocument::parse(&src.text) {
                Ok(d) => d,
                Err(Error::Policy(errs)) => {
                    for fe in errs.0 {
                        let place = (!fe.field.is_empty()).then(|| format!("`{}`", fe.field));
                        let at = fe.line.map(|l| (l as usize, 1));
                        let mut e = InputError::at_line(src, at, place, fe.message);
                        if at.is_some() {
                            e.snippet = e
                                .snippet
                                .map(|s| s.lines().next().unwrap_or("").to_string());
                        }
                        self.errors.push(e);
                    }
                    PolicyDocument::new()
                }
                Err(other) => {
                    self.errors
                        .push(InputError::whole(&src.name, other.to_string()));
                    PolicyDocument::new()
                }
            },
            None => {
                let mut apps = serde_json::Map::new();
                for (app, ra) in &raw.apps {
                    if !ra.policies.is_empty() {
                        apps.insert(app.clone(), serde_json::json!({ "policies": ra.policies }));
                    }
                }
                let mut json = serde_json::json!({ "policies": raw.policies, "apps": apps });
                if let Some(t) = &raw.tenant {
                    json["tenant"] = Value::String(t.clone());
                }
                match PolicyDocument::from_json(&json.to_string()) {
                    Ok(d) => d,
                    Err(Error::Policy(errs)) => {
                        for fe in errs.0 {
                            let path = if fe.field == "tenant" {
                                root.key("tenant")
                            } else {
                                root.join_dotted(&fe.field)
                            };
                            self.err(&path, fe.message);
                        }
                        PolicyDocument::new()
                    }
                    Err(other) => {
                        self.err(&root, other.to_string());
                        PolicyDocument::new()
                    }
                }
            }
        };
        if policy_override.is_some()
            && let Some(t) = &raw.tenant
            && let Err(e) = doc.set_tenant(t)
        {
            self.err(&root.key("tenant"), e.to_string());
        }
        if let Some(h) = &raw.helpdesk
            && let Err(e) = h.apply_policies(&mut doc)
        {
            self.helpdesk_error(e);
        }
        doc
    }

    fn helpdesk_error(&mut self, e: HelpdeskError) {
        let root = Path::root().key("helpdesk");
        match e {
            HelpdeskError::InvalidConfig(problems) => {
                for pr in problems {
                    let (field, message) = pr.split_once(": ").unwrap_or(("", pr.as_str()));
                    self.err(&root.join_dotted(field), message.to_string());
                }
            }
            other => self.err(&root, other.to_string()),
        }
    }

    /// Checks one registration (at the start, or a `register` entry).
    fn registration(
        &mut self,
        path: &Path,
        r: &RawRegistration,
        entry: Option<usize>,
    ) -> Option<RegPlan> {
        let mut ok = true;
        let label = match &r.name {
            Some(n) if self.name_ok(&path.key("name"), "name", n) => n.clone(),
            Some(_) => return None,
            None => {
                self.err(
                    path,
                    "missing `name`: the label the timeline uses for this authenticator",
                );
                return None;
            }
        };
        let user = match &r.user {
            Some(u) => {
                ok &= self.user(&path.key("user"), u);
                u.clone()
            }
            None => {
                self.err(path, "missing `user`");
                return None;
            }
        };
        let kind = match &r.kind {
            Some(k) => self.kind(&path.key("type"), k)?,
            None => {
                self.err(path, "missing `type`");
                return None;
            }
        };
        if kind.info().registration != RegistrationMode::Explicit {
            let how = match kind.info().registration {
                RegistrationMode::ImplicitWithEmail => {
                    "when the user has an email: it is labelled `USER/TYPE`"
                }
                RegistrationMode::ImplicitWithPhone => {
                    "when the user has a phone number: it is labelled `USER/TYPE`"
                }
                _ => "on its first use: use `do = \"first_use\"`",
            };
            self.err(
                &path.key("type"),
                format!("{kind} is not registered explicitly; it is registered {how}"),
            );
            return None;
        }
        let apps: Vec<String> = match (&r.app, &r.apps) {
            (Some(a), None) => vec![a.clone()],
            (None, Some(list)) if !list.is_empty() => list.clone(),
            (Some(_), Some(_)) => {
                self.err(&path.key("apps"), "give `app` or `apps`, not both");
                return None;
            }
            _ => {
                self.err(path, "missing `app` (or `apps`): where it is registered");
                return None;
            }
        };
        let apps_path = if r.app.is_some() {
            path.key("app")
        } else {
            path.key("apps")
        };
        for a in &apps {
            ok &= self.app(&apps_path, a);
        }
        if kind.scope() == Scope::DeviceUser && apps.len() != 1 {
            self.err(
                &apps_path,
                format!("{kind} is device-user: each (device, app) is its own authenticator; register one per app"),
            );
            ok = false;
        }
        match (kind.scope(), &r.device) {
            (Scope::DeviceUser, None) => {
                self.err(
                    path,
                    format!("{kind} is device-user: say on which `device`"),
                );
                ok = false;
            }
            (Scope::DeviceUser, Some(d)) => {
                if let Some(devices) = self.users.get(&user)
                    && !devices.contains(d)
                {
                    let known: Vec<&str> = devices.iter().map(String::as_str).collect();
                    self.err(
                        &path.key("device"),
                        format!(
                            "device `{d}` is not one of {user}'s devices (declared: {}); add it to the devices of user {user}",
                            list_or_none(&known)
                        ),
                    );
                    ok = false;
                }
            }
            (_, Some(_)) => {
                self.err(
                    &path.key("device"),
                    format!("{kind} is app-user: it is not bound to a device"),
                );
                ok = false;
            }
            (_, None) => {}
        }
        if let Some(existing) = self.labels.get(&label).cloned() {
            // Registering an app-user authenticator again under its label adds apps.
            if entry.is_some()
                && existing.user == user
                && existing.kind == kind
                && kind.scope() == Scope::AppUser
            {
                if let Some(info) = self.labels.get_mut(&label) {
                    for a in &apps {
                        if !info.apps.contains(a) {
                            info.apps.push(a.clone());
                        }
                    }
                }
            } else {
                self.err(
                    &path.key("name"),
                    format!("the label `{label}` is used twice"),
                );
                return None;
            }
        } else {
            if kind.scope() == Scope::AppUser
                && let Some((other, _)) = self.labels.iter().find(|(_, i)| {
                    i.user == user
                        && i.kind == kind
                        && i.apps
                            .iter()
                            .all(|a| !a.starts_with(authlock::helpdesk::STORE_APP_PREFIX))
                })
            {
                self.err(
                        &path.key("name"),
                        format!(
                            "{user} already has a {kind} labelled `{other}`: an app-user authenticator has one ID per user and type; register it in more apps under the same name"
                        ),
                    );
                return None;
            }
            self.labels.insert(
                label.clone(),
                LabelInfo {
                    user: user.clone(),
                    kind,
                    apps: apps.clone(),
                },
            );
        }
        if let Some(k) = &r.public_key
            && (k.is_empty() || k.len() > 4096)
        {
            self.err(&path.key("public_key"), "a public key is 1 to 4096 bytes");
            ok = false;
        }
        ok.then(|| RegPlan {
            label,
            user,
            kind,
            apps,
            device: r.device.clone(),
            public_key: r.public_key.clone(),
            by: None,
        })
    }

    /// Resolves the authenticator and the app of an entry.
    fn target(&mut self, path: &Path, entry: usize, e: &RawEntry) -> Option<Target> {
        let label = e.auth.as_deref()?;
        let Some(info) = self.labels.get(label).cloned() else {
            if let Some(from) = self.later.get(label).copied().filter(|f| *f > entry) {
                self.err(
                    &path.key("auth"),
                    format!(
                        "`{label}` is registered only by timeline entry {}",
                        from + 1
                    ),
                );
                return None;
            }
            let known: Vec<&str> = self.labels.keys().map(String::as_str).collect();
            self.err(
                &path.key("auth"),
                format!(
                    "no authenticator is labelled `{}` (labels: {})",
                    label.escape_debug(),
                    list_or_none(&known)
                ),
            );
            return None;
        };
        let app = match &e.app {
            Some(a) => {
                if !self.app(&path.key("app"), a) {
                    return None;
                }
                a.clone()
            }
            None if info.apps.len() == 1 => info.apps[0].clone(),
            None if info.apps.is_empty() => {
                self.err(
                    path,
                    format!(
                        "`{label}` is {}: say in which `app` the call is made",
                        info.kind.scope().describe()
                    ),
                );
                return None;
            }
            None => {
                self.err(
                    path,
                    format!(
                        "`{label}` is registered in {}: say in which `app` the call is made",
                        info.apps.join(" and ")
                    ),
                );
                return None;
            }
        };
        Some(Target {
            label: label.to_string(),
            app,
        })
    }

    fn device(
        &mut self,
        path: &Path,
        user_of: Option<&str>,
        device: &Option<String>,
    ) -> Option<Option<String>> {
        let Some(d) = device else { return Some(None) };
        if let Some(user) = user_of
            && let Some(devices) = self.users.get(user)
            && !devices.contains(d)
        {
            let known: Vec<&str> = devices.iter().map(String::as_str).collect();
            self.err(
                &path.key("device"),
                format!(
                    "device `{d}` is not one of {user}'s devices (declared: {})",
                    list_or_none(&known)
                ),
            );
            return None;
        }
        Some(Some(d.clone()))
    }

    fn fingerprint(&mut self, path: &Path, fp: &Option<String>) -> Option<Option<String>> {
        match fp {
            Some(f) if f.is_empty() || f.len() > 64 => {
                self.err(
                    &path.key("fingerprint"),
                    format!("a fingerprint is 1 to 64 bytes; this one is {}", f.len()),
                );
                None
            }
            other => Some(other.clone()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry_op(
        &mut self,
        path: &Path,
        index: usize,
        action: &str,
        e: &RawEntry,
        steps: &BTreeMap<String, Step>,
        accounts: &BTreeMap<String, AccountRef>,
        helpdesk: Option<&HelpdeskConfig>,
        reservations: &mut BTreeMap<String, (String, bool)>,
    ) -> Option<Op> {
        let owner = |p: &Planner<'_>, t: &Target| p.labels.get(&t.label).map(|i| i.user.clone());
        match action {
            "failure" | "success" | "check" | "reserve" | "commit" => {
                let target = self.target(path, index, e)?;
                let user = owner(self, &target);
                let device = self.device(path, user.as_deref(), &e.device)?;
                let fingerprint = self.fingerprint(path, &e.fingerprint)?;
                Some(match action {
                    "failure" => Op::Failure {
                        target,
                        device,
                        fingerprint,
                    },
                    "success" => Op::Success { target, device },
                    "check" => Op::Check { target },
                    "reserve" => {
                        let label = e
                            .reservation
                            .clone()
                            .unwrap_or_else(|| format!("r{}", index + 1));
                        if reservations.contains_key(&label) {
                            self.err(
                                &path.key("reservation"),
                                format!("reservation `{label}` is made twice"),
                            );
                            return None;
                        }
                        reservations.insert(label.clone(), (target.label.clone(), false));
                        Op::Reserve {
                            target,
                            device,
                            fingerprint,
                            reservation: label,
                        }
                    }
                    _ => {
                        let label = match &e.reservation {
                            Some(r) => r.clone(),
                            None => {
                                // The latest open reservation of this authenticator.
                                let open: Vec<&String> = reservations
                                    .iter()
                                    .filter(|(_, (a, done))| *a == target.label && !done)
                                    .map(|(k, _)| k)
                                    .collect();
                                match open.as_slice() {
                                    [one] => (*one).clone(),
                                    [] => {
                                        self.err(
                                            path,
                                            format!(
                                                "no open reservation of `{}` to commit",
                                                target.label
                                            ),
                                        );
                                        return None;
                                    }
                                    _ => {
                                        self.err(path, format!("`{}` has several open reservations: say which with `reservation`", target.label));
                                        return None;
                                    }
                                }
                            }
                        };
                        match reservations.get_mut(&label) {
                            None => {
                                self.err(
                                    &path.key("reservation"),
                                    format!(
                                        "no earlier `reserve` entry made reservation `{label}`"
                                    ),
                                );
                                return None;
                            }
                            Some((a, _)) if *a != target.label => {
                                self.err(
                                    &path.key("reservation"),
                                    format!(
                                        "reservation `{label}` was made on `{a}`, not `{}`",
                                        target.label
                                    ),
                                );
                                return None;
                            }
                            Some((_, done)) => *done = true,
                        }
                        Op::Commit {
                            target,
                            device,
                            reservation: label,
                            success: e.success.unwrap_or(false),
                        }
                    }
                })
            }
            "lock" | "unlock" | "delete" | "deactivate" | "reactivate" => {
                let target = self.target(path, index, e)?;
                let by = self.actor(&path.key("by"), e.by.as_deref());
                let what = match action {
                    "lock" => AdminAction::Lock,
                    "unlock" => AdminAction::Unlock,
                    "delete" => AdminAction::Delete,
                    "deactivate" => AdminAction::Deactivate,
                    _ => AdminAction::Reactivate,
                };
                Some(Op::Admin {
                    what,
                    target,
                    reason: e.reason.clone(),
                    by,
                })
            }
            "unlock_type" => {
                let user = e.user.clone()?;
                let ok = self.user(&path.key("user"), &user);
                let kind = self.kind(&path.key("type"), e.kind.as_deref()?);
                let app = e.app.clone()?;
                let app_ok = self.app(&path.key("app"), &app);
                let by = self.actor(&path.key("by"), e.by.as_deref());
                (ok && app_ok).then_some(())?;
                Some(Op::UnlockType {
                    user,
                    kind: kind?,
                    app,
                    reason: e.reason.clone(),
                    by,
                })
            }
            "suspend" | "unsuspend" => {
                let user = e.user.clone()?;
                let ok = self.user(&path.key("user"), &user);
                let by = self.actor(&path.key("by"), e.by.as_deref());
                ok.then(|| Op::Suspend {
                    suspend: action == "suspend",
                    user,
                    reason: e.reason.clone(),
                    by,
                })
            }
            "register" => {
                let r = RawRegistration {
                    name: e.name.clone(),
                    user: e.user.clone(),
                    kind: e.kind.clone(),
                    app: e.app.clone(),
                    apps: e.apps.clone(),
                    device: e.device.clone(),
                    public_key: e.public_key.clone(),
                };
                let by =
                    e.by.as_deref()
                        .map(|b| self.actor(&path.key("by"), Some(b)));
                let mut reg = self.registration(path, &r, Some(index))?;
                reg.by = by;
                Some(Op::Register(reg))
            }
            "first_use" => {
                let label = e.name.clone()?;
                let user = e.user.clone()?;
                let ok = self.user(&path.key("user"), &user);
                let kind = self.kind(&path.key("type"), e.kind.as_deref()?)?;
                if kind.info().registration != RegistrationMode::ImplicitOnFirstUse {
                    self.err(
                        &path.key("type"),
                        format!("{kind} is not registered on first use (only social_login, oidc and saml are)"),
                    );
                    return None;
                }
                let app = e.app.clone()?;
                let app_ok = self.app(&path.key("app"), &app);
                let account = e.account.clone()?;
                let device = self.device(path, Some(&user), &e.device)?;
                (ok && app_ok).then_some(())?;
                if let Some(existing) = self.labels.get(&label) {
                    if existing.user != user || existing.kind != kind {
                        self.err(
                            &path.key("name"),
                            format!("the label `{label}` is used twice"),
                        );
                        return None;
                    }
                } else {
                    self.labels.insert(
                        label.clone(),
                        LabelInfo {
                            user: user.clone(),
                            kind,
                            apps: Vec::new(),
                        },
                    );
                }
                Some(Op::FirstUse {
                    label,
                    user,
                    kind,
                    account,
                    app,
                    device,
                })
            }
            "clock" => {
                if e.at.is_none() {
                    self.err(
                        path,
                        "`clock` needs `at`: the time the clock is set to (absolute, +D or -D)",
                    );
                    return None;
                }
                Some(Op::Clock)
            }
            "journey" => {
                let step = e.step.clone()?;
                if self.broken_steps.contains(&step) {
                    return None;
                }
                if !steps.contains_key(&step) {
                    let known: Vec<&str> = steps.keys().map(String::as_str).collect();
                    self.err(
                        &path.key("step"),
                        format!(
                            "no step is named `{step}` (steps: {})",
                            list_or_none(&known)
                        ),
                    );
                    return None;
                }
                let journey = e.journey.clone()?;
                if !self.name_ok(&path.key("journey"), "journey name", &journey) {
                    return None;
                }
                match &e.app {
                    Some(a) if !self.app(&path.key("app"), a) => return None,
                    Some(_) => {}
                    None if !self.journeys.contains(&journey) => {
                        self.err(
                            path,
                            format!("journey `{journey}` starts here: say in which `app` it runs"),
                        );
                        return None;
                    }
                    None => {}
                }
                self.journeys.insert(journey.clone());
                if let Some(u) = &e.user
                    && !self.user(&path.key("user"), u)
                {
                    return None;
                }
                let variables = match &e.variables {
                    None => None,
                    Some(v @ Value::Object(_)) => {
                        let mut bad = Vec::new();
                        check_labels(v, &self.labels, &self.later, &mut bad);
                        for m in bad {
                            self.err(&path.key("variables"), m);
                        }
                        Some(v.clone())
                    }
                    Some(_) => {
                        self.err(&path.key("variables"), "variables are a table");
                        return None;
                    }
                };
                Some(Op::Journey {
                    journey,
                    step,
                    app: e.app.clone(),
                    user: e.user.clone(),
                    variables,
                })
            }
            "helpdesk_unlock" => {
                let Some(h) = helpdesk else {
                    self.err(path, "`helpdesk_unlock` needs a [helpdesk] section");
                    return None;
                };
                let operator = e.operator.clone()?;
                if !h.operators.contains_key(&operator) {
                    let known: Vec<&str> = h.operators.keys().map(String::as_str).collect();
                    self.err(
                        &path.key("operator"),
                        format!("`{operator}` is not an operator in [helpdesk.operators] (operators: {})", list_or_none(&known)),
                    );
                    return None;
                }
                let account = e.account.clone()?;
                let mut ok = true;
                let known: Vec<&str> = accounts.keys().map(String::as_str).collect();
                let known = list_or_none(&known);
                if !accounts.contains_key(&account) {
                    self.err(
                        &path.key("account"),
                        format!("no account is labelled `{account}` (accounts: {known})"),
                    );
                    ok = false;
                }
                if let Some(sel) = &e.select {
                    for (j, s) in sel.iter().enumerate() {
                        if !accounts.contains_key(s) {
                            self.err(
                                &path.key("select").index(j),
                                format!("no account is labelled `{s}` (accounts: {known})"),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then(|| Op::HelpdeskUnlock {
                    operator,
                    account,
                    authenticate_with: e.authenticate_with.clone(),
                    select: e.select.clone(),
                    reason: e.reason.clone(),
                })
            }
            _ => None,
        }
    }
}

/// Checks that every `@label` string in journey variables names a label
/// registered by then (`later`: labels registered by later entries).
fn check_labels(
    v: &Value,
    labels: &BTreeMap<String, LabelInfo>,
    later: &BTreeMap<String, usize>,
    bad: &mut Vec<String>,
) {
    match v {
        Value::String(s) => {
            if let Some(label) = s.strip_prefix('@')
                && !label.starts_with('@')
                && !labels.contains_key(label)
            {
                bad.push(match later.get(label) {
                    Some(n) => format!(
                        "`@{label}`: `{label}` is registered only by timeline entry {}",
                        n + 1
                    ),
                    None => format!(
                        "`@{label}`: no authenticator is labelled `{label}` (write `@@` for a literal `@`)"
                    ),
                });
            }
        }
        Value::Array(a) => a.iter().for_each(|x| check_labels(x, labels, later, bad)),
        Value::Object(m) => m.values().for_each(|x| check_labels(x, labels, later, bad)),
        _ => {}
    }
}

/// Parses an entry's `at`: RFC 3339, `+D` or `-D` from the previous time.
fn parse_at(s: &str, prev: Timestamp) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "`{}` is not a time: write an RFC 3339 time (2026-01-05T09:00:00Z) or an offset from the previous entry (+30s, +1h30m, -2h)",
            s.escape_debug()
        )
    };
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('+') {
        let d = parse_duration(rest).map_err(|_| bad())?;
        Ok(prev.plus(d))
    } else if let Some(rest) = t.strip_prefix('-') {
        let d = parse_duration(rest).map_err(|_| bad())?;
        let ms = i64::try_from(d.as_millis()).map_err(|_| bad())?;
        Ok(Timestamp::from_millis(prev.as_millis().saturating_sub(ms)))
    } else {
        Timestamp::parse_rfc3339(t).map_err(|_| bad())
    }
}

fn action_names() -> String {
    ACTIONS
        .iter()
        .map(|(n, ..)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Words for a scope, in messages.
trait Describe {
    fn describe(self) -> &'static str;
}

impl Describe for Scope {
    fn describe(self) -> &'static str {
        match self {
            Scope::GlobalUser => "global-user (one state for every app)",
            Scope::AppUser => "app-user",
            Scope::DeviceUser => "device-user",
        }
    }
}
