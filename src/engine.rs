//! The in-memory engine: records in a sharded map, the user index, and the
//! public API that applies [`transition`]s to them.
//!
//! The engine owns state and concurrency; it decides nothing about lockout
//! itself. Each call reads the time from the injected [`Clock`] once, finds
//! the record, runs the pure transition under that record's shard lock,
//! numbers the events and hands them to the [`EventSink`] while the record
//! is still held (so one authenticator's events are in order), then tells
//! the [`Observer`] about lock changes after every lock is released (so an
//! observer may call back into the engine).
//!
//! Lock order: the user index, then a record shard; never the other way.
//! `check` takes only one shard's read lock unless time has to be applied
//! (an expired lock); a clock behind a record's latest time is read as that
//! time, without a write.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::error::{Error, Result, check_name};
use crate::history::{Action, Actor, Event, EventSink, MemoryHistory, UserHistory};
use crate::ids::{AppId, AuthenticatorId, DeviceId, IdGenerator, RandomIds, UserId};
use crate::policy::PolicyDocument;
use crate::record::{Fingerprint, Record};
use crate::table::{Keyed, SlotTable, Table};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::transition::{self, Applied, AttemptOutcome, Command, Ctx, Decision};
use crate::types::{AuthenticatorType, Operation, RegistrationMode, Scope};

const SHARDS: usize = 64;

/// A hasher for random 128-bit IDs: folds and mixes the bits (the IDs are
/// unpredictable already, so no keyed hash is needed).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = mix64(self.0 ^ u64::from_le_bytes(b));
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = mix64((v as u64) ^ ((v >> 64) as u64).rotate_left(29));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 32)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    z ^ (z >> 32)
}

pub(crate) type IdSet = HashSet<AuthenticatorId, BuildHasherDefault<IdHasher>>;

impl Keyed for Record {
    type Key = AuthenticatorId;
    #[inline]
    fn key(&self) -> &AuthenticatorId {
        &self.id
    }
}

/// One shard's records: dense, with an index of 32-bit slots (a lookup
/// reads one slot, then the record).
pub(crate) type RecordTable = SlotTable<Record, BuildHasherDefault<IdHasher>>;

/// The most authenticators one engine holds: 64 shards of at most
/// [`SlotTable::MAX_LEN`] each (about a billion; memory runs out first).
pub(crate) fn shard_full(id: &AuthenticatorId) -> Error {
    Error::InvalidArgument {
        what: "registration",
        why: format!(
            "the shard of authenticator {id} holds {} authenticators, the most one shard can index",
            RecordTable::MAX_LEN
        ),
    }
}

#[derive(Default)]
pub(crate) struct Shard {
    pub(crate) records: RecordTable,
    pub(crate) deleted: IdSet,
    /// An empty event buffer kept from the last call that moved its events
    /// into the sink, so that the next call on this shard does not allocate
    /// one. Used only under the shard's write lock.
    pub(crate) spare_events: Vec<Event>,
}

/// A kind of user identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// The host's external user ID.
    ExternalId,
    /// An email address (registers email OTP and the email magic link).
    Email,
    /// A phone number (registers SMS OTP and direct OTP).
    Phone,
    /// A username.
    Username,
    /// A custom identifier the tenant defines, by name.
    Custom(String),
}

/// One identifier on a user's profile.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// Its kind.
    pub kind: IdentifierKind,
    /// Its value.
    pub value: String,
}

impl Identifier {
    /// An email identifier.
    pub fn email(value: &str) -> Identifier {
        Identifier {
            kind: IdentifierKind::Email,
            value: value.into(),
        }
    }
    /// A phone-number identifier.
    pub fn phone(value: &str) -> Identifier {
        Identifier {
            kind: IdentifierKind::Phone,
            value: value.into(),
        }
    }
    /// A username identifier.
    pub fn username(value: &str) -> Identifier {
        Identifier {
            kind: IdentifierKind::Username,
            value: value.into(),
        }
    }
    /// An external-user-ID identifier.
    pub fn external_id(value: &str) -> Identifier {
        Identifier {
            kind: IdentifierKind::ExternalId,
            value: value.into(),
        }
    }
    /// A tenant-defined identifier.
    pub fn custom(name: &str, value: &str) -> Identifier {
        Identifier {
            kind: IdentifierKind::Custom(name.into()),
            value: value.into(),
        }
    }

    /// The implicit authenticator types this identifier registers.
    fn implied_types(&self) -> Vec<AuthenticatorType> {
        let mode = match self.kind {
            IdentifierKind::Email => RegistrationMode::ImplicitWithEmail,
            IdentifierKind::Phone => RegistrationMode::ImplicitWithPhone,
            _ => return Vec::new(),
        };
        AuthenticatorType::ALL
            .into_iter()
            .filter(|k| k.info().registration == mode)
            .collect()
    }
}

/// One user in the user index: 48 bytes, with one authenticator ID inline
/// and the rare parts (suspension, identifiers) behind one pointer.
#[derive(Clone, Debug)]
pub(crate) struct UserEntry {
    pub(crate) id: UserId,
    pub(crate) authenticators: SmallVec<[AuthenticatorId; 1]>,
    profile: Option<Box<Profile>>,
}

#[derive(Clone, Debug, Default)]
struct Profile {
    suspended: bool,
    identifiers: Vec<Identifier>,
}

impl UserEntry {
    pub(crate) fn new(id: UserId) -> UserEntry {
        UserEntry {
            id,
            authenticators: SmallVec::new(),
            profile: None,
        }
    }

    /// Whether the user is suspended.
    pub(crate) fn suspended(&self) -> bool {
        self.profile.as_ref().is_some_and(|p| p.suspended)
    }

    pub(crate) fn set_suspended(&mut self, suspended: bool) {
        if suspended || self.profile.is_some() {
            self.profile.get_or_insert_with(Box::default).suspended = suspended;
        }
    }

    /// The identifiers on the user's profile.
    pub(crate) fn identifiers(&self) -> &[Identifier] {
        self.profile.as_ref().map_or(&[], |p| &p.identifiers)
    }

    pub(crate) fn identifiers_mut(&mut self) -> &mut Vec<Identifier> {
        &mut self.profile.get_or_insert_with(Box::default).identifiers
    }
}

impl Keyed for UserEntry {
    type Key = str;
    #[inline]
    fn key(&self) -> &str {
        &self.id
    }
}

#[derive(Default)]
pub(crate) struct Users {
    pub(crate) map: Table<UserEntry, RandomState>,
    pub(crate) by_identifier: HashMap<Identifier, Vec<UserId>>,
}

impl Users {
    /// The user's shared ID, creating the entry if needed.
    fn ensure(&mut self, user: &str) -> UserId {
        if let Some(e) = self.map.get(user) {
            return e.id.clone();
        }
        let k = UserId::from(user);
        self.map.insert(UserEntry::new(k.clone()));
        k
    }

    fn get_mut(&mut self, user: &str) -> &mut UserEntry {
        self.map.get_mut(user).expect("ensured by the caller")
    }
}

/// Told about every lock and unlock (policy or manual lock, expiry,
/// refund, manual unlock that cleared a lock).
///
/// Called on the thread that made the change, after the engine has
/// released its locks, so an observer may call back into the engine. Keep
/// it quick: the caller's operation returns only after it.
pub trait Observer: Send + Sync {
    /// One lock change; `event.action` says which.
    fn on_lock_change(&self, event: &Event);
}

/// The context of an attempt: the app, and optionally the device and the
/// fingerprint of the secret tried.
///
/// ```
/// use authlock::Attempt;
/// let a = Attempt::in_app("mobile").on_device("phone-1").with_fingerprint(b"hmac-of-pin");
/// assert_eq!(a.app, "mobile");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The app the attempt is made in.
    pub app: &'a str,
    /// The device, if the host knows it (recorded as the last device).
    pub device: Option<&'a str>,
    /// The host's fingerprint of the secret (never the secret itself).
    pub fingerprint: Option<&'a [u8]>,
}

impl<'a> Attempt<'a> {
    /// An attempt in `app`.
    pub fn in_app(app: &'a str) -> Self {
        Attempt {
            app,
            device: None,
            fingerprint: None,
        }
    }
    /// Names the device used.
    pub fn on_device(mut self, device: &'a str) -> Self {
        self.device = Some(device);
        self
    }
    /// Adds the fingerprint of the secret tried.
    pub fn with_fingerprint(mut self, fingerprint: &'a [u8]) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    fn fingerprint(&self) -> Result<Option<Fingerprint>> {
        self.fingerprint.map(Fingerprint::new).transpose()
    }
    fn device(&self) -> Result<Option<DeviceId>> {
        self.device
            .map(|d| check_name("device", d).map(|_| DeviceId::from(d)))
            .transpose()
    }
}

/// An explicit registration request.
///
/// ```
/// use authlock::{AuthenticatorType, Registration};
/// let r = Registration::new("alice", AuthenticatorType::Passkey, "web")
///     .on_device("laptop")
///     .with_public_key("pQECAyYgASFYIL...");
/// assert_eq!(r.device.as_deref(), Some("laptop"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The user.
    pub user: String,
    /// The type (an explicitly registered one).
    pub kind: AuthenticatorType,
    /// The app it is registered in.
    pub app: String,
    /// The device (required for device-user types, refused otherwise).
    pub device: Option<String>,
    /// Credential metadata: a passkey's public key.
    pub public_key: Option<String>,
    /// Who registers it (the user by default).
    pub actor: Option<Actor>,
}

impl Registration {
    /// A registration of `kind` for `user` in `app`.
    pub fn new(user: &str, kind: AuthenticatorType, app: &str) -> Self {
        Registration {
            user: user.into(),
            kind,
            app: app.into(),
            device: None,
            public_key: None,
            actor: None,
        }
    }
    /// The device (for PIN, passkey, mobile biometrics).
    pub fn on_device(mut self, device: &str) -> Self {
        self.device = Some(device.into());
        self
    }
    /// A passkey's public key, kept as credential metadata.
    pub fn with_public_key(mut self, key: &str) -> Self {
        self.public_key = Some(key.into());
        self
    }
    /// Someone other than the user registers it.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }
}

/// Builds an [`Engine`] with injected policies, clock, ID generator,
/// history sink and observer.
///
/// ```
/// use authlock::{Engine, FakeClock, PolicyDocument, SeededIds, Timestamp};
/// let clock = FakeClock::at(Timestamp::from_secs(1_700_000_000));
/// let engine = Engine::builder(PolicyDocument::new())
///     .clock(clock.clone())
///     .ids(SeededIds::new(7))
///     .build();
/// # let _ = engine;
/// ```
pub struct EngineBuilder {
    pub(crate) policies: PolicyDocument,
    pub(crate) clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    sink: Arc<dyn EventSink>,
    observer: Option<Arc<dyn Observer>>,
}

impl EngineBuilder {
    /// Uses `clock` for the time (the system clock by default).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }
    /// Uses a shared clock.
    pub fn clock_arc(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Uses `ids` for new authenticator IDs (128 random bits by default).
    pub fn ids(mut self, ids: impl IdGenerator + 'static) -> Self {
        self.ids = Arc::new(ids);
        self
    }
    /// Writes events to `sink` (a [`MemoryHistory`] by default).
    pub fn history(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = sink;
        self
    }
    /// Tells `observer` about every lock and unlock.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }
    /// The engine, empty.
    pub fn build(self) -> Engine {
        self.build_inner(None)
    }

    pub(crate) fn build_with_store(self, store: Arc<crate::store::JournalSink>) -> Engine {
        self.build_inner(Some(store))
    }

    fn build_inner(self, store: Option<Arc<crate::store::JournalSink>>) -> Engine {
        let failed = store
            .as_ref()
            .map_or_else(Default::default, |s| s.failure_flag());
        Engine {
            store,
            tenant: Arc::from(self.policies.tenant()),
            policies: self.policies,
            clock: self.clock,
            ids: self.ids,
            sink: self.sink,
            observed: std::sync::atomic::AtomicBool::new(self.observer.is_some()),
            observer: RwLock::new(self.observer),
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            users: RwLock::new(Users::default()),
            seq: AtomicU64::new(0),
            order: Mutex::new(()),
            failed,
            apps: RwLock::new(HashSet::new()),
        }
    }

    /// An engine rebuilt by applying `events` (a history this engine's
    /// policies produced) from empty. Every event must follow from the ones
    /// before it: the replay regenerates each event and refuses the history
    /// at the first one that differs. The replayed events go to the sink.
    pub fn replay(self, events: &[Event]) -> Result<Engine> {
        let engine = self.build();
        crate::replay::replay_into(&engine, events)?;
        Ok(engine)
    }
}

/// The authenticator lockout engine for one tenant.
///
/// `Engine` is `Send + Sync`: share one (in an `Arc`) between threads.
/// Records live in 64 shards, so threads working on different
/// authenticators rarely contend; updates to one authenticator are
/// serialised, so no increment is lost.
///
/// ```
/// use authlock::{Actor, Attempt, AuthenticatorType, Decision, Engine, PolicyDocument, Registration};
/// let policies = PolicyDocument::parse(r#"
///     [policies.pin]
///     max_failures = 3
///     throttle = []
///     lockout = { kind = "until_unlocked" }
/// "#).unwrap();
/// let engine = Engine::new(policies);
/// let pin = engine.register(&Registration::new("alice", AuthenticatorType::Pin, "bank").on_device("phone")).unwrap();
/// for _ in 0..3 {
///     engine.record_failure(&pin, &Attempt::in_app("bank")).unwrap();
/// }
/// assert!(matches!(engine.check(&pin, "bank").unwrap(), Decision::Locked { until: None, .. }));
/// engine.unlock(&pin, "bank", &Actor::admin("ops"), Some("verified by phone")).unwrap();
/// assert!(engine.check(&pin, "bank").unwrap().is_allowed());
/// ```
pub struct Engine {
    pub(crate) tenant: Arc<str>,
    pub(crate) policies: PolicyDocument,
    pub(crate) clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    pub(crate) sink: Arc<dyn EventSink>,
    observer: RwLock<Option<Arc<dyn Observer>>>,
    /// Whether `observer` holds one, so that a lock change with no observer
    /// set takes no lock to find that out.
    observed: std::sync::atomic::AtomicBool,
    pub(crate) shards: Box<[RwLock<Shard>]>,
    pub(crate) users: RwLock<Users>,
    pub(crate) seq: AtomicU64,
    /// The event pipeline's lock: events are numbered and handed to the
    /// sink under it, so the sink receives them in sequence order.
    order: Mutex<()>,
    /// Set once a sink (or the store's background flusher) fails to store
    /// events; shared with the store so that it can stop the engine too.
    failed: Arc<std::sync::OnceLock<String>>,
    store: Option<Arc<crate::store::JournalSink>>,
    /// One shared copy of each app ID that authenticators are registered
    /// in, so records share it rather than each holding its own.
    pub(crate) apps: RwLock<HashSet<AppId>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tenant", &self.tenant)
            .field("authenticators", &self.len())
            .finish_non_exhaustive()
    }
}

/// The shard that holds `id`.
#[inline]
pub(crate) fn shard_index(id: &AuthenticatorId) -> usize {
    let mut h = IdHasher::default();
    h.write_u128(id.as_u128());
    (h.finish() >> 58) as usize % SHARDS
}

/// The app a call names, checked.
fn app_name(app: &str) -> Result<()> {
    check_name("app", app)
}

impl Engine {
    /// An engine with `policies`, the system clock, random IDs and an
    /// in-memory history.
    pub fn new(policies: PolicyDocument) -> Engine {
        Engine::builder(policies).build()
    }

    /// A builder to inject the clock, ID generator, sink and observer.
    pub fn builder(policies: PolicyDocument) -> EngineBuilder {
        EngineBuilder {
            policies,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            sink: Arc::new(MemoryHistory::new()),
            observer: None,
        }
    }

    /// The tenant this engine serves.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The policies in force.
    pub fn policies(&self) -> &PolicyDocument {
        &self.policies
    }

    /// The current time by the engine's clock, as it reads (not checked:
    /// the engine's calls read it through [`Engine::read_clock`]).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The clock's reading for a call, refused (`InvalidArgument`) if it is
    /// outside the times the engine accepts ([`Timestamp::MIN_VALID`] to
    /// [`Timestamp::MAX_VALID`], the years 1970 to 9999). Every call that
    /// reads the clock reads it through this.
    #[inline]
    pub fn read_clock(&self) -> Result<Timestamp> {
        valid_time("clock", self.clock.now())
    }

    /// Number of live (not deleted) authenticators.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().records.len()).sum()
    }

    /// Whether no authenticator is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets or removes the observer of lock changes.
    pub fn set_observer(&self, observer: Option<Arc<dyn Observer>>) {
        let mut slot = self.observer.write();
        self.observed.store(observer.is_some(), Ordering::Release);
        *slot = observer;
    }

    #[inline]
    pub(crate) fn shard(&self, id: &AuthenticatorId) -> &RwLock<Shard> {
        &self.shards[shard_index(id)]
    }

    /// Numbers events and writes them to the sink. Call while holding the
    /// lock that orders them (the record's shard). The events of one call
    /// get consecutive numbers, so a replay that regenerates them gets the
    /// same numbers whatever ran in between. Numbering and the hand-over to
    /// the sink happen under the pipeline's one lock, so the sink receives
    /// every batch in sequence order, whichever shards they come from. A
    /// sink failure stops the engine.
    pub(crate) fn emit(&self, events: &mut [Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let _order = self.order.lock();
        let base = self.number(events)?;
        let n = events.len();
        self.sink
            .append(events)
            .map_err(|why| self.sink_failed(base, n, &why))
    }

    /// [`Engine::emit`] for events the caller does not need afterwards
    /// unless one is a lock change (which the observer is told about): the
    /// others are moved into the sink, leaving `events` empty.
    fn emit_passing(&self, events: &mut Vec<Event>) -> Result<()> {
        if events.iter().any(|e| e.action.is_lock_change()) {
            return self.emit(events);
        }
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let (base, stored) = {
            let _order = self.order.lock();
            let base = self.number(events)?;
            (base, self.sink.append_owned(events))
        };
        // The sink empties the buffer; whatever it left is not ours to keep
        // (dropped here, outside the pipeline's lock).
        events.clear();
        stored.map_err(|why| self.sink_failed(base, n, &why))
    }

    /// Numbers `events` (not empty) consecutively after the last event
    /// numbered; returns the number before the first. Call under the
    /// pipeline's lock.
    fn number(&self, events: &mut [Event]) -> Result<u64> {
        let base = self.seq.load(Ordering::Relaxed);
        let Some(last) = base.checked_add(events.len() as u64) else {
            return Err(self.sink_failed(base, events.len(), "event numbers are exhausted"));
        };
        for (i, e) in events.iter_mut().enumerate() {
            e.seq = base + 1 + i as u64;
        }
        self.seq.store(last, Ordering::Release);
        Ok(base)
    }

    /// Stops the engine after a sink failure, and the error that says so.
    #[cold]
    fn sink_failed(&self, base: u64, n: usize, why: &str) -> Error {
        let message = format!(
            "events {}..={} could not be stored ({why}); the engine refuses further calls: reopen it from its store",
            base.saturating_add(1),
            base.saturating_add(n as u64)
        );
        let _ = self.failed.set(message.clone());
        Error::Storage(message)
    }

    /// The shared copy of app ID `app`, added if new. Called where an app
    /// is registered, never on a lookup path (so unknown apps named in
    /// calls do not accumulate).
    pub(crate) fn intern_app(&self, app: &str) -> AppId {
        if let Some(a) = self.apps.read().get(app) {
            return a.clone();
        }
        let mut apps = self.apps.write();
        if let Some(a) = apps.get(app) {
            return a.clone();
        }
        let a = AppId::from(app);
        apps.insert(a.clone());
        a
    }

    /// The shared copy of `app` if some authenticator is registered there,
    /// or a new one (for a global-user authenticator's first use in an app,
    /// or a call that is about to be refused).
    fn known_app(&self, app: &str) -> AppId {
        self.apps
            .read()
            .get(app)
            .cloned()
            .unwrap_or_else(|| AppId::from(app))
    }

    /// Refuses every call once the sink has failed.
    #[inline]
    pub(crate) fn healthy(&self) -> Result<()> {
        match self.failed.get() {
            None => Ok(()),
            Some(why) => Err(Error::Storage(why.clone())),
        }
    }

    /// The durable store behind this engine, if any.
    pub(crate) fn store(&self) -> Option<&Arc<crate::store::JournalSink>> {
        self.store.as_ref()
    }

    /// Tells the observer about lock changes. Call with no lock held.
    pub(crate) fn notify(&self, events: &[Event]) {
        if !self.observed.load(Ordering::Acquire)
            || !events.iter().any(|e| e.action.is_lock_change())
        {
            return;
        }
        let observer = self.observer.read().clone();
        if let Some(o) = observer {
            for e in events.iter().filter(|e| e.action.is_lock_change()) {
                o.on_lock_change(e);
            }
        }
    }

    fn missing(&self, shard: &Shard, id: &AuthenticatorId) -> Error {
        if shard.deleted.contains(id) {
            Error::Deleted { id: *id }
        } else {
            Error::NotFound { id: *id }
        }
    }

    /// Runs one transition on one record under its shard's write lock.
    /// Does not notify the observer (the caller does, once unlocked).
    pub(crate) fn mutate(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        now: Timestamp,
        cmd: Command,
    ) -> Result<Applied> {
        self.mutate_keeping(id, app, actor, now, cmd, true)
    }

    /// [`Engine::mutate`]; with `keep` false the events come back only if
    /// one is a lock change (the rest are moved into the sink).
    fn mutate_keeping(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        now: Timestamp,
        cmd: Command,
        keep: bool,
    ) -> Result<Applied> {
        self.healthy()?;
        let mut guard = self.shard(id).write();
        let shard = &mut *guard;
        let Some(rec) = shard.records.get_mut(id) else {
            return Err(self.missing(shard, id));
        };
        let app_id = rec.app_id(app).unwrap_or_else(|| self.known_app(app));
        let ctx = Ctx {
            now,
            tenant: &self.tenant,
            app: &app_id,
            actor,
            policy: self.policies.policy(rec.kind, app),
        };
        let mut events = std::mem::take(&mut shard.spare_events);
        if events.capacity() == 0 {
            // Room for the usual one or two events, without growing.
            events.reserve_exact(2);
        }
        let mut applied = Applied {
            events,
            ..Applied::default()
        };
        if let Err(e) = transition::apply_into(rec, &ctx, cmd, &mut applied) {
            shard.spare_events = applied.events;
            return Err(e);
        }
        if applied.removed {
            shard.records.remove(id);
            shard.deleted.insert(*id);
        }
        if keep {
            self.emit(&mut applied.events)?;
        } else {
            self.emit_passing(&mut applied.events)?;
            if applied.events.is_empty() {
                shard.spare_events = std::mem::take(&mut applied.events);
            }
        }
        Ok(applied)
    }

    /// Runs `cmd` on each live record of `ids` as one change: every shard
    /// involved is write-locked (in index order, so that two such calls
    /// cannot deadlock), the transitions run on copies, and only if every
    /// one succeeds are the records replaced and the events (`leading`
    /// first) emitted, as one batch. The sink gets them as one call's
    /// events (one journal record), so a crash cannot keep half of the
    /// call, and an error changes nothing. IDs deleted meanwhile are
    /// skipped. `policy` says whether the transition reads the record's
    /// policy in `app` (an unlock) or none (a suspension).
    #[allow(clippy::too_many_arguments)]
    fn mutate_many(
        &self,
        ids: &[AuthenticatorId],
        app: &str,
        policy: bool,
        actor: &Actor,
        now: Timestamp,
        cmd: &Command,
        mut leading: Vec<Event>,
    ) -> Result<Vec<Event>> {
        self.healthy()?;
        let mut shard_ids: Vec<usize> = ids.iter().map(shard_index).collect();
        shard_ids.sort_unstable();
        shard_ids.dedup();
        let mut guards: Vec<_> = shard_ids.iter().map(|&i| self.shards[i].write()).collect();
        let guard_of = |id: &AuthenticatorId| {
            shard_ids
                .binary_search(&shard_index(id))
                .expect("every record's shard is locked")
        };
        let mut changed: Vec<Record> = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(rec) = guards[guard_of(id)].records.get(id) else {
                continue; // deleted meanwhile: nothing to change
            };
            let app_id = rec.app_id(app).unwrap_or_else(|| self.known_app(app));
            let ctx = Ctx {
                now,
                tenant: &self.tenant,
                app: &app_id,
                actor,
                policy: if policy {
                    self.policies.policy(rec.kind, app)
                } else {
                    None
                },
            };
            let mut copy = rec.clone();
            let applied = transition::apply(&mut copy, &ctx, cmd.clone())?;
            debug_assert!(!applied.removed, "a batch change never deletes");
            leading.extend(applied.events);
            changed.push(copy);
        }
        for rec in changed {
            let g = guard_of(&rec.id);
            if let Some(slot) = guards[g].records.get_mut(&rec.id) {
                *slot = rec;
            }
        }
        self.emit(&mut leading)?;
        drop(guards);
        Ok(leading)
    }

    /// Runs an attempt command and notifies.
    fn attempt(&self, id: &AuthenticatorId, app: &str, cmd: Command) -> Result<AttemptOutcome> {
        app_name(app)?;
        let now = self.read_clock()?;
        let applied = self.mutate_keeping(id, app, &Actor::System, now, cmd, false)?;
        self.notify(&applied.events);
        Ok(applied
            .attempt
            .expect("attempt commands always report an outcome"))
    }

    /// May authenticator `id` be used in `app` now? If not, why, and from
    /// when again.
    ///
    /// A deleted ID answers [`Decision::Deleted`]; an unknown ID, or an app
    /// in which the authenticator has no instance, is an error. The answer is
    /// at the record's effective time (the later of the clock and the latest
    /// time the record has seen). This takes a read lock only, unless time
    /// has ended a lock, in which case that is recorded first. A clock
    /// reading outside the years 1970 to 9999 is refused.
    #[inline]
    pub fn check(&self, id: &AuthenticatorId, app: &str) -> Result<Decision> {
        self.healthy()?;
        app_name(app)?;
        let now = self.read_clock()?;
        {
            let shard = self.shard(id).read();
            let Some(rec) = shard.records.get(id) else {
                return if shard.deleted.contains(id) {
                    Ok(Decision::Deleted)
                } else {
                    Err(Error::NotFound { id: *id })
                };
            };
            let inst = &rec.instances[rec.slot(app)?];
            let policy = self.policies.policy(rec.kind, app);
            // The record's effective time: a clock behind the latest time
            // the record has seen reads as that time.
            let at = rec.effective_time(now);
            if !transition::needs_normalize(inst, at) {
                return Ok(transition::evaluate(inst, policy, at));
            }
        }
        let applied =
            self.mutate_keeping(id, app, &Actor::System, now, Command::Normalize, false)?;
        self.notify(&applied.events);
        let shard = self.shard(id).read();
        match shard.records.get(id) {
            Some(rec) => Ok(transition::evaluate(
                &rec.instances[rec.slot(app)?],
                self.policies.policy(rec.kind, app),
                rec.effective_time(now),
            )),
            None => Ok(Decision::Deleted),
        }
    }

    /// Counts a failed attempt. Refused attempts (locked,
    /// throttled, deactivated) count nothing and say why.
    pub fn record_failure(
        &self,
        id: &AuthenticatorId,
        attempt: &Attempt<'_>,
    ) -> Result<AttemptOutcome> {
        let fingerprint = attempt.fingerprint()?;
        attempt.device()?;
        self.attempt(id, attempt.app, Command::Failure { fingerprint })
    }

    /// Records a successful attempt: clears the counter, marks the
    /// authenticator Active. Refused if it is locked, throttled or
    /// deactivated (the host should have called [`Engine::check`]).
    pub fn record_success(
        &self,
        id: &AuthenticatorId,
        attempt: &Attempt<'_>,
    ) -> Result<AttemptOutcome> {
        let device = attempt.device()?;
        self.attempt(id, attempt.app, Command::Success { device })
    }

    /// Counts a failure *before* the secret is verified, durably with a
    /// durable store, and returns a reservation to settle with
    /// [`Engine::commit`]. If the process dies before the commit, the
    /// failure stays counted: killing the app never buys fresh attempts.
    pub fn reserve(&self, id: &AuthenticatorId, attempt: &Attempt<'_>) -> Result<AttemptOutcome> {
        let fingerprint = attempt.fingerprint()?;
        attempt.device()?;
        self.attempt(id, attempt.app, Command::Reserve { fingerprint })
    }

    /// Settles a reservation: `success` refunds the reserved failure (and
    /// lifts a lock it caused) and records the success; otherwise the
    /// failure stays counted.
    pub fn commit(
        &self,
        id: &AuthenticatorId,
        attempt: &Attempt<'_>,
        reservation: u64,
        success: bool,
    ) -> Result<AttemptOutcome> {
        let device = attempt.device()?;
        self.attempt(
            id,
            attempt.app,
            Command::Commit {
                reservation,
                success,
                device,
            },
        )
    }

    /// Runs an admin action on one record and notifies.
    fn action(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        cmd: Command,
    ) -> Result<Vec<Event>> {
        app_name(app)?;
        let now = self.read_clock()?;
        let applied = self.mutate(id, app, actor, now, cmd)?;
        self.notify(&applied.events);
        Ok(applied.events)
    }

    /// Locks an authenticator by hand in `app` (for a global-user type: in
    /// every app), with an optional reason kept with the lock. Returns the
    /// events; none if it was already locked by hand.
    pub fn lock(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        let reason = reason_arg(reason)?;
        self.action(id, app, actor, Command::Lock { reason })
    }

    /// Clears the lock and the counter. For a device-user type the
    /// unlock fans out to every instance of the same type the user has in
    /// `app` (every passkey, say); for a global-user type it applies in
    /// every app. Returns the events of the instances that changed.
    pub fn unlock(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        let reason = reason_arg(reason)?;
        app_name(app)?;
        let (user, kind) = {
            let shard = self.shard(id).read();
            let Some(rec) = shard.records.get(id) else {
                return Err(self.missing(&shard, id));
            };
            if !rec.kind.supports(Operation::Unlock) {
                return Err(Error::Unsupported {
                    kind: rec.kind,
                    operation: Operation::Unlock,
                });
            }
            rec.slot(app)?;
            (rec.user.clone(), rec.kind)
        };
        if kind.scope() == Scope::DeviceUser {
            self.unlock_instances(&user, kind, app, actor, reason)
        } else {
            self.action(id, app, actor, Command::Unlock { reason })
        }
    }

    /// Unlocks every instance of `kind` that `user` has in `app`.
    pub fn unlock_type(
        &self,
        user: &str,
        kind: AuthenticatorType,
        app: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        let reason = reason_arg(reason)?;
        app_name(app)?;
        if !kind.supports(Operation::Unlock) {
            return Err(Error::Unsupported {
                kind,
                operation: Operation::Unlock,
            });
        }
        if !self.users.read().map.contains_key(user) {
            return Err(Error::UnknownUser { user: user.into() });
        }
        self.unlock_instances(user, kind, app, actor, reason)
    }

    fn unlock_instances(
        &self,
        user: &str,
        kind: AuthenticatorType,
        app: &str,
        actor: &Actor,
        reason: Option<Arc<str>>,
    ) -> Result<Vec<Event>> {
        let now = self.read_clock()?;
        let targets: Vec<AuthenticatorId> = self
            .user_records(user)
            .into_iter()
            .filter(|r| r.kind == kind && r.slot(app).is_ok())
            .map(|r| r.id)
            .collect();
        let events = self.mutate_many(
            &targets,
            app,
            true,
            actor,
            now,
            &Command::Unlock { reason },
            Vec::new(),
        )?;
        self.notify(&events);
        Ok(events)
    }

    /// Deletes the authenticator's instance in `app` (the whole ID when it
    /// was the last one; a deleted ID answers "deleted" for ever).
    pub fn delete(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        let reason = reason_arg(reason)?;
        self.delete_at(id, app, actor, reason, self.read_clock()?)
    }

    pub(crate) fn delete_at(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        reason: Option<Arc<str>>,
        now: Timestamp,
    ) -> Result<Vec<Event>> {
        app_name(app)?;
        let mut users = self.users.write();
        let applied = self.mutate(id, app, actor, now, Command::Delete { reason })?;
        if applied.removed
            && let Some(user) = applied.events.first().map(|e| e.user.clone())
            && let Some(entry) = users.map.get_mut(&*user)
        {
            entry.authenticators.retain(|a| a != id);
        }
        drop(users);
        self.notify(&applied.events);
        Ok(applied.events)
    }

    /// Deactivates the authenticator in `app` by hand.
    pub fn deactivate(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        let reason = reason_arg(reason)?;
        self.action(id, app, actor, Command::Deactivate { reason })
    }

    /// Undoes a manual deactivation in `app` (a suspension stays until the
    /// user is unsuspended).
    pub fn reactivate(
        &self,
        id: &AuthenticatorId,
        app: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        let reason = reason_arg(reason)?;
        self.action(id, app, actor, Command::Reactivate { reason })
    }

    /// Suspends a user: every one of the user's authenticators is
    /// Deactivated in every app until [`Engine::unsuspend_user`].
    pub fn suspend_user(
        &self,
        user: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        self.set_suspended(
            user,
            true,
            actor,
            reason_arg(reason)?,
            self.read_clock()?,
            true,
        )
    }

    /// Lifts a user's suspension: each authenticator returns to what it was
    /// (one an admin deactivated stays deactivated).
    pub fn unsuspend_user(
        &self,
        user: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Vec<Event>> {
        self.set_suspended(
            user,
            false,
            actor,
            reason_arg(reason)?,
            self.read_clock()?,
            true,
        )
    }

    pub(crate) fn set_suspended(
        &self,
        user: &str,
        target: bool,
        actor: &Actor,
        reason: Option<Arc<str>>,
        now: Timestamp,
        records: bool,
    ) -> Result<Vec<Event>> {
        self.healthy()?;
        let mut users = self.users.write();
        let Some(entry) = users.map.get_mut(user) else {
            return Err(Error::UnknownUser { user: user.into() });
        };
        if entry.suspended() == target {
            return Ok(Vec::new());
        }
        let user_id = entry.id.clone();
        let ids = entry.authenticators.to_vec();
        let leading = vec![Event {
            seq: 0,
            time: now,
            tenant: self.tenant.clone(),
            app: None,
            actor: actor.clone(),
            user: user_id,
            authenticator: None,
            action: if target {
                Action::Suspended
            } else {
                Action::Unsuspended
            },
            reason: reason.clone(),
            before: None,
            after: None,
        }];
        let cmd = if target {
            Command::Suspend {
                reason: reason.clone(),
            }
        } else {
            Command::Unsuspend {
                reason: reason.clone(),
            }
        };
        // A replay applies each authenticator's events as primitives of their own.
        let ids = if records { ids } else { Vec::new() };
        // The user's event and every authenticator's, as one batch.
        let events = self.mutate_many(&ids, "", false, actor, now, &cmd, leading)?;
        if let Some(entry) = users.map.get_mut(user) {
            entry.set_suspended(target);
        }
        drop(users);
        self.notify(&events);
        Ok(events)
    }

    /// Registers an explicitly registered authenticator.
    ///
    /// - App-user (password, face, TOTP): one ID per user and type; a
    ///   registration in another app adds that app's instance under the same
    ///   ID. Registering again in the same app is an error.
    /// - Device-user (PIN, passkey, biometrics): one ID per (device, app);
    ///   registering again on the same device and app replaces the earlier
    ///   instance (a new ID; the old one answers "deleted").
    /// - Global-user types are registered implicitly: see
    ///   [`Engine::add_identifier`] and [`Engine::record_first_use`].
    pub fn register(&self, reg: &Registration) -> Result<AuthenticatorId> {
        let actor = reg.actor.clone().unwrap_or_else(|| Actor::user(&reg.user));
        let id = self.register_at(reg, &actor, self.read_clock()?, None)?;
        self.notify(&[]);
        Ok(id)
    }

    pub(crate) fn register_at(
        &self,
        reg: &Registration,
        actor: &Actor,
        now: Timestamp,
        given_id: Option<AuthenticatorId>,
    ) -> Result<AuthenticatorId> {
        self.healthy()?;
        check_name("user", &reg.user)?;
        app_name(&reg.app)?;
        let kind = reg.kind;
        if !kind.supports(Operation::Register) {
            return Err(Error::Unsupported {
                kind,
                operation: Operation::Register,
            });
        }
        let device = match (kind.scope(), &reg.device) {
            (Scope::DeviceUser, Some(d)) => {
                check_name("device", d)?;
                Some(DeviceId::from(d.as_str()))
            }
            (Scope::DeviceUser, None) => {
                return Err(Error::InvalidArgument {
                    what: "device",
                    why: format!("{kind} is device-user: its registration names the device"),
                });
            }
            (_, Some(_)) => {
                return Err(Error::InvalidArgument {
                    what: "device",
                    why: format!("{kind} is app-user: it is not bound to a device"),
                });
            }
            (_, None) => None,
        };
        let public_key = match &reg.public_key {
            Some(k) if k.is_empty() || k.len() > 4096 => {
                return Err(Error::InvalidArgument {
                    what: "public key",
                    why: format!("it is {} bytes long; it must be 1 to 4096 bytes", k.len()),
                });
            }
            k => k.as_deref().map(Arc::from),
        };
        let mut users = self.users.write();
        let existing = self.records_of(users.map.get(reg.user.as_str()));
        let suspended = users
            .map
            .get(reg.user.as_str())
            .is_some_and(|u| u.suspended());
        let app_id = self.intern_app(&reg.app);
        match kind.scope() {
            Scope::AppUser => {
                if let Some(rec) = existing.iter().find(|r| r.kind == kind) {
                    if let Some(given) = given_id
                        && given != rec.id
                    {
                        return Err(Error::History(format!(
                            "registration of {given} conflicts with live {kind} {} of user `{}`",
                            rec.id, reg.user
                        )));
                    }
                    let applied =
                        self.mutate(&rec.id, &reg.app, actor, now, Command::AddApp { suspended })?;
                    drop(users);
                    self.notify(&applied.events);
                    return Ok(rec.id);
                }
            }
            Scope::DeviceUser => {
                if let Some(old) = existing.iter().find(|r| {
                    r.kind == kind
                        && r.device() == device.as_ref()
                        && r.instances[0].app.as_deref() == Some(reg.app.as_str())
                }) {
                    let id = self.fresh_id(given_id)?;
                    let old_id = old.id;
                    // The old instance is replaced: deleted, with a pointer to its successor.
                    let mut guard = self.shard(&old_id).write();
                    let shard = &mut *guard;
                    let rec = shard
                        .records
                        .remove(&old_id)
                        .expect("listed under the user lock");
                    shard.deleted.insert(old_id);
                    let events = vec![Event {
                        seq: 0,
                        time: now,
                        tenant: self.tenant.clone(),
                        app: Some(app_id.clone()),
                        actor: actor.clone(),
                        user: rec.user.clone(),
                        authenticator: Some(old_id),
                        action: Action::Deleted {
                            replaced_by: Some(id),
                        },
                        reason: None,
                        before: Some(rec.instances[0].stored_status()),
                        after: None,
                    }];
                    drop(guard);
                    let user_id = users.ensure(&reg.user);
                    users
                        .get_mut(&reg.user)
                        .authenticators
                        .retain(|a| *a != old_id);
                    self.insert_new(
                        &mut users,
                        now,
                        actor,
                        id,
                        user_id,
                        kind,
                        Some(app_id),
                        device,
                        None,
                        public_key,
                        suspended,
                        Some(old_id),
                        events,
                        None,
                    )?;
                    return Ok(id);
                }
            }
            Scope::GlobalUser => unreachable!("global types are not explicitly registered"),
        }
        let id = self.fresh_id(given_id)?;
        let user_id = users.ensure(&reg.user);
        self.insert_new(
            &mut users,
            now,
            actor,
            id,
            user_id,
            kind,
            Some(app_id),
            device,
            None,
            public_key,
            suspended,
            None,
            Vec::new(),
            None,
        )?;
        Ok(id)
    }

    /// Inserts a new record under the user lock and emits its event, after
    /// `leading` (the deletion of the instance it replaces), as one batch;
    /// or, given `batch`, adds them to it for the caller to emit.
    #[allow(clippy::too_many_arguments)]
    fn insert_new(
        &self,
        users: &mut Users,
        now: Timestamp,
        actor: &Actor,
        id: AuthenticatorId,
        user: UserId,
        kind: AuthenticatorType,
        app: Option<AppId>,
        device: Option<DeviceId>,
        identifier: Option<Arc<str>>,
        public_key: Option<Arc<str>>,
        suspended: bool,
        replaces: Option<AuthenticatorId>,
        mut leading: Vec<Event>,
        batch: Option<&mut Vec<Event>>,
    ) -> Result<()> {
        let ctx_app = app.clone().unwrap_or_else(|| AppId::from(""));
        let ctx = Ctx {
            now,
            tenant: &self.tenant,
            app: &ctx_app,
            actor,
            policy: None,
        };
        let (rec, ev) = transition::new_record(
            &ctx,
            id,
            user.clone(),
            kind,
            app,
            device,
            identifier,
            public_key,
            suspended,
            replaces,
        );
        leading.push(ev);
        let mut events = leading;
        {
            let mut shard = self.shard(&id).write();
            if shard.records.is_full() {
                return Err(shard_full(&id));
            }
            shard.records.insert(rec);
            if let Some(batch) = batch {
                // The caller emits the whole call's events at once, still
                // holding the user lock; nobody knows the new ID before.
                batch.append(&mut events);
            } else {
                self.emit(&mut events)?;
            }
        }
        users.get_mut(&user).authenticators.push(id);
        Ok(())
    }

    /// A new ID, unique among live and deleted ones (or the given one, for
    /// replays, which must be unused).
    fn fresh_id(&self, given: Option<AuthenticatorId>) -> Result<AuthenticatorId> {
        let used = |id: &AuthenticatorId| {
            let s = self.shard(id).read();
            s.records.contains_key(id) || s.deleted.contains(id)
        };
        let room = |id: AuthenticatorId| {
            if self.shard(&id).read().records.is_full() {
                Err(shard_full(&id))
            } else {
                Ok(id)
            }
        };
        if let Some(id) = given {
            return if used(&id) {
                Err(Error::History(format!(
                    "authenticator {id} is registered twice"
                )))
            } else {
                room(id)
            };
        }
        for _ in 0..64 {
            let id = self.ids.next_id();
            if !used(&id) {
                return room(id);
            }
        }
        Err(Error::InvalidArgument {
            what: "ID generator",
            why: "it returned 64 IDs in a row that are already in use".into(),
        })
    }

    /// Adds an identifier to a user's profile (creating the user if new),
    /// and registers the authenticators it implies: an email registers
    /// email OTP and the email magic link; a phone number registers SMS OTP
    /// and direct OTP. Returns the IDs registered (none if the user already
    /// had the identifier).
    pub fn add_identifier(
        &self,
        user: &str,
        identifier: &Identifier,
        actor: &Actor,
    ) -> Result<Vec<AuthenticatorId>> {
        let ids = self.add_identifier_at(user, identifier, actor, self.read_clock()?, None)?;
        self.notify(&[]);
        Ok(ids)
    }

    pub(crate) fn add_identifier_at(
        &self,
        user: &str,
        identifier: &Identifier,
        actor: &Actor,
        now: Timestamp,
        replay_ids: Option<&[AuthenticatorId]>,
    ) -> Result<Vec<AuthenticatorId>> {
        self.healthy()?;
        check_name("user", user)?;
        check_name("identifier", &identifier.value)?;
        if let IdentifierKind::Custom(name) = &identifier.kind {
            check_name("custom identifier name", name)?;
        }
        let mut users = self.users.write();
        let user_id = users.ensure(user);
        if users.get_mut(user).identifiers().contains(identifier) {
            return Ok(Vec::new());
        }
        users
            .get_mut(user)
            .identifiers_mut()
            .push(identifier.clone());
        users
            .by_identifier
            .entry(identifier.clone())
            .or_default()
            .push(user_id.clone());
        let mut events = vec![Event {
            seq: 0,
            time: now,
            tenant: self.tenant.clone(),
            app: None,
            actor: actor.clone(),
            user: user_id.clone(),
            authenticator: None,
            action: Action::IdentifierAdded {
                identifier: identifier.clone(),
            },
            reason: None,
            before: None,
            after: None,
        }];
        let mut ids = Vec::new();
        if replay_ids.is_some() {
            // Replays register the implied types from their own events.
            self.emit(&mut events)?;
            return Ok(ids);
        }
        let suspended = users.get_mut(user).suspended();
        let value: Arc<str> = Arc::from(identifier.value.as_str());
        // The identifier and the authenticators it implies, as one batch:
        // a crash keeps all of them or none.
        let mut inserted = Ok(());
        for kind in identifier.implied_types() {
            let step = self.fresh_id(None).and_then(|id| {
                self.insert_new(
                    &mut users,
                    now,
                    actor,
                    id,
                    user_id.clone(),
                    kind,
                    None,
                    None,
                    Some(value.clone()),
                    None,
                    suspended,
                    None,
                    Vec::new(),
                    Some(&mut events),
                )
                .map(|()| id)
            });
            match step {
                Ok(id) => ids.push(id),
                Err(e) => {
                    inserted = Err(e);
                    break;
                }
            }
        }
        // What was done is emitted even if a later step failed, so that the
        // sink holds everything memory holds.
        self.emit(&mut events)?;
        inserted?;
        Ok(ids)
    }

    /// Registers an implicit global-user authenticator with a known ID
    /// (replay only).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn register_implicit_at(
        &self,
        user: &str,
        kind: AuthenticatorType,
        app: Option<AppId>,
        identifier: Option<Arc<str>>,
        actor: &Actor,
        now: Timestamp,
        id: AuthenticatorId,
    ) -> Result<()> {
        self.healthy()?;
        check_name("user", user)?;
        if kind.supports(Operation::Register) {
            return Err(Error::Unsupported {
                kind,
                operation: Operation::RegisterImplicit,
            });
        }
        let mut users = self.users.write();
        let id = self.fresh_id(Some(id))?;
        let user_id = users.ensure(user);
        let suspended = users.get_mut(user).suspended();
        self.insert_new(
            &mut users,
            now,
            actor,
            id,
            user_id,
            kind,
            app,
            None,
            identifier,
            None,
            suspended,
            None,
            Vec::new(),
            None,
        )?;
        Ok(())
    }

    /// A successful sign-in with a social, OIDC or SAML account: registers
    /// the authenticator on first use, then records the success.
    /// `account` identifies the provider account (for example
    /// `google:1234`).
    pub fn record_first_use(
        &self,
        user: &str,
        kind: AuthenticatorType,
        account: &str,
        attempt: &Attempt<'_>,
    ) -> Result<(AuthenticatorId, AttemptOutcome)> {
        self.healthy()?;
        check_name("user", user)?;
        check_name("account", account)?;
        app_name(attempt.app)?;
        if kind.info().registration != RegistrationMode::ImplicitOnFirstUse {
            return Err(Error::Unsupported {
                kind,
                operation: Operation::RegisterImplicit,
            });
        }
        let now = self.read_clock()?;
        let found = {
            let users = self.users.read();
            self.records_of(users.map.get(user))
                .into_iter()
                .find(|r| r.kind == kind && r.identifier() == Some(account))
                .map(|r| r.id)
        };
        let id = match found {
            Some(id) => id,
            None => 'registered: {
                let mut users = self.users.write();
                // Looked for again under the write lock: two first uses at
                // once register one authenticator.
                if let Some(r) = self
                    .records_of(users.map.get(user))
                    .into_iter()
                    .find(|r| r.kind == kind && r.identifier() == Some(account))
                {
                    break 'registered r.id;
                }
                let id = self.fresh_id(None)?;
                let user_id = users.ensure(user);
                let suspended = users.get_mut(user).suspended();
                self.insert_new(
                    &mut users,
                    now,
                    &Actor::user(user),
                    id,
                    user_id,
                    kind,
                    Some(self.intern_app(attempt.app)),
                    None,
                    Some(Arc::from(account)),
                    None,
                    suspended,
                    None,
                    Vec::new(),
                    None,
                )?;
                id
            }
        };
        let outcome = self.record_success(&id, attempt)?;
        Ok((id, outcome))
    }

    /// Copies of a user's records, in registration order.
    pub(crate) fn records_of(&self, entry: Option<&UserEntry>) -> Vec<Record> {
        let Some(entry) = entry else {
            return Vec::new();
        };
        entry
            .authenticators
            .iter()
            .filter_map(|id| self.shard(id).read().records.get(id).cloned())
            .collect()
    }

    pub(crate) fn user_records(&self, user: &str) -> Vec<Record> {
        let users = self.users.read();
        self.records_of(users.map.get(user))
    }

    /// The users whose profile carries `identifier`.
    pub fn find_users(&self, identifier: &Identifier) -> Vec<String> {
        if identifier.kind == IdentifierKind::ExternalId {
            let users = self.users.read();
            let mut out: Vec<String> = users
                .by_identifier
                .get(identifier)
                .map(|v| v.iter().map(|u| u.to_string()).collect())
                .unwrap_or_default();
            if users.map.contains_key(identifier.value.as_str()) && !out.contains(&identifier.value)
            {
                out.push(identifier.value.clone());
            }
            return out;
        }
        self.users
            .read()
            .by_identifier
            .get(identifier)
            .map(|v| v.iter().map(|u| u.to_string()).collect())
            .unwrap_or_default()
    }

    /// The identifiers on a user's profile.
    pub fn identifiers(&self, user: &str) -> Result<Vec<Identifier>> {
        self.users
            .read()
            .map
            .get(user)
            .map(|e| e.identifiers().to_vec())
            .ok_or_else(|| Error::UnknownUser { user: user.into() })
    }

    /// Whether the user is suspended.
    pub fn is_suspended(&self, user: &str) -> Result<bool> {
        self.users
            .read()
            .map
            .get(user)
            .map(|e| e.suspended())
            .ok_or_else(|| Error::UnknownUser { user: user.into() })
    }

    /// A user's history: the actions performed on the user and by the user.
    pub fn history(&self, user: &str) -> UserHistory {
        self.sink.for_user(user)
    }

    /// Every event the sink keeps, in sequence order.
    pub fn events(&self) -> Vec<Event> {
        self.sink.events()
    }

    /// The number of the last event emitted.
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }
}

fn reason_arg(reason: Option<&str>) -> Result<Option<Arc<str>>> {
    match reason {
        None => Ok(None),
        Some(r) if r.len() > 1024 => Err(Error::InvalidArgument {
            what: "reason",
            why: format!("it is {} bytes long; at most 1024 are allowed", r.len()),
        }),
        Some(r) if r.chars().any(|c| c.is_control() && c != '\n') => Err(Error::InvalidArgument {
            what: "reason",
            why: "it contains control characters".into(),
        }),
        Some(r) => Ok(Some(Arc::from(r))),
    }
}

impl Record {
    /// The app as a shared string for events: reuses the record's own copy
    /// when it has one, so hot paths do not allocate.
    fn app_id(&self, app: &str) -> Option<AppId> {
        if let Some(a) = self
            .instances
            .iter()
            .filter_map(|i| i.app.as_ref())
            .find(|a| &***a == app)
        {
            return Some(a.clone());
        }
        self.links()
            .iter()
            .find(|l| &*l.app == app)
            .map(|l| l.app.clone())
    }
}

/// `t`, refused with a message naming `what` if it is outside the times the
/// engine accepts (see [`Timestamp::MIN_VALID`]).
#[inline]
pub(crate) fn valid_time(what: &'static str, t: Timestamp) -> Result<Timestamp> {
    if t.is_valid() {
        Ok(t)
    } else {
        Err(invalid_time(what, t))
    }
}

#[cold]
fn invalid_time(what: &'static str, t: Timestamp) -> Error {
    Error::InvalidArgument {
        what,
        why: format!(
            "the time {t} ({} ms since the Unix epoch) is outside the times authlock accepts, {} to {} (the years 1970 to 9999): the end of a lock or a wait could not be computed from it",
            t.as_millis(),
            Timestamp::MIN_VALID,
            Timestamp::MAX_VALID
        ),
    }
}

#[cfg(test)]
mod layout {
    /// A user in the index costs 48 bytes plus its ID's one allocation
    /// (shared with the records): part of the memory target.
    #[test]
    fn user_entries_stay_compact() {
        assert_eq!(std::mem::size_of::<super::UserEntry>(), 48);
    }
}
