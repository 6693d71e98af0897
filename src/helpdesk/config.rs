//! The helpdesk's configuration: identity stores and their account lockout
//! policies, roles (permissions and helpdesk policy mode), operators.
//!
//! ```toml
//! [stores.corp]                        # an identity store
//! account_lockout = { max_failures = 3, lockout = { kind = "until_unlocked" } }
//!
//! [stores.partners]                    # no account_lockout: the engine's password policy applies
//!
//! [roles.tier1]
//! permissions = ["unlock_account"]
//! mode = "restricted"                  # authenticate the user before unlocking
//!
//! [roles.supervisors]
//! permissions = ["unlock_account", "unlock_any_account"]
//! mode = "unrestricted"                # authenticating the user may be skipped
//!
//! [operators]                          # operator ID = role
//! olga = "tier1"
//! sam = "supervisors"
//! ```
//!
//! `account_lockout` has the fields of a password policy in the policy
//! document (`max_failures`, `failure_window`, `lockout`, ...); fields left
//! out keep the password defaults.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, check_name};
use crate::policy::{Policy, PolicyDocument};
use crate::types::AuthenticatorType;

use super::HelpdeskError;

/// The prefix of the app that holds an identity store's accounts in the
/// engine (see [`store_app`]).
pub const STORE_APP_PREFIX: &str = "identity-store:";

/// The engine app that holds the accounts of identity store `store`:
/// `identity-store:<store>`. An account's lockout state is the state of the
/// user's password instance in this app.
pub fn store_app(store: &str) -> String {
    format!("{STORE_APP_PREFIX}{store}")
}

/// A helpdesk permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Unlock the account of an enrolled user.
    UnlockAccount,
    /// Unlock any account, including an unenrolled user's (in unrestricted
    /// mode). Includes [`Permission::UnlockAccount`].
    UnlockAnyAccount,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::UnlockAccount => "Unlock Account",
            Permission::UnlockAnyAccount => "Unlock Any Account",
        })
    }
}

/// A role's helpdesk policy mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// The operator must authenticate the user with one of the user's
    /// enrolled types before the Unlock page.
    Restricted,
    /// The operator may skip authenticating the user.
    Unrestricted,
}

impl fmt::Display for PolicyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyMode::Restricted => "restricted",
            PolicyMode::Unrestricted => "unrestricted",
        })
    }
}

/// A helpdesk role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// The permissions granted.
    #[serde(default)]
    pub permissions: BTreeSet<Permission>,
    /// The helpdesk policy mode.
    pub mode: PolicyMode,
}

impl Role {
    /// Whether the role grants `p` (Unlock Any Account includes Unlock
    /// Account).
    pub fn grants(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
            || (p == Permission::UnlockAccount
                && self.permissions.contains(&Permission::UnlockAnyAccount))
    }
}

/// An identity store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The store's account lockout policy, in the policy document's form
    /// for a password policy; `None` leaves the engine's password policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_lockout: Option<Value>,
}

/// The helpdesk's configuration document (TOML or JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelpdeskConfig {
    /// Identity stores by name.
    #[serde(default)]
    pub stores: BTreeMap<String, StoreConfig>,
    /// Roles by name.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Operators: operator ID → role name.
    #[serde(default)]
    pub operators: BTreeMap<String, String>,
}

/// A checked configuration.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub(crate) stores: BTreeMap<String, Option<Policy>>,
    pub(crate) roles: BTreeMap<String, Role>,
    pub(crate) operators: BTreeMap<String, String>,
}

impl HelpdeskConfig {
    /// Parses a TOML document (not yet checked: see [`HelpdeskConfig::check`]).
    pub fn from_toml(text: &str) -> Result<HelpdeskConfig, HelpdeskError> {
        let c: HelpdeskConfig = toml::from_str(text).map_err(|e| {
            HelpdeskError::InvalidConfig(vec![format!(
                "not a valid TOML helpdesk document: {}",
                e.to_string().trim_end()
            )])
        })?;
        c.check()?;
        Ok(c)
    }

    /// Parses a JSON document and checks it.
    pub fn from_json(text: &str) -> Result<HelpdeskConfig, HelpdeskError> {
        let c: HelpdeskConfig = serde_json::from_str(text).map_err(|e| {
            HelpdeskError::InvalidConfig(vec![format!("not a valid JSON helpdesk document: {e}")])
        })?;
        c.check()?;
        Ok(c)
    }

    /// Checks every rule; lists every problem.
    pub fn check(&self) -> Result<(), HelpdeskError> {
        self.checked().map(|_| ())
    }

    pub(crate) fn checked(&self) -> Result<Checked, HelpdeskError> {
        let mut problems = Vec::new();
        fn name(problems: &mut Vec<String>, field: String, what: &'static str, v: &str) -> bool {
            match check_name(what, v) {
                Err(e) => {
                    problems.push(format!("{field}: {e}"));
                    false
                }
                Ok(()) => true,
            }
        }
        let mut stores = BTreeMap::new();
        for (store, sc) in &self.stores {
            if name(
                &mut problems,
                format!("stores.{store}"),
                "identity store name",
                store,
            ) && store_app(store).len() > 256
            {
                problems.push(format!(
                    "stores.{store}: the name is too long: `{STORE_APP_PREFIX}<name>` must fit in 256 bytes"
                ));
            }
            let policy = match &sc.account_lockout {
                None => None,
                Some(v) => match store_policy(v) {
                    Ok(p) => Some(p),
                    Err(errs) => {
                        problems.extend(errs.into_iter().map(|e| {
                            let field = e.field.replacen(
                                "policies.password",
                                &format!("stores.{store}.account_lockout"),
                                1,
                            );
                            if field.is_empty() {
                                format!("stores.{store}.account_lockout: {}", e.message)
                            } else {
                                format!("{field}: {}", e.message)
                            }
                        }));
                        None
                    }
                },
            };
            stores.insert(store.clone(), policy);
        }
        for role in self.roles.keys() {
            name(&mut problems, format!("roles.{role}"), "role name", role);
        }
        for (op, role) in &self.operators {
            name(&mut problems, format!("operators.{op}"), "operator ID", op);
            if !self.roles.contains_key(role) {
                problems.push(format!(
                    "operators.{op}: role `{role}` is not defined under [roles]"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(HelpdeskError::InvalidConfig(problems));
        }
        Ok(Checked {
            stores,
            roles: self.roles.clone(),
            operators: self.operators.clone(),
        })
    }

    /// Adds each store's account lockout policy to `policies` as the
    /// override of the password policy for the store's app, so that failed
    /// logins lock accounts by the store's policy. Build the engine from
    /// the result.
    pub fn apply_policies(&self, policies: &mut PolicyDocument) -> Result<(), HelpdeskError> {
        let checked = self.checked()?;
        for (store, policy) in &checked.stores {
            if let Some(p) = policy {
                policies
                    .set_app_policy(&store_app(store), AuthenticatorType::Password, p.clone())
                    .map_err(HelpdeskError::Engine)?;
            }
        }
        Ok(())
    }
}

/// Reads a store's account lockout policy through the policy document, so
/// it gets the same defaults and the same validation as any password policy.
fn store_policy(v: &Value) -> Result<Policy, Vec<crate::policy::FieldError>> {
    let doc = json!({ "policies": { "password": v } });
    match PolicyDocument::from_json(&doc.to_string()) {
        Ok(d) => Ok(d
            .tenant_policy(AuthenticatorType::Password)
            .cloned()
            .expect("a document that sets the password policy has one")),
        Err(Error::Policy(errs)) => Err(errs.0),
        Err(other) => Err(vec![crate::policy::FieldError {
            field: String::new(),
            line: None,
            message: other.to_string(),
        }]),
    }
}
