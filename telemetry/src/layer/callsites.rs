//! Per-callsite caches of the layer's metrics: maps keyed by a callsite's address with a
//! one-multiplication hasher, and per-thread copies of them, so that reading what is
//! known of a callsite touches no memory shared with other threads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_core::Metadata;

/// A hasher for maps keyed by a callsite's address: one multiplication, where the
/// default SipHash costs a few hundred instructions per lookup on the hot path.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing: spreads aligned addresses over the high bits.
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// A map keyed by callsite address.
pub(crate) type ByCallsite<V> = HashMap<usize, V, std::hash::BuildHasherDefault<AddressHasher>>;

/// A callsite's address, the key of every per-callsite map.
#[inline]
pub(crate) fn key(meta: &'static Metadata<'static>) -> usize {
    meta as *const Metadata<'static> as usize
}

/// Tells the instances of a per-callsite cache apart in the per-thread copies.
pub(crate) fn next_instance() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A per-thread copy of per-callsite values, for every instance of a cache. Reading it
/// touches no memory shared with other threads (a shared lock's counter would bounce
/// between cores on every span).
///
/// In front of the map, a small direct-mapped table (made on first use) holds the
/// callsites this thread saw last: a hit costs one multiplication and two comparisons,
/// where the map's probe costs several times that. A callsite the table has lost is
/// still in the map.
pub(crate) struct Local<V>(std::cell::RefCell<Copies<V>>);

impl<V> Default for Local<V> {
    fn default() -> Self {
        Local(std::cell::RefCell::new(Copies {
            front: None,
            map: ByCallsite::default(),
        }))
    }
}

/// One (callsite, instance, value) entry of the direct-mapped table.
type Slot<V> = Option<(usize, u64, V)>;

/// The two levels of a [`Local`].
pub(crate) struct Copies<V> {
    front: Option<Box<[Slot<V>; FRONT]>>,
    /// Each entry is (instance, value).
    map: ByCallsite<smallvec::SmallVec<[(u64, V); 1]>>,
}

/// Entries of the direct-mapped table (a power of two).
const FRONT: usize = 64;

/// The table slot of callsite `key`: the high bits of a Fibonacci hash.
#[inline]
fn slot(key: usize) -> usize {
    ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FRONT.trailing_zeros())) as usize
}

impl<V: Clone> Copies<V> {
    /// Makes (`key`, `instance`, `v`) the entry of its table slot.
    fn promote(&mut self, key: usize, instance: u64, v: V) {
        let front = self
            .front
            .get_or_insert_with(|| Box::new([const { None }; FRONT]));
        front[slot(key)] = Some((key, instance, v));
    }
}

/// Past this many instances at one callsite, a thread's copy forgets the others.
const LOCAL_INSTANCES: usize = 4;

/// Runs `f` with this thread's copy of the value of `instance` at callsite `key`, if
/// there is one.
#[inline]
pub(crate) fn local_get<V: Clone, R>(
    local: &'static std::thread::LocalKey<Local<V>>,
    instance: u64,
    key: usize,
    f: impl FnOnce(&V) -> R,
) -> Option<R> {
    local
        .try_with(|l| {
            let mut copies = l.0.try_borrow_mut().ok()?;
            if let Some(Some((k, i, v))) = copies.front.as_deref().map(|t| &t[slot(key)]) {
                if *k == key && *i == instance {
                    return Some(f(v));
                }
            }
            let (_, v) = copies.map.get(&key)?.iter().find(|(i, _)| *i == instance)?;
            let v = v.clone();
            let r = f(&v);
            copies.promote(key, instance, v);
            Some(r)
        })
        .ok()
        .flatten()
}

/// Keeps `v` as this thread's copy of the value of `instance` at callsite `key`.
pub(crate) fn local_put<V: Clone>(
    local: &'static std::thread::LocalKey<Local<V>>,
    instance: u64,
    key: usize,
    v: V,
) {
    let _ = local.try_with(|l| {
        if let Ok(mut copies) = l.0.try_borrow_mut() {
            let entries = copies.map.entry(key).or_default();
            if entries.len() >= LOCAL_INSTANCES {
                entries.clear();
            }
            entries.push((instance, v.clone()));
            copies.promote(key, instance, v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static SITES: Local<u32> = Local::default();
    }

    #[test]
    fn a_copy_lost_from_the_table_is_found_in_the_map() {
        // More callsites than the table has slots: some share a slot.
        let keys: Vec<usize> = (0..4 * FRONT).map(|i| 0x1000 + i * 0x68).collect();
        for (n, key) in keys.iter().enumerate() {
            local_put(&SITES, 1, *key, n as u32);
        }
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(local_get(&SITES, 1, *key, |v| *v), Some(n as u32));
            // A second read hits the table.
            assert_eq!(local_get(&SITES, 1, *key, |v| *v), Some(n as u32));
        }
        // Another instance at the same callsite sees nothing of the first one's.
        assert_eq!(local_get(&SITES, 2, keys[0], |v| *v), None);
        local_put(&SITES, 2, keys[0], 7);
        assert_eq!(local_get(&SITES, 2, keys[0], |v| *v), Some(7));
        assert_eq!(local_get(&SITES, 1, keys[0], |v| *v), Some(0));
        assert_eq!(local_get(&SITES, 1, 0xdead_0000, |v| *v), None);
    }
}
