//! The helpdesk: identity stores, their accounts and account
//! lockout, operators with roles, and the Unlock Account flow.
//!
//! This module owns the helpdesk's own data (accounts, enrolment, links
//! between accounts, last password change, unlock sessions and the
//! helpdesk log) and the allow/deny rules of the flow. It holds no lockout
//! state: an account's lockout **is** the lockout state of its user's
//! password in the store's engine app ([`store_app`]). Password is an
//! app-user type, so each store keeps its own instance with its own counter
//! and lock, and the store's account lockout policy is the engine's
//! per-app override of the password policy
//! ([`HelpdeskConfig::apply_policies`]). Failed logins therefore lock the
//! account through the engine's policy, and unlocks go through
//! [`Engine::unlock`] with [`Actor::helpdesk`] as the actor, so they are in
//! the engine's history like every other change.
//!
//! # The Unlock Account flow
//!
//! 1. [`Helpdesk::begin_unlock`]: the operator opens the dialog for an
//!    account. The operator's role needs *Unlock Account* (or *Unlock Any
//!    Account*, which includes it). For an unenrolled user the role needs
//!    *Unlock Any Account* and the unrestricted mode; the dialog then has
//!    only the Unlock page.
//! 2. [`Helpdesk::authenticate_user`]: the host has verified the user with
//!    one of the user's enrolled authentication types, and says which. In
//!    restricted mode this is required before the Unlock page; in
//!    unrestricted mode it may be skipped (the skip is logged).
//! 3. [`Helpdesk::unlock_page`]: user name, identity store, last password
//!    change, the account's lock status, and every linked account in
//!    another store that is locked.
//! 4. [`Helpdesk::unlock`]: unlocks the selected accounts (each must be
//!    locked and on the page) and closes the dialog.
//!
//! Every refusal is a [`HelpdeskError`] that names the missing permission
//! or step, and changes nothing: no engine state, no session, no log entry.

mod config;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::engine::{Attempt, Engine, Registration};
use crate::error::{Error, check_name};
use crate::history::{Actor, Event, UserHistory};
use crate::ids::AuthenticatorId;
use crate::policy::Policy;
use crate::record::{LockKind, Status};
use crate::time::Timestamp;
use crate::transition::AttemptOutcome;
use crate::types::AuthenticatorType;

pub use config::{
    HelpdeskConfig, Permission, PolicyMode, Role, STORE_APP_PREFIX, StoreConfig, store_app,
};

/// How many unlock sessions one operator may have open; opening one more
/// closes the oldest.
pub const MAX_OPEN_SESSIONS_PER_OPERATOR: usize = 16;
/// The longest authentication type name.
pub const MAX_METHOD_LEN: usize = 64;

/// An account: a user in an identity store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRef {
    /// The identity store.
    pub store: String,
    /// The user (the engine's user ID).
    pub user: String,
}

impl AccountRef {
    /// The account of `user` in `store`.
    pub fn new(store: &str, user: &str) -> AccountRef {
        AccountRef {
            store: store.into(),
            user: user.into(),
        }
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` in store `{}`", self.user, self.store)
    }
}

/// Why a helpdesk call was refused or failed. A call that returns an error
/// has changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HelpdeskError {
    /// The operator's role lacks a permission.
    #[error("operator `{operator}` (role `{role}`) lacks the {permission} permission: {why}")]
    MissingPermission {
        /// The operator.
        operator: String,
        /// The role.
        role: String,
        /// The missing permission.
        permission: Permission,
        /// Why it is needed.
        why: String,
    },
    /// An unenrolled user's account needs the unrestricted mode.
    #[error(
        "operator `{operator}` (role `{role}`) is in restricted helpdesk policy mode: an unenrolled user's account can be unlocked only in unrestricted mode"
    )]
    UnrestrictedModeRequired {
        /// The operator.
        operator: String,
        /// The role.
        role: String,
    },
    /// Restricted mode: the user must be authenticated first.
    #[error(
        "authenticate the user first: role `{role}` is in restricted helpdesk policy mode, so the Unlock page needs the user authenticated with one of their enrolled types ({})",
        .enrolled.join(", ")
    )]
    AuthenticationRequired {
        /// The role.
        role: String,
        /// The user's enrolled types.
        enrolled: Vec<String>,
    },
    /// The user is not enrolled with the type the operator used.
    #[error("user `{user}` is not enrolled with `{method}` (enrolled: {})", .enrolled.join(", "))]
    NotEnrolledWith {
        /// The user.
        user: String,
        /// The type given.
        method: String,
        /// The user's enrolled types.
        enrolled: Vec<String>,
    },
    /// The user is enrolled with nothing, so cannot be authenticated.
    #[error(
        "user `{user}` is not enrolled with any authentication type: the dialog has only the Unlock page"
    )]
    NotEnrolled {
        /// The user.
        user: String,
    },
    /// A selected account is not one the Unlock page offers.
    #[error("account {account} cannot be unlocked here: {why}")]
    NotOnUnlockPage {
        /// The account.
        account: AccountRef,
        /// Why it is not offered.
        why: String,
    },
    /// The operator selected nothing.
    #[error("select at least one account to unlock")]
    NothingSelected,
    /// No such unlock session (never opened, finished, cancelled, or closed
    /// because the operator opened too many).
    #[error("there is no open unlock session {session}: open the Unlock Account dialog first")]
    UnknownSession {
        /// The session number.
        session: u64,
    },
    /// The session was opened by another operator.
    #[error("unlock session {session} was opened by another operator")]
    SessionOfAnotherOperator {
        /// The session number.
        session: u64,
    },
    /// The operator is not configured.
    #[error("operator `{operator}` is not a helpdesk operator")]
    UnknownOperator {
        /// The operator.
        operator: String,
    },
    /// The identity store is not configured.
    #[error("identity store `{store}` is not configured")]
    UnknownStore {
        /// The store.
        store: String,
    },
    /// The account does not exist.
    #[error("account {account} does not exist")]
    UnknownAccount {
        /// The account.
        account: AccountRef,
    },
    /// The account exists already.
    #[error("account {account} exists already")]
    AccountExists {
        /// The account.
        account: AccountRef,
    },
    /// Two accounts cannot be linked (or unlinked).
    #[error("accounts {accounts} cannot be {action}: {why}")]
    LinkRefused {
        /// The two accounts, as text.
        accounts: String,
        /// `linked` or `unlinked`.
        action: &'static str,
        /// Why.
        why: &'static str,
    },
    /// An argument is malformed.
    #[error("invalid {what}: {why}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The configuration breaks the rules (every problem is listed), or the
    /// engine was built without the stores' lockout policies.
    #[error("invalid helpdesk configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// A JSON request that does not parse.
    #[error("invalid helpdesk request: {why}")]
    InvalidRequest {
        /// What is wrong.
        why: String,
    },
    /// The engine refused the change.
    #[error(transparent)]
    Engine(#[from] Error),
}

/// An account's lock status, read from the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountLock {
    /// Whether the account is locked now.
    pub locked: bool,
    /// The password's status in the store (Deactivated when the user is
    /// suspended, which takes precedence over Locked).
    pub status: Status,
    /// Policy (failed logins) or manual, when locked.
    pub lock_kind: Option<LockKind>,
    /// The reason given with a manual lock.
    pub lock_reason: Option<String>,
    /// When a temporary lock ends by itself.
    pub lock_expires_at: Option<Timestamp>,
    /// Failed logins counted now.
    pub failures: u32,
}

/// One account as the helpdesk shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountStatus {
    /// The account.
    pub account: AccountRef,
    /// The user's name as the store shows it.
    pub display_name: String,
    /// The last time the user changed the password.
    pub last_password_change: Option<Timestamp>,
    /// The lock status.
    pub lock: AccountLock,
}

/// Which page of the Unlock Account dialog is next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogPage {
    /// Authenticate the user (enrolled users).
    Authenticate,
    /// Unlock.
    Unlock,
}

/// An open Unlock Account dialog, as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockSession {
    /// The session's number, to pass to the next calls.
    pub session: u64,
    /// The operator.
    pub operator: String,
    /// The account the dialog was opened for.
    pub account: AccountRef,
    /// The authentication types the user is enrolled with (the
    /// Authenticate page).
    pub enrolled: Vec<String>,
    /// The type the user was authenticated with, once done.
    pub authenticated_with: Option<String>,
    /// Whether the operator's mode lets the Authenticate page be skipped.
    pub may_skip_authentication: bool,
    /// The page the operator may show now.
    pub page: DialogPage,
}

/// The Unlock page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockPage {
    /// The session.
    pub session: u64,
    /// The user's name.
    pub user: String,
    /// The user's name as the store shows it.
    pub display_name: String,
    /// The identity store where the user resides.
    pub store: String,
    /// The last time the user changed the password.
    pub last_password_change: Option<Timestamp>,
    /// The account's lock status.
    pub lock: AccountLock,
    /// Every linked account in another store that is locked.
    pub linked_locked: Vec<AccountStatus>,
}

/// What an unlock did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockReport {
    /// The accounts unlocked, in the order given.
    pub unlocked: Vec<AccountRef>,
    /// The engine events (actor: the operator).
    pub events: Vec<Event>,
}

/// What the helpdesk log records (the engine's history records the unlocks
/// themselves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", from = "HelpdeskActionIn")]
pub enum HelpdeskAction {
    /// The operator authenticated the user with an enrolled type.
    UserAuthenticated {
        /// The type.
        method: String,
    },
    /// The operator went to the Unlock page without authenticating the
    /// user (unrestricted mode).
    AuthenticationSkipped,
    /// The operator unlocked accounts.
    AccountsUnlocked {
        /// The accounts.
        accounts: Vec<AccountRef>,
        /// The numbers of the engine events that record the unlocks.
        events: Vec<u64>,
    },
}

/// What [`HelpdeskAction`] is read from: the same, with its unit variants as
/// empty struct variants, because serde lets an internally tagged unit
/// variant carry any unknown field while it refuses one in a struct
/// variant.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum HelpdeskActionIn {
    UserAuthenticated {
        method: String,
    },
    AuthenticationSkipped {},
    AccountsUnlocked {
        accounts: Vec<AccountRef>,
        events: Vec<u64>,
    },
}

impl From<HelpdeskActionIn> for HelpdeskAction {
    fn from(a: HelpdeskActionIn) -> HelpdeskAction {
        match a {
            HelpdeskActionIn::UserAuthenticated { method } => {
                HelpdeskAction::UserAuthenticated { method }
            }
            HelpdeskActionIn::AuthenticationSkipped {} => HelpdeskAction::AuthenticationSkipped,
            HelpdeskActionIn::AccountsUnlocked { accounts, events } => {
                HelpdeskAction::AccountsUnlocked { accounts, events }
            }
        }
    }
}

/// One entry of the helpdesk log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelpdeskEvent {
    /// Position in the helpdesk log, from 1.
    pub seq: u64,
    /// When (the engine's clock).
    pub time: Timestamp,
    /// The operator.
    pub operator: String,
    /// The session.
    pub session: u64,
    /// The account the dialog was opened for.
    pub account: AccountRef,
    /// What happened.
    pub action: HelpdeskAction,
}

/// A user's history as the helpdesk shows it: the engine's history of
/// actions on and by the user, and the helpdesk log entries on and by them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelpdeskHistory {
    /// Engine events on and by the user.
    pub engine: UserHistory,
    /// Helpdesk log entries about the user's accounts.
    pub helpdesk_on_user: Vec<HelpdeskEvent>,
    /// Helpdesk log entries by the user as an operator.
    pub helpdesk_by_user: Vec<HelpdeskEvent>,
}

/// One account in [`HelpdeskState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    /// The account.
    pub account: AccountRef,
    /// The user's name as the store shows it.
    pub display_name: String,
    /// The user's password authenticator in the engine.
    pub password: AuthenticatorId,
    /// The last password change.
    pub last_password_change: Option<Timestamp>,
    /// The enrolled authentication types.
    pub enrolled: Vec<String>,
}

/// The helpdesk's own data at one moment (accounts, links, open sessions,
/// log), for display, audit and comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelpdeskState {
    /// Accounts, sorted.
    pub accounts: Vec<AccountRecord>,
    /// Links, each once, sorted.
    pub links: Vec<(AccountRef, AccountRef)>,
    /// Open sessions, by number.
    pub sessions: Vec<UnlockSession>,
    /// The helpdesk log.
    pub log: Vec<HelpdeskEvent>,
}

/// A new account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The account.
    pub account: AccountRef,
    /// The user's name as the store shows it (the user ID if absent).
    #[serde(default)]
    pub display_name: Option<String>,
    /// The authentication types the user is enrolled with.
    #[serde(default)]
    pub enrolled: Vec<String>,
}

#[derive(Clone, Debug)]
struct Account {
    display_name: String,
    password: AuthenticatorId,
    last_password_change: Option<Timestamp>,
    enrolled: BTreeSet<String>,
}

#[derive(Clone, Debug)]
struct Session {
    operator: String,
    account: AccountRef,
    authenticated_with: Option<String>,
    skipped: bool,
}

#[derive(Default)]
struct State {
    accounts: BTreeMap<AccountRef, Account>,
    links: BTreeMap<AccountRef, BTreeSet<AccountRef>>,
    sessions: BTreeMap<u64, Session>,
    open_by_operator: BTreeMap<String, VecDeque<u64>>,
    next_session: u64,
    log: Vec<HelpdeskEvent>,
}

impl State {
    fn account(&self, a: &AccountRef) -> Result<&Account, HelpdeskError> {
        self.accounts
            .get(a)
            .ok_or_else(|| HelpdeskError::UnknownAccount { account: a.clone() })
    }

    /// Every account linked to `a`, directly or through other links.
    fn linked(&self, a: &AccountRef) -> BTreeSet<AccountRef> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![a.clone()];
        while let Some(x) = todo.pop() {
            for y in self.links.get(&x).into_iter().flatten() {
                if y != a && seen.insert(y.clone()) {
                    todo.push(y.clone());
                }
            }
        }
        seen
    }

    fn log(&mut self, time: Timestamp, s: &Session, session: u64, action: HelpdeskAction) {
        let seq = self.log.len() as u64 + 1;
        self.log.push(HelpdeskEvent {
            seq,
            time,
            operator: s.operator.clone(),
            session,
            account: s.account.clone(),
            action,
        });
    }
}

/// The helpdesk over one engine.
pub struct Helpdesk {
    engine: Arc<Engine>,
    stores: BTreeMap<String, Option<Policy>>,
    roles: BTreeMap<String, Role>,
    operators: BTreeMap<String, String>,
    state: RwLock<State>,
}

impl fmt::Debug for Helpdesk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Helpdesk")
            .field("stores", &self.stores.keys().collect::<Vec<_>>())
            .field("roles", &self.roles.keys().collect::<Vec<_>>())
            .field("operators", &self.operators.len())
            .finish_non_exhaustive()
    }
}

fn check_method(method: &str) -> Result<(), HelpdeskError> {
    let ok = !method.is_empty()
        && method.len() <= MAX_METHOD_LEN
        && method
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(HelpdeskError::InvalidArgument {
            what: "authentication type",
            why: format!(
                "`{}` is not a type name: 1 to {MAX_METHOD_LEN} lowercase letters, digits or `_`",
                method.escape_debug()
            ),
        })
    }
}

impl Helpdesk {
    /// A helpdesk with `config` over `engine`. The engine must have been
    /// built with the stores' account lockout policies
    /// ([`HelpdeskConfig::apply_policies`]); otherwise failed logins would
    /// not lock accounts as configured, and this is refused.
    pub fn new(config: &HelpdeskConfig, engine: Arc<Engine>) -> Result<Helpdesk, HelpdeskError> {
        let checked = config.checked()?;
        let mut problems = Vec::new();
        for (store, policy) in &checked.stores {
            if let Some(p) = policy {
                let app = store_app(store);
                if engine.policies().policy(AuthenticatorType::Password, &app) != Some(p) {
                    problems.push(format!(
                        "stores.{store}.account_lockout: the engine's password policy for app `{app}` differs; build the engine's policies with HelpdeskConfig::apply_policies"
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(HelpdeskError::InvalidConfig(problems));
        }
        Ok(Helpdesk {
            engine,
            stores: checked.stores,
            roles: checked.roles,
            operators: checked.operators,
            state: RwLock::new(State::default()),
        })
    }

    /// The engine the helpdesk works on.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn store(&self, store: &str) -> Result<String, HelpdeskError> {
        if self.stores.contains_key(store) {
            Ok(store_app(store))
        } else {
            Err(HelpdeskError::UnknownStore {
                store: store.into(),
            })
        }
    }

    fn role_of(&self, operator: &str) -> Result<(&str, &Role), HelpdeskError> {
        let role = self
            .operators
            .get(operator)
            .ok_or_else(|| HelpdeskError::UnknownOperator {
                operator: operator.into(),
            })?;
        Ok((role, &self.roles[role]))
    }

    // ----- accounts -------------------------------------------------------

    /// Creates an account: registers the user's password in the store's app
    /// (or adopts the one registered there already) and sets the last
    /// password change to now. `actor` is who provisions it.
    pub fn add_account(
        &self,
        new: &NewAccount,
        actor: &Actor,
    ) -> Result<AuthenticatorId, HelpdeskError> {
        let app = self.store(&new.account.store)?;
        check_name("user", &new.account.user)?;
        let display_name = new
            .display_name
            .clone()
            .unwrap_or_else(|| new.account.user.clone());
        check_name("display name", &display_name)?;
        for m in &new.enrolled {
            check_method(m)?;
        }
        let mut st = self.state.write();
        if st.accounts.contains_key(&new.account) {
            return Err(HelpdeskError::AccountExists {
                account: new.account.clone(),
            });
        }
        let reg = Registration::new(&new.account.user, AuthenticatorType::Password, &app)
            .by(actor.clone());
        let password = match self.engine.register(&reg) {
            Ok(id) => id,
            Err(Error::AlreadyRegistered { id, .. }) => id,
            Err(e) => return Err(e.into()),
        };
        st.accounts.insert(
            new.account.clone(),
            Account {
                display_name,
                password,
                last_password_change: Some(self.engine.read_clock()?),
                enrolled: new.enrolled.iter().cloned().collect(),
            },
        );
        Ok(password)
    }

    /// Enrols the account's user with an authentication type.
    pub fn enrol(&self, account: &AccountRef, method: &str) -> Result<(), HelpdeskError> {
        check_method(method)?;
        let mut st = self.state.write();
        st.account(account)?;
        st.accounts
            .get_mut(account)
            .expect("checked")
            .enrolled
            .insert(method.into());
        Ok(())
    }

    /// Removes an enrolment (nothing if the user was not enrolled with it).
    pub fn unenrol(&self, account: &AccountRef, method: &str) -> Result<(), HelpdeskError> {
        let mut st = self.state.write();
        st.account(account)?;
        st.accounts
            .get_mut(account)
            .expect("checked")
            .enrolled
            .remove(method);
        Ok(())
    }

    /// Links two accounts in different stores (the user linked them).
    /// Links are symmetric and reach through: linking A–B and B–C links A
    /// and C.
    pub fn link_accounts(&self, a: &AccountRef, b: &AccountRef) -> Result<(), HelpdeskError> {
        let mut st = self.state.write();
        st.account(a)?;
        st.account(b)?;
        if a.store == b.store {
            return Err(HelpdeskError::LinkRefused {
                accounts: format!("{a} and {b}"),
                action: "linked",
                why: "linked accounts are in different identity stores",
            });
        }
        st.links.entry(a.clone()).or_default().insert(b.clone());
        st.links.entry(b.clone()).or_default().insert(a.clone());
        Ok(())
    }

    /// Removes a direct link.
    pub fn unlink_accounts(&self, a: &AccountRef, b: &AccountRef) -> Result<(), HelpdeskError> {
        let mut st = self.state.write();
        if !st.links.get(a).is_some_and(|s| s.contains(b)) {
            return Err(HelpdeskError::LinkRefused {
                accounts: format!("{a} and {b}"),
                action: "unlinked",
                why: "they are not linked directly",
            });
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Some(s) = st.links.get_mut(x) {
                s.remove(y);
                if s.is_empty() {
                    st.links.remove(x);
                }
            }
        }
        Ok(())
    }

    /// A failed login: counted by the store's account lockout policy (and
    /// refused, uncounted, while the account is locked).
    pub fn record_login_failure(
        &self,
        account: &AccountRef,
    ) -> Result<AttemptOutcome, HelpdeskError> {
        let (id, app) = self.password_of(account)?;
        Ok(self.engine.record_failure(&id, &Attempt::in_app(&app))?)
    }

    /// A successful login: resets the failure counter (refused while the
    /// account is locked).
    pub fn record_login_success(
        &self,
        account: &AccountRef,
    ) -> Result<AttemptOutcome, HelpdeskError> {
        let (id, app) = self.password_of(account)?;
        Ok(self.engine.record_success(&id, &Attempt::in_app(&app))?)
    }

    /// The user changed the password: records the time.
    pub fn change_password(&self, account: &AccountRef) -> Result<(), HelpdeskError> {
        let now = self.engine.read_clock()?;
        let mut st = self.state.write();
        st.account(account)?;
        st.accounts
            .get_mut(account)
            .expect("checked")
            .last_password_change = Some(now);
        Ok(())
    }

    fn password_of(
        &self,
        account: &AccountRef,
    ) -> Result<(AuthenticatorId, String), HelpdeskError> {
        let app = self.store(&account.store)?;
        let st = self.state.read();
        Ok((st.account(account)?.password, app))
    }

    /// An account's status (name, last password change, lock).
    pub fn account_status(&self, account: &AccountRef) -> Result<AccountStatus, HelpdeskError> {
        let st = self.state.read();
        self.status_of(&st, account)
    }

    fn status_of(&self, st: &State, account: &AccountRef) -> Result<AccountStatus, HelpdeskError> {
        let a = st.account(account)?;
        Ok(AccountStatus {
            account: account.clone(),
            display_name: a.display_name.clone(),
            last_password_change: a.last_password_change,
            lock: self.lock_of(a.password, &account.store)?,
        })
    }

    fn lock_of(&self, id: AuthenticatorId, store: &str) -> Result<AccountLock, HelpdeskError> {
        let app = store_app(store);
        let view = self.engine.authenticator(&id)?;
        let d = view
            .apps
            .iter()
            .find(|d| d.app == app)
            .ok_or_else(|| Error::WrongApp {
                id,
                kind: view.kind,
                app: app.clone(),
                why: "the account's password has no instance in its store's app",
            })?;
        Ok(AccountLock {
            locked: d.lock_kind.is_some(),
            status: d.status,
            lock_kind: d.lock_kind,
            lock_reason: d.lock_reason.clone(),
            lock_expires_at: d.lock_expires_at,
            failures: d.failures,
        })
    }

    // ----- the Unlock Account flow ---------------------------------------

    /// The allow/deny rule, in one place. `authenticated` says whether the
    /// Authenticate page was completed.
    fn authorize(
        &self,
        operator: &str,
        enrolled: &BTreeSet<String>,
        authenticated: bool,
    ) -> Result<(), HelpdeskError> {
        let (role_name, role) = self.role_of(operator)?;
        let missing = |permission: Permission, why: &str| HelpdeskError::MissingPermission {
            operator: operator.into(),
            role: role_name.into(),
            permission,
            why: why.into(),
        };
        if enrolled.is_empty() {
            if !role.grants(Permission::UnlockAnyAccount) {
                return Err(missing(
                    Permission::UnlockAnyAccount,
                    "the user is not enrolled, and only Unlock Any Account (in unrestricted mode) unlocks an unenrolled user",
                ));
            }
            if role.mode == PolicyMode::Restricted {
                return Err(HelpdeskError::UnrestrictedModeRequired {
                    operator: operator.into(),
                    role: role_name.into(),
                });
            }
            return Ok(());
        }
        if !role.grants(Permission::UnlockAccount) {
            return Err(missing(
                Permission::UnlockAccount,
                "unlocking an account needs Unlock Account or Unlock Any Account",
            ));
        }
        if role.mode == PolicyMode::Restricted && !authenticated {
            return Err(HelpdeskError::AuthenticationRequired {
                role: role_name.into(),
                enrolled: enrolled.iter().cloned().collect(),
            });
        }
        Ok(())
    }

    fn session_view(&self, id: u64, s: &Session, a: &Account) -> UnlockSession {
        let may_skip = self
            .role_of(&s.operator)
            .is_ok_and(|(_, r)| r.mode == PolicyMode::Unrestricted);
        UnlockSession {
            session: id,
            operator: s.operator.clone(),
            account: s.account.clone(),
            enrolled: a.enrolled.iter().cloned().collect(),
            authenticated_with: s.authenticated_with.clone(),
            may_skip_authentication: may_skip,
            page: if a.enrolled.is_empty() || s.authenticated_with.is_some() || s.skipped {
                DialogPage::Unlock
            } else {
                DialogPage::Authenticate
            },
        }
    }

    fn session<'s>(
        &self,
        st: &'s State,
        operator: &str,
        session: u64,
    ) -> Result<(&'s Session, &'s Account), HelpdeskError> {
        self.role_of(operator)?;
        let s = st
            .sessions
            .get(&session)
            .ok_or(HelpdeskError::UnknownSession { session })?;
        if s.operator != operator {
            return Err(HelpdeskError::SessionOfAnotherOperator { session });
        }
        Ok((s, st.account(&s.account)?))
    }

    /// Opens the Unlock Account dialog for `account`. Refused when the
    /// operator's role cannot unlock this user at all (missing permission;
    /// an unenrolled user in restricted mode).
    pub fn begin_unlock(
        &self,
        operator: &str,
        account: &AccountRef,
    ) -> Result<UnlockSession, HelpdeskError> {
        self.role_of(operator)?;
        let mut st = self.state.write();
        let a = st.account(account)?.clone();
        // Authentication comes later; every other condition is checked now.
        self.authorize(operator, &a.enrolled, true)?;
        st.next_session += 1;
        let id = st.next_session;
        let s = Session {
            operator: operator.into(),
            account: account.clone(),
            authenticated_with: None,
            skipped: false,
        };
        let view = self.session_view(id, &s, &a);
        st.sessions.insert(id, s);
        let open = st.open_by_operator.entry(operator.into()).or_default();
        open.push_back(id);
        if open.len() > MAX_OPEN_SESSIONS_PER_OPERATOR
            && let Some(oldest) = open.pop_front()
        {
            st.sessions.remove(&oldest);
        }
        Ok(view)
    }

    /// Records that the operator authenticated the user with `method`, one
    /// of the user's enrolled types (the host did the verification).
    pub fn authenticate_user(
        &self,
        operator: &str,
        session: u64,
        method: &str,
    ) -> Result<UnlockSession, HelpdeskError> {
        let now = self.engine.read_clock()?;
        let mut st = self.state.write();
        let (s, a) = self.session(&st, operator, session)?;
        if a.enrolled.is_empty() {
            return Err(HelpdeskError::NotEnrolled {
                user: s.account.user.clone(),
            });
        }
        if !a.enrolled.contains(method) {
            return Err(HelpdeskError::NotEnrolledWith {
                user: s.account.user.clone(),
                method: method.into(),
                enrolled: a.enrolled.iter().cloned().collect(),
            });
        }
        let a = a.clone();
        let mut s = s.clone();
        s.authenticated_with = Some(method.into());
        st.log(
            now,
            &s,
            session,
            HelpdeskAction::UserAuthenticated {
                method: method.into(),
            },
        );
        let view = self.session_view(session, &s, &a);
        st.sessions.insert(session, s);
        Ok(view)
    }

    /// Checks that the session may see the Unlock page, and logs a skipped
    /// Authenticate page the first time.
    fn reach_unlock_page(
        &self,
        st: &State,
        operator: &str,
        session: u64,
    ) -> Result<(Session, Account), HelpdeskError> {
        let (s, a) = self.session(st, operator, session)?;
        self.authorize(operator, &a.enrolled, s.authenticated_with.is_some())?;
        Ok((s.clone(), a.clone()))
    }

    fn mark_skipped(&self, st: &mut State, session: u64, s: &Session, a: &Account, now: Timestamp) {
        if !a.enrolled.is_empty() && s.authenticated_with.is_none() && !s.skipped {
            st.log(now, s, session, HelpdeskAction::AuthenticationSkipped);
            if let Some(x) = st.sessions.get_mut(&session) {
                x.skipped = true;
            }
        }
    }

    fn page(
        &self,
        st: &State,
        session: u64,
        s: &Session,
        a: &Account,
    ) -> Result<UnlockPage, HelpdeskError> {
        let mut linked_locked = Vec::new();
        for other in st.linked(&s.account) {
            if other.store == s.account.store {
                continue;
            }
            let status = self.status_of(st, &other)?;
            if status.lock.locked {
                linked_locked.push(status);
            }
        }
        Ok(UnlockPage {
            session,
            user: s.account.user.clone(),
            display_name: a.display_name.clone(),
            store: s.account.store.clone(),
            last_password_change: a.last_password_change,
            lock: self.lock_of(a.password, &s.account.store)?,
            linked_locked,
        })
    }

    /// The Unlock page. In restricted mode the user must have been
    /// authenticated first; in unrestricted mode an unauthenticated visit
    /// is logged as a skipped Authenticate page.
    pub fn unlock_page(&self, operator: &str, session: u64) -> Result<UnlockPage, HelpdeskError> {
        let now = self.engine.read_clock()?;
        let mut st = self.state.write();
        let (s, a) = self.reach_unlock_page(&st, operator, session)?;
        let page = self.page(&st, session, &s, &a)?;
        self.mark_skipped(&mut st, session, &s, &a, now);
        Ok(page)
    }

    /// Unlocks the selected accounts (the dialog's account and linked
    /// accounts, each locked and on the Unlock page), with the operator as
    /// actor, and closes the dialog. Every selection is checked before
    /// anything is unlocked.
    pub fn unlock(
        &self,
        operator: &str,
        session: u64,
        selected: &[AccountRef],
        reason: Option<&str>,
    ) -> Result<UnlockReport, HelpdeskError> {
        let now = self.engine.read_clock()?;
        let mut st = self.state.write();
        let (s, a) = self.reach_unlock_page(&st, operator, session)?;
        if selected.is_empty() {
            return Err(HelpdeskError::NothingSelected);
        }
        let page = self.page(&st, session, &s, &a)?;
        let mut targets: Vec<(AccountRef, AuthenticatorId)> = Vec::new();
        for acc in selected {
            if targets.iter().any(|(t, _)| t == acc) {
                continue;
            }
            let offered = if *acc == s.account {
                if page.lock.locked {
                    Ok(a.password)
                } else {
                    Err("the account is not locked".to_string())
                }
            } else if page.linked_locked.iter().any(|l| l.account == *acc) {
                Ok(st.account(acc)?.password)
            } else if st.linked(&s.account).contains(acc) {
                Err("the linked account is not locked".to_string())
            } else {
                Err(format!(
                    "it is neither the account the dialog is for ({}) nor linked to it",
                    s.account
                ))
            };
            match offered {
                Ok(id) => targets.push((acc.clone(), id)),
                Err(why) => {
                    return Err(HelpdeskError::NotOnUnlockPage {
                        account: acc.clone(),
                        why,
                    });
                }
            }
        }
        if let Some(r) = reason
            && (r.len() > 1024 || r.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(HelpdeskError::InvalidArgument {
                what: "reason",
                why: "at most 1024 bytes, without control characters".into(),
            });
        }
        let actor = Actor::helpdesk(operator);
        let mut events = Vec::new();
        let mut unlocked = Vec::new();
        for (acc, id) in &targets {
            events.extend(
                self.engine
                    .unlock(id, &store_app(&acc.store), &actor, reason)?,
            );
            unlocked.push(acc.clone());
        }
        self.mark_skipped(&mut st, session, &s, &a, now);
        st.log(
            now,
            &s,
            session,
            HelpdeskAction::AccountsUnlocked {
                accounts: unlocked.clone(),
                events: events.iter().map(|e| e.seq).collect(),
            },
        );
        self.close(&mut st, session, operator);
        Ok(UnlockReport { unlocked, events })
    }

    /// Closes the dialog without unlocking.
    pub fn cancel_unlock(&self, operator: &str, session: u64) -> Result<(), HelpdeskError> {
        let mut st = self.state.write();
        self.session(&st, operator, session)?;
        self.close(&mut st, session, operator);
        Ok(())
    }

    fn close(&self, st: &mut State, session: u64, operator: &str) {
        st.sessions.remove(&session);
        if let Some(open) = st.open_by_operator.get_mut(operator) {
            open.retain(|x| *x != session);
        }
    }

    // ----- history and state ---------------------------------------------

    /// A user's history: engine events on and by the user, and helpdesk log
    /// entries about the user's accounts (dialogs opened for them, and
    /// unlocks of them as linked accounts) and by the user as an operator.
    pub fn history(&self, user: &str) -> HelpdeskHistory {
        let st = self.state.read();
        HelpdeskHistory {
            engine: self.engine.history(user),
            helpdesk_on_user: st
                .log
                .iter()
                .filter(|e| {
                    e.account.user == user
                        || matches!(&e.action, HelpdeskAction::AccountsUnlocked { accounts, .. }
                            if accounts.iter().any(|a| a.user == user))
                })
                .cloned()
                .collect(),
            helpdesk_by_user: st
                .log
                .iter()
                .filter(|e| e.operator == user)
                .cloned()
                .collect(),
        }
    }

    /// The helpdesk's own data at this moment.
    pub fn state(&self) -> HelpdeskState {
        let st = self.state.read();
        HelpdeskState {
            accounts: st
                .accounts
                .iter()
                .map(|(r, a)| AccountRecord {
                    account: r.clone(),
                    display_name: a.display_name.clone(),
                    password: a.password,
                    last_password_change: a.last_password_change,
                    enrolled: a.enrolled.iter().cloned().collect(),
                })
                .collect(),
            links: st
                .links
                .iter()
                .flat_map(|(a, bs)| {
                    bs.iter()
                        .filter(move |b| a < *b)
                        .map(move |b| (a.clone(), b.clone()))
                })
                .collect(),
            sessions: st
                .sessions
                .iter()
                .filter_map(|(id, s)| {
                    st.accounts
                        .get(&s.account)
                        .map(|a| self.session_view(*id, s, a))
                })
                .collect(),
            log: st.log.clone(),
        }
    }

    // ----- JSON ------------------------------------------------------------

    /// Runs one request with JSON in and out, for the C and uniffi layers.
    /// See [`HelpdeskRequest`] for the requests and what each returns.
    pub fn handle_json(&self, request: &str) -> Result<String, HelpdeskError> {
        let req: HelpdeskRequest = serde_json::from_str(request)
            .map_err(|e| HelpdeskError::InvalidRequest { why: e.to_string() })?;
        let out = match req {
            HelpdeskRequest::AddAccount { account, actor } => {
                let actor = actor.unwrap_or_else(|| Actor::user(&account.account.user));
                to_json(&self.add_account(&account, &actor)?)
            }
            HelpdeskRequest::Enrol { account, method } => to_json(&self.enrol(&account, &method)?),
            HelpdeskRequest::Unenrol { account, method } => {
                to_json(&self.unenrol(&account, &method)?)
            }
            HelpdeskRequest::LinkAccounts { a, b } => to_json(&self.link_accounts(&a, &b)?),
            HelpdeskRequest::UnlinkAccounts { a, b } => to_json(&self.unlink_accounts(&a, &b)?),
            HelpdeskRequest::RecordLoginFailure { account } => {
                to_json(&self.record_login_failure(&account)?)
            }
            HelpdeskRequest::RecordLoginSuccess { account } => {
                to_json(&self.record_login_success(&account)?)
            }
            HelpdeskRequest::ChangePassword { account } => {
                to_json(&self.change_password(&account)?)
            }
            HelpdeskRequest::AccountStatus { account } => to_json(&self.account_status(&account)?),
            HelpdeskRequest::BeginUnlock { operator, account } => {
                to_json(&self.begin_unlock(&operator, &account)?)
            }
            HelpdeskRequest::AuthenticateUser {
                operator,
                session,
                method,
            } => to_json(&self.authenticate_user(&operator, session, &method)?),
            HelpdeskRequest::UnlockPage { operator, session } => {
                to_json(&self.unlock_page(&operator, session)?)
            }
            HelpdeskRequest::Unlock {
                operator,
                session,
                accounts,
                reason,
            } => to_json(&self.unlock(&operator, session, &accounts, reason.as_deref())?),
            HelpdeskRequest::CancelUnlock { operator, session } => {
                to_json(&self.cancel_unlock(&operator, session)?)
            }
            HelpdeskRequest::History { user } => to_json(&self.history(&user)),
            HelpdeskRequest::State {} => to_json(&self.state()),
        };
        Ok(out)
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    // The response types hold only strings, numbers and string-keyed maps.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A request to [`Helpdesk::handle_json`], tagged by `op`. Each returns the
/// JSON of the matching method's result (`null` for those that return
/// nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum HelpdeskRequest {
    /// [`Helpdesk::add_account`]; `actor` defaults to the user.
    AddAccount {
        /// The account.
        account: NewAccount,
        /// Who provisions it.
        #[serde(default)]
        actor: Option<Actor>,
    },
    /// [`Helpdesk::enrol`].
    Enrol {
        /// The account.
        account: AccountRef,
        /// The authentication type.
        method: String,
    },
    /// [`Helpdesk::unenrol`].
    Unenrol {
        /// The account.
        account: AccountRef,
        /// The authentication type.
        method: String,
    },
    /// [`Helpdesk::link_accounts`].
    LinkAccounts {
        /// One account.
        a: AccountRef,
        /// The other.
        b: AccountRef,
    },
    /// [`Helpdesk::unlink_accounts`].
    UnlinkAccounts {
        /// One account.
        a: AccountRef,
        /// The other.
        b: AccountRef,
    },
    /// [`Helpdesk::record_login_failure`].
    RecordLoginFailure {
        /// The account.
        account: AccountRef,
    },
    /// [`Helpdesk::record_login_success`].
    RecordLoginSuccess {
        /// The account.
        account: AccountRef,
    },
    /// [`Helpdesk::change_password`].
    ChangePassword {
        /// The account.
        account: AccountRef,
    },
    /// [`Helpdesk::account_status`].
    AccountStatus {
        /// The account.
        account: AccountRef,
    },
    /// [`Helpdesk::begin_unlock`].
    BeginUnlock {
        /// The operator.
        operator: String,
        /// The account.
        account: AccountRef,
    },
    /// [`Helpdesk::authenticate_user`].
    AuthenticateUser {
        /// The operator.
        operator: String,
        /// The session.
        session: u64,
        /// The enrolled type used.
        method: String,
    },
    /// [`Helpdesk::unlock_page`].
    UnlockPage {
        /// The operator.
        operator: String,
        /// The session.
        session: u64,
    },
    /// [`Helpdesk::unlock`].
    Unlock {
        /// The operator.
        operator: String,
        /// The session.
        session: u64,
        /// The selected accounts.
        accounts: Vec<AccountRef>,
        /// An optional reason, stored with the unlock events.
        #[serde(default)]
        reason: Option<String>,
    },
    /// [`Helpdesk::cancel_unlock`].
    CancelUnlock {
        /// The operator.
        operator: String,
        /// The session.
        session: u64,
    },
    /// [`Helpdesk::history`].
    History {
        /// The user.
        user: String,
    },
    /// [`Helpdesk::state`] (written `{"op": "state"}`).
    State {},
}
