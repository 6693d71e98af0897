//! History: the events every change appends, who caused them,
//! and where they go.
//!
//! Transitions produce [`Event`]s; the engine numbers them and hands them to
//! an injected [`EventSink`] ([`MemoryHistory`] by default). Every event is
//! a primitive the engine can apply again, which is how
//! [`EngineBuilder::replay`](crate::EngineBuilder::replay) rebuilds a state from its
//! history. Events for one authenticator reach the sink in the order they
//! happened; [`MemoryHistory`] keeps all events in sequence order.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::ids::{AppId, AuthenticatorId, DeviceId, UserId};
use crate::record::{Fingerprint, LockKind, Status};
use crate::time::Timestamp;
use crate::types::AuthenticatorType;

/// Who caused a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "ActorIn")]
pub enum Actor {
    /// The end user (their own attempts and registrations).
    User {
        /// The user's ID.
        id: UserId,
    },
    /// A tenant administrator.
    Admin {
        /// The admin's ID.
        id: Arc<str>,
    },
    /// A helpdesk operator.
    Helpdesk {
        /// The operator's ID.
        operator: Arc<str>,
    },
    /// A journey step.
    Journey {
        /// The journey's name.
        journey: Arc<str>,
        /// The step's name.
        step: Arc<str>,
    },
    /// authlock itself: policy locks, expiries, clock corrections.
    System,
}

/// What [`Actor`] is read from: the same, with its unit variants as
/// empty struct variants, because serde lets an internally tagged unit
/// variant carry any unknown field while it refuses one in a struct
/// variant.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ActorIn {
    User { id: UserId },
    Admin { id: Arc<str> },
    Helpdesk { operator: Arc<str> },
    Journey { journey: Arc<str>, step: Arc<str> },
    System {},
}

impl From<ActorIn> for Actor {
    fn from(a: ActorIn) -> Actor {
        match a {
            ActorIn::User { id } => Actor::User { id },
            ActorIn::Admin { id } => Actor::Admin { id },
            ActorIn::Helpdesk { operator } => Actor::Helpdesk { operator },
            ActorIn::Journey { journey, step } => Actor::Journey { journey, step },
            ActorIn::System {} => Actor::System,
        }
    }
}

impl Actor {
    /// The end user `id`.
    pub fn user(id: &str) -> Actor {
        Actor::User { id: id.into() }
    }
    /// The admin `id`.
    pub fn admin(id: &str) -> Actor {
        Actor::Admin { id: id.into() }
    }
    /// The helpdesk operator `id`.
    pub fn helpdesk(operator: &str) -> Actor {
        Actor::Helpdesk {
            operator: operator.into(),
        }
    }
    /// A journey's step.
    pub fn journey(journey: &str, step: &str) -> Actor {
        Actor::Journey {
            journey: journey.into(),
            step: step.into(),
        }
    }

    /// The person behind the actor, if it is one (user, admin or operator):
    /// events whose actor is `u` are the actions performed *by* `u`.
    pub fn person(&self) -> Option<&str> {
        match self {
            Actor::User { id } | Actor::Admin { id } => Some(id),
            Actor::Helpdesk { operator } => Some(operator),
            Actor::Journey { .. } | Actor::System => None,
        }
    }
}

/// What happened. Each variant is a primitive the engine can apply again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", from = "ActionIn")]
pub enum Action {
    /// A new authenticator ID, or a new app instance of an app-user one.
    /// Its details are boxed: registrations are rare, and a small action
    /// keeps every event small.
    Registered(Box<Registered>),
    /// A failed attempt. `counted` is false for a repeated wrong secret.
    Failure {
        /// The wrong secret's fingerprint.
        #[serde(deserialize_with = "crate::ids::required")]
        fingerprint: Option<Fingerprint>,
        /// Whether it counted towards the lockout.
        counted: bool,
    },
    /// A successful attempt.
    Success {
        /// The device used, if the host said.
        #[serde(deserialize_with = "crate::ids::required")]
        device: Option<DeviceId>,
    },
    /// A failure counted before verification.
    Reserved {
        /// The reservation's number.
        reservation: u64,
        /// The fingerprint of the secret being verified.
        #[serde(deserialize_with = "crate::ids::required")]
        fingerprint: Option<Fingerprint>,
        /// Whether it counted (a repeated wrong secret does not).
        counted: bool,
    },
    /// The outcome of a reserved attempt.
    Committed {
        /// The reservation's number.
        reservation: u64,
        /// Whether the secret was right (the failure is refunded).
        success: bool,
        /// The device used, if the host said.
        #[serde(deserialize_with = "crate::ids::required")]
        device: Option<DeviceId>,
    },
    /// A lock began.
    Locked {
        /// Policy or manual.
        lock: LockKind,
        /// When it ends by itself; `None` until unlocked.
        #[serde(deserialize_with = "crate::ids::required")]
        until: Option<Timestamp>,
    },
    /// A temporary lock ended by itself (found at the next call).
    LockExpired,
    /// The lock and the counter were cleared.
    Unlocked {
        /// Whether a lock was in place (otherwise only the counter was reset).
        cleared_lock: bool,
    },
    /// A policy lock caused by a reserved failure was lifted because the
    /// reservation was committed as a success.
    LockRefunded,
    /// A change was made with the host's clock earlier than the latest time
    /// the record had seen. Stamped with the clock's reading, it comes first
    /// among the call's events about the record, which carry that latest
    /// time: waits are measured against it, so they neither end early nor
    /// restart. (Histories written before this rule may hold one alone,
    /// from a check; those are not replayed.)
    ClockRewound,
    /// The registration was removed.
    Deleted {
        /// The registration that replaced it, for a device-user re-registration.
        #[serde(deserialize_with = "crate::ids::required")]
        replaced_by: Option<AuthenticatorId>,
    },
    /// Deactivated by an admin.
    Deactivated,
    /// Reactivated by an admin.
    Reactivated,
    /// Deactivated because its user was suspended (or the user itself, when
    /// the event names no authenticator).
    Suspended,
    /// Restored because its user was unsuspended (or the user itself).
    Unsuspended,
    /// An identifier was added to the user's profile.
    IdentifierAdded {
        /// The identifier.
        identifier: crate::engine::Identifier,
    },
}

/// What [`Action`] is read from: the same, with its unit variants as
/// empty struct variants, because serde lets an internally tagged unit
/// variant carry any unknown field while it refuses one in a struct
/// variant.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ActionIn {
    Registered(Box<Registered>),
    Failure {
        #[serde(deserialize_with = "crate::ids::required")]
        fingerprint: Option<Fingerprint>,
        counted: bool,
    },
    Success {
        #[serde(deserialize_with = "crate::ids::required")]
        device: Option<DeviceId>,
    },
    Reserved {
        reservation: u64,
        #[serde(deserialize_with = "crate::ids::required")]
        fingerprint: Option<Fingerprint>,
        counted: bool,
    },
    Committed {
        reservation: u64,
        success: bool,
        #[serde(deserialize_with = "crate::ids::required")]
        device: Option<DeviceId>,
    },
    Locked {
        lock: LockKind,
        #[serde(deserialize_with = "crate::ids::required")]
        until: Option<Timestamp>,
    },
    LockExpired {},
    Unlocked {
        cleared_lock: bool,
    },
    LockRefunded {},
    ClockRewound {},
    Deleted {
        #[serde(deserialize_with = "crate::ids::required")]
        replaced_by: Option<AuthenticatorId>,
    },
    Deactivated {},
    Reactivated {},
    Suspended {},
    Unsuspended {},
    IdentifierAdded {
        identifier: crate::engine::Identifier,
    },
}

impl From<ActionIn> for Action {
    fn from(a: ActionIn) -> Action {
        match a {
            ActionIn::Registered(r) => Action::Registered(r),
            ActionIn::Failure {
                fingerprint,
                counted,
            } => Action::Failure {
                fingerprint,
                counted,
            },
            ActionIn::Success { device } => Action::Success { device },
            ActionIn::Reserved {
                reservation,
                fingerprint,
                counted,
            } => Action::Reserved {
                reservation,
                fingerprint,
                counted,
            },
            ActionIn::Committed {
                reservation,
                success,
                device,
            } => Action::Committed {
                reservation,
                success,
                device,
            },
            ActionIn::Locked { lock, until } => Action::Locked { lock, until },
            ActionIn::LockExpired {} => Action::LockExpired,
            ActionIn::Unlocked { cleared_lock } => Action::Unlocked { cleared_lock },
            ActionIn::LockRefunded {} => Action::LockRefunded,
            ActionIn::ClockRewound {} => Action::ClockRewound,
            ActionIn::Deleted { replaced_by } => Action::Deleted { replaced_by },
            ActionIn::Deactivated {} => Action::Deactivated,
            ActionIn::Reactivated {} => Action::Reactivated,
            ActionIn::Suspended {} => Action::Suspended,
            ActionIn::Unsuspended {} => Action::Unsuspended,
            ActionIn::IdentifierAdded { identifier } => Action::IdentifierAdded { identifier },
        }
    }
}

impl Action {
    /// A short name for the action (`failure`, `locked`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Registered(_) => "registered",
            Action::Failure { .. } => "failure",
            Action::Success { .. } => "success",
            Action::Reserved { .. } => "reserved",
            Action::Committed { .. } => "committed",
            Action::Locked { .. } => "locked",
            Action::LockExpired => "lock_expired",
            Action::LockRefunded => "lock_refunded",
            Action::Unlocked { .. } => "unlocked",
            Action::ClockRewound => "clock_rewound",
            Action::Deleted { .. } => "deleted",
            Action::Deactivated => "deactivated",
            Action::Reactivated => "reactivated",
            Action::Suspended => "suspended",
            Action::Unsuspended => "unsuspended",
            Action::IdentifierAdded { .. } => "identifier_added",
        }
    }

    /// Whether this event begins or ends a lock (what observers hear about).
    pub fn is_lock_change(&self) -> bool {
        matches!(
            self,
            Action::Locked { .. }
                | Action::LockExpired
                | Action::LockRefunded
                | Action::Unlocked { cleared_lock: true }
        )
    }
}

/// What a registration recorded ([`Action::Registered`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registered {
    /// Its type.
    pub kind: AuthenticatorType,
    /// Its device (device-user).
    #[serde(deserialize_with = "crate::ids::required")]
    pub device: Option<DeviceId>,
    /// The email / phone / provider account (global-user).
    #[serde(deserialize_with = "crate::ids::required")]
    pub identifier: Option<Arc<str>>,
    /// Credential metadata (a passkey's public key).
    #[serde(deserialize_with = "crate::ids::required")]
    pub public_key: Option<Arc<str>>,
    /// The device-user instance this registration replaces.
    #[serde(deserialize_with = "crate::ids::required")]
    pub replaces: Option<AuthenticatorId>,
}

impl Registered {
    /// A registration of `kind` with no device, identifier, public key or
    /// replaced instance.
    pub fn of(kind: AuthenticatorType) -> Registered {
        Registered {
            kind,
            device: None,
            identifier: None,
            public_key: None,
            replaces: None,
        }
    }
}

/// One entry of the history.
///
/// Every field is written, `null` included, and required on input; an
/// unknown field is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Position in the tenant's history, from 1, without gaps.
    pub seq: u64,
    /// When it happened (the host clock's time).
    pub time: Timestamp,
    /// The tenant.
    pub tenant: Arc<str>,
    /// The app of the call, where there is one.
    #[serde(deserialize_with = "crate::ids::required")]
    pub app: Option<AppId>,
    /// Who caused it.
    pub actor: Actor,
    /// The user it happened to.
    pub user: UserId,
    /// The authenticator, for authenticator events.
    #[serde(deserialize_with = "crate::ids::required")]
    pub authenticator: Option<AuthenticatorId>,
    /// What happened.
    pub action: Action,
    /// The reason given (a lock reason, a deactivation reason, ...).
    #[serde(deserialize_with = "crate::ids::required")]
    pub reason: Option<Arc<str>>,
    /// Status before, in the event's app (`None` when it did not exist).
    #[serde(deserialize_with = "crate::ids::required")]
    pub before: Option<Status>,
    /// Status after (`None` when it no longer exists).
    #[serde(deserialize_with = "crate::ids::required")]
    pub after: Option<Status>,
}

/// Where the engine writes events.
///
/// Called while the authenticator concerned is held, so events of one
/// authenticator arrive in order; keep it quick and never call back into
/// the engine from it.
pub trait EventSink: Send + Sync {
    /// Stores the events of one call, in order (they carry consecutive
    /// sequence numbers). An error means they could not be stored: the
    /// engine then refuses every later call (fail-stop), because its memory
    /// now holds a change its sink does not.
    fn append(&self, events: &[Event]) -> Result<(), String>;
    /// [`EventSink::append`] for events the engine no longer needs: the
    /// same contract, but the sink may take the events out of `events`, so
    /// that a sink that keeps them (such as [`MemoryHistory`]) moves them
    /// rather than copying them. It may also leave events it no longer
    /// keeps in their place: a full bounded [`MemoryHistory`] hands back
    /// the oldest events it evicts, so that they are dropped after its lock
    /// is released. The engine empties the vector afterwards (dropping
    /// whatever is in it) and reuses its buffer for the next call. The
    /// default stores them through `append`.
    fn append_owned(&self, events: &mut Vec<Event>) -> Result<(), String> {
        self.append(events)
    }
    /// Every stored event, in sequence order (empty for a sink that does not
    /// keep events).
    fn events(&self) -> Vec<Event>;
    /// Events about or by `user`.
    fn for_user(&self, user: &str) -> UserHistory {
        UserHistory::from_events(user, self.events().into_iter())
    }
}

/// A user's history: the actions performed on the user and by the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserHistory {
    /// Events whose subject is the user.
    pub on_user: Vec<Event>,
    /// Events the user caused (as user, admin or helpdesk operator),
    /// including on other users.
    pub by_user: Vec<Event>,
}

impl UserHistory {
    /// Splits events into those on and by `user`.
    pub fn from_events(user: &str, events: impl Iterator<Item = Event>) -> UserHistory {
        let mut h = UserHistory::default();
        for e in events {
            let by = e.actor.person() == Some(user);
            let on = &*e.user == user;
            match (on, by) {
                (true, true) => {
                    h.by_user.push(e.clone());
                    h.on_user.push(e);
                }
                (true, false) => h.on_user.push(e),
                (false, true) => h.by_user.push(e),
                (false, false) => {}
            }
        }
        h
    }
}

/// The default sink: events in memory, in sequence order — all of them, or
/// the newest `limit` with [`MemoryHistory::bounded`].
#[derive(Debug, Default)]
pub struct MemoryHistory {
    events: RwLock<VecDeque<Event>>,
    limit: Option<usize>,
}

impl MemoryHistory {
    /// An empty history that keeps every event.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty history that keeps the newest `limit` events (an audit
    /// buffer of bounded memory; persist older events through a store).
    pub fn bounded(limit: usize) -> Self {
        MemoryHistory {
            events: RwLock::new(VecDeque::new()),
            limit: Some(limit.max(1)),
        }
    }

    /// Number of events stored.
    pub fn len(&self) -> usize {
        self.events.read().len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MemoryHistory {
    /// Adds `event` as the newest. A full bounded history writes it over
    /// its oldest event, in place, and turns the ring by one: nothing is
    /// moved out and back, the slot written is the one just freed (in
    /// cache), and the ring never grows past its limit.
    fn push_newest(&self, events: &mut VecDeque<Event>, event: Event) {
        let Some(limit) = self.limit else {
            events.push_back(event);
            return;
        };
        if events.len() >= limit {
            if let Some(oldest) = events.front_mut() {
                *oldest = event;
            }
            events.rotate_left(1);
            return;
        }
        if events.len() == events.capacity() {
            // Grow towards the limit exactly, so that a full ring fills its
            // buffer and turning it by one moves no event.
            let want = (events.capacity() * 2).max(16).min(limit);
            events.reserve_exact(want - events.len());
        }
        events.push_back(event);
    }

    /// Drops the oldest events beyond the limit.
    fn trim(&self, events: &mut VecDeque<Event>) {
        if let Some(limit) = self.limit {
            while events.len() > limit {
                events.pop_front();
            }
        }
    }
}

impl EventSink for MemoryHistory {
    fn append(&self, batch: &[Event]) -> Result<(), String> {
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let mut events = self.events.write();
        // Batches of different authenticators may arrive slightly out of
        // order across threads; keep the events sorted by sequence.
        let pos = events
            .iter()
            .rposition(|e| e.seq < first.seq)
            .map_or(0, |p| p + 1);
        if pos == events.len() {
            for e in batch {
                self.push_newest(&mut events, e.clone());
            }
        } else {
            for (i, e) in batch.iter().enumerate() {
                events.insert(pos + i, e.clone());
            }
        }
        self.trim(&mut events);
        Ok(())
    }

    fn append_owned(&self, batch: &mut Vec<Event>) -> Result<(), String> {
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let mut events = self.events.write();
        let pos = events
            .iter()
            .rposition(|e| e.seq < first.seq)
            .map_or(0, |p| p + 1);
        if pos == events.len() {
            if self.limit.is_some_and(|limit| events.len() >= limit) {
                // Full: each new event changes places with the oldest, and
                // the ring turns by one. The evicted events go back in
                // `batch`, which the caller empties outside this lock.
                for e in batch.iter_mut() {
                    if let Some(oldest) = events.front_mut() {
                        std::mem::swap(oldest, e);
                    }
                    events.rotate_left(1);
                }
            } else {
                for e in batch.drain(..) {
                    self.push_newest(&mut events, e);
                }
            }
        } else {
            for (i, e) in batch.drain(..).enumerate() {
                events.insert(pos + i, e);
            }
        }
        self.trim(&mut events);
        Ok(())
    }

    fn events(&self) -> Vec<Event> {
        self.events.read().iter().cloned().collect()
    }

    fn for_user(&self, user: &str) -> UserHistory {
        let events = self.events.read();
        UserHistory::from_events(
            user,
            events
                .iter()
                .filter(|e| &*e.user == user || e.actor.person() == Some(user))
                .cloned(),
        )
    }
}

/// A sink that keeps nothing (for hosts that persist events elsewhere
/// through an observer, and for benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHistory;

impl EventSink for NoHistory {
    fn append(&self, _events: &[Event]) -> Result<(), String> {
        Ok(())
    }
    fn events(&self) -> Vec<Event> {
        Vec::new()
    }
}

/// Serialises a history as JSON in a versioned envelope.
pub fn history_to_json(tenant: &str, events: &[Event]) -> String {
    #[derive(Serialize)]
    struct Envelope<'a> {
        format: &'a str,
        version: u32,
        tenant: &'a str,
        events: &'a [Event],
    }
    serde_json::to_string(&Envelope {
        format: HISTORY_FORMAT,
        version: HISTORY_VERSION,
        tenant,
        events,
    })
    .unwrap_or_default()
}

/// The `format` tag of a serialised history.
pub const HISTORY_FORMAT: &str = "authlock-history";
/// The version of the serialised history format this build reads and writes.
pub const HISTORY_VERSION: u32 = 1;

/// Reads a history written by [`history_to_json`]; refuses another format or
/// version with a message that says which.
pub fn history_from_json(text: &str) -> crate::Result<(String, Vec<Event>)> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope {
        format: String,
        version: u32,
        tenant: String,
        events: Vec<Event>,
    }
    let env: Envelope = serde_json::from_str(text)
        .map_err(|e| crate::Error::History(format!("not a valid history document: {e}")))?;
    if env.format != HISTORY_FORMAT {
        return Err(crate::Error::History(format!(
            "format is `{}`, expected `{HISTORY_FORMAT}`",
            env.format
        )));
    }
    if env.version != HISTORY_VERSION {
        return Err(crate::Error::History(format!(
            "version {} is not supported (this build reads version {HISTORY_VERSION})",
            env.version
        )));
    }
    Ok((env.tenant, env.events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Event {
        Event {
            seq,
            time: Timestamp::from_secs(seq as i64),
            tenant: "t".into(),
            app: Some("web".into()),
            actor: Actor::System,
            user: "u".into(),
            authenticator: None,
            action: Action::LockExpired,
            reason: None,
            before: None,
            after: None,
        }
    }

    fn seqs(h: &MemoryHistory) -> Vec<u64> {
        h.events().iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_bounded_history_keeps_the_newest_events_whichever_way_they_arrive() {
        for owned in [false, true] {
            let h = MemoryHistory::bounded(3);
            let mut next = 1;
            for batch in [1, 2, 1, 3, 2] {
                let mut events: Vec<Event> = (next..next + batch).map(event).collect();
                next += batch;
                if owned {
                    let oldest_before = seqs(&h).first().copied();
                    h.append_owned(&mut events).unwrap();
                    // What is left is what the full ring evicted: its
                    // oldest events, in order, none of the new ones.
                    let left: Vec<u64> = events.iter().map(|e| e.seq).collect();
                    let expected: Vec<u64> = oldest_before
                        .filter(|_| !left.is_empty())
                        .map(|o| (o..o + left.len() as u64).collect())
                        .unwrap_or_default();
                    assert_eq!(left, expected, "owned: evicted events handed back");
                } else {
                    h.append(&events).unwrap();
                }
                assert!(h.len() <= 3);
            }
            assert_eq!(seqs(&h), [7, 8, 9], "owned: {owned}");
            // A batch larger than the limit keeps its own newest events.
            let mut big: Vec<Event> = (10..15).map(event).collect();
            if owned {
                h.append_owned(&mut big).unwrap();
            } else {
                h.append(&big).unwrap();
            }
            assert_eq!(seqs(&h), [12, 13, 14], "owned: {owned}");
        }
    }

    #[test]
    fn a_full_ring_turns_many_times_and_still_takes_late_events_in_order() {
        for limit in [1u64, 37, 100] {
            let h = MemoryHistory::bounded(limit as usize);
            for seq in 1..=1000 {
                if seq % 2 == 0 {
                    h.append_owned(&mut vec![event(seq)]).unwrap();
                } else {
                    h.append(&[event(seq)]).unwrap();
                }
                assert_eq!(h.len() as u64, seq.min(limit));
            }
            assert_eq!(seqs(&h), (1001 - limit..=1000).collect::<Vec<_>>());
            // A late event after the ring has turned goes to its place.
            h.append(&[event(1002)]).unwrap();
            h.append_owned(&mut vec![event(1001)]).unwrap();
            assert_eq!(
                seqs(&h),
                (1003 - limit..=1002).collect::<Vec<_>>(),
                "limit {limit}"
            );
        }
    }

    #[test]
    fn a_late_batch_is_put_in_sequence_order_before_trimming() {
        for owned in [false, true] {
            let h = MemoryHistory::bounded(4);
            h.append(&[event(1), event(2), event(5)]).unwrap();
            let mut late = vec![event(3), event(4)];
            if owned {
                h.append_owned(&mut late).unwrap();
            } else {
                h.append(&late).unwrap();
            }
            assert_eq!(seqs(&h), [2, 3, 4, 5], "owned: {owned}");
        }
    }

    #[test]
    fn a_registration_is_written_flat_and_read_back() {
        let mut e = event(1);
        e.action = Action::Registered(Box::new(Registered {
            device: Some("phone".into()),
            ..Registered::of(AuthenticatorType::Pin)
        }));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["action"]["type"], "registered");
        assert_eq!(json["action"]["kind"], "pin");
        assert_eq!(json["action"]["device"], "phone");
        assert!(json["action"]["identifier"].is_null());
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
        // Optional fields are written as null and required on input.
        let plain: Action = serde_json::from_str(
            r#"{"type":"registered","kind":"password","device":null,"identifier":null,"public_key":null,"replaces":null}"#,
        )
        .unwrap();
        assert_eq!(
            plain,
            Action::Registered(Box::new(Registered::of(AuthenticatorType::Password)))
        );
        let absent = serde_json::from_str::<Action>(r#"{"type":"registered","kind":"password"}"#);
        assert!(absent.unwrap_err().to_string().contains("missing field"));
    }

    #[test]
    fn an_unbounded_history_keeps_everything() {
        let h = MemoryHistory::new();
        let mut events: Vec<Event> = (1..=1000).map(event).collect();
        h.append_owned(&mut events).unwrap();
        h.append(&[event(1001)]).unwrap();
        assert_eq!(seqs(&h), (1..=1001).collect::<Vec<_>>());
    }
}

#[cfg(test)]
mod strict {
    use super::*;

    fn event_json() -> serde_json::Value {
        let mut e = Event {
            seq: 1,
            time: Timestamp::from_secs(1),
            tenant: "t".into(),
            app: Some("web".into()),
            actor: Actor::admin("ops"),
            user: "u".into(),
            authenticator: None,
            action: Action::LockExpired,
            reason: None,
            before: None,
            after: None,
        };
        e.action = Action::Registered(Box::new(Registered::of(AuthenticatorType::Pin)));
        serde_json::to_value(&e).unwrap()
    }

    fn refused(v: &serde_json::Value, name: &str) {
        let Err(err) = serde_json::from_value::<Event>(v.clone()) else {
            panic!("`{name}` accepted in {v}")
        };
        assert!(err.to_string().contains(name), "`{name}` not in {err}");
    }

    #[test]
    fn an_event_with_an_unknown_field_anywhere_is_refused_naming_it() {
        let good = event_json();
        assert!(serde_json::from_value::<Event>(good.clone()).is_ok());
        let mut top = good.clone();
        top["extra"] = 1.into();
        refused(&top, "extra");
        let mut actor = good.clone();
        actor["actor"]["nick"] = "x".into();
        refused(&actor, "nick");
        let mut action = good.clone();
        action["action"]["colour"] = "x".into();
        refused(&action, "colour");
        for unit in ["lock_expired", "deactivated", "suspended"] {
            let mut action = good.clone();
            action["action"] = serde_json::json!({"type": unit, "reasno": "x"});
            refused(&action, "reasno");
        }
        let mut system = good.clone();
        system["actor"] = serde_json::json!({"kind": "system", "id": "x"});
        refused(&system, "id");
    }

    #[test]
    fn an_event_missing_a_field_is_refused_naming_it() {
        let good = event_json();
        for field in ["app", "authenticator", "reason", "before", "after", "seq"] {
            let mut v = good.clone();
            v.as_object_mut().unwrap().remove(field);
            refused(&v, field);
        }
        for field in ["device", "identifier", "public_key", "replaces"] {
            let mut v = good.clone();
            v["action"].as_object_mut().unwrap().remove(field);
            refused(&v, field);
        }
    }
}
