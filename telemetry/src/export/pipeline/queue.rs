//! The queue between the application and a pipeline's export thread ([`Shared`]): the
//! items, the deferred items ([`Deferred`]), whether it still takes items, and when the
//! export thread is woken.

use std::sync::atomic::{AtomicBool, AtomicU8};

use crossbeam_queue::ArrayQueue;
use tokio::sync::Notify;

/// The queue takes items.
pub(super) const OPEN: u8 = 0;
/// The export thread shut down and has taken its last item.
pub(super) const SHUT_DOWN: u8 = 1;
/// The export thread stopped (panicked or exited) and takes nothing more.
pub(super) const STOPPED: u8 = 2;

/// An item whose last step is left to the export thread: the application pushes it
/// already boxed (a pointer's move instead of the item's), and the export thread makes
/// the item from it, and frees what it held, off the application's thread. The native
/// span path pushes its recordings so.
pub(crate) trait Deferred<T>: Send {
    /// The item, made on the export thread.
    fn finish(self: Box<Self>) -> T;
    /// Lets go of an item that will not be made (the queue was full, or closed): by
    /// default dropped; the native span path keeps its recording for reuse.
    fn discard(self: Box<Self>) {}
}

/// The queue between the application and the export thread.
pub(super) struct Shared<T> {
    pub(super) queue: ArrayQueue<T>,
    /// Deferred items ([`Deferred`]), in a queue of their own of the same bound, made
    /// at the first of them (only the native span path pushes any).
    pub(super) deferred: std::sync::OnceLock<ArrayQueue<Box<dyn Deferred<T>>>>,
    pub(super) queue_size: usize,
    pub(super) wake: Notify,
    pub(super) wake_pending: AtomicBool,
    /// [`OPEN`] until the export thread takes its last item ([`SHUT_DOWN`]) or stops
    /// ([`STOPPED`]). Written with `SeqCst` before the last drain, read with `SeqCst`
    /// after each push: a push the last drain missed sees the queue closed.
    pub(super) state: AtomicU8,
    pub(super) batch_size: usize,
    /// Whether a full batch waits (items of both queues) is looked at once every
    /// `wake_mask + 1` items offered, whichever queue they go to (a power of two, about
    /// an eighth of a batch): a full batch then wakes the export thread at most that
    /// many items late, and most pushes skip the queues' lengths (each a loop over two
    /// shared counters).
    pub(super) wake_mask: u64,
}

/// The `wake_mask` of a pipeline exporting `batch_size` items at a time: every item
/// for batches under 16, else every `batch_size / 8` items or fewer.
pub(super) fn wake_mask(batch_size: usize) -> u64 {
    let every = (batch_size / 8).max(1);
    // The largest power of two not above `every`.
    let every = 1_u64 << (usize::BITS - 1 - every.leading_zeros());
    every - 1
}

impl<T> Shared<T> {
    /// Takes one item from either queue (a deferred one made now).
    pub(super) fn pop(&self) -> Option<T> {
        if let Some(item) = self.queue.pop() {
            return Some(item);
        }
        Some(self.deferred.get()?.pop()?.finish())
    }

    /// How many items wait, in both queues.
    pub(super) fn waiting(&self) -> usize {
        self.queue.len() + self.deferred.get().map_or(0, ArrayQueue::len)
    }

    /// Takes one item from either queue and lets it go (a deferred one is not made);
    /// false when both are empty.
    pub(super) fn discard_one(&self) -> bool {
        self.queue.pop().is_some()
            || self
                .deferred
                .get()
                .and_then(ArrayQueue::pop)
                .map(Deferred::discard)
                .is_some()
    }
}
