//! Lockout policies: what they say, how they load, how they are
//! checked, and the safe defaults.
//!
//! A [`PolicyDocument`] holds one tenant's policy per authenticator type and
//! per-app overrides for app-user and device-user types. It loads from TOML
//! or JSON and is validated as a whole: every invalid field is reported with
//! its path, and a document with any error is refused. This module computes
//! nothing about attempts; [`crate::transition`] applies the policies.
//!
//! # Document format
//!
//! ```toml
//! tenant = "acme"                      # optional, "default" if absent
//!
//! [policies.password]                  # fields left out keep the type's default
//! max_failures = 5                     # 1..=100 consecutive failures lock
//! failure_window = "15m"               # failures older than this stop counting ("none" to disable)
//! max_temporary_lockouts = 3           # the lockout after this many temporary ones is until-unlocked
//! [policies.password.lockout]
//! kind = "temporary"                   # or "until_unlocked"
//! duration = "5m"                      # first temporary lockout
//! factor = 2                           # each later lockout is multiplied by this ...
//! increment = "0"                      # ... and this is added per earlier lockout (Keycloak's wait increment)
//! max_duration = "1h"                  # cap; required when the lockout grows
//!
//! [policies.pin]
//! max_failures = 10
//! throttle = [ { after = 5, wait = "1m" }, { after = 6, wait = "5m" }, { after = 7, wait = "15m" } ]
//! lockout = { kind = "until_unlocked" }
//!
//! [apps.banking.policies.pin]          # an override for one app (not for global-user types)
//! max_failures = 5
//! ```
//!
//! Durations are written as in [`parse_duration`].
//! JSON documents have the same shape.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::AppId;
use crate::time::{duration_str, parse_duration};
use crate::types::{AuthenticatorType, Scope, TYPES};

/// The largest `max_failures` a policy may set (NIST SP 800-63B caps
/// consecutive failed attempts at 100).
pub const MAX_FAILURES_LIMIT: u32 = 100;

/// One type's lockout policy, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Consecutive counted failures that lock (1..=100).
    pub max_failures: u32,
    /// Failures older than this stop counting; `None` counts every failure
    /// since the last reset.
    #[serde(default, with = "duration_str::option")]
    pub failure_window: Option<Duration>,
    /// What a policy lock does.
    pub lockout: Lockout,
    /// After this many temporary lockouts, the next lockout is until-unlocked.
    #[serde(default)]
    pub max_temporary_lockouts: Option<u32>,
    /// Delays before the hard lock, by number of consecutive failures,
    /// strictly increasing in `after_failures`.
    #[serde(default)]
    pub throttle: Vec<ThrottleStep>,
}

/// How long a policy lock lasts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "LockoutIn")]
pub enum Lockout {
    /// The lock ends by itself. The n-th successive lockout (counting from
    /// 0) lasts `min(max_duration, duration × factorⁿ + increment × n)`.
    Temporary {
        /// The first lockout's length.
        #[serde(with = "duration_str")]
        duration: Duration,
        /// Multiplier per earlier lockout (1 = no multiplicative growth).
        factor: u32,
        /// Added per earlier lockout (Keycloak's wait increment).
        #[serde(with = "duration_str")]
        increment: Duration,
        /// Upper bound of a grown lockout.
        #[serde(default, with = "duration_str::option")]
        max_duration: Option<Duration>,
    },
    /// Only a manual unlock ends the lock.
    UntilUnlocked,
}

/// What [`Lockout`] is read from: the same, with its unit variants as
/// empty struct variants, because serde lets an internally tagged unit
/// variant carry any unknown field while it refuses one in a struct
/// variant.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum LockoutIn {
    Temporary {
        #[serde(with = "duration_str")]
        duration: Duration,
        factor: u32,
        #[serde(with = "duration_str")]
        increment: Duration,
        #[serde(default, with = "duration_str::option")]
        max_duration: Option<Duration>,
    },
    UntilUnlocked {},
}

impl From<LockoutIn> for Lockout {
    fn from(a: LockoutIn) -> Lockout {
        match a {
            LockoutIn::Temporary {
                duration,
                factor,
                increment,
                max_duration,
            } => Lockout::Temporary {
                duration,
                factor,
                increment,
                max_duration,
            },
            LockoutIn::UntilUnlocked {} => Lockout::UntilUnlocked,
        }
    }
}

/// After `after_failures` consecutive failures, the next attempt waits
/// `delay` from the last failure (Gatekeeper / iOS style). A step applies
/// until the next step's count is reached; a zero delay ends throttling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleStep {
    /// Number of consecutive failures from which this delay applies.
    pub after_failures: u32,
    /// The wait imposed after each such failure.
    #[serde(with = "duration_str")]
    pub delay: Duration,
}

impl Policy {
    /// A temporary lockout of fixed length.
    pub fn temporary(max_failures: u32, duration: Duration) -> Policy {
        Policy {
            max_failures,
            failure_window: None,
            lockout: Lockout::Temporary {
                duration,
                factor: 1,
                increment: Duration::ZERO,
                max_duration: None,
            },
            max_temporary_lockouts: None,
            throttle: Vec::new(),
        }
    }

    /// A lockout that only a manual unlock ends.
    pub fn until_unlocked(max_failures: u32) -> Policy {
        Policy {
            max_failures,
            failure_window: None,
            lockout: Lockout::UntilUnlocked,
            max_temporary_lockouts: None,
            throttle: Vec::new(),
        }
    }

    /// The safe default for a type, used when the tenant sets none.
    ///
    /// | type | default |
    /// | --- | --- |
    /// | password | 5 failures in 15 min; temporary 15 min, doubling up to 24 h; the 6th lockout is until-unlocked |
    /// | PIN | 10 failures; throttle 5: 1 min, 6: 5 min, 7: 15 min, 9: 1 h; then until-unlocked |
    /// | passkey | 10 failures in 1 h; temporary 15 min, doubling up to 24 h; the 6th is until-unlocked |
    /// | mobile biometrics, face | 5 failures; temporary 30 s, doubling up to 1 h; the 10th is until-unlocked |
    /// | TOTP | 5 failures in 15 min; temporary 5 min, doubling up to 1 h |
    /// | email / SMS / direct OTP | 5 failures in 15 min; temporary 15 min, doubling up to 1 h |
    /// | magic link, social, OIDC, SAML | none (no policy lockout) |
    pub fn default_for(kind: AuthenticatorType) -> Option<Policy> {
        use AuthenticatorType as T;
        let mins = |m: u64| Duration::from_secs(60 * m);
        let growing = |max_failures, first: Duration, cap: Duration, window, max_temp| Policy {
            max_failures,
            failure_window: window,
            lockout: Lockout::Temporary {
                duration: first,
                factor: 2,
                increment: Duration::ZERO,
                max_duration: Some(cap),
            },
            max_temporary_lockouts: max_temp,
            throttle: Vec::new(),
        };
        Some(match kind {
            T::Password => growing(5, mins(15), mins(24 * 60), Some(mins(15)), Some(5)),
            T::Pin => Policy {
                throttle: vec![
                    ThrottleStep {
                        after_failures: 5,
                        delay: mins(1),
                    },
                    ThrottleStep {
                        after_failures: 6,
                        delay: mins(5),
                    },
                    ThrottleStep {
                        after_failures: 7,
                        delay: mins(15),
                    },
                    ThrottleStep {
                        after_failures: 9,
                        delay: mins(60),
                    },
                ],
                ..Policy::until_unlocked(10)
            },
            T::Passkey => growing(10, mins(15), mins(24 * 60), Some(mins(60)), Some(5)),
            T::MobileBiometrics | T::FaceAuthentication => {
                growing(5, Duration::from_secs(30), mins(60), None, Some(9))
            }
            T::Totp => growing(5, mins(5), mins(60), Some(mins(15)), None),
            T::EmailOtp | T::SmsOtp | T::DirectOtp => {
                growing(5, mins(15), mins(60), Some(mins(15)), None)
            }
            T::EmailMagicLink | T::SocialLogin | T::Oidc | T::Saml => return None,
        })
    }

    /// How long the lockout that follows `earlier_lockouts` temporary ones
    /// lasts; `None` means until unlocked.
    pub fn next_lockout(&self, earlier_lockouts: u32) -> Option<Duration> {
        match &self.lockout {
            Lockout::UntilUnlocked => None,
            Lockout::Temporary { .. }
                if self
                    .max_temporary_lockouts
                    .is_some_and(|max| earlier_lockouts >= max) =>
            {
                None
            }
            Lockout::Temporary {
                duration,
                factor,
                increment,
                max_duration,
            } => {
                let base = duration.as_millis();
                let grown = (*factor as u128)
                    .checked_pow(earlier_lockouts)
                    .and_then(|f| f.checked_mul(base))
                    .and_then(|v| v.checked_add(increment.as_millis() * earlier_lockouts as u128))
                    .unwrap_or(u128::MAX);
                let capped = match max_duration {
                    Some(cap) => grown.min(cap.as_millis()),
                    None => grown,
                };
                Some(Duration::from_millis(capped.min(u64::MAX as u128) as u64))
            }
        }
    }

    /// The throttle delay after `failures` consecutive failures.
    pub fn throttle_delay(&self, failures: u32) -> Duration {
        self.throttle
            .iter()
            .rev()
            .find(|s| s.after_failures <= failures)
            .map_or(Duration::ZERO, |s| s.delay)
    }

    /// Checks this policy for `kind`; errors name fields relative to the policy.
    pub fn validate(&self, kind: AuthenticatorType) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut err = |field: &str, message: String| {
            errs.push(FieldError {
                field: field.to_string(),
                line: None,
                message,
            })
        };
        let info = kind.info();
        if !info.policy_lockout {
            err(
                "",
                format!("{kind} has no policy lockout, so it cannot have a lockout policy"),
            );
            return errs;
        }
        if !(1..=MAX_FAILURES_LIMIT).contains(&self.max_failures) {
            err(
                "max_failures",
                format!(
                    "{} is out of range: it must be 1 to {MAX_FAILURES_LIMIT} (NIST SP 800-63B allows at most 100 consecutive failures)",
                    self.max_failures
                ),
            );
        }
        if self.failure_window == Some(Duration::ZERO) {
            err(
                "failure_window",
                "a zero window would count no failure at all; leave it out (or \"none\") to count every failure".into(),
            );
        }
        match &self.lockout {
            Lockout::UntilUnlocked if !info.manual_unlock => err(
                "lockout.kind",
                format!(
                    "until_unlocked is refused for {kind}: {kind} cannot be unlocked manually, so such a lock would never end; use a temporary lockout"
                ),
            ),
            Lockout::UntilUnlocked => {}
            Lockout::Temporary {
                duration,
                factor,
                increment,
                max_duration,
            } => {
                if duration.is_zero() {
                    err(
                        "lockout.duration",
                        "a temporary lockout must last longer than 0".into(),
                    );
                }
                if !(1..=100).contains(factor) {
                    err(
                        "lockout.factor",
                        format!("{factor} is out of range: it must be 1 to 100"),
                    );
                }
                let grows = *factor > 1 || !increment.is_zero();
                match max_duration {
                    None if grows => err(
                        "lockout.max_duration",
                        "a growing lockout needs a cap: set max_duration".into(),
                    ),
                    Some(cap) if cap < duration => err(
                        "lockout.max_duration",
                        "max_duration is shorter than the first lockout's duration".into(),
                    ),
                    _ => {}
                }
            }
        }
        if let Some(max) = self.max_temporary_lockouts {
            if !matches!(self.lockout, Lockout::Temporary { .. }) {
                err(
                    "max_temporary_lockouts",
                    "only a temporary lockout can be limited in number".into(),
                );
            } else if max == 0 {
                err(
                    "max_temporary_lockouts",
                    "0 would make every lockout until-unlocked; use lockout.kind = \"until_unlocked\" instead".into(),
                );
            } else if !info.manual_unlock {
                err(
                    "max_temporary_lockouts",
                    format!(
                        "refused for {kind}: after {max} temporary lockouts the next would be until-unlocked, and {kind} cannot be unlocked manually, so the user would be locked out for ever"
                    ),
                );
            }
        }
        if self.failure_window.is_some()
            && let Some(i) = self
                .throttle
                .windows(2)
                .position(|w| w[1].delay < w[0].delay)
        {
            err(
                &format!("throttle[{}].wait", i + 1),
                "with a failure_window the delays may not decrease: as failures leave the window the count falls, and a falling count would then raise the delay again (and a clock set back could shorten a wait)".into(),
            );
        }
        let mut prev = 0;
        for (i, step) in self.throttle.iter().enumerate() {
            let field = format!("throttle[{i}].after");
            if step.after_failures == 0 {
                err(&field, "must be at least 1".into());
            } else if step.after_failures <= prev {
                err(
                    &field,
                    format!(
                        "{} does not increase on the step before ({prev})",
                        step.after_failures
                    ),
                );
            } else if step.after_failures >= self.max_failures {
                err(
                    &field,
                    format!(
                        "{} is never reached: the lock comes at max_failures = {} (remove this step, or set throttle = [])",
                        step.after_failures, self.max_failures
                    ),
                );
            }
            prev = step.after_failures;
        }
        errs
    }
}

/// One problem in a policy document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    /// Dotted path of the field (`policies.pin.max_failures`); empty for the
    /// document as a whole.
    pub field: String,
    /// 1-based line in a TOML document, where known.
    pub line: Option<u32>,
    /// What is wrong and why.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Every problem found in a policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<FieldError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

type PerType = [Option<Policy>; 13];

fn defaults() -> PerType {
    AuthenticatorType::ALL.map(Policy::default_for)
}

/// A tenant's validated policies: one per type, plus per-app overrides.
///
/// ```
/// use authlock::{AuthenticatorType, PolicyDocument};
/// let doc = PolicyDocument::parse(r#"
///     [policies.password]
///     max_failures = 3
/// "#).unwrap();
/// assert_eq!(doc.policy(AuthenticatorType::Password, "any-app").unwrap().max_failures, 3);
///
/// let err = PolicyDocument::parse(r#"
///     [policies.totp]
///     lockout = { kind = "until_unlocked" }
/// "#).unwrap_err();
/// assert!(err.to_string().contains("cannot be unlocked manually"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocument {
    tenant: String,
    tenant_policies: PerType,
    overrides: BTreeMap<AppId, PerType>,
}

impl Default for PolicyDocument {
    fn default() -> Self {
        PolicyDocument {
            tenant: "default".into(),
            tenant_policies: defaults(),
            overrides: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    tenant: Option<String>,
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    apps: BTreeMap<String, RawApp>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApp {
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    max_failures: Option<i64>,
    failure_window: Option<String>,
    lockout: Option<RawLockout>,
    max_temporary_lockouts: Option<i64>,
    throttle: Option<Vec<RawThrottle>>,
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawLockout {
    kind: Option<String>,
    duration: Option<String>,
    factor: Option<i64>,
    increment: Option<String>,
    max_duration: Option<String>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    after: i64,
    wait: String,
}

struct Collector<'a> {
    prefix: &'a str,
    errors: &'a mut Vec<FieldError>,
}

impl Collector<'_> {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        let field = match (self.prefix.is_empty(), field.is_empty()) {
            (_, true) => self.prefix.to_string(),
            (true, false) => field.to_string(),
            (false, false) => format!("{}.{field}", self.prefix),
        };
        self.errors.push(FieldError {
            field,
            line: None,
            message: message.into(),
        });
    }
    fn u32_in(&mut self, field: &str, v: i64) -> Option<u32> {
        match u32::try_from(v) {
            Ok(v) => Some(v),
            Err(_) => {
                self.push(
                    field,
                    format!("{v} is not a valid count (it must be 0 or more)"),
                );
                None
            }
        }
    }
    fn duration(&mut self, field: &str, v: &str) -> Option<Duration> {
        match parse_duration(v) {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(field, e);
                None
            }
        }
    }
}

/// Applies a raw policy's fields over `base`, reporting malformed values.
fn merge(base: &Policy, raw: &RawPolicy, c: &mut Collector<'_>) -> Policy {
    let mut p = base.clone();
    if let Some(v) = raw.max_failures
        && let Some(v) = c.u32_in("max_failures", v)
    {
        p.max_failures = v;
    }
    if let Some(w) = &raw.failure_window {
        if w == "none" {
            p.failure_window = None;
        } else if let Some(d) = c.duration("failure_window", w) {
            p.failure_window = Some(d);
        }
    }
    if let Some(v) = raw.max_temporary_lockouts {
        p.max_temporary_lockouts = c.u32_in("max_temporary_lockouts", v);
    }
    if let Some(l) = &raw.lockout {
        match l.kind.as_deref() {
            Some("until_unlocked") => {
                for (name, set) in [
                    ("duration", l.duration.is_some()),
                    ("factor", l.factor.is_some()),
                    ("increment", l.increment.is_some()),
                    ("max_duration", l.max_duration.is_some()),
                ] {
                    if set {
                        c.push(
                            &format!("lockout.{name}"),
                            "only a temporary lockout takes this field",
                        );
                    }
                }
                p.lockout = Lockout::UntilUnlocked;
                // A limit inherited from the base policy has no meaning now.
                if raw.max_temporary_lockouts.is_none() {
                    p.max_temporary_lockouts = None;
                }
            }
            Some("temporary") => {
                let duration = match &l.duration {
                    Some(d) => c.duration("lockout.duration", d),
                    None => {
                        c.push("lockout.duration", "a temporary lockout needs a duration");
                        None
                    }
                };
                let factor = match l.factor {
                    Some(f) => c.u32_in("lockout.factor", f),
                    None => Some(1),
                };
                let increment = match &l.increment {
                    Some(d) => c.duration("lockout.increment", d),
                    None => Some(Duration::ZERO),
                };
                let max_duration = match &l.max_duration {
                    Some(d) => c.duration("lockout.max_duration", d).map(Some),
                    None => Some(None),
                };
                if let (Some(duration), Some(factor), Some(increment), Some(max_duration)) =
                    (duration, factor, increment, max_duration)
                {
                    p.lockout = Lockout::Temporary {
                        duration,
                        factor,
                        increment,
                        max_duration,
                    };
                }
            }
            Some(other) => c.push(
                "lockout.kind",
                format!(
                    "`{other}` is not a lockout kind (expected \"temporary\" or \"until_unlocked\")"
                ),
            ),
            None => c.push(
                "lockout.kind",
                "missing: say \"temporary\" or \"until_unlocked\"",
            ),
        }
    }
    if let Some(steps) = &raw.throttle {
        let mut out = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            let after = c.u32_in(&format!("throttle[{i}].after"), s.after);
            let wait = c.duration(&format!("throttle[{i}].wait"), &s.wait);
            if let (Some(after_failures), Some(delay)) = (after, wait) {
                out.push(ThrottleStep {
                    after_failures,
                    delay,
                });
            }
        }
        p.throttle = out;
    }
    p
}

impl PolicyDocument {
    /// The built-in defaults only (see [`Policy::default_for`]), tenant `default`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a document, TOML or JSON (a document starting with `{` is JSON).
    pub fn parse(text: &str) -> Result<PolicyDocument> {
        if text.trim_start().starts_with('{') {
            Self::from_json(text)
        } else {
            Self::from_toml(text)
        }
    }

    /// Parses and validates a TOML document.
    pub fn from_toml(text: &str) -> Result<PolicyDocument> {
        let raw: RawDocument = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u32 + 1);
            Error::Policy(PolicyErrors(vec![FieldError {
                field: String::new(),
                line,
                message: e.message().trim().to_string(),
            }]))
        })?;
        Self::from_raw(raw).map_err(|mut errs| {
            for e in &mut errs {
                e.line = find_toml_line(text, &e.field);
            }
            Error::Policy(PolicyErrors(errs))
        })
    }

    /// Parses and validates a JSON document.
    pub fn from_json(text: &str) -> Result<PolicyDocument> {
        let raw: RawDocument = serde_json::from_str(text).map_err(|e| {
            Error::Policy(PolicyErrors(vec![FieldError {
                field: String::new(),
                line: None,
                message: format!("{e}"),
            }]))
        })?;
        Self::from_raw(raw).map_err(|errs| Error::Policy(PolicyErrors(errs)))
    }

    fn from_raw(raw: RawDocument) -> std::result::Result<PolicyDocument, Vec<FieldError>> {
        let mut errors = Vec::new();
        let tenant = raw.tenant.unwrap_or_else(|| "default".into());
        if let Err(e) = crate::error::check_name("tenant", &tenant) {
            errors.push(FieldError {
                field: "tenant".into(),
                line: None,
                message: e.to_string(),
            });
        }
        let mut tenant_policies = defaults();
        for (name, rp) in &raw.policies {
            let prefix = format!("policies.{name}");
            let mut c = Collector {
                prefix: &prefix,
                errors: &mut errors,
            };
            let kind = match name.parse::<AuthenticatorType>() {
                Ok(k) => k,
                Err(e) => {
                    c.push("", e);
                    continue;
                }
            };
            let Some(base) = Policy::default_for(kind) else {
                c.push(
                    "",
                    format!("{kind} has no policy lockout, so it cannot have a lockout policy"),
                );
                continue;
            };
            let p = merge(&base, rp, &mut c);
            for e in p.validate(kind) {
                c.push(&e.field, e.message);
            }
            tenant_policies[kind as usize] = Some(p);
        }
        let mut overrides = BTreeMap::new();
        for (app, ra) in &raw.apps {
            if let Err(e) = crate::error::check_name("app", app) {
                errors.push(FieldError {
                    field: format!("apps.{app}"),
                    line: None,
                    message: e.to_string(),
                });
            }
            let mut per: PerType = Default::default();
            for (name, rp) in &ra.policies {
                let prefix = format!("apps.{app}.policies.{name}");
                let mut c = Collector {
                    prefix: &prefix,
                    errors: &mut errors,
                };
                let kind = match name.parse::<AuthenticatorType>() {
                    Ok(k) => k,
                    Err(e) => {
                        c.push("", e);
                        continue;
                    }
                };
                if kind.scope() == Scope::GlobalUser {
                    c.push(
                        "",
                        format!(
                            "{kind} is global-user: its state is shared by every app, so its policy cannot vary per app"
                        ),
                    );
                    continue;
                }
                let Some(base) = &tenant_policies[kind as usize] else {
                    c.push(
                        "",
                        format!("{kind} has no policy lockout, so it cannot have a lockout policy"),
                    );
                    continue;
                };
                let p = merge(base, rp, &mut c);
                for e in p.validate(kind) {
                    c.push(&e.field, e.message);
                }
                per[kind as usize] = Some(p);
            }
            overrides.insert(AppId::from(app.as_str()), per);
        }
        if errors.is_empty() {
            Ok(PolicyDocument {
                tenant,
                tenant_policies,
                overrides,
            })
        } else {
            Err(errors)
        }
    }

    /// Sets the tenant's policy for a type, after validating it.
    pub fn set_policy(&mut self, kind: AuthenticatorType, policy: Policy) -> Result<()> {
        let errs = policy.validate(kind);
        if !errs.is_empty() {
            return Err(Error::Policy(PolicyErrors(prefixed(
                &format!("policies.{kind}"),
                errs,
            ))));
        }
        self.tenant_policies[kind as usize] = Some(policy);
        Ok(())
    }

    /// Sets an app's override for an app-user or device-user type.
    pub fn set_app_policy(
        &mut self,
        app: &str,
        kind: AuthenticatorType,
        policy: Policy,
    ) -> Result<()> {
        crate::error::check_name("app", app)?;
        let prefix = format!("apps.{app}.policies.{kind}");
        if kind.scope() == Scope::GlobalUser {
            return Err(Error::Policy(PolicyErrors(vec![FieldError {
                field: prefix,
                line: None,
                message: format!(
                    "{kind} is global-user: its state is shared by every app, so its policy cannot vary per app"
                ),
            }])));
        }
        let errs = policy.validate(kind);
        if !errs.is_empty() {
            return Err(Error::Policy(PolicyErrors(prefixed(&prefix, errs))));
        }
        self.overrides.entry(AppId::from(app)).or_default()[kind as usize] = Some(policy);
        Ok(())
    }

    /// Sets the tenant name events carry.
    pub fn set_tenant(&mut self, tenant: &str) -> Result<()> {
        crate::error::check_name("tenant", tenant)?;
        self.tenant = tenant.to_string();
        Ok(())
    }

    /// The tenant this document configures.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The policy in force for `kind` in `app`: the app's override if any,
    /// else the tenant's. `None` for types without policy lockout.
    #[inline]
    pub fn policy(&self, kind: AuthenticatorType, app: &str) -> Option<&Policy> {
        if !self.overrides.is_empty()
            && kind.scope() != Scope::GlobalUser
            && let Some(p) = self
                .overrides
                .get(app)
                .and_then(|per| per[kind as usize].as_ref())
        {
            return Some(p);
        }
        self.tenant_policies[kind as usize].as_ref()
    }

    /// The tenant-wide policy for `kind`.
    pub fn tenant_policy(&self, kind: AuthenticatorType) -> Option<&Policy> {
        self.tenant_policies[kind as usize].as_ref()
    }

    /// The apps that override some policy, with the types they override.
    pub fn overrides(&self) -> impl Iterator<Item = (&str, AuthenticatorType, &Policy)> {
        self.overrides.iter().flat_map(|(app, per)| {
            per.iter()
                .enumerate()
                .filter_map(move |(i, p)| p.as_ref().map(|p| (&**app, TYPES[i].kind, p)))
        })
    }

    /// The document as JSON, in the format [`PolicyDocument::parse`] reads
    /// (every type written out in full).
    pub fn to_json(&self) -> String {
        let mut raw = RawDocument {
            tenant: Some(self.tenant.clone()),
            ..Default::default()
        };
        for (i, p) in self.tenant_policies.iter().enumerate() {
            if let Some(p) = p {
                raw.policies.insert(TYPES[i].name.to_string(), to_raw(p));
            }
        }
        for (app, kind, p) in self.overrides() {
            raw.apps
                .entry(app.to_string())
                .or_default()
                .policies
                .insert(kind.name().to_string(), to_raw(p));
        }
        serde_json::to_string_pretty(&raw).unwrap_or_default()
    }
}

fn to_raw(p: &Policy) -> RawPolicy {
    use crate::time::format_duration as f;
    RawPolicy {
        max_failures: Some(p.max_failures as i64),
        failure_window: Some(p.failure_window.map_or("none".to_string(), f)),
        lockout: Some(match &p.lockout {
            Lockout::UntilUnlocked => RawLockout {
                kind: Some("until_unlocked".into()),
                ..Default::default()
            },
            Lockout::Temporary {
                duration,
                factor,
                increment,
                max_duration,
            } => RawLockout {
                kind: Some("temporary".into()),
                duration: Some(f(*duration)),
                factor: Some(*factor as i64),
                increment: Some(f(*increment)),
                max_duration: max_duration.map(f),
            },
        }),
        max_temporary_lockouts: p.max_temporary_lockouts.map(|v| v as i64),
        throttle: Some(
            p.throttle
                .iter()
                .map(|s| RawThrottle {
                    after: s.after_failures as i64,
                    wait: f(s.delay),
                })
                .collect(),
        ),
    }
}

fn prefixed(prefix: &str, errs: Vec<FieldError>) -> Vec<FieldError> {
    errs.into_iter()
        .map(|e| FieldError {
            field: if e.field.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}.{}", e.field)
            },
            ..e
        })
        .collect()
}

/// Best-effort line of a dotted field in a TOML text: the line of its key
/// under its table header, else the header's line.
fn find_toml_line(text: &str, field: &str) -> Option<u32> {
    let parts: Vec<&str> = field.split('.').collect();
    let mut best: Option<u32> = None;
    // The longest prefix that appears as a table header.
    for cut in (1..=parts.len()).rev() {
        let header = format!("[{}]", parts[..cut].join("."));
        if let Some(start) = text.lines().position(|l| l.trim() == header) {
            best = Some(start as u32 + 1);
            if let Some(key) = parts.get(cut) {
                let key = key.split('[').next().unwrap_or(key);
                for (i, l) in text.lines().enumerate().skip(start + 1) {
                    let t = l.trim_start();
                    if t.starts_with('[') {
                        break;
                    }
                    if t.starts_with(key) && t[key.len()..].trim_start().starts_with(['=', '.']) {
                        best = Some(i as u32 + 1);
                        break;
                    }
                }
            }
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        for kind in AuthenticatorType::ALL {
            if let Some(p) = Policy::default_for(kind) {
                assert!(
                    p.validate(kind).is_empty(),
                    "{kind}: {:?}",
                    p.validate(kind)
                );
            }
        }
    }

    #[test]
    fn growth_is_capped() {
        let p = Policy::default_for(AuthenticatorType::Totp).unwrap();
        assert_eq!(p.next_lockout(0), Some(Duration::from_secs(300)));
        assert_eq!(p.next_lockout(1), Some(Duration::from_secs(600)));
        assert_eq!(p.next_lockout(200), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn json_round_trip() {
        let doc = PolicyDocument::parse("[apps.a.policies.pin]\nmax_failures = 4\nthrottle = []\n")
            .unwrap();
        let again = PolicyDocument::parse(&doc.to_json()).unwrap();
        assert_eq!(doc, again);
    }

    #[test]
    fn toml_lines_are_found() {
        let text = "tenant = \"t\"\n\n[policies.pin]\nmax_failures = 0\n";
        let Err(Error::Policy(errs)) = PolicyDocument::from_toml(text) else {
            panic!("accepted")
        };
        assert_eq!(errs.0[0].line, Some(4));
    }
}
