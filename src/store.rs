//! The durable file store: counters that survive a killed process.
//!
//! An attacker who can kill and restart an app must not get fresh PIN
//! attempts, and a restarted backend must not forget a lock. The store keeps
//! the engine's events in an append-only journal and its state in periodic
//! snapshots, in a directory the host names:
//!
//! ```text
//! <dir>/LOCK                          held by the one process using the store
//! <dir>/snapshot-<seq>.snap           state after event <seq> (the newest two are kept)
//! <dir>/journal-<first seq>.log       the events after a snapshot
//! ```
//!
//! A journal record is one call's events: `u32` length, `u32` CRC-32 of the
//! payload (both little-endian), then the events as JSON. Opening the store
//! loads the newest valid snapshot and replays the journal after it through
//! the same transitions that produced it (see [`crate::EngineBuilder::replay`]), so
//! the core transitions do not change. The store is an [`EventSink`]: the
//! engine writes each call's events to it while it holds the authenticator.
//!
//! # Durability
//!
//! - [`Durability::Sync`] (the default): every call's events are written and
//!   `fdatasync`ed before the call returns.
//! - [`Durability::Batched`]: group commit. Each call's events are written
//!   to the file before it returns, but synced at most every `max_delay` or
//!   every `max_events` events, whichever comes first (a background thread
//!   syncs on the delay). A killed process loses nothing (the operating
//!   system has the writes); a machine crash or power cut may lose the
//!   events of that window. Reservations are always synced before `reserve`
//!   returns: that is their whole point.
//! - [`Durability::None`]: events are buffered in memory and written when
//!   the buffer fills or the engine is dropped; a killed process loses the
//!   buffer (tests, simulations).
//!
//! # Crash safety
//!
//! - A journal that ends in a torn or corrupt record (a write cut short) is
//!   truncated to its last good record on open, and [`OpenReport`] says how
//!   many bytes were dropped. A bad record followed by more data is
//!   corruption, not a torn write: opening refuses it.
//! - A corrupt newest snapshot is refused. [`Recovery::PreviousSnapshot`]
//!   is the documented way out: it opens from the previous snapshot and every
//!   journal segment after it (compaction keeps them for this).
//! - Compaction ([`Engine::compact`]) writes a snapshot to a temporary file,
//!   syncs it, renames it into place and syncs the directory, and starts a
//!   new journal segment at the same moment, under the engine's locks.
//! - One process at a time: a second opener gets a clear "in use" error.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine::{Engine, EngineBuilder};
use crate::error::{Error, Result};
use crate::history::{Event, EventSink, MemoryHistory, UserHistory};
use crate::snapshot::Snapshot;

/// When journal writes reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Each call's events are synced before it returns.
    #[default]
    Sync,
    /// Group commit: synced at most every `max_delay` or `max_events`
    /// events; reservations are always synced at once.
    Batched {
        /// The longest time an event stays unsynced.
        max_delay: Duration,
        /// The most events that stay unsynced.
        max_events: usize,
    },
    /// Buffered, never synced (tests and simulations).
    None,
}

/// What to do when the newest snapshot is corrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Refuse to open, with an error that says what is wrong.
    #[default]
    Strict,
    /// Open from the previous snapshot and the journal after it.
    PreviousSnapshot,
}

/// How to open a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// When writes reach the disk.
    pub durability: Durability,
    /// Create the directory if it does not exist. Off by default: a
    /// mistyped path must not silently start a fresh store with fresh
    /// attempts.
    pub create: bool,
    /// What to do with a corrupt newest snapshot.
    pub recovery: Recovery,
    /// Compact after this many events since the last snapshot (checked
    /// after each call); `None` compacts only on [`Engine::compact`].
    pub compact_every: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Sync,
            create: false,
            recovery: Recovery::Strict,
            compact_every: Some(100_000),
        }
    }
}

/// What opening a store found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The sequence number of the snapshot loaded (0: none).
    pub snapshot_seq: u64,
    /// Events replayed from the journal.
    pub replayed_events: u64,
    /// Bytes dropped from the end of the journal (a torn last write).
    pub dropped_tail_bytes: u64,
    /// Whether the newest snapshot was corrupt and the previous one used.
    pub used_previous_snapshot: bool,
}

const SNAPSHOT_HEADER: &str = "authlock-store-snapshot";
const MAX_RECORD: u32 = 256 << 20;

fn io_err(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::Storage(format!("{what}: {e}"))
}

/// CRC-32 (IEEE 802.3), the checksum of journal records and snapshots.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn snapshot_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.snap")
}

fn journal_name(first: u64) -> String {
    format!("journal-{first:020}.log")
}

fn parse_seq(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    name.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(format_args!("syncing directory {}", dir.display()), e))
}

/// The files of a store directory, sorted by sequence number.
struct Listing {
    snapshots: Vec<u64>,
    journals: Vec<u64>,
}

fn list(dir: &Path) -> Result<Listing> {
    let mut l = Listing {
        snapshots: Vec::new(),
        journals: Vec::new(),
    };
    let entries =
        fs::read_dir(dir).map_err(|e| io_err(format_args!("reading {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(format_args!("reading {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = parse_seq(name, "snapshot-", ".snap") {
            l.snapshots.push(seq);
        } else if let Some(first) = parse_seq(name, "journal-", ".log") {
            l.journals.push(first);
        } else if name.ends_with(".tmp") {
            // A snapshot whose write was cut short: never renamed into place.
            let _ = fs::remove_file(entry.path());
        }
    }
    l.snapshots.sort_unstable();
    l.journals.sort_unstable();
    Ok(l)
}

fn read_snapshot(path: &Path) -> Result<Snapshot> {
    let bad =
        |why: String| Error::Storage(format!("snapshot {} is corrupt: {why}", path.display()));
    let bytes =
        fs::read(path).map_err(|e| io_err(format_args!("reading {}", path.display()), e))?;
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header line".into()))?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| bad("header is not text".into()))?;
    let mut parts = header.split(' ');
    if parts.next() != Some(SNAPSHOT_HEADER) {
        return Err(bad(format!(
            "header `{}` is not an authlock store snapshot",
            header.escape_debug()
        )));
    }
    let field = |p: Option<&str>, key: &str| -> Result<String> {
        p.and_then(|p| p.strip_prefix(key))
            .map(str::to_string)
            .ok_or_else(|| bad(format!("header lacks `{key}`")))
    };
    let len: usize = field(parts.next(), "len=")?
        .parse()
        .map_err(|_| bad("bad length".into()))?;
    let crc = u32::from_str_radix(&field(parts.next(), "crc32=")?, 16)
        .map_err(|_| bad("bad checksum field".into()))?;
    let body = &bytes[nl + 1..];
    if body.len() != len {
        return Err(bad(format!(
            "{} bytes of {len} present (truncated)",
            body.len()
        )));
    }
    if crc32(body) != crc {
        return Err(bad("checksum mismatch".into()));
    }
    let text = std::str::from_utf8(body).map_err(|_| bad("body is not UTF-8".into()))?;
    Snapshot::from_json(text).map_err(|e| bad(e.to_string()))
}

fn write_snapshot(dir: &Path, seq: u64, body: &str) -> Result<()> {
    let tmp = dir.join(format!("{}.tmp", snapshot_name(seq)));
    let fin = dir.join(snapshot_name(seq));
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        writeln!(
            f,
            "{SNAPSHOT_HEADER} len={} crc32={:08x}",
            body.len(),
            crc32(body.as_bytes())
        )?;
        f.write_all(body.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &fin)
    };
    write().map_err(|e| io_err(format_args!("writing snapshot {}", fin.display()), e))?;
    sync_dir(dir)
}

/// One journal segment, read and checked.
struct Segment {
    events: Vec<Event>,
    /// Length of the valid prefix.
    good_len: u64,
    /// Bytes after it (a torn tail).
    torn: u64,
}

fn read_segment(path: &Path, last: bool) -> Result<Segment> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| io_err(format_args!("reading {}", path.display()), e))?;
    let mut events = Vec::new();
    let mut at = 0usize;
    let mut n = 0usize;
    while at < bytes.len() {
        let rest = bytes.len() - at;
        let corrupt = |why: &str| {
            Error::Storage(format!(
                "journal {} is corrupt at byte {at} (record {n}): {why}; refusing to drop the acknowledged records after it",
                path.display()
            ))
        };
        let header_ok = rest >= 8;
        let (len, crc) = if header_ok {
            (
                u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")),
                u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")),
            )
        } else {
            (0, 0)
        };
        let fits = header_ok && len <= MAX_RECORD && (len as usize) <= rest - 8;
        let valid = fits && crc32(&bytes[at + 8..at + 8 + len as usize]) == crc;
        if !valid {
            // A torn write can only be the very last record of the newest
            // segment: a record cut short, or a complete last one whose
            // checksum fails. Anything followed by more data is corruption.
            let ends_here = !fits || at + 8 + len as usize == bytes.len();
            if last && ends_here {
                return Ok(Segment {
                    events,
                    good_len: at as u64,
                    torn: rest as u64,
                });
            }
            return Err(corrupt(if fits {
                "checksum mismatch"
            } else {
                "bad record length"
            }));
        }
        let payload = &bytes[at + 8..at + 8 + len as usize];
        let batch: Vec<Event> = serde_json::from_slice(payload)
            .map_err(|e| corrupt(&format!("the record does not decode ({e})")))?;
        events.extend(batch);
        at += 8 + len as usize;
        n += 1;
    }
    Ok(Segment {
        events,
        good_len: at as u64,
        torn: 0,
    })
}

enum Out {
    Direct(File),
    Buffered(BufWriter<File>),
}

impl Out {
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Direct(f) => f.write_all(data),
            Out::Buffered(b) => b.write_all(data),
        }
    }
    fn sync(&mut self) -> std::io::Result<()> {
        match self {
            Out::Direct(f) => f.sync_data(),
            Out::Buffered(b) => {
                b.flush()?;
                b.get_ref().sync_data()
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Direct(_) => Ok(()),
            Out::Buffered(b) => b.flush(),
        }
    }
}

struct Writer {
    out: Out,
    /// Events written but not yet synced.
    unsynced: usize,
    /// Events since the last snapshot.
    since_snapshot: u64,
    stopped: bool,
}

/// What the journal and its background flusher share. The flusher holds
/// only this, so dropping the engine stops it at once.
struct Shared {
    writer: Mutex<Writer>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The journal: an [`EventSink`] that writes every call's events to disk
/// (and keeps them in memory for history queries since the last snapshot).
pub(crate) struct JournalSink {
    dir: PathBuf,
    durability: Durability,
    compact_every: Option<u64>,
    memory: MemoryHistory,
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    _lock: File,
}

impl JournalSink {
    fn open_segment(dir: &Path, first: u64, durability: Durability) -> Result<Out> {
        let path = dir.join(journal_name(first));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err(format_args!("opening {}", path.display()), e))?;
        // Sync and batched write each call to the file at once (a killed
        // process loses nothing); only `None` buffers in memory.
        Ok(match durability {
            Durability::Sync | Durability::Batched { .. } => Out::Direct(file),
            Durability::None => Out::Buffered(BufWriter::with_capacity(64 << 10, file)),
        })
    }

    fn start_flusher(&self) {
        let Durability::Batched { max_delay, .. } = self.durability else {
            return;
        };
        let shared = self.shared.clone();
        let handle = std::thread::Builder::new()
            .name("authlock-journal-flush".into())
            .spawn(move || {
                let mut w = shared.lock();
                loop {
                    // Checked before each wait too: the engine may have been
                    // dropped before this thread first took the lock.
                    if w.stopped {
                        return;
                    }
                    w = shared
                        .wake
                        .wait_timeout(w, max_delay)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    if w.stopped {
                        return;
                    }
                    if w.unsynced > 0 && w.out.sync().is_ok() {
                        w.unsynced = 0;
                    }
                }
            });
        if let Ok(h) = handle {
            *self.flusher.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
        }
    }

    /// Starts a new segment for events from `first` on (called under the
    /// engine's locks, so no event is written in between).
    fn rotate(&self, first: u64) -> Result<()> {
        let mut w = self.shared.lock();
        w.out
            .sync()
            .map_err(|e| io_err("syncing the journal before compaction", e))?;
        w.out = Self::open_segment(&self.dir, first, self.durability)?;
        w.unsynced = 0;
        w.since_snapshot = 0;
        sync_dir(&self.dir)
    }

    fn should_compact(&self) -> bool {
        let w = self.shared.lock();
        self.compact_every.is_some_and(|n| w.since_snapshot >= n)
    }

    /// Removes snapshots older than the previous one, and journal segments
    /// that only the removed snapshots needed.
    fn prune(&self) -> Result<()> {
        let l = list(&self.dir)?;
        if l.snapshots.len() <= 2 {
            return Ok(());
        }
        let keep_from = l.snapshots[l.snapshots.len() - 2];
        for s in l.snapshots.iter().filter(|&&s| s < keep_from) {
            let _ = fs::remove_file(self.dir.join(snapshot_name(*s)));
        }
        for j in l.journals.iter().filter(|&&j| j <= keep_from) {
            let _ = fs::remove_file(self.dir.join(journal_name(*j)));
        }
        sync_dir(&self.dir)
    }
}

impl Drop for JournalSink {
    fn drop(&mut self) {
        {
            let mut w = self.shared.lock();
            w.stopped = true;
            let _ = w.out.flush();
            if self.durability != Durability::None {
                let _ = w.out.sync();
            }
        }
        self.shared.wake.notify_all();
        if let Some(h) = self
            .flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = h.join();
        }
    }
}

impl JournalSink {
    /// Writes (and, as the durability says, syncs) one journal record.
    fn write_journal(&self, events: &[Event]) -> std::result::Result<(), String> {
        if events.is_empty() {
            return Ok(());
        }
        let payload = serde_json::to_vec(events).map_err(|e| format!("encoding events: {e}"))?;
        let mut record = Vec::with_capacity(payload.len() + 8);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        {
            let mut w = self.shared.lock();
            if w.stopped {
                return Err("the store is closed".into());
            }
            w.out
                .write_all(&record)
                .map_err(|e| format!("writing the journal in {}: {e}", self.dir.display()))?;
            w.unsynced += events.len();
            w.since_snapshot += events.len() as u64;
            let sync_now = match self.durability {
                Durability::Sync => true,
                Durability::Batched { max_events, .. } => {
                    w.unsynced >= max_events
                        || events
                            .iter()
                            .any(|e| matches!(e.action, crate::history::Action::Reserved { .. }))
                }
                Durability::None => false,
            };
            if sync_now {
                w.out
                    .sync()
                    .map_err(|e| format!("syncing the journal in {}: {e}", self.dir.display()))?;
                w.unsynced = 0;
            }
        }
        Ok(())
    }
}

impl EventSink for JournalSink {
    fn append(&self, events: &[Event]) -> std::result::Result<(), String> {
        self.write_journal(events)?;
        self.memory.append(events)
    }

    fn append_owned(&self, events: &mut Vec<Event>) -> std::result::Result<(), String> {
        self.write_journal(events)?;
        self.memory.append_owned(events)
    }

    fn events(&self) -> Vec<Event> {
        self.memory.events()
    }

    fn for_user(&self, user: &str) -> UserHistory {
        self.memory.for_user(user)
    }
}

impl EngineBuilder {
    /// Opens (or, with `options.create`, creates) the store in `dir` and
    /// returns the engine it backs, with its state recovered: the newest
    /// snapshot plus the journal after it. The builder's history sink is
    /// replaced by the store's journal; history queries return the events
    /// since the last snapshot.
    pub fn open_store(
        self,
        dir: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<(Engine, OpenReport)> {
        let dir = dir.as_ref().to_path_buf();
        if dir.as_os_str().is_empty() {
            return Err(Error::InvalidArgument {
                what: "store directory",
                why: "the path is empty".into(),
            });
        }
        if let Durability::Batched {
            max_delay,
            max_events,
        } = options.durability
            && (max_delay.is_zero() || max_events == 0)
        {
            return Err(Error::InvalidArgument {
                what: "durability",
                why: format!(
                    "batched durability needs a delay and an event count above zero (got {}ms and {max_events})",
                    max_delay.as_millis()
                ),
            });
        }
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Storage(format!(
                    "{} is not a directory",
                    dir.display()
                )));
            }
            Err(e) if e.kind() == ErrorKind::NotFound && options.create => {
                fs::create_dir_all(&dir)
                    .map_err(|e| io_err(format_args!("creating {}", dir.display()), e))?;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::Storage(format!(
                    "store directory {} does not exist (set create to make a new store)",
                    dir.display()
                )));
            }
            Err(e) => return Err(io_err(format_args!("opening {}", dir.display()), e)),
        }
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                io_err(
                    format_args!("creating the lock file {}", lock_path.display()),
                    e,
                )
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::Storage(format!(
                    "store {} is in use by another engine (its LOCK file is held)",
                    dir.display()
                )));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(io_err(format_args!("locking {}", lock_path.display()), e));
            }
        }
        // Writable? Find out now rather than at the first attempt.
        let probe = dir.join("LOCK");
        OpenOptions::new()
            .append(true)
            .open(&probe)
            .and_then(|mut f| f.write_all(b""))
            .map_err(|e| io_err(format_args!("store {} is not writable", dir.display()), e))?;

        let listing = list(&dir)?;
        let mut report = OpenReport::default();
        let newest = listing.snapshots.last().copied();
        let snapshot = match newest {
            None => None,
            Some(seq) => match read_snapshot(&dir.join(snapshot_name(seq))) {
                Ok(s) => Some(s),
                Err(e) => {
                    let prev = listing
                        .snapshots
                        .len()
                        .checked_sub(2)
                        .map(|i| listing.snapshots[i]);
                    match (options.recovery, prev) {
                        (Recovery::PreviousSnapshot, Some(p)) => {
                            report.used_previous_snapshot = true;
                            Some(read_snapshot(&dir.join(snapshot_name(p)))?)
                        }
                        (Recovery::PreviousSnapshot, None) => {
                            report.used_previous_snapshot = true;
                            None
                        }
                        (Recovery::Strict, _) => {
                            return Err(Error::Storage(format!(
                                "{e}; to recover, open with Recovery::PreviousSnapshot (the previous snapshot and the journal after it)"
                            )));
                        }
                    }
                }
            },
        };
        let base_seq = snapshot.as_ref().map_or(0, |s| s.last_seq);
        report.snapshot_seq = base_seq;

        // Segments after the snapshot, in order; only the newest may be torn.
        let segments: Vec<u64> = {
            // A segment starting at or before the snapshot may still hold
            // events after it (the previous snapshot's segment, when falling back).
            let start = listing
                .journals
                .iter()
                .rposition(|&j| j <= base_seq + 1)
                .unwrap_or(0);
            listing.journals[start..].to_vec()
        };
        let mut tail: Vec<Event> = Vec::new();
        let mut truncate: Option<(PathBuf, u64)> = None;
        for (i, first) in segments.iter().enumerate() {
            let path = dir.join(journal_name(*first));
            let last = i + 1 == segments.len();
            let seg = read_segment(&path, last)?;
            if seg.torn > 0 {
                report.dropped_tail_bytes = seg.torn;
                truncate = Some((path.clone(), seg.good_len));
            }
            tail.extend(seg.events.into_iter().filter(|e| e.seq > base_seq));
        }
        report.replayed_events = tail.len() as u64;

        // Recover in a scratch engine, checking every event follows.
        let scratch = Engine::builder(self.policies.clone())
            .clock_arc(self.clock.clone())
            .build();
        if let Some(s) = &snapshot {
            scratch.restore(s).map_err(|e| {
                Error::Storage(format!(
                    "the snapshot in {} cannot be restored: {e}",
                    dir.display()
                ))
            })?;
        }
        crate::replay::replay_into(&scratch, &tail).map_err(|e| {
            Error::Storage(format!(
                "the journal in {} does not replay: {e}",
                dir.display()
            ))
        })?;

        if let Some((path, len)) = truncate {
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| {
                    f.set_len(len)?;
                    f.sync_all()
                })
                .map_err(|e| {
                    io_err(
                        format_args!("truncating the torn tail of {}", path.display()),
                        e,
                    )
                })?;
        }
        let active = match segments.last() {
            Some(&first) => first,
            None => base_seq + 1,
        };
        let out = JournalSink::open_segment(&dir, active, options.durability)?;
        sync_dir(&dir)?;
        let memory = MemoryHistory::new();
        memory.append(&tail).map_err(Error::Storage)?;
        let sink = Arc::new(JournalSink {
            dir,
            durability: options.durability,
            compact_every: options.compact_every,
            memory,
            shared: Arc::new(Shared {
                writer: Mutex::new(Writer {
                    out,
                    unsynced: 0,
                    since_snapshot: tail.len() as u64,
                    stopped: false,
                }),
                wake: Condvar::new(),
            }),
            flusher: Mutex::new(None),
            _lock: lock,
        });
        sink.start_flusher();
        let engine = self.history(sink.clone()).build_with_store(sink);
        engine.adopt_state(&scratch);
        Ok((engine, report))
    }
}

impl Engine {
    /// Writes a snapshot of the whole state and starts a new journal
    /// segment, atomically (temporary file, sync, rename, directory sync);
    /// then removes what the two newest snapshots no longer need. Returns the
    /// snapshot's sequence number. An error leaves the store as it was, and
    /// the journal still holds every event.
    pub fn compact(&self) -> Result<u64> {
        let store = self
            .store()
            .ok_or_else(|| Error::Storage("this engine is not backed by a store".into()))?;
        self.healthy()?;
        let mut rotated = Ok(());
        let (seq, json) = self.snapshot_json_then(|seq| rotated = store.rotate(seq + 1));
        rotated?;
        write_snapshot(&store.dir, seq, &json)?;
        store.prune()?;
        Ok(seq)
    }

    /// Compacts when the store's `compact_every` threshold is passed.
    /// Failures are left for the next call: the journal keeps every event.
    pub(crate) fn maybe_compact(&self) {
        if self.store().is_some_and(|s| s.should_compact()) {
            let _ = self.compact();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
