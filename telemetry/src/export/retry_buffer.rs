//! The retry buffer: encoded requests waiting to be sent, oldest first, within bounds
//! of items and bytes. Requests that failed, or arrived while the circuit was open,
//! wait here until the collector answers. Every request entering or leaving it is
//! booked ([`ThreadCounters::buffered`] / [`ThreadCounters::unbuffered`]) here and
//! nowhere else, so the buffer's figures always match its contents.

use std::collections::VecDeque;
use std::time::Instant;

use super::stats::{DropReason, ThreadCounters};

/// Bounds of the retry buffer: batches that failed, or arrived while the circuit was
/// open, wait here and are delivered oldest first once the collector answers. Past
/// either bound the oldest batches are dropped and counted (`buffer_full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBufferConfig {
    /// Items held at most. Default: 150,000 (30 s at 5,000 items/s).
    pub max_items: u64,
    /// Encoded bytes held at most. Default: 64 MiB.
    pub max_bytes: u64,
}

impl Default for RetryBufferConfig {
    fn default() -> Self {
        RetryBufferConfig {
            max_items: 150_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// One encoded request and its retry budget.
pub(crate) struct Entry<P> {
    /// What is sent, as is, on every attempt.
    pub payload: P,
    /// Items it carries.
    pub items: u64,
    /// Its size, for the byte bound.
    pub bytes: u64,
    /// Attempts made so far (within the current budget).
    pub attempts: u32,
    /// When the current budget's first attempt went out.
    pub first_attempt: Option<Instant>,
}

impl<P> Entry<P> {
    /// A request not yet sent.
    pub(crate) fn new(payload: P, items: u64, bytes: u64) -> Entry<P> {
        Entry {
            payload,
            items,
            bytes,
            attempts: 0,
            first_attempt: None,
        }
    }
}

/// The bounded queue of requests waiting to be sent; see the module docs.
pub(crate) struct RetryBuffer<P> {
    entries: VecDeque<Entry<P>>,
    limits: RetryBufferConfig,
}

impl<P> RetryBuffer<P> {
    pub(crate) fn new(limits: RetryBufferConfig) -> Self {
        RetryBuffer {
            entries: VecDeque::new(),
            limits,
        }
    }

    pub(crate) fn limits(&self) -> RetryBufferConfig {
        self.limits
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a new request, to be sent after every other.
    pub(crate) fn push_back(&mut self, counters: &mut ThreadCounters, entry: Entry<P>) {
        counters.buffered(entry.items, entry.bytes);
        self.entries.push_back(entry);
    }

    /// Puts a request first, to be sent next (a retry, or the halves of a split).
    pub(crate) fn push_front(&mut self, counters: &mut ThreadCounters, entry: Entry<P>) {
        counters.buffered(entry.items, entry.bytes);
        self.entries.push_front(entry);
    }

    /// Takes the oldest request out, to be sent.
    pub(crate) fn pop_front(&mut self, counters: &mut ThreadCounters) -> Option<Entry<P>> {
        let entry = self.entries.pop_front()?;
        counters.unbuffered(entry.items, entry.bytes);
        Some(entry)
    }

    /// Drops the oldest requests while either bound is passed, always keeping the
    /// newest; counts them (`buffer_full`) and returns how many items went.
    pub(crate) fn evict_past_limits(&mut self, counters: &mut ThreadCounters) -> u64 {
        let mut evicted = 0u64;
        while (counters.buffered > self.limits.max_items
            || counters.buffered_bytes > self.limits.max_bytes)
            && self.entries.len() > 1
        {
            let Some(oldest) = self.pop_front(counters) else {
                break;
            };
            counters.dropped(DropReason::BufferFull, oldest.items);
            evicted = evicted.saturating_add(oldest.items);
        }
        evicted
    }

    /// Takes every request out; returns how many items they held.
    pub(crate) fn clear(&mut self, counters: &mut ThreadCounters) -> u64 {
        let mut items = 0u64;
        while let Some(entry) = self.pop_front(counters) {
            items = items.saturating_add(entry.items);
        }
        items
    }
}
