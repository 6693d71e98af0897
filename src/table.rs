//! Compact hash tables for the engine's records and users: the entries sit
//! densely in one vector, and a hash index of 32-bit positions sits beside
//! it (the layout of `indexmap`, without its cached hashes).
//!
//! Against a map that stores entries in its buckets, this keeps the memory
//! per entry close to the entry's own size (the index costs 8 to 10 bytes
//! per entry at its lowest load). Removal swaps the last entry into the
//! hole, so iteration order is not insertion order.
//!
//! [`Table`] indexes with hashbrown (control bytes, then a bucket, then the
//! entry: three dependent memory reads). [`SlotTable`], used for the
//! records that every `check` reads, indexes with open addressing over
//! 32-bit slots that hold the position and an 8-bit tag of the hash: one
//! read of the slot, then the entry.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

/// An entry that carries its own key.
pub(crate) trait Keyed {
    /// The key type; lookups borrow it.
    type Key: ?Sized + Hash + Eq;
    /// The entry's key.
    fn key(&self) -> &Self::Key;
}

/// Dense entries with a hash index of their positions.
pub(crate) struct Table<V, S> {
    index: HashTable<u32>,
    items: Vec<V>,
    hasher: S,
}

impl<V, S: Default> Default for Table<V, S> {
    fn default() -> Self {
        Table {
            index: HashTable::new(),
            items: Vec::new(),
            hasher: S::default(),
        }
    }
}

impl<V: Keyed, S: BuildHasher> Table<V, S> {
    #[inline]
    fn find(&self, key: &V::Key) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let items = &self.items;
        self.index
            .find(hash, |&i| items[i as usize].key() == key)
            .map(|&i| i as usize)
    }

    /// The entry with `key`.
    #[inline]
    pub(crate) fn get(&self, key: &V::Key) -> Option<&V> {
        self.find(key).map(|i| &self.items[i])
    }

    /// The entry with `key`, to change (never its key).
    #[inline]
    pub(crate) fn get_mut(&mut self, key: &V::Key) -> Option<&mut V> {
        self.find(key).map(|i| &mut self.items[i])
    }

    /// Whether an entry has `key`.
    pub(crate) fn contains_key(&self, key: &V::Key) -> bool {
        self.find(key).is_some()
    }

    /// Adds `value`, replacing (and returning) an entry with the same key.
    /// The key is hashed once and its probe run walked once.
    pub(crate) fn insert(&mut self, value: V) -> Option<V> {
        let pos = u32::try_from(self.items.len())
            .expect("a table holds fewer than 2^32 entries (memory runs out long before)");
        let hash = self.hasher.hash_one(value.key());
        let (items, hasher) = (&self.items, &self.hasher);
        let entry = self.index.entry(
            hash,
            |&i| items[i as usize].key() == value.key(),
            |&i| hasher.hash_one(items[i as usize].key()),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => {
                let i = *e.get() as usize;
                Some(std::mem::replace(&mut self.items[i], value))
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(pos);
                self.items.push(value);
                None
            }
        }
    }

    /// Makes room for `additional` more entries.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
        let (items, hasher) = (&self.items, &self.hasher);
        self.index
            .reserve(additional, |&i| hasher.hash_one(items[i as usize].key()));
    }
}

impl<V, S> Table<V, S> {
    /// The entries, in no particular order.
    pub(crate) fn values(&self) -> std::slice::Iter<'_, V> {
        self.items.iter()
    }
}

/// An empty slot (tag 0xff with the position reserved for it).
const EMPTY: u32 = u32::MAX;
/// Bits of a slot that hold the position.
const POS_BITS: u32 = 24;
const POS_MASK: u32 = (1 << POS_BITS) - 1;

/// Dense entries with an open-addressing index of 32-bit slots (linear
/// probing, at most 7/8 full, deletion by backward shift, no tombstones).
/// Holds at most [`SlotTable::MAX_LEN`] entries.
pub(crate) struct SlotTable<V, S> {
    slots: Box<[u32]>,
    items: Vec<V>,
    hasher: S,
}

impl<V, S: Default> Default for SlotTable<V, S> {
    fn default() -> Self {
        SlotTable {
            slots: Box::new([]),
            items: Vec::new(),
            hasher: S::default(),
        }
    }
}

impl<V: Keyed, S: BuildHasher> SlotTable<V, S> {
    /// The most entries one table holds (positions are 24 bits).
    pub(crate) const MAX_LEN: usize = POS_MASK as usize;

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The home slot and the tag of a hash. The tag comes from bits the
    /// home slot (low bits) and the engine's shard choice (top bits) do not
    /// use.
    #[inline]
    fn split(&self, hash: u64) -> (usize, u32) {
        (hash as usize & self.mask(), ((hash >> 48) & 0xff) as u32)
    }

    /// The slot index and entry position of `key`.
    #[inline]
    fn find(&self, key: &V::Key) -> Option<(usize, usize)> {
        if self.items.is_empty() {
            return None;
        }
        let (mut i, tag) = self.split(self.hasher.hash_one(key));
        let mask = self.mask();
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if s >> POS_BITS == tag {
                let pos = (s & POS_MASK) as usize;
                if self.items[pos].key() == key {
                    return Some((i, pos));
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The entry with `key`.
    #[inline]
    pub(crate) fn get(&self, key: &V::Key) -> Option<&V> {
        self.find(key).map(|(_, pos)| &self.items[pos])
    }

    /// The entry with `key`, to change (never its key).
    #[inline]
    pub(crate) fn get_mut(&mut self, key: &V::Key) -> Option<&mut V> {
        self.find(key).map(|(_, pos)| &mut self.items[pos])
    }

    /// Whether an entry has `key`.
    pub(crate) fn contains_key(&self, key: &V::Key) -> bool {
        self.find(key).is_some()
    }

    /// Whether the table holds [`SlotTable::MAX_LEN`] entries already.
    pub(crate) fn is_full(&self) -> bool {
        self.items.len() >= Self::MAX_LEN
    }

    /// Puts position `pos` (of an entry with hash `hash`) in the first
    /// free slot from its home. The table has a free slot.
    fn place(slots: &mut [u32], hash: u64, pos: usize) {
        let mask = slots.len() - 1;
        let mut i = hash as usize & mask;
        while slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        slots[i] = ((((hash >> 48) & 0xff) as u32) << POS_BITS) | pos as u32;
    }

    /// Makes the index big enough for `len` entries at most 7/8 full.
    fn grow_for(&mut self, len: usize) {
        if len * 8 <= self.slots.len() * 7 {
            return;
        }
        let mut n = self.slots.len().max(16);
        while len * 8 > n * 7 {
            n *= 2;
        }
        let mut slots = vec![EMPTY; n].into_boxed_slice();
        for (pos, v) in self.items.iter().enumerate() {
            Self::place(&mut slots, self.hasher.hash_one(v.key()), pos);
        }
        self.slots = slots;
    }

    /// Adds `value`, replacing (and returning) an entry with the same key.
    /// The caller checks [`SlotTable::is_full`] first.
    pub(crate) fn insert(&mut self, value: V) -> Option<V> {
        if let Some((_, pos)) = self.find(value.key()) {
            return Some(std::mem::replace(&mut self.items[pos], value));
        }
        assert!(
            !self.is_full(),
            "a table holds at most {} entries",
            Self::MAX_LEN
        );
        self.grow_for(self.items.len() + 1);
        let hash = self.hasher.hash_one(value.key());
        Self::place(&mut self.slots, hash, self.items.len());
        self.items.push(value);
        None
    }

    /// Removes and returns the entry with `key`; the last entry takes its
    /// place.
    pub(crate) fn remove(&mut self, key: &V::Key) -> Option<V> {
        let (mut hole, pos) = self.find(key)?;
        let mask = self.mask();
        // Backward shift: pull later entries of the probe run into the
        // hole when their home slot allows it.
        let mut j = (hole + 1) & mask;
        loop {
            let s = self.slots[j];
            if s == EMPTY {
                break;
            }
            let home =
                self.hasher
                    .hash_one(self.items[(s & POS_MASK) as usize].key()) as usize
                    & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        let last = self.items.len() - 1;
        if pos != last {
            // The last entry moves to `pos`: repoint its slot.
            let mut i = self.hasher.hash_one(self.items[last].key()) as usize & mask;
            while self.slots[i] == EMPTY || (self.slots[i] & POS_MASK) as usize != last {
                i = (i + 1) & mask;
            }
            self.slots[i] = (self.slots[i] & !POS_MASK) | pos as u32;
        }
        Some(self.items.swap_remove(pos))
    }

    /// Makes room for `additional` more entries.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
        self.grow_for(self.items.len() + additional);
    }
}

impl<V, S> SlotTable<V, S> {
    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The entries, in no particular order.
    pub(crate) fn values(&self) -> std::slice::Iter<'_, V> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::collections::hash_map::RandomState;

    #[derive(Debug, PartialEq)]
    struct E(u64, u64);
    impl Keyed for E {
        type Key = u64;
        fn key(&self) -> &u64 {
            &self.0
        }
    }

    /// Inserts and replacements agree with a `HashMap` at every step (the
    /// user index never removes entries).
    #[test]
    fn agrees_with_a_hash_map() {
        let mut t: Table<E, RandomState> = Table::default();
        let mut m: HashMap<u64, u64> = HashMap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 5_000;
            assert_eq!(
                t.insert(E(k, step)).map(|e| e.1),
                m.insert(k, step),
                "step {step}"
            );
            assert_eq!(t.items.len(), m.len());
        }
        for (k, v) in &m {
            assert_eq!(t.get(k), Some(&E(*k, *v)));
        }
        for k in 0..5_000 {
            assert_eq!(t.contains_key(&k), m.contains_key(&k));
        }
        assert_eq!(t.values().count(), m.len());
    }

    /// A hasher that sends every key to a few home slots, so that probe
    /// runs are long and wrap around the end of the index: the worst case
    /// for backward-shift deletion.
    #[derive(Default, Clone)]
    struct Clumps;
    struct ClumpHasher(u64);
    impl std::hash::Hasher for ClumpHasher {
        fn write(&mut self, _: &[u8]) {
            unreachable!("u64 keys only")
        }
        fn write_u64(&mut self, v: u64) {
            // Home slot: one of four (the last near the end of any index);
            // tag: the key's low byte.
            self.0 = (v % 4).wrapping_sub(2) & 0x0000_ffff_ffff_ffff | ((v & 0xff) << 48);
        }
        fn finish(&self) -> u64 {
            self.0
        }
    }
    impl BuildHasher for Clumps {
        type Hasher = ClumpHasher;
        fn build_hasher(&self) -> ClumpHasher {
            ClumpHasher(0)
        }
    }

    fn slot_table_agrees<S: BuildHasher + Default>(keys: u64, steps: u64) {
        let mut t: SlotTable<E, S> = SlotTable::default();
        let mut m: HashMap<u64, u64> = HashMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..steps {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % keys;
            if x.is_multiple_of(3) {
                assert_eq!(t.remove(&k).map(|e| e.1), m.remove(&k), "step {step}");
            } else {
                assert_eq!(
                    t.insert(E(k, step)).map(|e| e.1),
                    m.insert(k, step),
                    "step {step}"
                );
            }
            assert_eq!(t.len(), m.len());
            if step % 97 == 0 {
                for k in 0..keys {
                    assert_eq!(
                        t.get(&k).map(|e| e.1),
                        m.get(&k).copied(),
                        "step {step} key {k}"
                    );
                }
            }
        }
        for k in 0..keys {
            assert_eq!(t.contains_key(&k), m.contains_key(&k));
        }
        assert_eq!(t.values().count(), m.len());
    }

    /// The slot table agrees with a `HashMap` through inserts, replacements
    /// and removals, with a good hash and with one that piles every key
    /// into long probe runs that wrap around.
    #[test]
    fn slot_table_agrees_with_a_hash_map() {
        slot_table_agrees::<RandomState>(500, 20_000);
        slot_table_agrees::<Clumps>(60, 6_000);
    }

    /// Reserving ahead keeps every entry findable.
    #[test]
    fn slot_table_reserve_keeps_entries() {
        let mut t: SlotTable<E, RandomState> = SlotTable::default();
        for k in 0..100 {
            t.insert(E(k, k));
        }
        t.reserve(10_000);
        for k in 100..5_000 {
            t.insert(E(k, k));
        }
        assert!((0..5_000).all(|k| t.get(&k) == Some(&E(k, k))));
        assert!(!t.is_full());
    }
}
