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
//! <dir>/journal-<first seq>.log       the events from <first seq> on
//! <dir>/journal-<first seq>.log.torn  bytes of a torn tail, kept when it was cut off
//! ```
//!
//! A journal record is one call's events: a 16-byte header (the magic
//! `ALJ2`, the payload's length and CRC-32, and the CRC-32 of those twelve
//! bytes; little-endian), then the events as JSON. The events of all
//! threads reach the journal in sequence order: the engine numbers them and
//! hands them to the journal under one lock, and the journal refuses (and
//! stops the engine on) a batch that does not continue its numbering.
//! Opening the store loads the newest valid snapshot and replays the
//! journal after it through the same transitions that produced it (see
//! [`crate::EngineBuilder::replay`]), so the core transitions do not
//! change.
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
//! In every mode, a write or sync that fails (the background flusher's
//! included) stops the engine: every later call is refused with
//! [`Error::Storage`], because memory may now hold counts the disk does not.
//! Reopen the store to go on.
//!
//! # Crash safety
//!
//! - Only the end of the newest journal segment may be torn, and only as a
//!   write cut short leaves it: a header cut short, a record whose (checked)
//!   length runs past the end of the file, a final record whose payload
//!   checksum fails, or zeros from some point to the end (a file size
//!   committed before its data, as after a power cut). Such a tail is copied
//!   to `<segment>.log.torn`, then cut off, and [`OpenReport`] says how many
//!   bytes were dropped and where they were kept. Anything else, anywhere (a
//!   damaged header, a bad record followed by more data, a gap in the event
//!   numbers), is corruption: opening refuses it and changes nothing.
//! - A corrupt newest snapshot is refused. [`Recovery::PreviousSnapshot`]
//!   is the documented way out: it opens from the previous snapshot and every
//!   journal segment after it (compaction keeps them for this).
//! - Compaction ([`Engine::compact`], and by itself after
//!   [`StoreOptions::compact_every`] events, on a background thread) seals
//!   the journal segment in use and starts the next, then rebuilds the state
//!   at the seal from the newest snapshot and the sealed segments in a
//!   scratch engine, writes it to a temporary file, syncs it, renames it into
//!   place and syncs the directory. It takes none of the engine's locks, so
//!   calls go on meanwhile. A failed compaction leaves a store that opens as
//!   before; it is reported by [`Engine::store_status`] and tried again after
//!   another `compact_every` events.
//! - One process at a time: a second opener gets a clear "in use" error.
//! - A restore ([`Engine::restore_json`]) is refused on a store-backed
//!   engine: it would reset counters without a trace in the journal.
//!
//! # What the store does not guarantee
//!
//! - Someone with write access to the directory can replace it whole with
//!   an older copy (a rollback), or delete it; nothing inside the directory
//!   can tell. Detecting that needs an anchor outside it (a counter in a
//!   secure element or a server), which the host must provide.
//! - Checksums find accidental damage, not forgery: someone who can write
//!   the files can write valid records.
//! - With [`Durability::Batched`] or [`Durability::None`], a machine crash
//!   or power cut may lose the events not yet synced (the crash may then
//!   leave a torn tail, which opening cuts off as above).

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine::{Engine, EngineBuilder};
use crate::error::{Error, Result};
use crate::history::{Event, EventSink, MemoryHistory, UserHistory};
use crate::policy::PolicyDocument;
use crate::snapshot::Snapshot;
use crate::time::Clock;

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
    /// Where the bytes of a torn tail were kept before they were cut off
    /// (`<segment>.log.torn`), so that the repair destroys no evidence.
    pub torn_tail_saved_to: Option<PathBuf>,
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

/// A journal record's header: magic, payload length, payload CRC-32, and
/// the CRC-32 of those twelve bytes, so that a damaged length is never
/// taken for a record that was cut short.
const RECORD_MAGIC: [u8; 4] = *b"ALJ2";
const RECORD_HEADER: usize = 16;

/// One call's events as a journal record.
fn encode_record(payload: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l <= MAX_RECORD)
        .ok_or_else(|| {
            format!(
                "a call's events take {} bytes, more than a journal record holds",
                payload.len()
            )
        })?;
    let mut record = Vec::with_capacity(payload.len() + RECORD_HEADER);
    record.extend_from_slice(&RECORD_MAGIC);
    record.extend_from_slice(&len.to_le_bytes());
    record.extend_from_slice(&crc32(payload).to_le_bytes());
    let header_crc = crc32(&record[..12]);
    record.extend_from_slice(&header_crc.to_le_bytes());
    record.extend_from_slice(payload);
    Ok(record)
}

/// One journal segment, read and checked.
struct Segment {
    events: Vec<Event>,
    /// Length of the valid prefix.
    good_len: u64,
    /// Bytes after it (a torn tail).
    torn: u64,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads one segment. Only the end of the newest segment (`last`) may be
/// torn, and only in the ways a write cut short leaves a file: a header
/// cut short, a record whose (checked) length runs past the end, a final
/// record whose payload checksum fails, or zeros from some point to the
/// end (a size committed before the data). Anything else, anywhere, is
/// corruption, and the segment is refused.
fn read_segment(path: &Path, first: u64, last: bool) -> Result<Segment> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| io_err(format_args!("reading {}", path.display()), e))?;
    let mut events: Vec<Event> = Vec::new();
    let mut at = 0usize;
    let mut n = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let corrupt = |why: &str| {
            Error::Storage(format!(
                "journal {} is corrupt at byte {at} (record {n}): {why}; refusing to open rather than drop the acknowledged records it may hold",
                path.display()
            ))
        };
        let torn = |events: Vec<Event>| {
            Ok(Segment {
                events,
                good_len: at as u64,
                torn: rest.len() as u64,
            })
        };
        if last && rest.iter().all(|&b| b == 0) {
            return torn(events);
        }
        if rest.len() < RECORD_HEADER {
            return if last {
                torn(events)
            } else {
                Err(corrupt("a record header is cut short in a sealed segment"))
            };
        }
        if rest[..4] != RECORD_MAGIC {
            return Err(corrupt(
                "no record starts here (a journal authlock did not write, or a damaged one)",
            ));
        }
        if crc32(&rest[..12]) != le32(&rest[12..16]) {
            return Err(corrupt("the record header's checksum does not match"));
        }
        let len = le32(&rest[4..8]);
        if len > MAX_RECORD {
            return Err(corrupt("the record is longer than authlock writes"));
        }
        let len = len as usize;
        let Some(payload) = rest.get(RECORD_HEADER..RECORD_HEADER + len) else {
            return if last {
                torn(events)
            } else {
                Err(corrupt("the record is cut short in a sealed segment"))
            };
        };
        if crc32(payload) != le32(&rest[8..12]) {
            return if last && RECORD_HEADER + len == rest.len() {
                torn(events)
            } else {
                Err(corrupt("the record's checksum does not match"))
            };
        }
        let batch: Vec<Event> = serde_json::from_slice(payload)
            .map_err(|e| corrupt(&format!("the record does not decode ({e})")))?;
        if batch.is_empty() {
            return Err(corrupt("the record holds no event"));
        }
        // Events continue the segment's numbering without a gap.
        for e in batch {
            let want = match events.last() {
                Some(prev) => prev.seq.checked_add(1),
                None => Some(first),
            };
            if Some(e.seq) != want {
                return Err(corrupt(&format!(
                    "event number {} is out of sequence (expected {})",
                    e.seq,
                    want.map_or_else(|| "none".to_string(), |w| w.to_string())
                )));
            }
            events.push(e);
        }
        at += RECORD_HEADER + len;
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
    /// Events in the active segment.
    in_segment: u64,
    /// The number of the last event written (0: none yet).
    last_seq: u64,
    /// The background compactor has been asked to run.
    compaction_wanted: bool,
    stopped: bool,
}

/// How compactions went: what [`Engine::store_status`] reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStatus {
    /// The sequence number of the newest snapshot written or loaded (0: none).
    pub snapshot_seq: u64,
    /// Compactions that wrote a snapshot since the store was opened.
    pub compactions: u64,
    /// Compactions that failed since the store was opened.
    pub failed_compactions: u64,
    /// Why the latest compaction failed, if it did (cleared by the next
    /// one that succeeds).
    pub last_error: Option<String>,
}

/// What the journal, its background flusher and its background compactor
/// share. The threads hold only this, so dropping the engine stops them.
struct Shared {
    dir: PathBuf,
    durability: Durability,
    compact_every: Option<u64>,
    policies: PolicyDocument,
    clock: Arc<dyn Clock>,
    writer: Mutex<Writer>,
    /// Wakes the flusher (batched durability) and the compactor.
    wake: Condvar,
    /// The engine's fail-stop flag: set when the journal cannot be written
    /// or synced, by a call or by the flusher.
    failed: Arc<OnceLock<String>>,
    /// Serialises compactions and keeps their outcome.
    compaction: Mutex<StoreStatus>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, why: String) -> String {
        let message = format!("{why}; the engine refuses further calls: reopen it from its store");
        let _ = self.failed.set(message.clone());
        message
    }

    /// Seals the active segment and starts the next one, for events after
    /// the last written. Returns the last event of the sealed segments, or
    /// `None` when nothing was written since the last rotation. A failure
    /// here leaves the journal in doubt, so it stops the engine.
    fn rotate(&self) -> Result<Option<u64>> {
        let mut w = self.lock();
        if w.stopped {
            return Err(Error::Storage("the store is closed".into()));
        }
        if let Some(why) = self.failed.get() {
            return Err(Error::Storage(why.clone()));
        }
        if w.in_segment == 0 {
            return Ok(None);
        }
        let sealed = w.last_seq;
        let rotated = (|| -> Result<Out> {
            w.out
                .sync()
                .map_err(|e| io_err("syncing the journal before compaction", e))?;
            let out = open_segment(&self.dir, sealed + 1, self.durability)?;
            sync_dir(&self.dir)?;
            Ok(out)
        })();
        match rotated {
            Ok(out) => {
                w.out = out;
                w.unsynced = 0;
                w.in_segment = 0;
                Ok(Some(sealed))
            }
            Err(e) => Err(Error::Storage(self.fail(e.to_string()))),
        }
    }

    /// One compaction: seal the active segment, rebuild the state up to
    /// its end from the newest snapshot and the sealed segments (in a
    /// scratch engine, so the live engine's locks are not taken), write it
    /// as a snapshot, and remove what the two newest snapshots no longer
    /// need. Returns the newest snapshot's sequence number.
    fn compact(&self) -> Result<u64> {
        let mut status = self.compaction.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = self.compact_locked(status.snapshot_seq);
        match &outcome {
            Ok(seq) => {
                if *seq != status.snapshot_seq {
                    status.compactions += 1;
                }
                status.snapshot_seq = *seq;
                status.last_error = None;
            }
            Err(e) => {
                status.failed_compactions += 1;
                status.last_error = Some(e.to_string());
            }
        }
        outcome
    }

    fn compact_locked(&self, current: u64) -> Result<u64> {
        let Some(sealed) = self.rotate()? else {
            return Ok(current);
        };
        let listing = list(&self.dir)?;
        let loaded = load(
            &self.dir,
            &listing,
            &self.policies,
            &self.clock,
            Recovery::Strict,
            Some(sealed),
        )?;
        if loaded.engine.last_seq() != sealed {
            return Err(Error::Storage(format!(
                "compaction rebuilt the state to event {} where the sealed journal ends at {sealed}",
                loaded.engine.last_seq()
            )));
        }
        if loaded.report.snapshot_seq == sealed {
            return Ok(sealed);
        }
        write_snapshot(&self.dir, sealed, &loaded.engine.snapshot_json())?;
        prune(&self.dir)?;
        Ok(sealed)
    }
}

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

/// Removes snapshots older than the previous one, and journal segments
/// that only the removed snapshots needed (the previous snapshot keeps the
/// segments after it, for [`Recovery::PreviousSnapshot`]).
fn prune(dir: &Path) -> Result<()> {
    let l = list(dir)?;
    if l.snapshots.len() <= 2 {
        return Ok(());
    }
    let keep_from = l.snapshots[l.snapshots.len() - 2];
    for s in l.snapshots.iter().filter(|&&s| s < keep_from) {
        let _ = fs::remove_file(dir.join(snapshot_name(*s)));
    }
    // The segment holding the event after `keep_from`, and every later one.
    if let Some(first_kept) = l.journals.iter().rposition(|&j| j <= keep_from + 1) {
        for j in &l.journals[..first_kept] {
            let _ = fs::remove_file(dir.join(journal_name(*j)));
        }
    }
    sync_dir(dir)
}

/// The journal: an [`EventSink`] that writes every call's events to disk
/// (and keeps them in memory for history queries since the store was
/// opened).
pub(crate) struct JournalSink {
    memory: MemoryHistory,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    _lock: File,
}

impl JournalSink {
    /// The fail-stop flag the engine shares with the store.
    pub(crate) fn failure_flag(&self) -> Arc<OnceLock<String>> {
        self.shared.failed.clone()
    }

    fn start_threads(&self) {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        if let Durability::Batched { max_delay, .. } = self.shared.durability {
            let shared = self.shared.clone();
            if let Ok(h) = std::thread::Builder::new()
                .name("authlock-journal-flush".into())
                .spawn(move || flusher(&shared, max_delay))
            {
                threads.push(h);
            }
        }
        if self.shared.compact_every.is_some() {
            let shared = self.shared.clone();
            if let Ok(h) = std::thread::Builder::new()
                .name("authlock-compactor".into())
                .spawn(move || compactor(&shared))
            {
                threads.push(h);
            }
        }
    }

    /// Writes (and, as the durability says, syncs) one journal record.
    fn write_journal(&self, events: &[Event]) -> std::result::Result<(), String> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(());
        };
        let payload = serde_json::to_vec(events).map_err(|e| format!("encoding events: {e}"))?;
        let record = encode_record(&payload)?;
        let sh = &self.shared;
        let mut w = sh.lock();
        if w.stopped {
            return Err("the store is closed".into());
        }
        if let Some(why) = sh.failed.get() {
            return Err(why.clone());
        }
        if w.last_seq.checked_add(1) != Some(first.seq) {
            // The pipeline hands events over in order; anything else would
            // write a journal that does not replay.
            return Err(sh.fail(format!(
                "the journal was handed event {} after event {}",
                first.seq, w.last_seq
            )));
        }
        if let Err(e) = w.out.write_all(&record) {
            return Err(sh.fail(format!("writing the journal in {}: {e}", sh.dir.display())));
        }
        w.last_seq = last.seq;
        w.unsynced += events.len();
        w.in_segment += events.len() as u64;
        let sync_now = match sh.durability {
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
            if let Err(e) = w.out.sync() {
                return Err(sh.fail(format!("syncing the journal in {}: {e}", sh.dir.display())));
            }
            w.unsynced = 0;
        }
        if !w.compaction_wanted && sh.compact_every.is_some_and(|n| w.in_segment >= n) {
            w.compaction_wanted = true;
            sh.wake.notify_all();
        }
        Ok(())
    }
}

/// The batched-durability flusher: syncs at most every `max_delay`. A
/// failed sync stops the engine, as it does in `sync` mode.
fn flusher(shared: &Shared, max_delay: Duration) {
    let mut w = shared.lock();
    loop {
        // Checked before each wait too: the engine may have been dropped
        // before this thread first took the lock.
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
        if w.unsynced > 0 {
            match w.out.sync() {
                Ok(()) => w.unsynced = 0,
                Err(e) => {
                    shared.fail(format!(
                        "syncing the journal in {}: {e}",
                        shared.dir.display()
                    ));
                    return;
                }
            }
        }
    }
}

/// The background compactor: runs a compaction each time the active
/// segment reaches `compact_every` events. A failed compaction is kept in
/// the store's status and tried again after another `compact_every`
/// events; the journal keeps every event meanwhile.
fn compactor(shared: &Shared) {
    loop {
        {
            let mut w = shared.lock();
            while !w.compaction_wanted && !w.stopped {
                w = shared.wake.wait(w).unwrap_or_else(|p| p.into_inner());
            }
            if w.stopped {
                return;
            }
            w.compaction_wanted = false;
        }
        // `compact` keeps its outcome, the error included, in the store's
        // status (`Engine::store_status`); the next threshold retries.
        shared.compact().ok();
    }
}

impl Drop for JournalSink {
    fn drop(&mut self) {
        {
            let mut w = self.shared.lock();
            w.stopped = true;
            let _ = w.out.flush();
            if self.shared.durability != Durability::None {
                let _ = w.out.sync();
            }
        }
        self.shared.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for h in threads {
            let _ = h.join();
        }
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

/// A store's state rebuilt from its files.
struct Loaded {
    /// A scratch engine holding the state.
    engine: Engine,
    report: OpenReport,
    /// The events replayed after the snapshot.
    tail: Vec<Event>,
    /// The newest segment's torn tail: its path and the length to keep.
    truncate: Option<(PathBuf, u64)>,
    /// The segment new events go to.
    active: u64,
}

/// Rebuilds the state from the newest snapshot (or, as `recovery` allows,
/// the previous one) and the journal segments after it, up to event
/// `upto` when given (a compaction, which reads sealed segments only; the
/// active one may still be written). Every event must follow from the ones
/// before it.
fn load(
    dir: &Path,
    listing: &Listing,
    policies: &PolicyDocument,
    clock: &Arc<dyn Clock>,
    recovery: Recovery,
    upto: Option<u64>,
) -> Result<Loaded> {
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
                match (recovery, prev) {
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
    if let Some(file_seq) = (!report.used_previous_snapshot).then_some(newest).flatten()
        && file_seq != base_seq
    {
        return Err(Error::Storage(format!(
            "snapshot {} says it holds the state after event {base_seq}",
            dir.join(snapshot_name(file_seq)).display()
        )));
    }

    // Segments after the snapshot, in order; only the newest may be torn.
    // A segment starting at or before the snapshot may still hold events
    // after it (the previous snapshot's segment, when falling back).
    let start = listing
        .journals
        .iter()
        .rposition(|&j| j <= base_seq + 1)
        .unwrap_or(0);
    let segments: Vec<u64> = listing.journals[start..]
        .iter()
        .copied()
        .filter(|&j| upto.is_none_or(|u| j <= u))
        .collect();
    if let Some(&first) = segments.first()
        && first > base_seq + 1
    {
        return Err(Error::Storage(format!(
            "the journal in {} starts at event {first}, but the snapshot ends at event {base_seq}: events are missing",
            dir.display()
        )));
    }
    let mut tail: Vec<Event> = Vec::new();
    let mut truncate: Option<(PathBuf, u64)> = None;
    for (i, first) in segments.iter().enumerate() {
        let path = dir.join(journal_name(*first));
        let last = upto.is_none() && i + 1 == segments.len();
        let seg = read_segment(&path, *first, last)?;
        if let (Some(next), Some(end)) = (segments.get(i + 1), seg.events.last())
            && end.seq.checked_add(1) != Some(*next)
        {
            return Err(Error::Storage(format!(
                "journal {} ends at event {} but the next segment starts at {next}",
                path.display(),
                end.seq
            )));
        }
        if seg.torn > 0 {
            report.dropped_tail_bytes = seg.torn;
            truncate = Some((path.clone(), seg.good_len));
        }
        tail.extend(
            seg.events
                .into_iter()
                .filter(|e| e.seq > base_seq && upto.is_none_or(|u| e.seq <= u)),
        );
    }
    report.replayed_events = tail.len() as u64;

    // Recover in a scratch engine, checking every event follows.
    let engine = Engine::builder(policies.clone())
        .clock_arc(clock.clone())
        .build();
    if let Some(s) = &snapshot {
        engine.restore(s).map_err(|e| {
            Error::Storage(format!(
                "the snapshot in {} cannot be restored: {e}",
                dir.display()
            ))
        })?;
    }
    crate::replay::replay_into(&engine, &tail).map_err(|e| {
        Error::Storage(format!(
            "the journal in {} does not replay: {e}",
            dir.display()
        ))
    })?;
    let active = match segments.last() {
        Some(&first) => first,
        None => base_seq + 1,
    };
    Ok(Loaded {
        engine,
        report,
        tail,
        truncate,
        active,
    })
}

/// Keeps the bytes of a torn tail beside the journal (`<segment>.torn`)
/// before they are cut off, so that the evidence survives the repair.
fn save_torn_tail(path: &Path, keep: u64) -> Result<PathBuf> {
    let saved = path.with_extension("log.torn");
    let copy = || -> std::io::Result<()> {
        let mut f = File::open(path)?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        let tail = bytes.get(keep as usize..).unwrap_or_default();
        let mut out = OpenOptions::new().create(true).append(true).open(&saved)?;
        out.write_all(tail)?;
        out.sync_all()
    };
    copy().map_err(|e| {
        io_err(
            format_args!("saving the torn tail of {}", path.display()),
            e,
        )
    })?;
    Ok(saved)
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
        if options.compact_every == Some(0) {
            return Err(Error::InvalidArgument {
                what: "compact_every",
                why: "compacting after every 0 events is not a threshold: give a count above zero, or none to compact only on request".into(),
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
        OpenOptions::new()
            .append(true)
            .open(&lock_path)
            .and_then(|mut f| f.write_all(b""))
            .map_err(|e| io_err(format_args!("store {} is not writable", dir.display()), e))?;

        let listing = list(&dir)?;
        let loaded = load(
            &dir,
            &listing,
            &self.policies,
            &self.clock,
            options.recovery,
            None,
        )?;
        let mut report = loaded.report;
        if let Some((path, len)) = &loaded.truncate {
            report.torn_tail_saved_to = Some(save_torn_tail(path, *len)?);
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| {
                    f.set_len(*len)?;
                    f.sync_all()
                })
                .map_err(|e| {
                    io_err(
                        format_args!("truncating the torn tail of {}", path.display()),
                        e,
                    )
                })?;
        }
        let out = open_segment(&dir, loaded.active, options.durability)?;
        sync_dir(&dir)?;
        let memory = MemoryHistory::new();
        memory.append(&loaded.tail).map_err(Error::Storage)?;
        let last_seq = loaded.engine.last_seq();
        let in_segment = loaded
            .tail
            .iter()
            .filter(|e| e.seq >= loaded.active)
            .count() as u64;
        let sink = Arc::new(JournalSink {
            memory,
            shared: Arc::new(Shared {
                dir,
                durability: options.durability,
                compact_every: options.compact_every,
                policies: self.policies.clone(),
                clock: self.clock.clone(),
                writer: Mutex::new(Writer {
                    out,
                    unsynced: 0,
                    in_segment,
                    last_seq,
                    compaction_wanted: false,
                    stopped: false,
                }),
                wake: Condvar::new(),
                failed: Arc::new(OnceLock::new()),
                compaction: Mutex::new(StoreStatus {
                    snapshot_seq: report.snapshot_seq,
                    ..StoreStatus::default()
                }),
            }),
            threads: Mutex::new(Vec::new()),
            _lock: lock,
        });
        sink.start_threads();
        let engine = self.history(sink.clone()).build_with_store(sink);
        engine.adopt_state(&loaded.engine);
        Ok((engine, report))
    }
}

impl Engine {
    /// Compacts the store now, on this thread: seals the journal segment
    /// in use, rebuilds the state at its end from the newest snapshot and
    /// the sealed segments (in a scratch engine: calls go on meanwhile),
    /// writes that state as a snapshot (temporary file, sync, rename,
    /// directory sync), and removes what the two newest snapshots no longer
    /// need. Returns the newest snapshot's sequence number. An error leaves
    /// a store that opens as before: the journal still holds every event.
    ///
    /// With [`StoreOptions::compact_every`] set, the store also compacts by
    /// itself, on a background thread, never on a caller's.
    pub fn compact(&self) -> Result<u64> {
        let store = self
            .store()
            .ok_or_else(|| Error::Storage("this engine is not backed by a store".into()))?;
        self.healthy()?;
        store.shared.compact()
    }

    /// How the store's compactions went; `None` for an engine without a
    /// store. A background compaction that fails does not stop the engine
    /// (the journal keeps every event); it is tried again after another
    /// `compact_every` events, and its error is kept here until one
    /// succeeds.
    pub fn store_status(&self) -> Option<StoreStatus> {
        self.store().map(|s| {
            s.shared
                .compaction
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal whose file cannot be synced (a pipe: writes succeed,
    /// `fdatasync` fails) behind an engine with batched durability.
    fn engine_over_a_pipe(name: &str) -> (Engine, Arc<JournalSink>, std::io::PipeReader, PathBuf) {
        let dir = std::env::temp_dir().join(format!("authlock-pipe-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        let out = Out::Direct(File::from(std::os::fd::OwnedFd::from(writer)));
        let policies = PolicyDocument::new();
        let clock: Arc<dyn Clock> = Arc::new(crate::time::SystemClock);
        let sink = Arc::new(JournalSink {
            memory: MemoryHistory::new(),
            shared: Arc::new(Shared {
                dir: dir.clone(),
                durability: Durability::Batched {
                    max_delay: Duration::from_millis(1),
                    max_events: 1000,
                },
                compact_every: None,
                policies: policies.clone(),
                clock,
                writer: Mutex::new(Writer {
                    out,
                    unsynced: 0,
                    in_segment: 0,
                    last_seq: 0,
                    compaction_wanted: false,
                    stopped: false,
                }),
                wake: Condvar::new(),
                failed: Arc::new(OnceLock::new()),
                compaction: Mutex::new(StoreStatus::default()),
            }),
            threads: Mutex::new(Vec::new()),
            _lock: File::open(&dir).unwrap(),
        });
        let engine = Engine::builder(policies)
            .history(sink.clone())
            .build_with_store(sink.clone());
        (engine, sink, reader, dir)
    }

    #[test]
    fn a_sync_that_fails_in_the_batched_flusher_stops_the_engine() {
        use crate::{AuthenticatorType, Registration};
        let (engine, sink, _reader, dir) = engine_over_a_pipe("sync");
        let pw = engine
            .register(&Registration::new("a", AuthenticatorType::Password, "web"))
            .expect("the write reaches the pipe; nothing is synced yet");
        assert_eq!(sink.shared.lock().unsynced, 1);
        // The flusher's next sync fails: it stops the engine and ends.
        flusher(&sink.shared, Duration::from_millis(1));
        let err = engine.check(&pw, "web").unwrap_err();
        assert!(
            matches!(&err, Error::Storage(m) if m.contains("syncing the journal")),
            "{err:?}"
        );
        let err = engine
            .record_failure(&pw, &crate::Attempt::in_app("web"))
            .unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err:?}");
        assert_eq!(engine.last_seq(), 1, "nothing more was counted or written");
        drop(engine);
        drop(sink);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_batch_handed_over_out_of_order_stops_the_engine() {
        let (engine, sink, _reader, dir) = engine_over_a_pipe("order");
        let pw = engine
            .register(&crate::Registration::new(
                "a",
                crate::AuthenticatorType::Password,
                "web",
            ))
            .unwrap();
        let mut events = engine.events();
        events[0].seq = 5;
        let err = sink.append(&events).unwrap_err();
        assert!(err.contains("handed event 5 after event 1"), "{err}");
        assert!(engine.check(&pw, "web").is_err(), "the engine is stopped");
        drop(engine);
        drop(sink);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
