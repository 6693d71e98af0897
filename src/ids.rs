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
        if s.len() != Self::TEXT_LEN {
            return Err(bad());
        }
        let mut bits: u128 = 0;
        for b in s.bytes() {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return Err(bad()),
            };
            bits = (bits << 4) | digit as u128;
        }
        Ok(AuthenticatorId::from_u128(bits))
    }
}

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
