//! The books of one signal's pipeline: every item offered is, at every moment,
//! exported, dropped for one reason, or pending:
//!
//! `received = exported + dropped{reason} + pending`
//!
//! The application side ([`Stats`]'s atomics) counts what it offers and what the
//! queue refuses; the export thread's side ([`ThreadCounters`], under one lock) counts
//! what it took and where each item is now. Every move of items between places is one
//! method of [`ThreadCounters`], which subtracts where it adds, so a [`Snapshot`]
//! always balances.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use super::circuit::CircuitState;

/// Every counter of one signal. The export thread's counters change together under
/// one lock, so a snapshot always balances:
/// `taken = exported + dropped(export thread) + batch + buffered + in_flight`.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Items offered by the application.
    pub received: AtomicU64,
    /// Items refused because the queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Items offered after the pipeline had shut down.
    pub dropped_after_shutdown: AtomicU64,
    /// Items offered after the export thread had stopped (panicked or exited), and
    /// those it left in the queue.
    pub dropped_thread_stopped: AtomicU64,
    thread_counters: Mutex<ThreadCounters>,
    /// Signalled once `ThreadCounters::stopped` is set.
    stopped: Condvar,
}

/// The export thread's side of the books, and the state health reports: where the
/// items it took are now, what became of the others, the circuit, the last outcome.
#[derive(Debug, Clone, Default)]
pub(crate) struct ThreadCounters {
    /// Items taken from the queue.
    pub taken: u64,
    /// Items in the batch being assembled.
    pub batch: u64,
    /// Items waiting in the retry buffer.
    pub buffered: u64,
    /// Encoded bytes waiting in the retry buffer.
    pub buffered_bytes: u64,
    /// Items of the request in flight.
    pub in_flight: u64,
    /// Items the collector accepted.
    pub exported: u64,
    /// Requests that retried a failed one.
    pub retries: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests that failed.
    pub failed_requests: u64,
    /// Items evicted, oldest first, from a full retry buffer.
    pub dropped_buffer_full: u64,
    /// Items the collector rejected in a partial success.
    pub dropped_rejected: u64,
    /// Items of a request that failed for good, or that could not be encoded.
    pub dropped_non_retryable: u64,
    /// Items still undelivered when a shutdown's time ran out.
    pub dropped_shutdown: u64,
    /// Items that alone encode larger than the request size limit, or that the
    /// collector refused for their size.
    pub dropped_too_large: u64,
    /// Items the export thread held (batching, buffered, in flight) when it stopped.
    pub dropped_thread_stopped: u64,
    /// The circuit breaker's state, once the engine runs.
    pub circuit: Option<CircuitState>,
    /// Failed requests in a row.
    pub consecutive_failures: u32,
    /// Transitions to open.
    pub opened: u64,
    /// Transitions to half-open.
    pub half_opened: u64,
    /// Transitions to closed.
    pub closed: u64,
    /// The last failure, and when.
    pub last_error: Option<(SystemTime, String)>,
    /// When a request last succeeded.
    pub last_success: Option<SystemTime>,
    /// Why the export thread stopped, once it has: nothing more will be exported.
    pub stopped: Option<String>,
}

/// Why the export thread dropped items (the reasons counted on its side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// Evicted from a full retry buffer.
    BufferFull,
    /// Rejected by the collector in a partial success.
    Rejected,
    /// Failed for good, or not encodable.
    NonRetryable,
    /// Undelivered at the end of a shutdown.
    Shutdown,
    /// Too large to send, alone.
    TooLarge,
}

fn add(counter: &mut u64, items: u64) {
    *counter = counter.saturating_add(items);
}

fn sub(counter: &mut u64, items: u64) {
    *counter = counter.saturating_sub(items);
}

impl ThreadCounters {
    /// Items the export thread holds: in the batch, in the buffer, in flight.
    pub(crate) fn held(&self) -> u64 {
        self.batch
            .saturating_add(self.buffered)
            .saturating_add(self.in_flight)
    }

    /// Items taken from the queue into the batch being assembled.
    pub(crate) fn took(&mut self, items: u64) {
        add(&mut self.taken, items);
        add(&mut self.batch, items);
    }

    /// Items leave the batch: to the buffer as requests, or dropped.
    pub(crate) fn left_batch(&mut self, items: u64) {
        sub(&mut self.batch, items);
    }

    /// Items of one request enter the retry buffer.
    pub(crate) fn buffered(&mut self, items: u64, bytes: u64) {
        add(&mut self.buffered, items);
        add(&mut self.buffered_bytes, bytes);
    }

    /// Items of one request leave the retry buffer.
    pub(crate) fn unbuffered(&mut self, items: u64, bytes: u64) {
        sub(&mut self.buffered, items);
        sub(&mut self.buffered_bytes, bytes);
    }

    /// A request goes out (taken from the buffer just before).
    pub(crate) fn sent(&mut self, items: u64, is_retry: bool) {
        add(&mut self.in_flight, items);
        add(&mut self.requests, 1);
        if is_retry {
            add(&mut self.retries, 1);
        }
    }

    /// The request in flight is over, whatever became of it.
    pub(crate) fn landed(&mut self, items: u64) {
        sub(&mut self.in_flight, items);
    }

    /// The collector accepted `items`, of which it rejected `rejected` (never resent).
    pub(crate) fn exported(&mut self, items: u64, rejected: u64) {
        add(&mut self.exported, items.saturating_sub(rejected));
        self.dropped(DropReason::Rejected, rejected);
        self.last_success = Some(SystemTime::now());
    }

    /// A request failed.
    pub(crate) fn failed(&mut self, error: String) {
        add(&mut self.failed_requests, 1);
        self.last_error = Some((SystemTime::now(), error));
    }

    /// Items (no longer in the batch, buffer or flight) dropped for `reason`.
    pub(crate) fn dropped(&mut self, reason: DropReason, items: u64) {
        let counter = match reason {
            DropReason::BufferFull => &mut self.dropped_buffer_full,
            DropReason::Rejected => &mut self.dropped_rejected,
            DropReason::NonRetryable => &mut self.dropped_non_retryable,
            DropReason::Shutdown => &mut self.dropped_shutdown,
            DropReason::TooLarge => &mut self.dropped_too_large,
        };
        add(counter, items);
    }

    /// The circuit breaker moved to `to`.
    pub(crate) fn circuit_moved(&mut self, to: CircuitState) {
        self.circuit = Some(to);
        let count = match to {
            CircuitState::Open => &mut self.opened,
            CircuitState::HalfOpen => &mut self.half_opened,
            CircuitState::Closed => &mut self.closed,
        };
        add(count, 1);
    }
}

/// A consistent view of a signal's counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub received: u64,
    pub dropped_queue_full: u64,
    pub dropped_after_shutdown: u64,
    pub dropped_thread_stopped: u64,
    /// Items in the queue, not yet taken by the export thread.
    pub queued: u64,
    /// The export thread's side of the books.
    pub thread: ThreadCounters,
}

impl Snapshot {
    /// Items dropped because the pipeline was shutting down: undelivered when its
    /// timeout ran out, or offered after it had stopped.
    pub(crate) fn dropped_shutdown(&self) -> u64 {
        self.thread
            .dropped_shutdown
            .saturating_add(self.dropped_after_shutdown)
    }

    /// Items dropped because the export thread had stopped: those it held, those it
    /// left in the queue and those offered afterwards.
    pub(crate) fn dropped_thread_stopped(&self) -> u64 {
        self.thread
            .dropped_thread_stopped
            .saturating_add(self.dropped_thread_stopped)
    }

    /// Items neither exported nor dropped: queued, batching, buffered or in flight.
    pub(crate) fn pending(&self) -> u64 {
        self.queued.saturating_add(self.thread.held())
    }
}

impl Stats {
    /// The export thread's counters, locked (a poisoned lock is recovered).
    pub(crate) fn thread_counters(&self) -> MutexGuard<'_, ThreadCounters> {
        match self.thread_counters.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reads the export thread's counters first, then the application's, so that
    /// every item the thread knows about was already counted as received.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let thread = self.thread_counters().clone();
        let dropped_queue_full = self.dropped_queue_full.load(Ordering::SeqCst);
        let dropped_after_shutdown = self.dropped_after_shutdown.load(Ordering::SeqCst);
        let dropped_thread_stopped = self.dropped_thread_stopped.load(Ordering::SeqCst);
        let received = self.received.load(Ordering::SeqCst);
        Snapshot {
            received,
            dropped_queue_full,
            dropped_after_shutdown,
            dropped_thread_stopped,
            queued: received
                .saturating_sub(dropped_queue_full)
                .saturating_sub(dropped_after_shutdown)
                .saturating_sub(dropped_thread_stopped)
                .saturating_sub(thread.taken),
            thread,
        }
    }

    /// Books the end of a stopped export thread: what it held counts as dropped
    /// (`thread_stopped`), and `reason` becomes the signal's last error for good.
    pub(crate) fn mark_stopped(&self, reason: String) {
        let mut counters = self.thread_counters();
        let held = counters.held();
        counters.batch = 0;
        counters.buffered = 0;
        counters.buffered_bytes = 0;
        counters.in_flight = 0;
        add(&mut counters.dropped_thread_stopped, held);
        counters.last_error = Some((SystemTime::now(), reason.clone()));
        counters.stopped = Some(reason);
        drop(counters);
        self.stopped.notify_all();
    }

    /// Why the export thread stopped, waiting until `deadline` for it to say (it
    /// books its end just after it is gone).
    pub(crate) fn wait_stopped(&self, deadline: Instant) -> Option<String> {
        let mut counters = self.thread_counters();
        loop {
            if let Some(reason) = &counters.stopped {
                return Some(reason.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            counters = match self.stopped.wait_timeout(counters, left) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}
