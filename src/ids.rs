//! Identifiers: authenticator IDs and the generator that draws them.
//!
//! An authenticator ID is opaque, unique and non-sequential: 128 bits,
//! written as 32 lowercase hex digits. The engine draws IDs from an injected
//! [`IdGenerator`] (so tests and replays are deterministic) and never reuses
//! one, not even after the authenticator is deleted. User, app and device
//! identifiers are the host's own strings and are shared cheaply (`Arc<str>`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A user's identifier as the host knows it (an external user ID).
pub type UserId = Arc<str>;
/// An application inside the tenant.
pub type AppId = Arc<str>;
/// A user's device (for device-user authenticators).
pub type DeviceId = Arc<str>;

/// The opaque ID of one registered authenticator.
///
/// ```
/// use authlock::AuthenticatorId;
/// let id: AuthenticatorId = "0123456789abcdef0123456789abcdef".parse().unwrap();
/// assert_eq!(id.to_string(), "0123456789abcdef0123456789abcdef");
/// assert!("not-an-id".parse::<AuthenticatorId>().is_err());
/// ```
// Two halves rather than one `u128`, so that the ID is 8-byte aligned and
// the records and user entries that hold IDs carry no alignment padding. The
// field order (high, low) makes the derived ordering that of the `u128`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AuthenticatorId {
    hi: u64,
    lo: u64,
}

impl std::hash::Hash for AuthenticatorId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.as_u128());
    }
}

impl AuthenticatorId {
    /// The length of the textual form.
    pub const TEXT_LEN: usize = 32;

    /// Builds an ID from its 128 bits.
    pub const fn from_u128(bits: u128) -> Self {
        AuthenticatorId {
            hi: (bits >> 64) as u64,
            lo: bits as u64,
        }
    }

    /// The ID's 128 bits.
    pub const fn as_u128(self) -> u128 {
        ((self.hi as u128) << 64) | self.lo as u128
    }
}

impl fmt::Display for AuthenticatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(std::str::from_utf8(&self.hex()).unwrap_or_default())
    }
}

impl fmt::Debug for AuthenticatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthenticatorId({self})")
    }
}

impl FromStr for AuthenticatorId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{}` is not an authenticator ID: expected 32 lowercase hex digits",
                s.escape_debug()
            )
        };
        let Ok(bytes) = <&[u8; Self::TEXT_LEN]>::try_from(s.as_bytes()) else {
            return Err(bad());
        };
        // Each half is read without a branch per digit; any byte that is
        // not a lowercase hex digit sets a bit above the low four in `seen`.
        let half = |digits: &[u8]| {
            digits.iter().fold((0u64, 0u8), |(bits, seen), &b| {
                let v = HEX_VALUE[b as usize];
                ((bits << 4) | u64::from(v & 0xf), seen | v)
            })
        };
        let (hi, seen_hi) = half(&bytes[..16]);
        let (lo, seen_lo) = half(&bytes[16..]);
        if (seen_hi | seen_lo) > 0xf {
            return Err(bad());
        }
        Ok(AuthenticatorId { hi, lo })
    }
}

/// The value of each lowercase hex digit; 0xff for every other byte.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl AuthenticatorId {
    /// The 32 lowercase hex digits, without going through `fmt`.
    fn hex(self) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let bits = self.as_u128();
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = DIGITS[((bits >> (124 - 4 * i)) & 0xf) as usize];
        }
        out
    }
}

impl Serialize for AuthenticatorId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = self.hex();
        // Hex digits are ASCII.
        s.serialize_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for AuthenticatorId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads a string straight into an `Arc<str>`: one allocation, where
/// serde's own `Arc<str>` goes through a `String` first.
pub(crate) fn arc_str<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    d.deserialize_str(ArcStr { reuse_last: false })
}

/// Reads an optional value that must be present (as `null` when it is
/// none): serde reads a missing `Option` field as `None` unless a field
/// names its reader, so every optional field that carries state names this
/// one, and a dropped or renamed field is an error rather than a silent
/// `None`.
pub(crate) fn required<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// Reads an optional app ID, sharing one allocation between consecutive
/// reads of the same ID on one thread: the records of a snapshot mostly
/// name the same few apps, and the engine shares each app ID among its
/// records anyway.
pub(crate) fn shared_app<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AppId>, D::Error> {
    struct App(AppId);
    impl<'de> Deserialize<'de> for App {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(ArcStr { reuse_last: true }).map(App)
        }
    }
    Ok(Option::<App>::deserialize(d)?.map(|a| a.0))
}

struct ArcStr {
    reuse_last: bool,
}

thread_local! {
    /// The app ID [`shared_app`] read last on this thread.
    static LAST_APP: std::cell::RefCell<Option<AppId>> = const { std::cell::RefCell::new(None) };
}

impl serde::de::Visitor<'_> for ArcStr {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Arc<str>, E> {
        if !self.reuse_last {
            return Ok(Arc::from(v));
        }
        Ok(LAST_APP.with_borrow_mut(|last| match last {
            Some(app) if **app == *v => app.clone(),
            _ => last.insert(Arc::from(v)).clone(),
        }))
    }
}

/// Where the engine gets new authenticator IDs.
///
/// Implementations must return IDs that are unpredictable to users; the
/// engine itself guarantees uniqueness by drawing again on a collision with
/// any live or deleted ID.
pub trait IdGenerator: Send + Sync {
    /// A fresh 128-bit ID.
    fn next_id(&self) -> AuthenticatorId;
}

/// The default generator: 128 bits from the operating system's CSPRNG.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn next_id(&self) -> AuthenticatorId {
        let mut buf = [0u8; 16];
        // The OS random source failing is unrecoverable and extremely rare;
        // fall back to a time- and address-seeded mix rather than panic.
        if getrandom::fill(&mut buf).is_err() {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                ^ (&buf as *const _ as usize as u128);
            return AuthenticatorId::from_u128(mix128(seed));
        }
        AuthenticatorId::from_u128(u128::from_le_bytes(buf))
    }
}

/// A deterministic, non-sequential generator for tests, simulations and
/// replays: the same seed gives the same IDs in the same order.
///
/// Not for production: its IDs are predictable from the seed.
#[derive(Debug)]
pub struct SeededIds(Mutex<u128>);

impl SeededIds {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SeededIds(Mutex::new(seed as u128))
    }
}

impl IdGenerator for SeededIds {
    fn next_id(&self) -> AuthenticatorId {
        let mut state = self.0.lock();
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        AuthenticatorId::from_u128(mix128(*state))
    }
}

fn mix128(x: u128) -> u128 {
    let lo = splitmix(x as u64);
    let hi = splitmix((x >> 64) as u64 ^ lo.rotate_left(17));
    ((hi as u128) << 64) | lo as u128
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference reading: 32 bytes, each `0-9` or `a-f`.
    fn reference(s: &str) -> Option<u128> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| u128::from_str_radix(s, 16).expect("checked digits"))
    }

    #[test]
    fn parse_round_trips_and_matches_the_reference() {
        for bits in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            1 << 64,
        ] {
            let id = AuthenticatorId::from_u128(bits);
            let text = id.to_string();
            assert_eq!(reference(&text), Some(bits));
            assert_eq!(text.parse::<AuthenticatorId>(), Ok(id));
        }
    }

    #[test]
    fn every_byte_in_every_position_is_read_as_the_reference_reads_it() {
        let base = *b"0123456789abcdef0123456789abcdef";
        for pos in 0..32 {
            for byte in 0..=255u8 {
                let mut bytes = base;
                bytes[pos] = byte;
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    continue;
                };
                let parsed = text.parse::<AuthenticatorId>().ok().map(|i| i.as_u128());
                assert_eq!(parsed, reference(text), "byte {byte:#04x} at {pos}");
            }
        }
    }

    #[test]
    fn wrong_lengths_and_non_ascii_are_refused_with_the_reason() {
        for text in [
            "",
            "0",
            &"a".repeat(31),
            &"a".repeat(33),
            "é123456789abcdef0123456789abcde",
        ] {
            let err = text.parse::<AuthenticatorId>().unwrap_err();
            assert!(err.contains("expected 32 lowercase hex digits"), "{err}");
        }
    }
}
