//! A compact hash table for the engine's records and users: the entries
//! sit densely in one vector, and a hash index of 32-bit positions sits
//! beside it (the layout of `indexmap`, without its cached hashes).
//!
//! Against a map that stores entries in its buckets, this keeps the memory
//! per entry close to the entry's own size (the index costs about 10 bytes
//! per entry at its lowest load), and a lookup reads a small index that
//! stays in cache, then one entry. Removal swaps the last entry into the
//! hole, so iteration order is not insertion order.

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
    pub(crate) fn insert(&mut self, value: V) -> Option<V> {
        if let Some(i) = self.find(value.key()) {
            return Some(std::mem::replace(&mut self.items[i], value));
        }
        let pos = u32::try_from(self.items.len())
            .expect("a table holds fewer than 2^32 entries (memory runs out long before)");
        let hash = self.hasher.hash_one(value.key());
        self.items.push(value);
        let (items, hasher) = (&self.items, &self.hasher);
        self.index
            .insert_unique(hash, pos, |&i| hasher.hash_one(items[i as usize].key()));
        None
    }

    /// Removes and returns the entry with `key`; the last entry takes its
    /// place.
    pub(crate) fn remove(&mut self, key: &V::Key) -> Option<V> {
        let hash = self.hasher.hash_one(key);
        let items = &self.items;
        let entry = self
            .index
            .find_entry(hash, |&i| items[i as usize].key() == key)
            .ok()?;
        let (pos, _) = entry.remove();
        let pos = pos as usize;
        let last = self.items.len() - 1;
        if pos != last {
            let moved = self.hasher.hash_one(self.items[last].key());
            let slot = self
                .index
                .find_mut(moved, |&i| i as usize == last)
                .expect("every entry is indexed");
            *slot = pos as u32;
        }
        Some(self.items.swap_remove(pos))
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

    /// Inserts, replacements and removals agree with a `HashMap` at every
    /// step, including the swap of the last entry into a removed one's place.
    #[test]
    fn agrees_with_a_hash_map() {
        let mut t: Table<E, RandomState> = Table::default();
        let mut m: HashMap<u64, u64> = HashMap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 500;
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
        }
        for (k, v) in &m {
            assert_eq!(t.get(k), Some(&E(*k, *v)));
        }
        for k in 0..500 {
            assert_eq!(t.contains_key(&k), m.contains_key(&k));
        }
        assert_eq!(t.values().count(), m.len());
    }
}
