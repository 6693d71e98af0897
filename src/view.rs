//! The authenticator view: each of a user's authenticators listed
//! once, with its unified status, the multiple-apps marker, per-app details
//! and its last use.
//!
//! Views are read at the engine's current time without changing anything:
//! a temporary lock that has run out shows as ended even before the next
//! call records its expiry.

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ids::AuthenticatorId;
use crate::record::{Instance, LockKind, Record, Status};
use crate::time::Timestamp;
use crate::transition::{Decision, counted_failures, evaluate};
use crate::types::{AuthenticatorType, Scope};

/// The status shown for an authenticator across its apps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnifiedStatus {
    /// Registered in every app.
    Registered,
    /// Active in every app.
    Active,
    /// Locked in every app.
    Locked,
    /// Deactivated in every app.
    Deactivated,
    /// The apps disagree (Active in A, Locked in B, ...).
    Mixed,
}

impl From<Status> for UnifiedStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Registered => UnifiedStatus::Registered,
            Status::Active => UnifiedStatus::Active,
            Status::Locked => UnifiedStatus::Locked,
            Status::Deactivated => UnifiedStatus::Deactivated,
        }
    }
}

/// An authenticator's details in one app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDetail {
    /// The app.
    pub app: String,
    /// Registration in this app (for a global-user type: first use here).
    pub registered_at: Timestamp,
    /// Last successful authentication in this app.
    pub last_success: Option<Timestamp>,
    /// Status in this app now.
    pub status: Status,
    /// Policy or manual, when locked.
    pub lock_kind: Option<LockKind>,
    /// The reason given with a manual lock.
    pub lock_reason: Option<String>,
    /// When a temporary lock ends.
    pub lock_expires_at: Option<Timestamp>,
    /// Failures counted now.
    pub failures: u32,
    /// When the next attempt is allowed, while throttled.
    pub throttled_until: Option<Timestamp>,
}

/// One authenticator as the view lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticatorView {
    /// Its ID.
    pub id: AuthenticatorId,
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
    pub registered_at: Timestamp,
    /// The last successful login with it, in any app.
    pub last_login: Option<Timestamp>,
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

fn detail(
    app: &str,
    registered_at: Timestamp,
    last_success: Option<Timestamp>,
    inst: &Instance,
    engine: &Engine,
    kind: AuthenticatorType,
    now: Timestamp,
) -> AppDetail {
    let policy = engine.policies().policy(kind, app);
    let lock = inst.state.lock_at(now);
    let expired = inst.state.lock.is_some() && lock.is_none();
    AppDetail {
        app: app.to_string(),
        registered_at,
        last_success,
        status: inst.status_at(now),
        lock_kind: lock.map(|l| l.kind),
        lock_reason: lock.and_then(|l| l.reason.as_deref().map(str::to_string)),
        lock_expires_at: lock.and_then(|l| l.ends_at()),
        failures: if expired {
            0
        } else {
            counted_failures(&inst.state, policy, now)
        },
        throttled_until: match evaluate(inst, policy, now) {
            Decision::Throttled { retry_at } => Some(retry_at),
            _ => None,
        },
    }
}

/// Builds the view of one record at `now`.
pub(crate) fn view_of(engine: &Engine, rec: &Record, now: Timestamp) -> AuthenticatorView {
    // Every answer is at the record's effective time, as `check` answers.
    let now = rec.effective_time(now);
    let apps: Vec<AppDetail> = match rec.kind.scope() {
        Scope::GlobalUser => rec
            .links()
            .iter()
            .map(|l| {
                detail(
                    &l.app,
                    l.linked_at,
                    l.last_success,
                    &rec.instances[0],
                    engine,
                    rec.kind,
                    now,
                )
            })
            .collect(),
        _ => rec
            .instances
            .iter()
            .map(|i| {
                let app = i.app.as_deref().unwrap_or_default();
                detail(
                    app,
                    i.registered_at,
                    i.last_success,
                    i,
                    engine,
                    rec.kind,
                    now,
                )
            })
            .collect(),
    };
    let status = match apps.split_first() {
        None => rec.instances[0].status_at(now).into(),
        Some((first, rest)) if rest.iter().all(|a| a.status == first.status) => first.status.into(),
        Some(_) => UnifiedStatus::Mixed,
    };
    AuthenticatorView {
        id: rec.id,
        kind: rec.kind,
        scope: rec.kind.scope(),
        status,
        multiple_apps: apps.len() > 1,
        apps,
        registered_at: rec.registered_at,
        last_login: rec.last_use().map(|u| u.at),
        last_app: rec.last_use().map(|u| u.app.to_string()),
        last_device: rec
            .last_use()
            .and_then(|u| u.device.as_deref().map(str::to_string)),
        device: rec.device().map(|d| d.to_string()),
        identifier: rec.identifier().map(str::to_string),
        public_key: rec.public_key().map(str::to_string),
    }
}

impl Engine {
    /// A user's authenticators, each listed once, in registration order.
    pub fn authenticators(&self, user: &str) -> Result<Vec<AuthenticatorView>> {
        let now = self.read_clock()?;
        let users = self.users.read();
        let Some(entry) = users.map.get(user) else {
            return Err(Error::UnknownUser { user: user.into() });
        };
        Ok(self
            .records_of(Some(entry))
            .iter()
            .map(|r| view_of(self, r, now))
            .collect())
    }

    /// One authenticator's view.
    pub fn authenticator(&self, id: &AuthenticatorId) -> Result<AuthenticatorView> {
        let now = self.read_clock()?;
        let shard = self.shard(id).read();
        match shard.records.get(id) {
            Some(rec) => Ok(view_of(self, rec, now)),
            None if shard.deleted.contains(id) => Err(Error::Deleted { id: *id }),
            None => Err(Error::NotFound { id: *id }),
        }
    }
}
