//! The one invariant checker of a whole state: what every state this
//! library accepts must hold, whether it comes from a snapshot
//! ([`crate::Engine::restore`]) or from a replayed history
//! ([`crate::EngineBuilder::replay`], and a store's journal on open).
//!
//! Restore checks a snapshot here before it builds anything from it (so no
//! index or slice of the snapshot is used unchecked); replay checks the
//! state it built here before it accepts the history. Both therefore refuse
//! exactly the same states.
//!
//! The invariants (each refusal names the one broken):
//! - every name (user, app, device, identifier) is a valid name;
//! - every record holds its own invariants ([`Record::check_invariants`]:
//!   instances per scope, unique apps and links, failures within the
//!   policy limit, reservations numbered below their counter and at most
//!   [`crate::transition::MAX_OUTSTANDING_RESERVATIONS`], no manual lock
//!   with an expiry) and its counters are within their bounds
//!   ([`MAX_COUNTER`], [`MAX_TEMPORARY_LOCKOUTS`]);
//! - the last event number is within [`MAX_COUNTER`];
//! - no user, live ID or deleted ID appears twice, and no ID is both live
//!   and deleted;
//! - no user has one identifier twice;
//! - every ID a user lists is a live record of that user, listed once, and
//!   every live record is listed under its user;
//! - a record's instances are suspended exactly when its user is;
//! - no user has two authenticators of one type in one place (one app for
//!   app-user types, one device and app for device-user types, one
//!   identifier for global-user types).

use std::collections::HashSet;

use crate::engine::{Identifier, IdentifierKind};
use crate::error::check_name;
use crate::ids::AuthenticatorId;
use crate::record::Record;
use crate::types::{AuthenticatorType, Scope};

/// The largest value of a 64-bit counter (a record's version, a next
/// reservation number, the last event number): the largest integer every
/// JSON reader holds exactly (2^53 - 1), far beyond what increments reach.
pub const MAX_COUNTER: u64 = (1 << 53) - 1;

/// The largest count of temporary lockouts a state may hold (2^31 - 1).
pub const MAX_TEMPORARY_LOCKOUTS: u32 = i32::MAX as u32;

/// One user as the checker sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserView<'a> {
    pub id: &'a str,
    pub suspended: bool,
    pub identifiers: &'a [Identifier],
    pub authenticators: &'a [AuthenticatorId],
}

/// A whole state as the checker sees it.
pub(crate) struct StateView<'a> {
    pub last_seq: u64,
    pub users: Vec<UserView<'a>>,
    pub records: Vec<&'a Record>,
    pub deleted: &'a [AuthenticatorId],
}

fn name(what: &'static str, value: &str) -> Result<(), String> {
    check_name(what, value).map_err(|e| e.to_string())
}

/// Checks one record alone: its structure, its names and its counters.
pub(crate) fn check_record(rec: &Record) -> Result<(), String> {
    let id = rec.id;
    rec.check_invariants()?;
    if rec.version > MAX_COUNTER {
        return Err(format!(
            "authenticator {id} has version {}, beyond the limit {MAX_COUNTER}",
            rec.version
        ));
    }
    if let Some(d) = rec.device() {
        name("device", d)?;
    }
    if let Some(i) = rec.identifier() {
        name("identifier", i)?;
    }
    for l in rec.links() {
        name("app", &l.app)?;
    }
    if let Some(u) = rec.last_use() {
        name("app", &u.app)?;
        if let Some(d) = &u.device {
            name("device", d)?;
        }
    }
    for inst in &rec.instances {
        if let Some(app) = &inst.app {
            name("app", app)?;
        }
        let st = &inst.state;
        if st.temporary_lockouts > MAX_TEMPORARY_LOCKOUTS {
            return Err(format!(
                "authenticator {id} counts {} temporary lockouts, beyond the limit {MAX_TEMPORARY_LOCKOUTS}",
                st.temporary_lockouts
            ));
        }
        if st.next_reservation() > MAX_COUNTER {
            return Err(format!(
                "authenticator {id} has next reservation number {}, beyond the limit {MAX_COUNTER}",
                st.next_reservation()
            ));
        }
        if st.reservations().len() > crate::transition::MAX_OUTSTANDING_RESERVATIONS {
            return Err(format!(
                "authenticator {id} has {} open reservations, more than the {} kept",
                st.reservations().len(),
                crate::transition::MAX_OUTSTANDING_RESERVATIONS
            ));
        }
    }
    Ok(())
}

/// Where an authenticator sits among its user's: its type, and its device
/// and app (device-user), or its identifier (global-user). Two of one
/// user's authenticators in one place break a state. Never panics, even on
/// a record that breaks its own invariants.
pub(crate) fn place_of(rec: &Record) -> (AuthenticatorType, &str, &str) {
    match rec.kind.scope() {
        Scope::AppUser => (rec.kind, "", ""),
        Scope::DeviceUser => (
            rec.kind,
            rec.device().map(|d| &**d).unwrap_or_default(),
            rec.instances
                .first()
                .and_then(|i| i.app.as_deref())
                .unwrap_or_default(),
        ),
        Scope::GlobalUser => (rec.kind, rec.identifier().unwrap_or_default(), ""),
    }
}

/// Checks a whole state; the message names the first invariant broken.
pub(crate) fn check_state(state: &StateView<'_>) -> Result<(), String> {
    if state.last_seq > MAX_COUNTER {
        return Err(format!(
            "the last event number {} is beyond the limit {MAX_COUNTER}",
            state.last_seq
        ));
    }
    // Records, by ID (sorted once, unless already sorted, as written).
    let mut by_id: Vec<(AuthenticatorId, usize)> = state
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i))
        .collect();
    if !by_id.windows(2).all(|w| w[0].0 < w[1].0) {
        by_id.sort_unstable();
    }
    if let Some(w) = by_id.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("authenticator {} appears twice", w[0].0));
    }
    for rec in &state.records {
        check_record(rec)?;
    }
    let mut deleted: Vec<AuthenticatorId> = state.deleted.to_vec();
    deleted.sort_unstable();
    if let Some(w) = deleted.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("deleted authenticator {} appears twice", w[0]));
    }
    for id in &deleted {
        if by_id.binary_search_by_key(id, |p| p.0).is_ok() {
            return Err(format!("authenticator {id} is both live and deleted"));
        }
    }
    // Users: names, identifiers, listed records.
    let mut listed = vec![false; state.records.len()];
    let mut user_ids: HashSet<&str> = HashSet::with_capacity(state.users.len());
    let mut places: HashSet<(AuthenticatorType, &str, &str)> = HashSet::new();
    for u in &state.users {
        name("user", u.id)?;
        if !user_ids.insert(u.id) {
            return Err(format!("user `{}` appears twice", u.id));
        }
        let mut seen = HashSet::new();
        for ident in u.identifiers {
            name("identifier", &ident.value)?;
            if let IdentifierKind::Custom(n) = &ident.kind {
                name("custom identifier name", n)?;
            }
            if !seen.insert(ident) {
                return Err(format!(
                    "user `{}` has identifier {:?} twice",
                    u.id, ident.value
                ));
            }
        }
        places.clear();
        for id in u.authenticators {
            let Ok(at) = by_id.binary_search_by_key(id, |p| p.0) else {
                return Err(format!(
                    "user `{}` lists authenticator {id}, which is not a live record",
                    u.id
                ));
            };
            let index = by_id[at].1;
            let rec = state.records[index];
            if *rec.user != *u.id {
                return Err(format!(
                    "user `{}` lists authenticator {id}, which belongs to `{}`",
                    u.id, rec.user
                ));
            }
            if std::mem::replace(&mut listed[index], true) {
                return Err(format!("authenticator {id} is listed twice"));
            }
            if rec
                .instances
                .iter()
                .any(|i| i.state.suspended != u.suspended)
            {
                return Err(format!(
                    "authenticator {id} does not match its user's suspension (user suspended: {})",
                    u.suspended
                ));
            }
            if !places.insert(place_of(rec)) {
                let other = u
                    .authenticators
                    .iter()
                    .filter_map(|o| {
                        let at = by_id.binary_search_by_key(o, |p| p.0).ok()?;
                        Some(state.records[by_id[at].1])
                    })
                    .find(|o| o.id != *id && place_of(o) == place_of(rec))
                    .map_or_else(String::new, |o| o.id.to_string());
                return Err(format!(
                    "user `{}` has two {} authenticators in the same place ({other} and {id})",
                    u.id, rec.kind
                ));
            }
        }
    }
    if let Some(i) = listed.iter().position(|l| !l) {
        let rec = state.records[i];
        return Err(format!(
            "authenticator {} is not listed under its user `{}`",
            rec.id, rec.user
        ));
    }
    Ok(())
}
