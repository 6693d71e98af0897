//! Time as the engine sees it: millisecond timestamps handed in by the host.
//!
//! The core never reads the system clock itself. Every operation takes its
//! time from a [`Clock`] the host injects, so tests drive time with a
//! [`FakeClock`] and mobile apps can pass a trusted or monotonic source.
//! This module owns timestamps, durations as written in policy documents,
//! and the clock trait; it knows nothing about authenticators.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch (UTC).
///
/// Stored as one integer so that comparisons on the hot path are one
/// instruction and snapshots are exact. [`Display`](fmt::Display) renders
/// RFC 3339. `i64::MIN` milliseconds is the one value a timestamp cannot
/// hold ([`Timestamp::from_millis`] reads it as `i64::MIN + 1`): that spare
/// value is what an absent time is in `Option<Timestamp>`, which is
/// therefore no larger than a timestamp (records stay compact).
///
/// The engine works only with times in [`Timestamp::MIN_VALID`] ..=
/// [`Timestamp::MAX_VALID`] (the years 1970 to 9999): a clock reading or
/// event time outside that range is refused as invalid, so that the end of
/// any lock or wait can be computed.
///
/// ```
/// use authlock::Timestamp;
/// let t = Timestamp::from_millis(1_700_000_000_000);
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.000Z");
/// assert_eq!(Timestamp::parse_rfc3339("2023-11-14T22:13:20Z").unwrap(), t);
/// assert_eq!(std::mem::size_of::<Option<Timestamp>>(), 8);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(
    // The milliseconds with the sign bit flipped: unsigned order is the
    // signed order of the milliseconds, and `i64::MIN` is the zero a
    // `NonZeroU64` leaves free for `None`.
    NonZeroU64,
);

const SIGN: u64 = 1 << 63;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp::from_millis(0);

    /// The earliest time the engine accepts: the Unix epoch,
    /// 1970-01-01T00:00:00.000Z.
    pub const MIN_VALID: Timestamp = Timestamp::EPOCH;

    /// The latest time the engine accepts: 9999-12-31T23:59:59.999Z.
    pub const MAX_VALID: Timestamp = Timestamp::from_millis(253_402_300_799_999);

    /// The latest representable time (`i64::MAX` milliseconds), beyond
    /// every valid time.
    pub const MAX: Timestamp = Timestamp::from_millis(i64::MAX);

    /// A timestamp from milliseconds since the Unix epoch (`i64::MIN` reads
    /// as `i64::MIN + 1`).
    pub const fn from_millis(millis: i64) -> Self {
        match NonZeroU64::new((millis as u64) ^ SIGN) {
            Some(n) => Timestamp(n),
            None => Timestamp(NonZeroU64::MIN),
        }
    }

    /// A timestamp from whole seconds since the Unix epoch (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp::from_millis(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    #[inline]
    pub const fn as_millis(self) -> i64 {
        (self.0.get() ^ SIGN) as i64
    }

    /// Whether the engine accepts this time (see [`Timestamp::MIN_VALID`]
    /// and [`Timestamp::MAX_VALID`]).
    #[inline]
    pub fn is_valid(self) -> bool {
        Timestamp::MIN_VALID <= self && self <= Timestamp::MAX_VALID
    }

    /// This time plus a duration, saturating at the end of representable time.
    ///
    /// The engine's own rules use [`Timestamp::checked_plus`], so that a
    /// time past the end is never mistaken for one already reached.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp::from_millis(self.as_millis().saturating_add(duration_millis(d)))
    }

    /// This time plus a duration, or `None` if that is past the end of
    /// representable time (`i64::MAX` milliseconds).
    #[inline]
    pub fn checked_plus(self, d: Duration) -> Option<Timestamp> {
        let ms = i64::try_from(d.as_millis()).ok()?;
        self.as_millis().checked_add(ms).map(Timestamp::from_millis)
    }

    /// The duration from `earlier` to `self`, or zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.as_millis().saturating_sub(earlier.as_millis()).max(0) as u64)
    }

    /// Parses an RFC 3339 timestamp such as `2026-01-01T09:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Timestamp::from_millis(t.timestamp_millis()))
            .map_err(|e| format!("`{s}` is not an RFC 3339 time: {e}"))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Timestamp").field(&self.as_millis()).finish()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.as_millis())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Timestamp::from_millis)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp_millis(self.as_millis()) {
            Some(t) => write!(
                f,
                "{}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            None => write!(f, "{}ms", self.as_millis()),
        }
    }
}

/// Milliseconds in a duration, saturating at `i64::MAX`.
pub(crate) fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Parses a duration as written in policy documents and scenarios.
///
/// Accepted: one or more `<integer><unit>` parts with units `ms`, `s`, `m`,
/// `h`, `d` (for example `500ms`, `30s`, `15m`, `1h30m`, `1d`). A bare `0`
/// is zero. Anything else is refused with a message saying what was expected.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(authlock::parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert!(authlock::parse_duration("15 minutes").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err =
        || format!("`{s}` is not a duration: expected parts such as 500ms, 30s, 15m, 1h or 1d");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(err());
    }
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err());
        }
        let n: u64 = t[start..i].parse().map_err(|_| err())?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ms: u64 = match &t[ustart..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(err()),
        };
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{s}` is too long a duration"))?;
    }
    Ok(Duration::from_millis(total))
}

/// Renders a duration in the format [`parse_duration`] reads (`1h30m`, `500ms`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

/// Serde helpers that read and write durations as strings like `15m`.
pub(crate) mod duration_str {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_some(&format_duration(*d)),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| parse_duration(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// The source of "now" for the engine.
///
/// The engine reads the clock once per operation and passes the value into
/// the pure transitions. A clock may go backwards (a reboot, a user changing
/// the phone's time): the engine never lets that shorten a lock or a
/// throttle delay, since each record measures its waits against the latest
/// time it has seen. A reading outside [`Timestamp::MIN_VALID`] ..=
/// [`Timestamp::MAX_VALID`] is refused by the call that reads it.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp::from_millis(duration_millis(d))
    }
}

/// A clock that only moves when told to: for tests, simulations and replay.
///
/// Clones share the same time, so a test keeps one handle and gives the
/// engine another.
///
/// ```
/// use authlock::{Clock, FakeClock, Timestamp};
/// use std::time::Duration;
/// let clock = FakeClock::at(Timestamp::from_secs(100));
/// let handle = clock.clone();
/// handle.advance(Duration::from_secs(5));
/// assert_eq!(clock.now(), Timestamp::from_secs(105));
/// handle.rewind(Duration::from_secs(10));
/// assert_eq!(clock.now(), Timestamp::from_secs(95));
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    /// A fake clock showing `t`.
    pub fn at(t: Timestamp) -> Self {
        FakeClock(Arc::new(AtomicI64::new(t.as_millis())))
    }
    /// Sets the time (forwards or backwards).
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_millis(), Ordering::SeqCst);
    }
    /// Moves the time forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(duration_millis(d), Ordering::SeqCst);
    }
    /// Moves the time backward.
    pub fn rewind(&self, d: Duration) {
        self.0.fetch_sub(duration_millis(d), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_their_order_and_value_in_eight_bytes() {
        assert_eq!(std::mem::size_of::<Timestamp>(), 8);
        assert_eq!(std::mem::size_of::<Option<Timestamp>>(), 8);
        let values = [i64::MIN + 1, -5, -1, 0, 1, 1_767_225_600_000, i64::MAX];
        for w in values.windows(2) {
            let (a, b) = (Timestamp::from_millis(w[0]), Timestamp::from_millis(w[1]));
            assert!(a < b, "{} < {}", w[0], w[1]);
        }
        for v in values {
            let t = Timestamp::from_millis(v);
            assert_eq!(t.as_millis(), v);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, v.to_string());
            assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        }
        // The spare value reads as the next one.
        assert_eq!(Timestamp::from_millis(i64::MIN).as_millis(), i64::MIN + 1);
        assert!(Some(Timestamp::from_millis(i64::MIN)).is_some());
    }

    #[test]
    fn the_valid_range_is_the_years_1970_to_9999() {
        assert_eq!(Timestamp::MIN_VALID.to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::MAX_VALID.to_string(), "9999-12-31T23:59:59.999Z");
        assert!(Timestamp::MIN_VALID.is_valid() && Timestamp::MAX_VALID.is_valid());
        assert!(!Timestamp::from_millis(-1).is_valid());
        assert!(!Timestamp::from_millis(Timestamp::MAX_VALID.as_millis() + 1).is_valid());
        assert!(!Timestamp::MAX.is_valid());
    }

    #[test]
    fn checked_plus_refuses_to_pass_the_end_of_time() {
        let d = Duration::from_millis(1000);
        assert_eq!(
            Timestamp::from_millis(i64::MAX - 1000).checked_plus(d),
            Some(Timestamp::MAX)
        );
        assert_eq!(Timestamp::from_millis(i64::MAX - 999).checked_plus(d), None);
        assert_eq!(Timestamp::EPOCH.checked_plus(Duration::MAX), None);
        assert_eq!(
            Timestamp::from_millis(i64::MAX - 999).plus(d),
            Timestamp::MAX
        );
    }

    #[test]
    fn durations_round_trip() {
        for s in ["0", "500ms", "30s", "15m", "1h30m", "1d", "2d3h4m5s6ms"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(format_duration(d), s);
        }
        for bad in ["", "m", "15", "15 m", "1y", "-5s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }
}
