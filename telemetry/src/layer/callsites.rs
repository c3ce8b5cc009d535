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

/// A per-thread copy of per-callsite values, for every instance of a cache: each entry
/// is (instance, value). Reading it touches no memory shared with other threads (a
/// shared lock's counter would bounce between cores on every span).
pub(crate) type Local<V> = std::cell::RefCell<ByCallsite<smallvec::SmallVec<[(u64, V); 1]>>>;

/// Past this many instances at one callsite, a thread's copy forgets the others.
const LOCAL_INSTANCES: usize = 4;

/// Runs `f` with this thread's copy of the value of `instance` at callsite `key`, if
/// there is one.
#[inline]
pub(crate) fn local_get<V, R>(
    local: &'static std::thread::LocalKey<Local<V>>,
    instance: u64,
    key: usize,
    f: impl FnOnce(&V) -> R,
) -> Option<R> {
    local
        .try_with(|m| {
            let m = m.try_borrow().ok()?;
            let (_, v) = m.get(&key)?.iter().find(|(i, _)| *i == instance)?;
            Some(f(v))
        })
        .ok()
        .flatten()
}

/// Keeps `v` as this thread's copy of the value of `instance` at callsite `key`.
pub(crate) fn local_put<V>(
    local: &'static std::thread::LocalKey<Local<V>>,
    instance: u64,
    key: usize,
    v: V,
) {
    let _ = local.try_with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            let entries = m.entry(key).or_default();
            if entries.len() >= LOCAL_INSTANCES {
                entries.clear();
            }
            entries.push((instance, v));
        }
    });
}
