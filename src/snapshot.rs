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

use crate::engine::{Engine, IdSet, Identifier, Shard, UserEntry, Users, shard_index};
use crate::error::{Error, Result, check_name};
use crate::ids::{AppId, AuthenticatorId, UserId};
use crate::invariants::{StateView, UserView, check_state, place_of};
use crate::record::Record;
use crate::types::AuthenticatorType;

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
    pub suspended: bool,
    /// The profile's identifiers.
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
    suspended: bool,
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
        /// Reads `raws` into a vector with room for `capacity` items (the
        /// first half's vector is made large enough to take the second
        /// half without growing, so no reallocation copies the first half
        /// and touches fresh memory twice).
        fn read_all<T: for<'de> Deserialize<'de>>(
            what: &str,
            offset: usize,
            raws: &[&RawValue],
            capacity: usize,
        ) -> Result<Vec<T>> {
            let mut out = Vec::with_capacity(capacity.max(raws.len()));
            for (i, r) in raws.iter().enumerate() {
                out.push(serde_json::from_str(r.get()).map_err(|e| {
                    Error::Snapshot(format!("corrupt snapshot: {what} {}: {e}", offset + i))
                })?);
            }
            Ok(out)
        }
        let (u_mid, r_mid) = (users.len() / 2, records.len() / 2);
        let first = || {
            (
                read_all::<UserSnapshot>("user", 0, &users[..u_mid], users.len()),
                read_all::<Record>("record", 0, &records[..r_mid], records.len()),
            )
        };
        let second = || {
            (
                read_all::<UserSnapshot>("user", u_mid, &users[u_mid..], 0),
                read_all::<Record>("record", r_mid, &records[r_mid..], 0),
            )
        };
        let ((users_a, records_a), (users_b, records_b)) =
            if users.len() + records.len() >= PARALLEL_FROM {
                std::thread::scope(|s| {
                    let other = s.spawn(first);
                    let mine = second();
                    // Parsing does not panic; if it did, the error says so.
                    let theirs = other.join().unwrap_or_else(|_| {
                        let why = || Error::Snapshot("corrupt snapshot: a parser failed".into());
                        (Err(why()), Err(why()))
                    });
                    (theirs, mine)
                })
            } else {
                (first(), second())
            };
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

impl UserSnapshot {
    fn view(&self) -> UserView<'_> {
        UserView {
            id: &self.id,
            suspended: self.suspended,
            identifiers: &self.identifiers,
            authenticators: &self.authenticators,
        }
    }
}

impl Engine {
    /// Checks the engine's whole state with the checker a restored
    /// snapshot must pass ([`crate::invariants`]), under its read locks.
    pub(crate) fn check_state(&self) -> std::result::Result<(), String> {
        let users = self.users.read();
        let shards: Vec<_> = self.shards.iter().map(|s| s.read()).collect();
        let mut records: Vec<&Record> = shards.iter().flat_map(|s| s.records.values()).collect();
        records.sort_unstable_by_key(|r| r.id);
        let deleted: Vec<AuthenticatorId> = shards
            .iter()
            .flat_map(|s| s.deleted.iter().copied())
            .collect();
        let mut user_list: Vec<UserView<'_>> = users
            .map
            .values()
            .map(|e| UserView {
                id: &e.id,
                suspended: e.suspended(),
                identifiers: e.identifiers(),
                authenticators: &e.authenticators,
            })
            .collect();
        user_list.sort_unstable_by(|a, b| a.id.cmp(b.id));
        check_state(&StateView {
            last_seq: self.seq.load(Ordering::SeqCst),
            users: user_list,
            records,
            deleted: &deleted,
        })
    }

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
    ///
    /// An engine backed by a durable store refuses a restore with
    /// [`Error::InvalidArgument`]: its state is what its snapshots and
    /// journal say, and a restore would reset counters without a trace.
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
        if self.store().is_some() {
            // A restore would roll the live counters back without a trace
            // in the journal, and leave a journal that no longer replays.
            return Err(Error::InvalidArgument {
                what: "restore",
                why: "this engine is backed by a durable store, whose state is its snapshots and journal: \
                      a restore would replace the counters without a record in the journal. \
                      Restore into an engine without a store, or open the store's directory instead"
                    .into(),
            });
        }
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
    /// Refused on an engine backed by a durable store, as [`Engine::restore`].
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
        // Every invariant is checked before anything below indexes into
        // the snapshot: the same checker a replay's state must pass.
        check_state(&StateView {
            last_seq: snap.last_seq,
            users: snap.users.iter().map(UserSnapshot::view).collect(),
            records: snap.records.iter().collect(),
            deleted: &snap.deleted,
        })
        .map_err(Error::Snapshot)?;
        let Snapshot {
            records: mut snap_records,
            users: snap_users,
            deleted: snap_deleted,
            ..
        } = snap;
        let mut uids: Vec<UserId> = Vec::with_capacity(snap_users.len());
        for u in &snap_users {
            check_name("user", &u.id).map_err(|e| Error::Snapshot(e.to_string()))?;
            uids.push(UserId::from(u.id.as_str()));
        }
        let linked = link_in_order(&snap_users, &uids, &mut snap_records);
        let record_count = snap_records.len();
        let shard_count = self.shards.len();
        let (shards, apps, users) = if linked {
            // The index of users no longer needs the records: build the
            // two side by side.
            let index_users = move || {
                let mut users = Users::default();
                users.map.reserve(snap_users.len());
                for (u, uid) in snap_users.into_iter().zip(uids) {
                    add_user(&mut users, u, uid)?;
                }
                Ok(users)
            };
            let (built, users) = if record_count >= PARALLEL_FROM {
                std::thread::scope(|s| {
                    let users = s.spawn(index_users);
                    let built = build_shards(shard_count, snap_records, &snap_deleted);
                    (built, join_or_fail(users))
                })
            } else {
                (
                    build_shards(shard_count, snap_records, &snap_deleted),
                    index_users(),
                )
            };
            let (shards, apps) = built?;
            (shards, apps, users?)
        } else {
            let (mut shards, apps) = build_shards(shard_count, snap_records, &snap_deleted)?;
            let mut users = Users::default();
            users.map.reserve(snap_users.len());
            link_by_lookup(&mut users, snap_users, uids, &mut shards, record_count)?;
            (shards, apps, users)
        };
        self.apps.write().extend(apps);
        Ok((users, shards))
    }
}

/// Below this many records (users and records, for reading) a snapshot is
/// read and rebuilt on the calling thread alone; above it, on two, since a
/// thread costs more to start than a small snapshot takes to read.
const PARALLEL_FROM: usize = 4096;

/// The result of a scoped thread; a panic in it (which none of the
/// readers does) is reported as a refused snapshot rather than passed on.
fn join_or_fail<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Snapshot("a snapshot reader failed".into())))
}

/// Checks each record, shares app IDs among them (returning the set),
/// and files the records and deleted IDs into `shard_count` shards.
fn build_shards(
    shard_count: usize,
    records: Vec<Record>,
    deleted: &[AuthenticatorId],
) -> Result<(Vec<Shard>, HashSet<AppId>)> {
    let bad = |m: String| Err(Error::Snapshot(m));
    let index = shard_index;
    let mut shards: Vec<Shard> = (0..shard_count).map(|_| Shard::default()).collect();
    // IDs spread evenly over the shards, so a shard's count varies by about
    // the square root of the mean: room for four times that fits every shard
    // but in freak cases (which then grow as registration does) without
    // leaving a quarter of each shard's memory unused.
    let mean = records.len() / shard_count;
    let per_shard = mean + 4 * mean.isqrt() + 16;
    for s in &mut shards {
        s.records.reserve(per_shard);
    }
    // One shared copy per app ID (consecutive records mostly share their
    // app, so the last one is tried first).
    let mut apps: HashSet<AppId> = HashSet::new();
    let mut last_app: Option<AppId> = None;
    for mut rec in records {
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
        let shard = &mut shards[index(&id)];
        if shard.records.is_full() {
            return Err(crate::engine::shard_full(&id));
        }
        if shard.records.insert(rec).is_some() {
            return bad(format!("authenticator {id} appears twice"));
        }
    }
    for id in deleted {
        let s = &mut shards[index(id)];
        if s.records.contains_key(id) {
            return bad(format!("authenticator {id} is both live and deleted"));
        }
        if !s.deleted.insert(*id) {
            return bad(format!("deleted authenticator {id} appears twice"));
        }
    }
    Ok((shards, apps))
}

/// Links every record to the user that lists it, in one ordered pass, when
/// the snapshot is in the order this library writes it (records strictly
/// by ID): each record's user must list it, every listed ID must be a
/// record, no ID may be listed twice, a record's suspension must match its
/// user's, and no user may have two authenticators in one place. Each
/// record then shares its user's ID.
///
/// Returns `false` if the snapshot is not in that order or breaks any of
/// those rules; [`link_by_lookup`] then checks it record by record and
/// names what is wrong. A record may by then share its user's ID, which
/// changes nothing it holds.
///
/// The pairs (listed ID, user) are sorted by ID and walked beside the
/// records, so the records are read in order rather than looked up at
/// random one by one.
fn link_in_order(users: &[UserSnapshot], uids: &[UserId], records: &mut [Record]) -> bool {
    if !records.windows(2).all(|w| w[0].id < w[1].id) {
        return false;
    }
    // (listed ID, index of the listing user, whether that user is
    // suspended, whether it has more than one authenticator): what the walk
    // needs of the user, gathered in the users' order.
    let mut pairs: Vec<(AuthenticatorId, u32, bool, bool)> = Vec::with_capacity(records.len());
    for (i, u) in users.iter().enumerate() {
        let Ok(i) = u32::try_from(i) else {
            return false;
        };
        let multi = u.authenticators.len() > 1;
        pairs.extend(
            u.authenticators
                .iter()
                .map(|id| (*id, i, u.suspended, multi)),
        );
    }
    if pairs.len() != records.len() {
        return false;
    }
    pairs.sort_unstable_by_key(|p| p.0);
    let walk = |records: &mut [Record], pairs: &[(AuthenticatorId, u32, bool, bool)]| {
        for (rec, &(id, i, suspended, _)) in records.iter_mut().zip(pairs) {
            let uid = &uids[i as usize];
            if rec.id != id
                || *rec.user != **uid
                || rec.instances.iter().any(|x| x.state.suspended != suspended)
            {
                return false;
            }
            rec.user = uid.clone();
        }
        true
    };
    let (mid, parallel) = (records.len() / 2, records.len() >= PARALLEL_FROM);
    let (first, second) = records.split_at_mut(mid);
    let walked = if parallel {
        std::thread::scope(|s| {
            let other = s.spawn(|| walk(second, &pairs[mid..]));
            let mine = walk(first, &pairs[..mid]);
            mine && other.join().unwrap_or(false)
        })
    } else {
        walk(first, &pairs[..mid]) && walk(second, &pairs[mid..])
    };
    if !walked {
        return false;
    }
    // Users with two or more authenticators, whose places must differ:
    // (user, type, place, app, ID), checked once all are gathered.
    let mut places: Vec<(u32, AuthenticatorType, &str, &str, AuthenticatorId)> = records
        .iter()
        .zip(&pairs)
        .filter(|(_, p)| p.3)
        .map(|(rec, p)| {
            let (kind, place, app) = place_of(rec);
            (p.1, kind, place, app, rec.id)
        })
        .collect();
    places.sort_unstable();
    places
        .windows(2)
        .all(|w| (w[0].0, w[0].1, w[0].2, w[0].3) != (w[1].0, w[1].1, w[1].2, w[1].3))
}

/// Adds one snapshot user, whose authenticators are already checked, to
/// the index.
fn add_user(users: &mut Users, u: UserSnapshot, uid: UserId) -> Result<()> {
    let bad = |m: String| Err(Error::Snapshot(m));
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
    // Collected rather than adopted, so one ID stays inline.
    entry.authenticators = u.authenticators.iter().copied().collect();
    entry.set_suspended(u.suspended);
    if !u.identifiers.is_empty() {
        *entry.identifiers_mut() = u.identifiers;
    }
    if users.map.insert(entry).is_some() {
        return bad(format!("user `{}` appears twice", u.id));
    }
    Ok(())
}

/// Checks the users against the records (already in `shards`) one listed
/// ID at a time, naming the first thing wrong, and adds them to the index.
/// The path for snapshots [`link_in_order`] declines.
fn link_by_lookup(
    users: &mut Users,
    snap_users: Vec<UserSnapshot>,
    uids: Vec<UserId>,
    shards: &mut [Shard],
    record_count: usize,
) -> Result<()> {
    let bad = |m: String| Err(Error::Snapshot(m));
    let index = shard_index;
    // Each listed ID must be a live record of the listing user and appear
    // once in that user's list; users are distinct, so the lists are
    // disjoint, and equal counts mean every record is listed.
    let mut listed = 0usize;
    for (u, uid) in snap_users.into_iter().zip(uids) {
        if users.map.contains_key(&uid) {
            return bad(format!("user `{}` appears twice", u.id));
        }
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
        let mut slots: HashMap<(AuthenticatorType, &str, &str), AuthenticatorId> = HashMap::new();
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
            if let Some(other) = slots.insert(place_of(rec), *id) {
                return bad(format!(
                    "user `{}` has two {} authenticators in the same place ({other} and {id})",
                    u.id, rec.kind
                ));
            }
        }
        add_user(users, u, uid)?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::*;

    /// A restored engine is as compact as the one that wrote the snapshot:
    /// a lone instance and a lone authenticator ID stay inline rather than
    /// in the buffers the JSON reader grew.
    #[test]
    fn restored_records_and_users_keep_their_inline_storage() {
        let policies = PolicyDocument::parse("[policies.password]\nmax_failures = 3\n").unwrap();
        let a = Engine::new(policies.clone());
        let id = a
            .register(&Registration::new(
                "alice",
                AuthenticatorType::Password,
                "web",
            ))
            .unwrap();
        let b = Engine::new(policies);
        b.restore_json(&a.snapshot_json()).unwrap();
        let shard = b.shard(&id).read();
        let rec = shard.records.get(&id).unwrap();
        assert!(!rec.instances.spilled());
        let users = b.users.read();
        assert!(!users.map.get("alice").unwrap().authenticators.spilled());
    }
}
