//! The pure transitions: one authenticator's record, its policy and the
//! time in; the changed record, the events and the outcome out.
//!
//! Nothing here touches a map, a lock, a clock or a sink. The in-memory
//! [`Engine`](crate::Engine) applies these functions to records held in its
//! sharded map; a shared store can apply the same functions to a row read
//! with its version and written back with compare-and-swap.
//!
//! # Rules implemented here
//!
//! - **Validation first.** A command checks the type's capability, the scope
//!   of the call's app and its own arguments before anything changes; an
//!   error leaves the record exactly as it was.
//! - **Effective time.** A record's rules are measured at its effective
//!   time, the later of the clock's reading and [`Record::seen`], the latest
//!   time the record has seen, so that no sequence of clock values (set back,
//!   then forward again) shortens a lock, a throttle or a failure window in
//!   real time. Stored times are never moved back. A command that changes
//!   the record stamps its events and the times it stores with the effective
//!   time and raises `seen` to it; if the clock read earlier than `seen`, its
//!   events start with one [`Action::ClockRewound`] event stamped with the
//!   clock's reading (an audit trail; a replay regenerates it from the change
//!   after it). [`evaluate`], the whole of `check`, reads at the effective
//!   time and writes nothing.
//! - **Time first.** Every command on an instance first applies what time has
//!   done ([`Command::Normalize`]): a temporary lock whose end has passed is
//!   removed and the failure counter restarts from zero (the count of
//!   temporary lockouts is kept).
//! - **No end past the end of time.** Lock ends, failure windows and
//!   throttle waits use checked arithmetic: a temporary lock whose end cannot
//!   be represented holds until unlocked, a window whose end cannot be
//!   represented keeps its failures, and a throttle whose retry cannot be
//!   represented reports [`Timestamp::MAX`]. (The engine refuses clock
//!   readings outside [`Timestamp::MIN_VALID`]..=[`Timestamp::MAX_VALID`].)
//! - **Refused attempts are not counted.** A failure, success or
//!   reservation on a locked, throttled or deactivated instance changes
//!   nothing and reports the refusal.
//! - **Counting.** A failure counts unless its fingerprint equals that of a
//!   failure still counted (within the failure window, or since the last
//!   reset when there is no window). When the counted failures reach
//!   `max_failures`, a policy lock starts: temporary (growing with the
//!   number of earlier temporary lockouts) until `max_temporary_lockouts`
//!   is reached, then until unlocked.
//! - **Success** clears the counter and the count of temporary lockouts.
//!   **Unlock** clears the lock, the counter and the count of temporary
//!   lockouts.
//! - **Reserve / commit.** Reserving counts the failure before the secret
//!   is verified (and may lock, for the next attempt). Committing a success
//!   removes that failure, lifts a policy lock it caused, and records the
//!   success; committing a failure keeps it. A reservation never committed
//!   stays counted.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::history::{Action, Actor, Event, Registered};
use crate::ids::{AppId, AuthenticatorId, DeviceId, UserId};
use crate::policy::Policy;
use crate::record::{
    AppLink, FailureMark, Fingerprint, Instance, LastUse, Lock, LockKind, LockState, Record,
    Reservation, Status,
};
use crate::time::{Timestamp, duration_millis};
use crate::types::{AuthenticatorType, Operation, Scope};

/// At most this many reservations of one instance stay outstanding; the
/// oldest is dropped beyond it (its failure stays counted).
pub const MAX_OUTSTANDING_RESERVATIONS: usize = 16;

/// Whether an authenticator may be used now, and if not, why and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// It may be used.
    Allowed,
    /// Too many recent failures: the next attempt is allowed from `retry_at`.
    Throttled {
        /// When the next attempt is allowed.
        retry_at: Timestamp,
    },
    /// Locked.
    Locked {
        /// Policy or manual.
        lock: LockKind,
        /// When the lock ends by itself; `None` until unlocked.
        until: Option<Timestamp>,
        /// The reason given with a manual lock.
        reason: Option<Arc<str>>,
    },
    /// Deactivated by an admin or by the user's suspension.
    Deactivated,
    /// The authenticator was deleted.
    Deleted,
}

impl Decision {
    /// Whether the authenticator may be used.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed)
    }

    /// When an attempt may next be made, for throttles and temporary locks.
    pub fn retry_at(&self) -> Option<Timestamp> {
        match self {
            Decision::Throttled { retry_at } => Some(*retry_at),
            Decision::Locked { until, .. } => *until,
            _ => None,
        }
    }
}

/// The result of an attempt (failure, success, reserve or commit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptOutcome {
    /// Whether the attempt was taken into account; `false` when it was
    /// refused because the authenticator is locked, throttled or
    /// deactivated (nothing was counted then). For `reserve`, `true` means
    /// the reserved attempt goes on to verify the secret, even if its
    /// counted failure locked the authenticator for the attempts after it.
    pub accepted: bool,
    /// Whether a failure was counted by this call.
    pub counted: bool,
    /// Failures counted now, after this call.
    pub failures: u32,
    /// The decision for the next attempt (for a refused attempt: why it
    /// was refused).
    pub decision: Decision,
    /// The reservation made by `reserve` (to pass to `commit`), or the one
    /// `commit` settled.
    pub reservation: Option<u64>,
}

/// A change to apply to one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Apply what time has done: lock expiry.
    Normalize,
    /// A failed attempt.
    Failure {
        /// The wrong secret's fingerprint.
        fingerprint: Option<Fingerprint>,
    },
    /// A successful attempt.
    Success {
        /// The device used, if known.
        device: Option<DeviceId>,
    },
    /// Count a failure before verification.
    Reserve {
        /// The fingerprint of the secret about to be verified.
        fingerprint: Option<Fingerprint>,
    },
    /// Settle a reservation.
    Commit {
        /// The reservation.
        reservation: u64,
        /// Whether the secret was right.
        success: bool,
        /// The device used, if known.
        device: Option<DeviceId>,
    },
    /// A manual lock.
    Lock {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// Clear the lock and the counter.
    Unlock {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// Deactivate by hand.
    Deactivate {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// Undo a manual deactivation.
    Reactivate {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// The user was suspended: deactivate every instance.
    Suspend {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// The user was unsuspended: restore every instance.
    Unsuspend {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// Remove the instance in the call's app (the whole record when it is
    /// the last one).
    Delete {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// Register an app-user authenticator in one more app.
    AddApp {
        /// Whether the user is suspended (the new instance starts deactivated).
        suspended: bool,
    },
}

/// The context of a transition: everything besides the record and command.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The time of the call.
    pub now: Timestamp,
    /// The tenant (copied into events).
    pub tenant: &'a Arc<str>,
    /// The app the call is made in.
    pub app: &'a AppId,
    /// Who is acting.
    pub actor: &'a Actor,
    /// The policy for the record's type in this app (`None` for types
    /// without policy lockout).
    pub policy: Option<&'a Policy>,
}

/// What a transition did.
#[derive(Debug, Default)]
pub struct Applied {
    /// The events, in order (sequence numbers not yet assigned).
    pub events: Vec<Event>,
    /// The outcome of an attempt command.
    pub attempt: Option<AttemptOutcome>,
    /// Whether the record lost its last instance (the ID is now deleted).
    pub removed: bool,
}

/// Whether a failure still counts at `now`: it is younger than the window
/// (a window whose end is past representable time never ends).
#[inline]
fn is_counted(mark: &FailureMark, window: Option<std::time::Duration>, now: Timestamp) -> bool {
    window.is_none_or(|w| mark.at.checked_plus(w).is_none_or(|end| end > now))
}

/// Failures that count at `now` (the record's effective time,
/// [`Record::effective_time`]).
pub fn counted_failures(state: &LockState, policy: Option<&Policy>, now: Timestamp) -> u32 {
    let window = policy.and_then(|p| p.failure_window);
    state
        .marks
        .iter()
        .filter(|m| is_counted(m, window, now))
        .count() as u32
}

/// The decision for an instance at `now`, without changing anything.
///
/// `now` is the record's effective time ([`Record::effective_time`]: the
/// later of the clock and the latest time the record has seen). This is the
/// whole of `check`: it accounts for lazy expiry exactly as
/// [`Command::Normalize`] would.
#[inline]
pub fn evaluate(inst: &Instance, policy: Option<&Policy>, now: Timestamp) -> Decision {
    let st = &inst.state;
    if st.is_deactivated() {
        return Decision::Deactivated;
    }
    if let Some(lock) = st.lock.as_deref() {
        match lock.ends_at() {
            Some(end) if now >= end => return Decision::Allowed, // expired: the counter restarts
            until => {
                return Decision::Locked {
                    lock: lock.kind,
                    until,
                    reason: lock.reason.clone(),
                };
            }
        }
    }
    if let Some(p) = policy
        && !p.throttle.is_empty()
        && let Some(retry_at) = throttled_until(st, p, now)
    {
        return Decision::Throttled { retry_at };
    }
    Decision::Allowed
}

/// The first moment from `now` on at which the throttle schedule allows an
/// attempt, if that is later than `now`.
///
/// The wait after the last failure depends on how many failures count, and
/// with a failure window that number falls as failures age out; so the
/// answer walks the moments at which a failure leaves the window, and the
/// reported time is exact: every attempt before it is refused with the same
/// answer, and one at it is allowed.
///
/// A wait whose end lies past the end of representable time is reported as
/// [`Timestamp::MAX`], later than every time the engine accepts: it holds.
fn throttled_until(st: &LockState, policy: &Policy, now: Timestamp) -> Option<Timestamp> {
    let last = st.marks.last()?.at;
    let mut from = now;
    let mut counted: Vec<Timestamp> = st
        .marks
        .iter()
        .map(|m| m.at)
        .filter(|&at| {
            policy
                .failure_window
                .is_none_or(|w| at.checked_plus(w).is_none_or(|end| end > now))
        })
        .collect();
    loop {
        let delay = policy.throttle_delay(counted.len() as u32);
        let allowed = last.checked_plus(delay).unwrap_or(Timestamp::MAX).max(from);
        // The next moment the count falls: the oldest failure leaves the
        // window (never, if that is past representable time).
        let next_change = match (policy.failure_window, counted.first()) {
            (Some(w), Some(&oldest)) => oldest.checked_plus(w),
            _ => None,
        };
        match next_change {
            Some(change) if change <= allowed => {
                from = change;
                counted.remove(0);
            }
            _ => return (allowed > now).then_some(allowed),
        }
    }
}

/// Whether [`Command::Normalize`] would change the instance at `now` (the
/// record's effective time): whether a temporary lock has ended.
#[inline]
pub fn needs_normalize(inst: &Instance, now: Timestamp) -> bool {
    inst.state
        .lock
        .as_deref()
        .is_some_and(|l| l.ends_at().is_some_and(|end| now >= end))
}

struct EventCtx<'a> {
    ctx: &'a Ctx<'a>,
    user: &'a UserId,
    id: AuthenticatorId,
    app: Option<AppId>,
}

impl EventCtx<'_> {
    fn event(
        &self,
        actor: &Actor,
        action: Action,
        reason: Option<Arc<str>>,
        before: Option<Status>,
        after: Option<Status>,
    ) -> Event {
        self.event_owned(actor.clone(), action, reason, before, after)
    }

    fn event_owned(
        &self,
        actor: Actor,
        action: Action,
        reason: Option<Arc<str>>,
        before: Option<Status>,
        after: Option<Status>,
    ) -> Event {
        Event {
            seq: 0,
            time: self.ctx.now,
            tenant: self.ctx.tenant.clone(),
            app: self.app.clone(),
            actor,
            user: self.user.clone(),
            authenticator: Some(self.id),
            action,
            reason,
            before,
            after,
        }
    }
}

/// Builds the record of a newly registered authenticator and its event.
#[allow(clippy::too_many_arguments)]
pub fn new_record(
    ctx: &Ctx<'_>,
    id: AuthenticatorId,
    user: UserId,
    kind: AuthenticatorType,
    app: Option<AppId>,
    device: Option<DeviceId>,
    identifier: Option<Arc<str>>,
    public_key: Option<Arc<str>>,
    suspended: bool,
    replaces: Option<AuthenticatorId>,
) -> (Record, Event) {
    let instance_app = match kind.scope() {
        Scope::GlobalUser => None,
        _ => app.clone(),
    };
    let inst = Instance {
        app: instance_app,
        registered_at: ctx.now,
        last_success: None,
        state: LockState {
            suspended,
            ..LockState::default()
        },
    };
    let status = inst.stored_status();
    let mut rec = Record::new(id, user.clone(), kind, ctx.now, inst);
    if device.is_some() || identifier.is_some() || public_key.is_some() {
        let d = rec.details_mut();
        d.device = device.clone();
        d.identifier = identifier.clone();
        d.public_key = public_key.clone();
    }
    let ev = EventCtx {
        ctx,
        user: &user,
        id,
        app,
    }
    .event(
        ctx.actor,
        Action::Registered(Box::new(Registered {
            kind,
            device,
            identifier,
            public_key,
            replaces,
        })),
        None,
        None,
        Some(status),
    );
    (rec, ev)
}

fn require(rec: &Record, op: Operation) -> Result<()> {
    if rec.kind.supports(op) {
        Ok(())
    } else {
        Err(Error::Unsupported {
            kind: rec.kind,
            operation: op,
        })
    }
}

/// The most events one transition produces (a bound for the version).
const MAX_EVENTS_PER_APPLY: u64 = 16;

/// Refuses, before anything changes, a call whose counter increments could
/// not be made: a version, temporary-lockout count or next reservation
/// number at its bound ([`crate::invariants::MAX_COUNTER`],
/// [`crate::invariants::MAX_TEMPORARY_LOCKOUTS`]) never wraps.
#[inline]
fn counters_have_room(rec: &Record, cmd: &Command) -> Result<()> {
    use crate::invariants::{MAX_COUNTER, MAX_TEMPORARY_LOCKOUTS};
    // Only a counted failure adds a temporary lockout, only a reservation
    // takes a number; every change adds to the version.
    let (fails, reserves) = match cmd {
        Command::Failure { .. } => (true, false),
        Command::Reserve { .. } => (true, true),
        _ => (false, false),
    };
    let full = if rec.version > MAX_COUNTER - MAX_EVENTS_PER_APPLY {
        Some(("version", rec.version))
    } else if !fails {
        None
    } else {
        rec.instances.iter().find_map(|i| {
            let st = &i.state;
            if st.temporary_lockouts >= MAX_TEMPORARY_LOCKOUTS {
                Some(("temporary lockout count", u64::from(st.temporary_lockouts)))
            } else if reserves && st.next_reservation() >= MAX_COUNTER {
                Some(("next reservation number", st.next_reservation()))
            } else {
                None
            }
        })
    };
    match full {
        None => Ok(()),
        Some((counter, value)) => Err(counter_full(rec, counter, value)),
    }
}

#[cold]
fn counter_full(rec: &Record, counter: &str, value: u64) -> Error {
    Error::InvalidArgument {
        what: "authenticator",
        why: format!(
            "{}'s {counter} is {value}, at its limit: the change cannot be counted",
            rec.id
        ),
    }
}

/// Applies `cmd` to `rec` in the context `ctx`.
///
/// `ctx.now` is the clock's reading; the command runs at the record's
/// effective time ([`Record::effective_time`]), which stamps its events and
/// the times it stores, and becomes the record's [`Record::seen`] when
/// anything changes. If the clock reads earlier than `seen`, a change
/// starts with one [`Action::ClockRewound`] event stamped with the clock's
/// reading (a call that changes nothing records nothing).
///
/// On `Err` the record is unchanged. On `Ok`, the record's version is
/// incremented by the number of events produced.
pub fn apply(rec: &mut Record, ctx: &Ctx<'_>, cmd: Command) -> Result<Applied> {
    let mut out = Applied::default();
    apply_into(rec, ctx, cmd, &mut out)?;
    Ok(out)
}

/// [`apply`] into `out`, which must hold no events (its event vector may
/// have capacity left from an earlier call, so that a caller that reuses
/// one buffer does not allocate per call).
///
/// On `Err` the record and `out` are unchanged.
pub fn apply_into(rec: &mut Record, ctx: &Ctx<'_>, cmd: Command, out: &mut Applied) -> Result<()> {
    debug_assert!(out.events.is_empty() && out.attempt.is_none() && !out.removed);
    counters_have_room(rec, &cmd)?;
    let clock = ctx.now;
    let seen = rec.seen;
    let ctx = &Ctx {
        now: rec.effective_time(clock),
        ..*ctx
    };
    apply_at(rec, ctx, cmd, out)?;
    if let Some(first) = out.events.first() {
        if clock < seen {
            let rewound = Event {
                seq: 0,
                time: clock,
                tenant: first.tenant.clone(),
                app: first.app.clone(),
                actor: Actor::System,
                user: first.user.clone(),
                authenticator: first.authenticator,
                action: Action::ClockRewound,
                reason: None,
                before: first.before,
                after: first.before,
            };
            out.events.insert(0, rewound);
        }
        rec.seen = ctx.now;
        // One version per event, so a replay (one transition per event)
        // gives every record the version it had.
        // Cannot saturate: `counters_have_room` left room for every event.
        debug_assert!(out.events.len() as u64 <= MAX_EVENTS_PER_APPLY);
        rec.version = rec.version.saturating_add(out.events.len() as u64);
    }
    Ok(())
}

/// [`apply_into`] at the effective time `ctx.now`.
fn apply_at(rec: &mut Record, ctx: &Ctx<'_>, cmd: Command, out: &mut Applied) -> Result<()> {
    match cmd {
        Command::Suspend { ref reason } | Command::Unsuspend { ref reason } => {
            let target = matches!(cmd, Command::Suspend { .. });
            let action = if target {
                Action::Suspended
            } else {
                Action::Unsuspended
            };
            for i in 0..rec.instances.len() {
                if rec.instances[i].state.suspended == target {
                    continue;
                }
                let before = rec.instances[i].stored_status();
                rec.instances[i].state.suspended = target;
                let after = rec.instances[i].stored_status();
                let ec = EventCtx {
                    ctx,
                    user: &rec.user,
                    id: rec.id,
                    app: rec.instances[i].app.clone(),
                };
                out.events.push(ec.event_owned(
                    ctx.actor.clone(),
                    action.clone(),
                    reason.clone(),
                    Some(before),
                    Some(after),
                ));
            }
        }
        Command::AddApp { suspended } => {
            if rec.kind.scope() != Scope::AppUser {
                return Err(Error::Unsupported {
                    kind: rec.kind,
                    operation: Operation::Register,
                });
            }
            if rec.slot(ctx.app).is_ok() {
                return Err(Error::AlreadyRegistered {
                    user: rec.user.to_string(),
                    kind: rec.kind,
                    app: ctx.app.to_string(),
                    id: rec.id,
                });
            }
            let inst = Instance {
                app: Some(ctx.app.clone()),
                registered_at: ctx.now,
                last_success: None,
                state: LockState {
                    suspended,
                    ..LockState::default()
                },
            };
            let after = inst.stored_status();
            rec.instances.push(inst);
            let ec = EventCtx {
                ctx,
                user: &rec.user,
                id: rec.id,
                app: Some(ctx.app.clone()),
            };
            out.events.push(ec.event_owned(
                ctx.actor.clone(),
                Action::Registered(Box::new(Registered::of(rec.kind))),
                None,
                None,
                Some(after),
            ));
        }
        cmd => {
            // Validate everything before any change.
            let op = match &cmd {
                Command::Normalize => Operation::Check,
                Command::Failure { .. } => Operation::RecordFailure,
                Command::Reserve { .. } | Command::Commit { .. } => Operation::Reserve,
                Command::Success { .. } => Operation::RecordSuccess,
                Command::Lock { .. } => Operation::Lock,
                Command::Unlock { .. } => Operation::Unlock,
                Command::Delete { .. } => Operation::Delete,
                Command::Deactivate { .. } | Command::Reactivate { .. } => Operation::Deactivate,
                // Handled by the arms above.
                Command::Suspend { .. } | Command::Unsuspend { .. } | Command::AddApp { .. } => {
                    Operation::Check
                }
            };
            require(rec, op)?;
            let slot = rec.slot(ctx.app)?;
            if let Command::Commit { reservation, .. } = &cmd
                && !rec.instances[slot]
                    .state
                    .reservations()
                    .iter()
                    .any(|r| r.id == *reservation)
            {
                return Err(Error::UnknownReservation {
                    id: rec.id,
                    reservation: *reservation,
                });
            }
            if matches!(op, Operation::RecordFailure | Operation::Reserve) && ctx.policy.is_none() {
                return Err(Error::Unsupported {
                    kind: rec.kind,
                    operation: op,
                });
            }
            apply_to_slot(rec, slot, ctx, cmd, out);
        }
    }
    Ok(())
}

/// Applies what time has done at `ctx.now` (the effective time): a
/// temporary lock whose end has passed is removed and the failure counter
/// restarts from zero.
fn normalize(rec: &mut Record, slot: usize, ctx: &Ctx<'_>, out: &mut Vec<Event>) {
    let now = ctx.now;
    if !needs_normalize(&rec.instances[slot], now) {
        return;
    }
    let ec_app = event_app(rec, slot, ctx);
    let inst = &mut rec.instances[slot];
    let before = inst.stored_status();
    inst.state.lock = None;
    inst.state.marks.clear();
    let after = inst.stored_status();
    let ec = EventCtx {
        ctx,
        user: &rec.user,
        id: rec.id,
        app: ec_app,
    };
    out.push(ec.event(
        &Actor::System,
        Action::LockExpired,
        None,
        Some(before),
        Some(after),
    ));
}

/// The app an event about `slot` names: the instance's own app, or the
/// call's app for a global-user authenticator.
#[inline]
fn event_app(rec: &Record, slot: usize, ctx: &Ctx<'_>) -> Option<AppId> {
    Some(rec.instances[slot].app.as_ref().unwrap_or(ctx.app).clone())
}

fn link_app(rec: &mut Record, ctx: &Ctx<'_>, success: bool) {
    if rec.kind.scope() != Scope::GlobalUser {
        return;
    }
    let links = &mut rec.details_mut().links;
    let pos = match links.iter().position(|l| l.app == *ctx.app) {
        Some(p) => p,
        None => {
            links.push(AppLink {
                app: ctx.app.clone(),
                linked_at: ctx.now,
                last_success: None,
            });
            links.len() - 1
        }
    };
    if success {
        links[pos].last_success = Some(ctx.now);
    }
}

fn succeed(rec: &mut Record, slot: usize, ctx: &Ctx<'_>, device: Option<DeviceId>) {
    let st = &mut rec.instances[slot].state;
    st.marks.clear();
    st.temporary_lockouts = 0;
    rec.instances[slot].last_success = Some(ctx.now);
    let device = device.or_else(|| rec.device().cloned());
    rec.details_mut().last_use = Some(LastUse {
        at: ctx.now,
        app: ctx.app.clone(),
        device,
    });
    link_app(rec, ctx, true);
}

/// Counts a failure (unless its fingerprint repeats a counted one) and
/// starts a policy lock when the count reaches `max_failures`. Returns
/// whether it counted and the lock event, if any.
fn count_failure(
    rec: &mut Record,
    slot: usize,
    ctx: &Ctx<'_>,
    policy: &Policy,
    fingerprint: Option<&Fingerprint>,
    reservation: Option<u64>,
) -> (bool, Option<(Action, Status)>) {
    let now = ctx.now;
    let st = &mut rec.instances[slot].state;
    let window = policy.failure_window;
    st.marks.retain(|m| is_counted(m, window, now));
    if let Some(fp) = fingerprint
        && st.marks.iter().any(|m| m.fingerprint.as_ref() == Some(fp))
    {
        return (false, None);
    }
    st.marks.push(FailureMark {
        at: now,
        fingerprint: fingerprint.cloned(),
        reservation,
    });
    if st.marks.len() < policy.max_failures as usize {
        return (true, None);
    }
    let duration = policy.next_lockout(st.temporary_lockouts);
    if duration.is_some() {
        // Cannot saturate: `counters_have_room` checked it.
        st.temporary_lockouts = st.temporary_lockouts.saturating_add(1);
    }
    let lock = Lock {
        kind: LockKind::Policy,
        reason: None,
        since: now,
        duration_ms: duration.map(|d| duration_millis(d) as u64),
        reservation,
    };
    // A temporary lock whose end is past representable time holds until
    // unlocked, and says so.
    let until = lock.ends_at();
    st.lock = Some(Box::new(lock));
    (
        true,
        Some((
            Action::Locked {
                lock: LockKind::Policy,
                until,
            },
            rec.instances[slot].stored_status(),
        )),
    )
}

fn apply_to_slot(rec: &mut Record, slot: usize, ctx: &Ctx<'_>, cmd: Command, out: &mut Applied) {
    let now = ctx.now;
    normalize(rec, slot, ctx, &mut out.events);
    let before = rec.instances[slot].stored_status();
    let policy = ctx.policy;
    // The user as actor, built where an event needs it (one reference
    // count, moved into the event).
    macro_rules! user_actor {
        () => {
            Actor::User {
                id: rec.user.clone(),
            }
        };
    }
    let decision_now = |rec: &Record| evaluate(&rec.instances[slot], policy, now);
    let failures_now = |rec: &Record| counted_failures(&rec.instances[slot].state, policy, now);
    let status = |rec: &Record| rec.instances[slot].stored_status();
    // An event about this slot, from status `b` to status `a`.
    macro_rules! event {
        ($actor:expr, $action:expr, $reason:expr, $b:expr, $a:expr) => {{
            let ec = EventCtx {
                ctx,
                user: &rec.user,
                id: rec.id,
                app: event_app(rec, slot, ctx),
            };
            ec.event_owned($actor, $action, $reason, $b, $a)
        }};
    }
    let refused = |rec: &Record, decision: Decision| AttemptOutcome {
        accepted: false,
        counted: false,
        failures: failures_now(rec),
        decision,
        reservation: None,
    };
    match cmd {
        Command::Normalize => {}
        Command::Failure { fingerprint } => {
            let d = decision_now(rec);
            if !d.is_allowed() {
                out.attempt = Some(refused(rec, d));
                return;
            }
            let policy = policy.expect("validated: lockout types have a policy");
            let (counted, lock) = count_failure(rec, slot, ctx, policy, fingerprint.as_ref(), None);
            link_app(rec, ctx, false);
            out.events.push(event!(
                user_actor!(),
                Action::Failure {
                    fingerprint,
                    counted
                },
                None,
                Some(before),
                Some(before)
            ));
            if let Some((action, after)) = lock {
                out.events.push(event!(
                    Actor::System,
                    action,
                    None,
                    Some(before),
                    Some(after)
                ));
            }
            out.attempt = Some(AttemptOutcome {
                accepted: true,
                counted,
                failures: failures_now(rec),
                decision: decision_now(rec),
                reservation: None,
            });
        }
        Command::Success { device } => {
            let d = decision_now(rec);
            if !d.is_allowed() {
                out.attempt = Some(refused(rec, d));
                return;
            }
            succeed(rec, slot, ctx, device.clone());
            let after = status(rec);
            out.events.push(event!(
                user_actor!(),
                Action::Success { device },
                None,
                Some(before),
                Some(after)
            ));
            out.attempt = Some(AttemptOutcome {
                accepted: true,
                counted: false,
                failures: 0,
                decision: decision_now(rec),
                reservation: None,
            });
        }
        Command::Reserve { fingerprint } => {
            let d = decision_now(rec);
            if !d.is_allowed() {
                out.attempt = Some(refused(rec, d));
                return;
            }
            let policy = policy.expect("validated: lockout types have a policy");
            let book = rec.instances[slot].state.reservations_mut();
            let id = book.next;
            // Cannot saturate: `counters_have_room` checked it.
            book.next = book.next.saturating_add(1);
            let (counted, lock) =
                count_failure(rec, slot, ctx, policy, fingerprint.as_ref(), Some(id));
            let open = &mut rec.instances[slot].state.reservations_mut().open;
            open.push(Reservation {
                id,
                at: now,
                counted,
            });
            if open.len() > MAX_OUTSTANDING_RESERVATIONS {
                open.remove(0);
            }
            link_app(rec, ctx, false);
            out.events.push(event!(
                user_actor!(),
                Action::Reserved {
                    reservation: id,
                    fingerprint,
                    counted
                },
                None,
                Some(before),
                Some(before)
            ));
            if let Some((action, after)) = lock {
                out.events.push(event!(
                    Actor::System,
                    action,
                    None,
                    Some(before),
                    Some(after)
                ));
            }
            out.attempt = Some(AttemptOutcome {
                accepted: true,
                counted,
                failures: failures_now(rec),
                decision: decision_now(rec),
                reservation: Some(id),
            });
        }
        Command::Commit {
            reservation,
            success,
            device,
        } => {
            let st = &mut rec.instances[slot].state;
            st.reservations_mut().open.retain(|r| r.id != reservation);
            let mut mid = before;
            if success {
                // Refund: the secret was right, so the reserved failure was not one.
                st.marks.retain(|m| m.reservation != Some(reservation));
                let lifted = st.lock.as_deref().is_some_and(|l| {
                    l.kind == LockKind::Policy && l.reservation == Some(reservation)
                });
                if lifted {
                    if st.lock.take().is_some_and(|l| l.duration_ms.is_some()) {
                        st.temporary_lockouts = st.temporary_lockouts.saturating_sub(1);
                    }
                    mid = status(rec);
                    out.events.push(event!(
                        Actor::System,
                        Action::LockRefunded,
                        None,
                        Some(before),
                        Some(mid)
                    ));
                }
            }
            let d = decision_now(rec);
            // The attempt was admitted when it was reserved: only a lock or a
            // deactivation made since then refuses the success.
            let accepted = !success || matches!(d, Decision::Allowed | Decision::Throttled { .. });
            if success && accepted {
                succeed(rec, slot, ctx, device.clone());
            }
            let after = status(rec);
            out.events.push(event!(
                user_actor!(),
                Action::Committed {
                    reservation,
                    success,
                    device
                },
                None,
                Some(mid),
                Some(after)
            ));
            out.attempt = Some(AttemptOutcome {
                accepted,
                counted: false,
                failures: failures_now(rec),
                decision: decision_now(rec),
                reservation: Some(reservation),
            });
        }
        Command::Lock { reason } => {
            let st = &mut rec.instances[slot].state;
            if st
                .lock
                .as_deref()
                .is_some_and(|l| l.kind == LockKind::Manual)
            {
                return;
            }
            st.lock = Some(Box::new(Lock {
                kind: LockKind::Manual,
                reason: reason.clone(),
                since: now,
                duration_ms: None,
                reservation: None,
            }));
            let after = status(rec);
            out.events.push(event!(
                ctx.actor.clone(),
                Action::Locked {
                    lock: LockKind::Manual,
                    until: None
                },
                reason,
                Some(before),
                Some(after)
            ));
        }
        Command::Unlock { reason } => {
            let st = &mut rec.instances[slot].state;
            if st.lock.is_none() && st.marks.is_empty() && st.temporary_lockouts == 0 {
                return;
            }
            let cleared_lock = st.lock.take().is_some();
            st.marks.clear();
            st.temporary_lockouts = 0;
            let after = status(rec);
            out.events.push(event!(
                ctx.actor.clone(),
                Action::Unlocked { cleared_lock },
                reason,
                Some(before),
                Some(after)
            ));
        }
        Command::Deactivate { reason } => {
            let st = &mut rec.instances[slot].state;
            if st.deactivated {
                return;
            }
            st.deactivated = true;
            let after = status(rec);
            out.events.push(event!(
                ctx.actor.clone(),
                Action::Deactivated,
                reason,
                Some(before),
                Some(after)
            ));
        }
        Command::Reactivate { reason } => {
            let st = &mut rec.instances[slot].state;
            if !st.deactivated {
                return;
            }
            st.deactivated = false;
            let after = status(rec);
            out.events.push(event!(
                ctx.actor.clone(),
                Action::Reactivated,
                reason,
                Some(before),
                Some(after)
            ));
        }
        Command::Delete { reason } => {
            out.events.push(event!(
                ctx.actor.clone(),
                Action::Deleted { replaced_by: None },
                reason,
                Some(before),
                None
            ));
            if rec.instances.len() > 1 {
                rec.instances.remove(slot);
            } else {
                out.removed = true;
            }
        }
        Command::Suspend { .. } | Command::Unsuspend { .. } | Command::AddApp { .. } => {}
    }
}
