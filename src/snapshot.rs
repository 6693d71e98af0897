//! Snapshots: the whole state of an engine as one versioned JSON document.
//!
//! A snapshot holds users (suspension, identifiers, authenticators in
//! registration order), live records, deleted IDs and the last event number.
//! [`Engine::restore`] checks a snapshot completely (format, version,
//! tenant, every record's invariants, the user index against the records)
//! before it replaces anything, so a refused snapshot leaves the engine as
//! it was. Histories are kept apart ([`crate::history_to_json`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use smallvec::SmallVec;

use crate::engine::{Engine, IdSet, Identifier, Shard, UserEntry, Users, shard_index};
use crate::error::{Error, Result, check_name};
use crate::ids::{AppId, AuthenticatorId, UserId};
use crate::record::Record;
use crate::types::{AuthenticatorType, Scope};

/// The `format` tag of a snapshot.
pub const SNAPSHOT_FORMAT: &str = "authlock-snapshot";
/// The snapshot version this build reads and writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// One user in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSnapshot {
    /// The user's ID.
    pub id: String,
    /// Whether the user is suspended.
    #[serde(default, skip_serializing_if = "crate::record::is_false")]
    pub suspended: bool,
    /// The profile's identifiers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<Identifier>,
    /// The user's live authenticators, in registration order.
    pub authenticators: Vec<AuthenticatorId>,
}

/// The state of an engine at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Always [`SNAPSHOT_FORMAT`].
    pub format: String,
    /// The format version ([`SNAPSHOT_VERSION`]).
    pub version: u32,
    /// The tenant.
    pub tenant: String,
    /// The number of the last event emitted.
    pub last_seq: u64,
    /// Users, sorted by ID.
    pub users: Vec<UserSnapshot>,
    /// Live records, sorted by ID.
    pub records: Vec<Record>,
    /// Deleted IDs (never reused), sorted.
    pub deleted: Vec<AuthenticatorId>,
}

/// A snapshot borrowing the engine's data, so that writing one at scale
/// copies nothing; it serialises exactly as [`Snapshot`].
#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: &'a str,
    version: u32,
    tenant: &'a str,
    last_seq: u64,
    users: Vec<UserRef<'a>>,
    records: Vec<&'a Record>,
    deleted: Vec<AuthenticatorId>,
}

#[derive(Serialize)]
struct UserRef<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "crate::record::is_false")]
    suspended: bool,
    #[serde(skip_serializing_if = "<[Identifier]>::is_empty")]
    identifiers: &'a [Identifier],
    authenticators: &'a [AuthenticatorId],
}

impl SnapshotRef<'_> {
    fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(256 * (self.records.len() + 1));
        // Serialising plain data to memory cannot fail.
        let _ = serde_json::to_writer(&mut out, self);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Snapshot {
    /// The snapshot as JSON.
    pub fn to_json(&self) -> String {
        SnapshotRef {
            format: &self.format,
            version: self.version,
            tenant: &self.tenant,
            last_seq: self.last_seq,
            users: self
                .users
                .iter()
                .map(|u| UserRef {
                    id: &u.id,
                    suspended: u.suspended,
                    identifiers: &u.identifiers,
                    authenticators: &u.authenticators,
                })
                .collect(),
            records: self.records.iter().collect(),
            deleted: self.deleted.clone(),
        }
        .to_json()
    }

    /// Reads a snapshot from JSON (not yet checked: see [`Engine::restore`]).
    pub fn from_json(text: &str) -> Result<Snapshot> {
        // One pass reads the envelope and finds each user and record, so a
        // wrong format or version is named as such rather than as a
        // missing field; the users and records are then read on two
        // threads.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw<'a> {
            format: Option<String>,
            version: Option<u32>,
            tenant: Option<String>,
            last_seq: Option<u64>,
            #[serde(borrow)]
            users: Option<Vec<&'a RawValue>>,
            #[serde(borrow)]
            records: Option<Vec<&'a RawValue>>,
            deleted: Option<Vec<AuthenticatorId>>,
        }
        let raw: Raw<'_> = serde_json::from_str(text).map_err(|e| {
            Error::Snapshot(if !e.is_data() {
                format!("not a JSON snapshot: {e}")
            } else {
                format!("corrupt snapshot: {e}")
            })
        })?;
        check_head(raw.format.as_deref(), raw.version)?;
        let missing =
            |field: &str| Error::Snapshot(format!("corrupt snapshot: missing field `{field}`"));
        let tenant = raw.tenant.ok_or_else(|| missing("tenant"))?;
        let last_seq = raw.last_seq.ok_or_else(|| missing("last_seq"))?;
        let users = raw.users.ok_or_else(|| missing("users"))?;
        let records = raw.records.ok_or_else(|| missing("records"))?;
        let deleted = raw.deleted.ok_or_else(|| missing("deleted"))?;
        fn read_all<T: for<'de> Deserialize<'de>>(
            what: &str,
            offset: usize,
            raws: &[&RawValue],
        ) -> Result<Vec<T>> {
            raws.iter()
                .enumerate()
                .map(|(i, r)| {
                    serde_json::from_str(r.get()).map_err(|e| {
                        Error::Snapshot(format!("corrupt snapshot: {what} {}: {e}", offset + i))
                    })
                })
                .collect()
        }
        let (u_mid, r_mid) = (users.len() / 2, records.len() / 2);
        let ((users_a, records_a), (users_b, records_b)) = std::thread::scope(|s| {
            let other = s.spawn(|| {
                (
                    read_all::<UserSnapshot>("user", 0, &users[..u_mid]),
                    read_all::<Record>("record", 0, &records[..r_mid]),
                )
            });
            let mine = (
                read_all::<UserSnapshot>("user", u_mid, &users[u_mid..]),
                read_all::<Record>("record", r_mid, &records[r_mid..]),
            );
            // Parsing does not panic; if it did, the error says so.
            let theirs = other.join().unwrap_or_else(|_| {
                let why = || Error::Snapshot("corrupt snapshot: a parser failed".into());
                (Err(why()), Err(why()))
            });
            (theirs, mine)
        });
        let mut users = users_a?;
        users.extend(users_b?);
        let mut records = records_a?;
        records.extend(records_b?);
        Ok(Snapshot {
            format: SNAPSHOT_FORMAT.into(),
            version: SNAPSHOT_VERSION,
            tenant,
            last_seq,
            users,
            records,
            deleted,
        })
    }
}

fn check_head(format: Option<&str>, version: Option<u32>) -> Result<()> {
    match format {
        Some(SNAPSHOT_FORMAT) => {}
        Some(other) => {
            return Err(Error::Snapshot(format!(
                "format is `{other}`, expected `{SNAPSHOT_FORMAT}`"
            )));
        }
        None => {
            return Err(Error::Snapshot(format!(
                "no `format` field: not an {SNAPSHOT_FORMAT}"
            )));
        }
    }
    match version {
        Some(SNAPSHOT_VERSION) => Ok(()),
        Some(v) => Err(Error::Snapshot(format!(
            "version {v} is not supported (this build reads version {SNAPSHOT_VERSION})"
        ))),
        None => Err(Error::Snapshot("no `version` field".into())),
    }
}

impl Engine {
    /// The whole state, consistent at one moment.
    pub fn snapshot(&self) -> Snapshot {
        let users = self.users.read();
        let shards: Vec<_> = self.shards.iter().map(|s| s.read()).collect();
        let mut records: Vec<Record> = shards
            .iter()
            .flat_map(|s| s.records.values().cloned())
            .collect();
        records.sort_unstable_by_key(|r| r.id);
        let mut deleted: Vec<AuthenticatorId> = shards
            .iter()
            .flat_map(|s| s.deleted.iter().copied())
            .collect();
        deleted.sort_unstable();
        let mut user_list: Vec<UserSnapshot> = users
            .map
            .values()
            .map(|e| UserSnapshot {
                id: e.id.to_string(),
                suspended: e.suspended(),
                identifiers: e.identifiers().to_vec(),
                authenticators: e.authenticators.to_vec(),
            })
            .collect();
        user_list.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let last_seq = self.seq.load(Ordering::SeqCst);
        drop(shards);
        drop(users);
        Snapshot {
            format: SNAPSHOT_FORMAT.into(),
            version: SNAPSHOT_VERSION,
            tenant: self.tenant.to_string(),
            last_seq,
            users: user_list,
            records,
            deleted,
        }
    }

    /// The state as JSON, consistent at one moment. Written straight from
    /// the engine's data under its read locks (checks go on meanwhile;
    /// changes wait), with nothing copied.
    pub fn snapshot_json(&self) -> String {
        self.snapshot_json_then(|_| {}).1
    }

    /// [`Engine::snapshot_json`], calling `at_point(last_seq)` while every
    /// lock is held (a store starts its new journal segment there).
    pub(crate) fn snapshot_json_then(&self, at_point: impl FnOnce(u64)) -> (u64, String) {
        let users = self.users.read();
        let shards: Vec<_> = self.shards.iter().map(|s| s.read()).collect();
        let mut records: Vec<&Record> = shards.iter().flat_map(|s| s.records.values()).collect();
        records.sort_unstable_by_key(|r| r.id);
        let mut deleted: Vec<AuthenticatorId> = shards
            .iter()
            .flat_map(|s| s.deleted.iter().copied())
            .collect();
        deleted.sort_unstable();
        let mut user_list: Vec<UserRef<'_>> = users
            .map
            .values()
            .map(|e| UserRef {
                id: &e.id,
                suspended: e.suspended(),
                identifiers: e.identifiers(),
                authenticators: &e.authenticators,
            })
            .collect();
        user_list.sort_unstable_by(|a, b| a.id.cmp(b.id));
        let last_seq = self.seq.load(Ordering::SeqCst);
        at_point(last_seq);
        let json = SnapshotRef {
            format: SNAPSHOT_FORMAT,
            version: SNAPSHOT_VERSION,
            tenant: &self.tenant,
            last_seq,
            users: user_list,
            records,
            deleted,
        }
        .to_json();
        (last_seq, json)
    }

    /// Replaces the whole state with `snap`, after checking it completely.
    /// On error the engine is unchanged.
    pub fn restore(&self, snap: &Snapshot) -> Result<()> {
        self.restore_owned(snap.clone())
    }

    /// Moves the whole state of `other` (which is left empty) into this
    /// engine, replacing its own.
    pub(crate) fn adopt_state(&self, other: &Engine) {
        let mut u = self.users.write();
        *u = std::mem::take(&mut *other.users.write());
        self.apps.write().extend(other.apps.read().iter().cloned());
        for (mine, theirs) in self.shards.iter().zip(other.shards.iter()) {
            *mine.write() = std::mem::take(&mut *theirs.write());
        }
        self.seq
            .store(other.seq.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn restore_owned(&self, snap: Snapshot) -> Result<()> {
        let last_seq = snap.last_seq;
        let (users, shards) = self.build_state(snap)?;
        let mut u = self.users.write();
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.write()).collect();
        *u = users;
        for (g, s) in guards.iter_mut().zip(shards) {
            **g = s;
        }
        self.seq.store(last_seq, Ordering::SeqCst);
        Ok(())
    }

    /// Reads and restores a JSON snapshot. On error the engine is unchanged.
    pub fn restore_json(&self, text: &str) -> Result<()> {
        self.restore_owned(Snapshot::from_json(text)?)
    }

    fn build_state(&self, snap: Snapshot) -> Result<(Users, Vec<Shard>)> {
        let bad = |m: String| Err(Error::Snapshot(m));
        check_head(Some(&snap.format), Some(snap.version))?;
        if snap.tenant != *self.tenant {
            return bad(format!(
                "it belongs to tenant `{}`, this engine serves `{}`",
                snap.tenant, self.tenant
            ));
        }
        let mut shards: Vec<Shard> = (0..self.shards.len()).map(|_| Shard::default()).collect();
        let index = shard_index;
        let Snapshot {
            records: snap_records,
            users: snap_users,
            deleted: snap_deleted,
            ..
        } = snap;
        let record_count = snap_records.len();
        let per_shard = record_count / shards.len() + record_count / (4 * shards.len()) + 1;
        for s in &mut shards {
            s.records.reserve(per_shard);
        }
        // One shared copy per app ID (consecutive records mostly share
        // their app, so the last one is tried first).
        let mut apps: HashSet<AppId> = HashSet::new();
        let mut last_app: Option<AppId> = None;
        for mut rec in snap_records {
            rec.check_invariants().map_err(Error::Snapshot)?;
            for inst in &mut rec.instances {
                if let Some(app) = &mut inst.app {
                    if let Some(last) = last_app.as_ref().filter(|l| **l == *app) {
                        *app = last.clone();
                    } else {
                        match apps.get(&**app) {
                            Some(shared) => *app = shared.clone(),
                            None => {
                                apps.insert(app.clone());
                            }
                        }
                        last_app = Some(app.clone());
                    }
                }
            }
            let id = rec.id;
            if shards[index(&id)].records.is_full() {
                return Err(crate::engine::shard_full(&id));
            }
            if shards[index(&id)].records.insert(rec).is_some() {
                return bad(format!("authenticator {id} appears twice"));
            }
        }
        for id in &snap_deleted {
            let s = &mut shards[index(id)];
            if s.records.contains_key(id) {
                return bad(format!("authenticator {id} is both live and deleted"));
            }
            if !s.deleted.insert(*id) {
                return bad(format!("deleted authenticator {id} appears twice"));
            }
        }
        let mut users = Users::default();
        users.map.reserve(snap_users.len());
        // Each listed ID must be a live record of the listing user and
        // appear once in that user's list; users are distinct, so the lists
        // are disjoint, and equal counts mean every record is listed.
        let mut listed = 0usize;
        for u in snap_users {
            check_name("user", &u.id).map_err(|e| Error::Snapshot(e.to_string()))?;
            let uid = UserId::from(u.id.as_str());
            if users.map.contains_key(&uid) {
                return bad(format!("user `{}` appears twice", u.id));
            }
            // Where each authenticator sits (type, device, app or
            // identifier): two in one place is a corrupt snapshot.
            let mut slots: HashMap<(AuthenticatorType, &str, &str), AuthenticatorId> =
                HashMap::new();
            for id in &u.authenticators {
                let Some(rec) = shards[index(id)].records.get_mut(id) else {
                    return bad(format!(
                        "user `{}` lists authenticator {id}, which is not a live record",
                        u.id
                    ));
                };
                if *rec.user != *u.id {
                    return bad(format!(
                        "user `{}` lists authenticator {id}, which belongs to `{}`",
                        u.id, rec.user
                    ));
                }
                // Share one allocation per user ID between the index and
                // the records.
                rec.user = uid.clone();
            }
            for id in &u.authenticators {
                let rec = shards[index(id)]
                    .records
                    .get(id)
                    .expect("checked in the loop above");
                if u.authenticators.len() > 1
                    && u.authenticators.iter().filter(|a| *a == id).count() > 1
                {
                    return bad(format!("authenticator {id} is listed twice"));
                }
                listed += 1;
                if rec
                    .instances
                    .iter()
                    .any(|i| i.state.suspended != u.suspended)
                {
                    return bad(format!(
                        "authenticator {id} does not match its user's suspension (user suspended: {})",
                        u.suspended
                    ));
                }
                if u.authenticators.len() == 1 {
                    continue;
                }
                let key = match rec.kind.scope() {
                    Scope::AppUser => (rec.kind, "", ""),
                    Scope::DeviceUser => (
                        rec.kind,
                        rec.device().map(|d| &**d).unwrap_or_default(),
                        rec.instances[0].app.as_deref().unwrap_or_default(),
                    ),
                    Scope::GlobalUser => (rec.kind, rec.identifier().unwrap_or_default(), ""),
                };
                if let Some(other) = slots.insert(key, *id) {
                    return bad(format!(
                        "user `{}` has two {} authenticators in the same place ({other} and {id})",
                        u.id, rec.kind
                    ));
                }
            }
            let mut seen = HashSet::new();
            for ident in &u.identifiers {
                if !seen.insert(ident) {
                    return bad(format!(
                        "user `{}` has identifier {:?} twice",
                        u.id, ident.value
                    ));
                }
                users
                    .by_identifier
                    .entry(ident.clone())
                    .or_default()
                    .push(uid.clone());
            }
            let mut entry = UserEntry::new(uid);
            entry.authenticators = SmallVec::from_vec(u.authenticators);
            entry.set_suspended(u.suspended);
            if !u.identifiers.is_empty() {
                *entry.identifiers_mut() = u.identifiers;
            }
            users.map.insert(entry);
        }
        if listed != record_count {
            let all: IdSet = users
                .map
                .values()
                .flat_map(|e| e.authenticators.iter().copied())
                .collect();
            if let Some(rec) = shards
                .iter()
                .flat_map(|s| s.records.values())
                .find(|r| !all.contains(&r.id))
            {
                return bad(format!(
                    "authenticator {} is not listed under its user `{}`",
                    rec.id, rec.user
                ));
            }
        }
        self.apps.write().extend(apps);
        Ok((users, shards))
    }
}
