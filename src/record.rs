//! The record of one authenticator: the unit every transition works on.
//!
//! A [`Record`] holds everything the engine knows about one authenticator ID:
//! who owns it, its type, its device, and one [`Instance`] per app (a single
//! shared instance for global-user types, which also list the apps they were
//! used in). Each instance carries its [`LockState`]: counted failures, the
//! lock, deactivation and suspension flags, outstanding reservations.
//!
//! Records carry a `version` that every change increments, so a shared store
//! can apply a transition with compare-and-swap. This module only describes
//! records and reads statuses off them; [`crate::transition`] changes them.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;
use thin_vec::ThinVec;

use crate::error::{Error, Result};
use crate::ids::{AppId, AuthenticatorId, DeviceId, UserId};
use crate::time::Timestamp;
use crate::types::{AuthenticatorType, Scope};

/// The status of an authenticator in one app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ready, never used successfully.
    Registered,
    /// Used successfully at least once.
    Active,
    /// Locked by a lockout policy or by hand.
    Locked,
    /// Deactivated by an admin, or its user is suspended.
    Deactivated,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Registered => "registered",
            Status::Active => "active",
            Status::Locked => "locked",
            Status::Deactivated => "deactivated",
        })
    }
}

/// Who put a lock in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// The lockout policy, after too many failures.
    Policy,
    /// An admin, helpdesk operator or journey, by hand.
    Manual,
}

/// An opaque fingerprint of a wrong secret, computed by the host (for
/// example an HMAC of the entered PIN). The library never sees secrets; it
/// only compares fingerprints for equality. At most 64 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(Arc<[u8]>);

impl Fingerprint {
    /// The longest fingerprint accepted.
    pub const MAX_LEN: usize = 64;

    /// Wraps the host's bytes; refuses empty or over-long input.
    pub fn new(bytes: &[u8]) -> Result<Fingerprint> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(Error::InvalidArgument {
                what: "fingerprint",
                why: format!(
                    "it is {} bytes long; it must be 1 to {} bytes",
                    bytes.len(),
                    Self::MAX_LEN
                ),
            });
        }
        Ok(Fingerprint(bytes.into()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses lowercase or uppercase hex.
    pub fn from_hex(s: &str) -> Result<Fingerprint> {
        let bad = || Error::InvalidArgument {
            what: "fingerprint",
            why: format!(
                "`{}` is not an even number of lowercase hex digits (as authlock writes them)",
                s.escape_debug()
            ),
        };
        if !s.len().is_multiple_of(2) || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(bad());
        }
        let bytes = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| bad()))
            .collect::<Result<Vec<u8>>>()?;
        Fingerprint::new(&bytes)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fingerprint::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// One counted failure: when, and the wrong secret's fingerprint if given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureMark {
    /// When it was counted (the record's effective time then).
    pub at: Timestamp,
    /// The host's fingerprint of the wrong secret.
    #[serde(deserialize_with = "crate::ids::required")]
    pub fingerprint: Option<Fingerprint>,
    /// The reservation that counted it, if it came from `reserve`.
    #[serde(deserialize_with = "crate::ids::required")]
    pub reservation: Option<u64>,
}

/// An attempt counted before verification and not yet committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// Its number, unique within the instance.
    pub id: u64,
    /// When it was made.
    pub at: Timestamp,
    /// Whether it counted a failure (a repeated wrong secret does not).
    pub counted: bool,
}

/// A lock in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Policy or manual.
    pub kind: LockKind,
    /// The reason given with a manual lock.
    #[serde(deserialize_with = "crate::ids::required")]
    pub reason: Option<Arc<str>>,
    /// When the lock started (a record's effective time, never moved back).
    pub since: Timestamp,
    /// Its length in milliseconds; `None` until unlocked.
    #[serde(deserialize_with = "crate::ids::required")]
    pub duration_ms: Option<u64>,
    /// The reservation whose counted failure caused this policy lock.
    #[serde(deserialize_with = "crate::ids::required")]
    pub reservation: Option<u64>,
}

impl Lock {
    /// When a temporary lock ends: `None` for a lock until unlocked, and
    /// for a temporary lock whose end lies past the end of representable
    /// time, which therefore holds until unlocked.
    #[inline]
    pub fn ends_at(&self) -> Option<Timestamp> {
        let d = i64::try_from(self.duration_ms?).ok()?;
        self.since
            .as_millis()
            .checked_add(d)
            .map(Timestamp::from_millis)
    }

    /// Whether the lock is still in force at `now`.
    #[inline]
    pub fn in_force_at(&self, now: Timestamp) -> bool {
        self.ends_at().is_none_or(|end| now < end)
    }
}

/// Outstanding reservations and the next reservation number. Kept behind
/// one pointer in [`LockState`], since most authenticators never use
/// reserve/commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reservations {
    /// Reservations not yet committed, oldest first.
    pub open: Vec<Reservation>,
    /// The next reservation number.
    pub next: u64,
}

/// The lockout state of one instance (or of a global-user authenticator).
///
/// Laid out to stay small (32 bytes): the failure marks sit behind one
/// pointer that allocates on the first failure, the lock and the
/// reservations behind one pointer each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockState {
    /// Counted failures since the last reset, oldest first.
    pub marks: ThinVec<FailureMark>,
    /// Temporary lockouts since the last success or unlock.
    pub temporary_lockouts: u32,
    /// The lock, if any (it may have expired: see [`LockState::lock_at`]).
    pub lock: Option<Box<Lock>>,
    /// Deactivated by an admin.
    pub deactivated: bool,
    /// Deactivated because the user is suspended.
    pub suspended: bool,
    /// Reservations, once the instance has made one (read them through
    /// [`LockState::reservations`] and [`LockState::next_reservation`]).
    pub reserved: Option<Box<Reservations>>,
}

/// The serialised form of [`LockState`]: the reservations appear as two
/// flat fields, `reservations` and `next_reservation`. Every field is
/// written, empty or not, and [`LockStateIn`] requires every one: what the
/// writer writes is exactly what the reader requires.
#[derive(Serialize)]
struct LockStateOut<'a> {
    marks: &'a [FailureMark],
    temporary_lockouts: u32,
    lock: Option<&'a Lock>,
    deactivated: bool,
    suspended: bool,
    reservations: &'a [Reservation],
    next_reservation: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockStateIn {
    marks: ThinVec<FailureMark>,
    temporary_lockouts: u32,
    #[serde(deserialize_with = "crate::ids::required")]
    lock: Option<Box<Lock>>,
    deactivated: bool,
    suspended: bool,
    reservations: Vec<Reservation>,
    next_reservation: u64,
}

impl Serialize for LockState {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        LockStateOut {
            marks: &self.marks[..],
            temporary_lockouts: self.temporary_lockouts,
            lock: self.lock.as_deref(),
            deactivated: self.deactivated,
            suspended: self.suspended,
            reservations: self.reservations(),
            next_reservation: self.next_reservation(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LockState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let w = LockStateIn::deserialize(d)?;
        Ok(LockState {
            marks: w.marks,
            temporary_lockouts: w.temporary_lockouts,
            lock: w.lock,
            deactivated: w.deactivated,
            suspended: w.suspended,
            reserved: (!w.reservations.is_empty() || w.next_reservation != 0).then(|| {
                Box::new(Reservations {
                    open: w.reservations,
                    next: w.next_reservation,
                })
            }),
        })
    }
}

impl LockState {
    /// The lock in force at `now` (an expired temporary lock is none).
    pub fn lock_at(&self, now: Timestamp) -> Option<&Lock> {
        self.lock.as_deref().filter(|l| l.in_force_at(now))
    }

    /// Whether deactivated for any reason.
    pub fn is_deactivated(&self) -> bool {
        self.deactivated || self.suspended
    }

    /// Reservations not yet committed, oldest first.
    pub fn reservations(&self) -> &[Reservation] {
        self.reserved.as_deref().map_or(&[], |r| &r.open)
    }

    /// The number the next reservation gets.
    pub fn next_reservation(&self) -> u64 {
        self.reserved.as_deref().map_or(0, |r| r.next)
    }

    /// The reservations, to change (allocated on first use).
    pub fn reservations_mut(&mut self) -> &mut Reservations {
        self.reserved.get_or_insert_with(Box::default)
    }
}

/// One app's instance of an authenticator (the single shared instance of a
/// global-user authenticator has no app).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// The app; `None` for the shared state of a global-user authenticator.
    #[serde(deserialize_with = "crate::ids::shared_app")]
    pub app: Option<AppId>,
    /// When this instance was registered.
    pub registered_at: Timestamp,
    /// The last successful authentication with this instance.
    #[serde(deserialize_with = "crate::ids::required")]
    pub last_success: Option<Timestamp>,
    /// Its lockout state.
    pub state: LockState,
}

impl Instance {
    /// The status at `now`, with this precedence: Deactivated, then
    /// Locked, then Active / Registered.
    pub fn status_at(&self, now: Timestamp) -> Status {
        if self.state.is_deactivated() {
            Status::Deactivated
        } else if self.state.lock_at(now).is_some() {
            Status::Locked
        } else if self.last_success.is_some() {
            Status::Active
        } else {
            Status::Registered
        }
    }

    /// The status as stored, treating any lock as in force (for events,
    /// which are computed after lazy expiry has run).
    pub fn stored_status(&self) -> Status {
        if self.state.is_deactivated() {
            Status::Deactivated
        } else if self.state.lock.is_some() {
            Status::Locked
        } else if self.last_success.is_some() {
            Status::Active
        } else {
            Status::Registered
        }
    }
}

/// An app in which a global-user authenticator was used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppLink {
    /// The app.
    pub app: AppId,
    /// First use in that app.
    pub linked_at: Timestamp,
    /// Last successful authentication in that app.
    #[serde(deserialize_with = "crate::ids::required")]
    pub last_success: Option<Timestamp>,
}

/// The last successful login with an authenticator, in any app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastUse {
    /// When.
    pub at: Timestamp,
    /// In which app.
    pub app: AppId,
    /// On which device, if known.
    #[serde(deserialize_with = "crate::ids::required")]
    pub device: Option<DeviceId>,
}

/// The instances of a record: one, inline, in the common case.
pub type Instances = SmallVec<[Instance; 1]>;

/// The parts of a record most authenticators never need, or need rarely:
/// kept behind one pointer in [`Record`], allocated when first set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// Its device (device-user types only).
    pub device: Option<DeviceId>,
    /// The email, phone number or provider account of a global-user type.
    pub identifier: Option<Arc<str>>,
    /// Credential metadata: a passkey's public key.
    pub public_key: Option<Arc<str>>,
    /// Apps a global-user authenticator was used in.
    pub links: Vec<AppLink>,
    /// The last successful login, overall.
    pub last_use: Option<LastUse>,
}

impl Details {
    fn is_empty(&self) -> bool {
        self.device.is_none()
            && self.identifier.is_none()
            && self.public_key.is_none()
            && self.links.is_empty()
            && self.last_use.is_none()
    }
}

/// Everything known about one authenticator ID.
///
/// The fields every decision reads (type, instances and their lock state)
/// are inline; the rest ([`Details`]: device, identifier, public key, app
/// links, last use) sits behind one pointer, so that a password's record is
/// 144 bytes with its one instance inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its ID.
    pub id: AuthenticatorId,
    /// Its owner.
    pub user: UserId,
    /// Its type.
    pub kind: AuthenticatorType,
    /// When the ID was first registered.
    pub registered_at: Timestamp,
    /// Incremented by every change (for compare-and-swap stores).
    pub version: u64,
    /// The latest time this record has seen: the high-water mark of the
    /// times of the calls that changed it. Every rule about it is measured
    /// at its effective time, the later of the clock and `seen`
    /// ([`Record::effective_time`]), so that a clock set back (then forward
    /// again) never shortens a wait. Every stored time of the record is at
    /// most `seen`.
    pub seen: Timestamp,
    /// Per-app instances; exactly one, with no app, for global-user types.
    pub instances: Instances,
    details: Option<Box<Details>>,
}

/// The serialised form of a [`Record`] (the details appear as flat
/// fields). Every field is written, empty or not, and [`RecordIn`]
/// requires every one.
#[derive(Serialize)]
struct RecordOut<'a> {
    id: AuthenticatorId,
    user: &'a str,
    kind: AuthenticatorType,
    device: Option<&'a str>,
    identifier: Option<&'a str>,
    public_key: Option<&'a str>,
    registered_at: Timestamp,
    version: u64,
    seen: Timestamp,
    instances: &'a [Instance],
    links: &'a [AppLink],
    last_use: Option<&'a LastUse>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordIn {
    id: AuthenticatorId,
    #[serde(deserialize_with = "crate::ids::arc_str")]
    user: UserId,
    kind: AuthenticatorType,
    #[serde(deserialize_with = "crate::ids::required")]
    device: Option<DeviceId>,
    #[serde(deserialize_with = "crate::ids::required")]
    identifier: Option<Arc<str>>,
    #[serde(deserialize_with = "crate::ids::required")]
    public_key: Option<Arc<str>>,
    registered_at: Timestamp,
    version: u64,
    seen: Timestamp,
    // Read straight into the inline storage: one instance needs no
    // allocation.
    instances: Instances,
    links: Vec<AppLink>,
    #[serde(deserialize_with = "crate::ids::required")]
    last_use: Option<LastUse>,
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        RecordOut {
            id: self.id,
            user: &self.user,
            kind: self.kind,
            device: self.device().map(|d| &**d),
            identifier: self.identifier(),
            public_key: self.public_key(),
            registered_at: self.registered_at,
            version: self.version,
            seen: self.seen,
            instances: &self.instances[..],
            links: self.links(),
            last_use: self.last_use(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let w = RecordIn::deserialize(d)?;
        let details = Details {
            device: w.device,
            identifier: w.identifier,
            public_key: w.public_key,
            links: w.links,
            last_use: w.last_use,
        };
        Ok(Record {
            id: w.id,
            user: w.user,
            kind: w.kind,
            registered_at: w.registered_at,
            version: w.version,
            seen: w.seen,
            instances: w.instances,
            details: (!details.is_empty()).then(|| Box::new(details)),
        })
    }
}

impl Record {
    /// A record with the given fields and no details.
    pub fn new(
        id: AuthenticatorId,
        user: UserId,
        kind: AuthenticatorType,
        registered_at: Timestamp,
        instance: Instance,
    ) -> Record {
        let mut instances = Instances::new();
        instances.push(instance);
        Record {
            id,
            user,
            kind,
            registered_at,
            version: 1,
            seen: registered_at,
            instances,
            details: None,
        }
    }

    /// The time the record's rules are measured at when the clock reads
    /// `now`: the later of `now` and [`Record::seen`].
    #[inline]
    pub fn effective_time(&self, now: Timestamp) -> Timestamp {
        now.max(self.seen)
    }

    /// Its device (device-user types only).
    pub fn device(&self) -> Option<&DeviceId> {
        self.details.as_deref().and_then(|d| d.device.as_ref())
    }

    /// The email, phone number or provider account of a global-user type.
    pub fn identifier(&self) -> Option<&str> {
        self.details
            .as_deref()
            .and_then(|d| d.identifier.as_deref())
    }

    /// Credential metadata: a passkey's public key.
    pub fn public_key(&self) -> Option<&str> {
        self.details
            .as_deref()
            .and_then(|d| d.public_key.as_deref())
    }

    /// Apps a global-user authenticator was used in.
    pub fn links(&self) -> &[AppLink] {
        self.details.as_deref().map_or(&[], |d| &d.links)
    }

    /// The last successful login, overall.
    pub fn last_use(&self) -> Option<&LastUse> {
        self.details.as_deref().and_then(|d| d.last_use.as_ref())
    }

    /// The details, to change (allocated on first use).
    pub fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    /// The index of the instance a call in `app` works on, or the scope
    /// error that refuses it.
    #[inline]
    pub fn slot(&self, app: &str) -> Result<usize> {
        match self.kind.scope() {
            Scope::GlobalUser => Ok(0),
            Scope::AppUser => self
                .instances
                .iter()
                .position(|i| i.app.as_deref() == Some(app))
                .ok_or_else(|| self.wrong_app(app, "an app-user authenticator is used only in the apps it is registered in, and one app may not act on another app's instance")),
            Scope::DeviceUser => {
                if self.instances[0].app.as_deref() == Some(app) {
                    Ok(0)
                } else {
                    Err(self.wrong_app(app, "a device-user authenticator belongs to one (device, app) pair"))
                }
            }
        }
    }

    fn wrong_app(&self, app: &str, why: &'static str) -> Error {
        Error::WrongApp {
            id: self.id,
            kind: self.kind,
            app: app.to_string(),
            why,
        }
    }

    /// Whether the record is linked to `app` (registered there, or used
    /// there for a global-user type).
    pub fn in_app(&self, app: &str) -> bool {
        match self.kind.scope() {
            Scope::GlobalUser => self.links().iter().any(|l| &*l.app == app),
            _ => self.instances.iter().any(|i| i.app.as_deref() == Some(app)),
        }
    }

    /// The latest of the times stored in the record.
    fn latest_stored_time(&self) -> Option<Timestamp> {
        let inst = self.instances.iter().flat_map(|i| {
            let st = &i.state;
            [
                Some(i.registered_at),
                i.last_success,
                st.lock.as_ref().map(|l| l.since),
            ]
            .into_iter()
            .flatten()
            .chain(st.marks.iter().map(|m| m.at))
            .chain(st.reservations().iter().map(|r| r.at))
        });
        let links = self
            .links()
            .iter()
            .flat_map(|l| [Some(l.linked_at), l.last_success].into_iter().flatten());
        std::iter::once(self.registered_at)
            .chain(inst)
            .chain(links)
            .chain(self.last_use().map(|u| u.at))
            .max()
    }

    /// Checks the structural invariants a restored or replayed record must
    /// hold; the message says which one is broken.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        let id = self.id;
        let scope = self.kind.scope();
        if self.instances.is_empty() {
            return Err(format!("authenticator {id} has no instance"));
        }
        match scope {
            Scope::GlobalUser => {
                if self.instances.len() != 1 || self.instances[0].app.is_some() {
                    return Err(format!(
                        "global-user authenticator {id} must have exactly one instance with no app"
                    ));
                }
                if self.device().is_some() {
                    return Err(format!("global-user authenticator {id} has a device"));
                }
                let mut apps: Vec<&str> = self.links().iter().map(|l| &*l.app).collect();
                apps.sort_unstable();
                if apps.windows(2).any(|w| w[0] == w[1]) {
                    return Err(format!("authenticator {id} is linked twice to one app"));
                }
            }
            Scope::AppUser | Scope::DeviceUser => {
                if !self.links().is_empty() {
                    return Err(format!(
                        "authenticator {id} ({}) has global app links",
                        self.kind
                    ));
                }
                if self.instances.iter().any(|i| i.app.is_none()) {
                    return Err(format!("authenticator {id} has an instance with no app"));
                }
                let mut apps: SmallVec<[&str; 4]> = self
                    .instances
                    .iter()
                    .filter_map(|i| i.app.as_deref())
                    .collect();
                apps.sort_unstable();
                if apps.windows(2).any(|w| w[0] == w[1]) {
                    return Err(format!("authenticator {id} has two instances in one app"));
                }
                if scope == Scope::DeviceUser
                    && (self.instances.len() != 1 || self.device().is_none())
                {
                    return Err(format!(
                        "device-user authenticator {id} must have one device and one app"
                    ));
                }
                if scope == Scope::AppUser && self.device().is_some() {
                    return Err(format!("app-user authenticator {id} has a device"));
                }
            }
        }
        if !self.seen.is_valid() {
            return Err(format!(
                "authenticator {id} has seen {}, outside the times the engine accepts ({} to {})",
                self.seen,
                Timestamp::MIN_VALID,
                Timestamp::MAX_VALID
            ));
        }
        if let Some(t) = self.latest_stored_time()
            && t > self.seen
        {
            return Err(format!(
                "authenticator {id} stores the time {t}, later than its seen {}: seen is the latest time the record has seen",
                self.seen
            ));
        }
        for inst in &self.instances {
            let st = &inst.state;
            if st.marks.len() > crate::policy::MAX_FAILURES_LIMIT as usize {
                return Err(format!(
                    "authenticator {id} counts {} failures, more than any policy allows",
                    st.marks.len()
                ));
            }
            if st
                .reservations()
                .iter()
                .any(|r| r.id >= st.next_reservation())
            {
                return Err(format!(
                    "authenticator {id} has a reservation numbered beyond its counter"
                ));
            }
            if let Some(l) = &st.lock
                && l.kind == LockKind::Manual
                && l.duration_ms.is_some()
            {
                return Err(format!(
                    "authenticator {id} has a manual lock with an expiry"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod lock_ends {
    use super::*;

    fn lock(since: i64, duration_ms: Option<u64>) -> Lock {
        Lock {
            kind: LockKind::Policy,
            reason: None,
            since: Timestamp::from_millis(since),
            duration_ms,
            reservation: None,
        }
    }

    /// A temporary lock whose end cannot be represented has no end: it
    /// holds until unlocked, at every time, the last representable one
    /// included (it never saturates into "expired").
    #[test]
    fn an_end_past_representable_time_holds() {
        let five_min = Some(300_000);
        let edge = lock(i64::MAX - 1000, five_min);
        assert_eq!(edge.ends_at(), None);
        assert!(edge.in_force_at(Timestamp::MAX));
        let huge = lock(0, Some(u64::MAX));
        assert_eq!(huge.ends_at(), None);
        assert!(huge.in_force_at(Timestamp::MAX));
        // Just inside: the end is exact, and the lock ends there.
        let inside = lock(i64::MAX - 300_000, five_min);
        assert_eq!(inside.ends_at(), Some(Timestamp::MAX));
        assert!(inside.in_force_at(Timestamp::from_millis(i64::MAX - 1)));
        assert!(!inside.in_force_at(Timestamp::MAX));
        assert_eq!(lock(0, None).ends_at(), None);
    }
}

#[cfg(test)]
mod layout {
    use super::*;

    /// The hot parts of a record stay small: the memory target (256 bytes
    /// per authenticator at 1M, index included) depends on these sizes.
    #[test]
    fn records_stay_compact() {
        assert_eq!(std::mem::size_of::<LockState>(), 32);
        assert_eq!(std::mem::size_of::<Instance>(), 64);
        assert_eq!(std::mem::size_of::<Record>(), 144);
    }
}

#[cfg(test)]
mod fingerprint_hex {
    use super::Fingerprint;

    #[test]
    fn only_the_lowercase_hex_authlock_writes_is_read() {
        let f = Fingerprint::from_hex("77726f6e672d31").unwrap();
        assert_eq!(f.to_hex(), "77726f6e672d31");
        for bad in ["77726f6e672D31", "+1", "7", "zz", "é1"] {
            let err = Fingerprint::from_hex(bad).unwrap_err();
            assert!(err.to_string().contains("lowercase hex"), "{bad}: {err}");
        }
    }
}
