//! [`Pool`]: boxed values handed back by the export threads, emptied, for the
//! application threads to fill again. A value that crosses to an export thread would
//! otherwise be allocated on the application thread and freed on the export thread,
//! which costs glibc's malloc about twice what an allocation freed where it was made
//! costs; and a large value moved through a queue is copied at every step, where a box
//! moves a pointer. [`Pooled`] goes back to its pool when it is dropped, wherever that
//! is. This module imports nothing of the crate.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

/// A value that can be emptied for reuse, keeping the room of its buffers.
pub(crate) trait Reuse {
    /// Empties the value: nothing of its last use stays (its buffers keep their room).
    fn empty(&mut self);
}

/// Emptied boxes for reuse, at most a fixed number ([`Pool::for_batches`]); beyond that
/// a box handed back is freed.
pub(crate) struct Pool<T>(ArrayQueue<Box<T>>);

impl<T: Reuse> Pool<T> {
    /// A pool for pipelines that export `batch` items at a time: room for two batches
    /// (the one being exported comes back whole while the next one fills), at least 64
    /// and at most 8,192.
    pub(crate) fn for_batches(batch: usize) -> Pool<T> {
        Pool(ArrayQueue::new(batch.saturating_mul(2).clamp(64, 8192)))
    }

    /// An emptied box, if one is kept.
    #[inline]
    pub(crate) fn take(&self) -> Option<Box<T>> {
        self.0.pop()
    }

    /// Whether the pool keeps no more boxes (one handed back would be freed).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.0.is_full()
    }

    /// Keeps `item`, emptied here (the one place that empties a box for reuse), unless
    /// the pool is full.
    #[inline]
    pub(crate) fn keep(&self, mut item: Box<T>) {
        if self.is_full() {
            return;
        }
        item.empty();
        let _ = self.0.push(item);
    }

    /// How many boxes are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// How many boxes it keeps at most.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<T> std::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pool").field(&self.0.len()).finish()
    }
}

/// A boxed value of a [`Pool`], which it goes back to when dropped.
pub(crate) struct Pooled<T: Reuse> {
    item: ManuallyDrop<Box<T>>,
    pool: Arc<Pool<T>>,
}

impl<T: Reuse> Pooled<T> {
    /// A box of `pool`'s, else `make`'s value in a new one: filled by the caller (a
    /// box of the pool's is empty).
    #[inline]
    pub(crate) fn take_or(pool: &Arc<Pool<T>>, make: impl FnOnce() -> T) -> Pooled<T> {
        let item = pool.take().unwrap_or_else(|| Box::new(make()));
        Pooled {
            item: ManuallyDrop::new(item),
            pool: Arc::clone(pool),
        }
    }
}

impl<T: Reuse> Deref for Pooled<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T: Reuse> DerefMut for Pooled<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.item
    }
}

impl<T: Reuse> Drop for Pooled<T> {
    fn drop(&mut self) {
        // SAFETY: `item` is taken once, here, and never used again.
        let item = unsafe { ManuallyDrop::take(&mut self.item) };
        self.pool.keep(item);
    }
}

impl<T: Reuse + Clone> Clone for Pooled<T> {
    /// A copy in another box of the same pool.
    fn clone(&self) -> Pooled<T> {
        let item = match self.pool.take() {
            Some(mut item) => {
                T::clone_from(&mut item, self);
                item
            }
            None => Box::new(T::clone(self)),
        };
        Pooled {
            item: ManuallyDrop::new(item),
            pool: Arc::clone(&self.pool),
        }
    }
}

impl<T: Reuse + std::fmt::Debug> std::fmt::Debug for Pooled<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        T::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq)]
    struct Item(Vec<u32>);

    impl Reuse for Item {
        fn empty(&mut self) {
            self.0.clear();
        }
    }

    #[test]
    fn a_dropped_value_goes_back_emptied_with_its_room() {
        let pool = Arc::new(Pool::<Item>::for_batches(1));
        let mut first = Pooled::take_or(&pool, Item::default);
        first.0.extend([1, 2, 3]);
        let room = first.0.capacity();
        let at = &*first as *const Item;
        drop(first);
        assert_eq!(pool.len(), 1);
        let again = Pooled::take_or(&pool, || panic!("a kept box is reused"));
        assert_eq!(&*again as *const Item, at, "the same box");
        assert!(again.0.is_empty(), "nothing of its last use");
        assert_eq!(again.0.capacity(), room, "its room kept");
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn a_full_pool_frees_what_it_cannot_keep() {
        let pool = Arc::new(Pool::<Item>::for_batches(1));
        assert_eq!(pool.capacity(), 64);
        let all: Vec<_> = (0..70)
            .map(|_| Pooled::take_or(&pool, Item::default))
            .collect();
        drop(all);
        assert_eq!(pool.len(), 64);
    }

    #[test]
    fn a_clone_is_a_copy_in_another_box() {
        let pool = Arc::new(Pool::<Item>::for_batches(1));
        drop(Pooled::take_or(&pool, Item::default));
        let mut one = Pooled::take_or(&pool, Item::default);
        one.0.push(7);
        let two = one.clone();
        assert_eq!(*two, Item(vec![7]));
        assert_ne!(&*one as *const Item, &*two as *const Item);
        drop((one, two));
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn pools_hold_two_batches() {
        assert_eq!(Pool::<Item>::for_batches(512).capacity(), 1024);
        assert_eq!(Pool::<Item>::for_batches(usize::MAX).capacity(), 8192);
    }
}
