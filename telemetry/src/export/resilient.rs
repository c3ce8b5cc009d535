//! [`Resilient`]: the one mechanism, for spans, metrics and logs alike, that stands
//! between a batch and the collector: a bounded retry buffer (oldest first), one retry
//! loop with backoff and jitter that honours the server's delay, a circuit breaker
//! that sees every failed request, and exact accounting of every item.
//!
//! It is driven by the export thread's loop ([`super::pipeline`]): the loop asks it
//! when to wake, lets it start a request, and hands it the request's outcome. A
//! request in flight never stops new batches from being taken in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::circuit::{CircuitBreaker, CircuitBreakerConfig, CircuitState, Permit, Transition};
use super::retry::{classify, Jitter, RetryConfig, Verdict};
use super::{BoxFuture, Delivered, ExportError};
use crate::signal::Signal;

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

/// A batch encoded as requests, each within the request size limit.
pub(crate) struct Encoded<P> {
    /// The requests, each with the number of items it carries.
    pub requests: Vec<(P, u64)>,
    /// Items dropped because each alone encodes larger than the limit.
    pub too_large: u64,
}

impl<P> Encoded<P> {
    /// The whole batch as one request.
    pub(crate) fn one(payload: P, items: u64) -> Self {
        Encoded {
            requests: vec![(payload, items)],
            too_large: 0,
        }
    }
}

/// Turns batches into requests and sends them. Never retries by itself.
pub(crate) trait Transport<T>: Send + 'static {
    /// A batch ready to send, kept as is for retries.
    type Payload: Send + Sync + 'static;
    /// Encodes a batch once, as one request or several when it is larger than the
    /// transport's request size limit. The items of the requests and the items too
    /// large to send add up to the batch's. An error drops the batch
    /// (`non_retryable`).
    fn encode(&mut self, batch: Vec<T>) -> Result<Encoded<Self::Payload>, ExportError>;
    /// Splits a request the collector refused for its size into two, each with its
    /// items; `None` when it holds a single item (or cannot be split).
    fn split(&mut self, _payload: &Self::Payload) -> Option<[(Self::Payload, u64); 2]> {
        None
    }
    /// The payload's size in bytes, for the buffer's bound.
    fn size(&self, payload: &Self::Payload) -> u64;
    /// Sends one request. The future owns what it needs, so the loop can keep taking
    /// in new items while it runs.
    fn send(
        &mut self,
        payload: &Self::Payload,
    ) -> BoxFuture<'static, Result<Delivered, ExportError>>;
    /// Where requests go, for messages.
    fn target(&self) -> &str;
    /// Called once when the pipeline stops.
    fn shutdown(&mut self) {}
}

/// Every counter of one signal. The worker-side counters change together under one
/// lock, so a snapshot always balances:
/// `taken = exported + dropped(worker) + batch + buffered + in_flight`.
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
    worker: Mutex<Worker>,
    /// Signalled once `Worker::stopped` is set.
    stopped: Condvar,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Worker {
    pub taken: u64,
    pub batch: u64,
    pub buffered: u64,
    pub buffered_bytes: u64,
    pub in_flight: u64,
    pub exported: u64,
    pub retries: u64,
    pub requests: u64,
    pub failed_requests: u64,
    pub dropped_buffer_full: u64,
    pub dropped_rejected: u64,
    pub dropped_non_retryable: u64,
    pub dropped_shutdown: u64,
    /// Items that alone encode larger than the request size limit, or that the
    /// collector refused for their size.
    pub dropped_too_large: u64,
    /// Items the export thread held (batching, buffered, in flight) when it stopped.
    pub dropped_thread_stopped: u64,
    pub circuit: Option<CircuitState>,
    pub consecutive_failures: u32,
    pub opened: u64,
    pub half_opened: u64,
    pub closed: u64,
    pub last_error: Option<(SystemTime, String)>,
    pub last_success: Option<SystemTime>,
    /// Why the export thread stopped, once it has: nothing more will be exported.
    pub stopped: Option<String>,
}

/// A consistent view of a signal's counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub received: u64,
    pub dropped_queue_full: u64,
    pub dropped_after_shutdown: u64,
    pub dropped_thread_stopped: u64,
    pub queued: u64,
    pub worker: Worker,
}

impl Snapshot {
    /// Items dropped because the pipeline was shutting down: undelivered when its
    /// timeout ran out, or offered after it had stopped.
    pub(crate) fn dropped_shutdown(&self) -> u64 {
        self.worker
            .dropped_shutdown
            .saturating_add(self.dropped_after_shutdown)
    }

    /// Items dropped because the export thread had stopped: those it held, those it
    /// left in the queue and those offered afterwards.
    pub(crate) fn dropped_thread_stopped(&self) -> u64 {
        self.worker
            .dropped_thread_stopped
            .saturating_add(self.dropped_thread_stopped)
    }

    pub(crate) fn pending(&self) -> u64 {
        self.queued
            .saturating_add(self.worker.batch)
            .saturating_add(self.worker.buffered)
            .saturating_add(self.worker.in_flight)
    }
}

impl Stats {
    pub(crate) fn worker(&self) -> MutexGuard<'_, Worker> {
        match self.worker.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reads the worker's counters first, then the application's, so that every item
    /// the worker knows about was already counted as received.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let worker = self.worker().clone();
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
                .saturating_sub(worker.taken),
            worker,
        }
    }

    /// Books the end of a stopped export thread: what it held counts as dropped
    /// (`thread_stopped`), and `reason` becomes the signal's last error for good.
    pub(crate) fn mark_stopped(&self, reason: String) {
        let mut w = self.worker();
        let held = w
            .batch
            .saturating_add(w.buffered)
            .saturating_add(w.in_flight);
        w.batch = 0;
        w.buffered = 0;
        w.buffered_bytes = 0;
        w.in_flight = 0;
        w.dropped_thread_stopped = w.dropped_thread_stopped.saturating_add(held);
        w.last_error = Some((SystemTime::now(), reason.clone()));
        w.stopped = Some(reason);
        drop(w);
        self.stopped.notify_all();
    }

    /// Why the export thread stopped, waiting until `deadline` for it to say (it
    /// books its end just after it is gone).
    pub(crate) fn wait_stopped(&self, deadline: Instant) -> Option<String> {
        let mut w = self.worker();
        loop {
            if let Some(reason) = &w.stopped {
                return Some(reason.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            w = match self.stopped.wait_timeout(w, left) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

struct Entry<P> {
    payload: P,
    items: u64,
    bytes: u64,
    attempts: u32,
    first_attempt: Option<Instant>,
}

impl<P> Entry<P> {
    /// A new request entering the buffer, counted in the buffer's figures.
    fn counted(w: &mut Worker, payload: P, items: u64, bytes: u64) -> Entry<P> {
        w.buffered = w.buffered.saturating_add(items);
        w.buffered_bytes = w.buffered_bytes.saturating_add(bytes);
        Entry {
            payload,
            items,
            bytes,
            attempts: 0,
            first_attempt: None,
        }
    }
}

struct InFlight<P> {
    entry: Entry<P>,
    future: BoxFuture<'static, Result<Delivered, ExportError>>,
}

/// The resilient exporter of one signal; see the module docs.
pub(crate) struct Resilient<T, X: Transport<T>> {
    signal: Signal,
    transport: X,
    retry: RetryConfig,
    limits: RetryBufferConfig,
    breaker: CircuitBreaker,
    jitter: Jitter,
    attempt_timeout: Option<Duration>,
    buffer: VecDeque<Entry<X::Payload>>,
    in_flight: Option<InFlight<X::Payload>>,
    next_attempt_at: Option<Instant>,
    stats: Arc<Stats>,
    last_error: Option<ExportError>,
    _items: std::marker::PhantomData<fn(T)>,
}

/// Settings of the resilient exporter.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ResilienceConfig {
    pub retry: RetryConfig,
    pub circuit: CircuitBreakerConfig,
    pub buffer: RetryBufferConfig,
    /// Per request; `None` means no limit.
    pub attempt_timeout: Option<Duration>,
}

impl<T, X: Transport<T>> Resilient<T, X> {
    pub(crate) fn new(
        signal: Signal,
        transport: X,
        config: ResilienceConfig,
        stats: Arc<Stats>,
        jitter: Jitter,
    ) -> Self {
        stats.worker().circuit = Some(CircuitState::Closed);
        Resilient {
            signal,
            transport,
            retry: config.retry,
            limits: config.buffer,
            breaker: CircuitBreaker::new(config.circuit),
            jitter,
            attempt_timeout: config.attempt_timeout,
            buffer: VecDeque::new(),
            in_flight: None,
            next_attempt_at: None,
            stats,
            last_error: None,
            _items: std::marker::PhantomData,
        }
    }

    pub(crate) fn target(&self) -> &str {
        self.transport.target()
    }

    /// Nothing buffered and nothing in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.buffer.is_empty() && self.in_flight.is_none()
    }

    pub(crate) fn last_error(&self) -> Option<&ExportError> {
        self.last_error.as_ref()
    }

    /// Encodes a sealed batch and appends its requests to the buffer, evicting the
    /// oldest batches past the bounds. `items` were counted in the batch until now.
    pub(crate) fn admit(&mut self, batch: Vec<T>) {
        let items = batch.len() as u64;
        if items == 0 {
            return;
        }
        match self.transport.encode(batch) {
            Ok(Encoded {
                requests,
                too_large,
            }) => {
                let mut w = self.stats.worker();
                w.batch = w.batch.saturating_sub(items);
                let mut accounted = too_large;
                for (payload, n) in requests {
                    let bytes = self.transport.size(&payload);
                    accounted = accounted.saturating_add(n);
                    self.buffer
                        .push_back(Entry::counted(&mut w, payload, n, bytes));
                }
                w.dropped_too_large = w.dropped_too_large.saturating_add(too_large);
                // Items the encoder lost track of still balance the books.
                w.dropped_non_retryable = w
                    .dropped_non_retryable
                    .saturating_add(items.saturating_sub(accounted));
                if too_large > 0 {
                    crate::diagnostics::warn(
                        "too-large",
                        format_args!(
                            "{}: dropped {too_large} item(s), each larger than the request size limit on its own",
                            self.signal
                        ),
                    );
                }
                let mut evicted = 0u64;
                while (w.buffered > self.limits.max_items
                    || w.buffered_bytes > self.limits.max_bytes)
                    && self.buffer.len() > 1
                {
                    let Some(oldest) = self.buffer.pop_front() else {
                        break;
                    };
                    w.buffered = w.buffered.saturating_sub(oldest.items);
                    w.buffered_bytes = w.buffered_bytes.saturating_sub(oldest.bytes);
                    w.dropped_buffer_full = w.dropped_buffer_full.saturating_add(oldest.items);
                    evicted = evicted.saturating_add(oldest.items);
                    // The evicted batch may have been waiting out a backoff.
                    self.next_attempt_at = None;
                }
                drop(w);
                if evicted > 0 {
                    crate::diagnostics::warn(
                        "buffer-full",
                        format_args!(
                            "{}: retry buffer full ({} items / {} bytes max): dropped the oldest {evicted} item(s)",
                            self.signal, self.limits.max_items, self.limits.max_bytes
                        ),
                    );
                }
            }
            Err(e) => {
                let mut w = self.stats.worker();
                w.batch = w.batch.saturating_sub(items);
                w.dropped_non_retryable = w.dropped_non_retryable.saturating_add(items);
                drop(w);
                crate::diagnostics::warn(
                    "encode",
                    format_args!("{}: dropped {items} item(s): {e}", self.signal),
                );
            }
        }
    }

    /// When the loop should next call [`start`](Self::start), if it is waiting.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        if self.in_flight.is_some() || self.buffer.is_empty() {
            return None;
        }
        self.next_attempt_at
    }

    /// Starts a request for the oldest batch if the backoff and the breaker allow.
    /// Returns when the loop should try again if they do not.
    pub(crate) fn start(&mut self, now: Instant) -> Option<Instant> {
        if self.in_flight.is_some() || self.buffer.is_empty() {
            return None;
        }
        if let Some(at) = self.next_attempt_at {
            if now < at {
                return Some(at);
            }
        }
        let (permit, transition) = self.breaker.permit(now);
        if let Some(t) = transition {
            self.on_transition(t);
        }
        match permit {
            Permit::WaitUntil(at) => {
                self.next_attempt_at = Some(at);
                return Some(at);
            }
            Permit::Send | Permit::Probe => {}
        }
        let mut entry = self.buffer.pop_front()?;
        if entry.first_attempt.is_none() {
            entry.first_attempt = Some(now);
        }
        entry.attempts = entry.attempts.saturating_add(1);
        {
            let mut w = self.stats.worker();
            w.buffered = w.buffered.saturating_sub(entry.items);
            w.buffered_bytes = w.buffered_bytes.saturating_sub(entry.bytes);
            w.in_flight = w.in_flight.saturating_add(entry.items);
            w.requests = w.requests.saturating_add(1);
            if entry.attempts > 1 {
                w.retries = w.retries.saturating_add(1);
            }
        }
        let send = self.transport.send(&entry.payload);
        let future: BoxFuture<'static, Result<Delivered, ExportError>> = match self.attempt_timeout
        {
            Some(limit) => {
                let endpoint = self.transport.target().to_string();
                Box::pin(async move {
                    match tokio::time::timeout(limit, send).await {
                        Ok(r) => r,
                        Err(_) => Err(ExportError::Timeout {
                            endpoint,
                            timeout: limit,
                        }),
                    }
                })
            }
            None => send,
        };
        self.in_flight = Some(InFlight { entry, future });
        self.next_attempt_at = None;
        None
    }

    /// The in-flight request's outcome; pending forever when there is none.
    pub(crate) async fn in_flight(&mut self) -> Result<Delivered, ExportError> {
        match &mut self.in_flight {
            Some(f) => (&mut f.future).await,
            None => std::future::pending().await,
        }
    }

    /// Books the outcome of the in-flight request.
    pub(crate) fn complete(&mut self, result: Result<Delivered, ExportError>, now: Instant) {
        let Some(InFlight { mut entry, .. }) = self.in_flight.take() else {
            return;
        };
        let items = entry.items;
        match result {
            Ok(Delivered { rejected, message }) => {
                let rejected = rejected.min(items);
                {
                    let mut w = self.stats.worker();
                    w.in_flight = w.in_flight.saturating_sub(items);
                    w.exported = w.exported.saturating_add(items.saturating_sub(rejected));
                    w.dropped_rejected = w.dropped_rejected.saturating_add(rejected);
                    w.last_success = Some(SystemTime::now());
                }
                if let Some(message) = message {
                    crate::diagnostics::warn(
                        "partial-success",
                        format_args!(
                            "{}: the collector accepted the request but rejected {rejected} item(s): {message}",
                            self.signal
                        ),
                    );
                }
                if let Some(t) = self.breaker.on_success() {
                    self.on_transition(t);
                }
            }
            Err(error) if refused_for_size(&error) => {
                self.record_error(&error);
                self.last_error = Some(error.clone());
                self.split_refused(entry, &error);
                // The collector answered: it is reachable.
                if let Some(t) = self.breaker.on_success() {
                    self.on_transition(t);
                }
            }
            Err(error) => {
                self.record_error(&error);
                self.last_error = Some(error.clone());
                match classify(&error) {
                    Verdict::Permanent => {
                        {
                            let mut w = self.stats.worker();
                            w.in_flight = w.in_flight.saturating_sub(items);
                            w.dropped_non_retryable = w.dropped_non_retryable.saturating_add(items);
                        }
                        crate::diagnostics::warn(
                            "non-retryable",
                            format_args!(
                                "{}: dropped {items} item(s), not retryable: {error}",
                                self.signal
                            ),
                        );
                        // The collector answered: it is reachable.
                        if let Some(t) = self.breaker.on_success() {
                            self.on_transition(t);
                        }
                    }
                    Verdict::Retry { after } => {
                        let mut delay = self.retry.delay(entry.attempts, &mut self.jitter);
                        if let Some(server) = after {
                            delay = delay.max(server);
                        }
                        let started = entry.first_attempt.unwrap_or(now);
                        let spent = now.saturating_duration_since(started).saturating_add(delay);
                        if entry.attempts >= self.retry.max_attempts
                            || spent > self.retry.max_elapsed
                        {
                            // This batch's retries are spent: it waits in the buffer for
                            // the collector to answer again, with a fresh budget then.
                            entry.attempts = 0;
                            entry.first_attempt = None;
                            delay = delay.max(self.retry.max_backoff);
                        }
                        {
                            let mut w = self.stats.worker();
                            w.in_flight = w.in_flight.saturating_sub(items);
                            w.buffered = w.buffered.saturating_add(items);
                            w.buffered_bytes = w.buffered_bytes.saturating_add(entry.bytes);
                        }
                        self.buffer.push_front(entry);
                        self.next_attempt_at = Some(super::after(now, delay));
                        crate::diagnostics::warn(
                            "retry",
                            format_args!(
                                "{}: export failed, retrying in {delay:?}: {error}",
                                self.signal
                            ),
                        );
                        if let Some(t) = self.breaker.on_failure(now) {
                            self.on_transition(t);
                        }
                        // An open circuit sends nothing before its wait is over: say
                        // so now, so a flush or shutdown need not wait to find out.
                        if let Some(until) = self.breaker.open_until() {
                            self.next_attempt_at = Some(until.max(super::after(now, delay)));
                        }
                    }
                }
            }
        }
        let mut w = self.stats.worker();
        w.consecutive_failures = self.breaker.consecutive_failures();
    }

    /// A request the collector refused for its size goes back, split in two, to the
    /// front of the buffer; a single item is dropped (`too_large`).
    fn split_refused(&mut self, entry: Entry<X::Payload>, error: &ExportError) {
        let items = entry.items;
        let halves = self.transport.split(&entry.payload);
        let mut w = self.stats.worker();
        w.in_flight = w.in_flight.saturating_sub(items);
        let Some(halves) = halves else {
            w.dropped_too_large = w.dropped_too_large.saturating_add(items);
            drop(w);
            crate::diagnostics::warn(
                "too-large",
                format_args!(
                    "{}: dropped {items} item(s) the collector refused for their size: {error}",
                    self.signal
                ),
            );
            return;
        };
        let mut accounted = 0u64;
        for (payload, n) in halves.into_iter().rev() {
            let bytes = self.transport.size(&payload);
            accounted = accounted.saturating_add(n);
            self.buffer
                .push_front(Entry::counted(&mut w, payload, n, bytes));
        }
        w.dropped_non_retryable = w
            .dropped_non_retryable
            .saturating_add(items.saturating_sub(accounted));
        drop(w);
        // Sent again at once: the halves are new requests, not retries.
        self.next_attempt_at = None;
    }

    fn record_error(&mut self, error: &ExportError) {
        let mut w = self.stats.worker();
        w.failed_requests = w.failed_requests.saturating_add(1);
        w.last_error = Some((SystemTime::now(), error.to_string()));
    }

    fn on_transition(&mut self, t: Transition) {
        {
            let mut w = self.stats.worker();
            w.circuit = Some(t.to);
            match t.to {
                CircuitState::Open => w.opened = w.opened.saturating_add(1),
                CircuitState::HalfOpen => w.half_opened = w.half_opened.saturating_add(1),
                CircuitState::Closed => w.closed = w.closed.saturating_add(1),
            }
        }
        let last = self
            .last_error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "none".to_string());
        let buffered = self.stats.worker().buffered;
        match (t.from, t.to) {
            (CircuitState::Closed, CircuitState::Open) => crate::diagnostics::config_warning(format_args!(
                "{}: circuit breaker open: {} consecutive export failures; last error: {last}; \
                 holding data in the retry buffer",
                self.signal,
                self.breaker.consecutive_failures(),
            )),
            (CircuitState::HalfOpen, CircuitState::Open) => crate::diagnostics::config_warning(format_args!(
                "{}: circuit breaker open again: the probe failed; last error: {last}",
                self.signal
            )),
            (_, CircuitState::HalfOpen) => crate::diagnostics::config_warning(format_args!(
                "{}: circuit breaker half-open: probing {}",
                self.signal,
                self.transport.target()
            )),
            (_, CircuitState::Closed) => crate::diagnostics::config_warning(format_args!(
                "{}: circuit breaker closed: {} answered again; delivering {buffered} buffered item(s)",
                self.signal,
                self.transport.target()
            )),
            _ => {}
        }
    }

    /// At shutdown: one last chance for an open circuit.
    pub(crate) fn force_probe(&mut self) {
        self.breaker.force_probe();
        if self.breaker.state() == CircuitState::Open {
            self.next_attempt_at = None;
        }
    }

    /// The earliest a retry is due, for deciding whether waiting is worth it.
    pub(crate) fn next_attempt_at(&self) -> Option<Instant> {
        self.next_attempt_at
    }

    /// Drops everything still held (at the end of a shutdown) and counts it.
    pub(crate) fn abandon(&mut self) -> u64 {
        let mut dropped = 0u64;
        let mut w = self.stats.worker();
        if let Some(f) = self.in_flight.take() {
            w.in_flight = w.in_flight.saturating_sub(f.entry.items);
            dropped = dropped.saturating_add(f.entry.items);
        }
        for e in self.buffer.drain(..) {
            w.buffered = w.buffered.saturating_sub(e.items);
            w.buffered_bytes = w.buffered_bytes.saturating_sub(e.bytes);
            dropped = dropped.saturating_add(e.items);
        }
        w.dropped_shutdown = w.dropped_shutdown.saturating_add(dropped);
        dropped
    }

    pub(crate) fn shutdown_transport(&mut self) {
        self.transport.shutdown();
    }
}

/// Whether the collector refused a request for its size: HTTP 413, or gRPC's
/// "message larger than max" (RESOURCE_EXHAUSTED from grpc-go, OUT_OF_RANGE from
/// tonic). RESOURCE_EXHAUSTED for a quota (other words, or a RetryInfo) is not.
pub(crate) fn refused_for_size(error: &ExportError) -> bool {
    match error {
        ExportError::Http { status, .. } => *status == 413,
        ExportError::Grpc {
            code,
            retry_after: None,
            message,
            ..
        } if code.0 == 8 || code.0 == 11 => {
            let message = message.to_ascii_lowercase();
            message.contains("larger than max") || message.contains("message length too large")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::GrpcCode;

    /// A transport whose requests never resolve: the tests book outcomes by hand with
    /// `complete`, at instants they choose.
    #[derive(Default)]
    struct Scripted {
        sent: Vec<u64>,
    }

    impl Transport<u64> for Scripted {
        type Payload = Vec<u64>;
        fn encode(&mut self, batch: Vec<u64>) -> Result<Encoded<Vec<u64>>, ExportError> {
            let n = batch.len() as u64;
            Ok(Encoded::one(batch, n))
        }
        fn split(&mut self, payload: &Vec<u64>) -> Option<[(Vec<u64>, u64); 2]> {
            if payload.len() < 2 {
                return None;
            }
            let (a, b) = payload.split_at(payload.len() / 2);
            Some([(a.to_vec(), a.len() as u64), (b.to_vec(), b.len() as u64)])
        }
        fn size(&self, payload: &Vec<u64>) -> u64 {
            payload.len() as u64 * 10
        }
        fn send(
            &mut self,
            payload: &Vec<u64>,
        ) -> BoxFuture<'static, Result<Delivered, ExportError>> {
            self.sent.push(payload[0]);
            Box::pin(std::future::pending())
        }
        fn target(&self) -> &str {
            "scripted"
        }
    }

    fn engine(config: ResilienceConfig) -> (Resilient<u64, Scripted>, Arc<Stats>) {
        let stats = Arc::new(Stats::default());
        let r = Resilient::new(
            Signal::Traces,
            Scripted::default(),
            config,
            stats.clone(),
            Jitter::seeded(3),
        );
        (r, stats)
    }

    /// Feeds a batch as the worker would: received, taken, batched, admitted.
    fn offer(r: &mut Resilient<u64, Scripted>, stats: &Stats, batch: Vec<u64>) {
        let n = batch.len() as u64;
        stats.received.fetch_add(n, Ordering::SeqCst);
        {
            let mut w = stats.worker();
            w.taken += n;
            w.batch += n;
        }
        r.admit(batch);
    }

    fn unavailable(retry_after: Option<Duration>) -> ExportError {
        ExportError::Http {
            endpoint: "e".into(),
            status: 503,
            retry_after,
            message: None,
        }
    }

    fn balanced(stats: &Stats) {
        let s = stats.snapshot();
        let r = crate::health::SignalReport::from_snapshot(&s);
        assert_eq!(r.received, r.exported + r.dropped + r.pending, "{r:?}");
    }

    #[test]
    fn a_server_delay_longer_than_the_backoff_is_honoured() {
        let t0 = Instant::now();
        let (mut r, stats) = engine(ResilienceConfig::default());
        offer(&mut r, &stats, vec![1, 2, 3]);
        assert_eq!(r.start(t0), None);
        r.complete(Err(unavailable(Some(Duration::from_secs(3)))), t0);
        balanced(&stats);
        assert_eq!(stats.worker().buffered, 3, "kept for a retry");
        let due = t0 + Duration::from_secs(3);
        assert_eq!(r.start(t0 + Duration::from_millis(2999)), Some(due));
        assert_eq!(
            r.transport.sent.len(),
            1,
            "no request before the server's delay"
        );
        assert_eq!(r.start(due), None);
        assert_eq!(r.transport.sent.len(), 2);
        r.complete(Ok(Delivered::default()), due);
        let w = stats.worker().clone();
        assert_eq!((w.exported, w.retries, w.requests), (3, 1, 2));
        balanced(&stats);
    }

    #[test]
    fn absurd_server_delays_and_waits_do_not_panic() {
        let t0 = Instant::now();
        let config = ResilienceConfig {
            circuit: CircuitBreakerConfig {
                failure_threshold: 1,
                open_duration: Duration::MAX,
            },
            ..ResilienceConfig::default()
        };
        let (mut r, stats) = engine(config);
        offer(&mut r, &stats, vec![1]);
        r.start(t0);
        // `Retry-After: 18446744073709551615` parses to this.
        r.complete(Err(unavailable(Some(Duration::MAX))), t0);
        let at = r.next_attempt_at().expect("a retry is scheduled");
        assert!(
            at > t0 + Duration::from_secs(365 * 24 * 3600),
            "far away: {:?}",
            at - t0
        );
        assert!(
            r.start(t0 + Duration::from_secs(3600)).is_some(),
            "and nothing is sent"
        );
        balanced(&stats);
    }

    #[test]
    fn the_backoff_wins_when_the_server_asks_for_less() {
        let t0 = Instant::now();
        let config = ResilienceConfig {
            retry: RetryConfig {
                jitter: 0.0,
                initial_backoff: Duration::from_secs(1),
                ..RetryConfig::default()
            },
            ..ResilienceConfig::default()
        };
        let (mut r, stats) = engine(config);
        offer(&mut r, &stats, vec![1]);
        r.start(t0);
        r.complete(Err(unavailable(Some(Duration::from_millis(10)))), t0);
        assert_eq!(r.start(t0), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn five_failures_open_the_circuit_which_then_rejects_without_a_request() {
        let t0 = Instant::now();
        let config = ResilienceConfig {
            retry: RetryConfig {
                jitter: 0.0,
                ..RetryConfig::default()
            },
            ..ResilienceConfig::default()
        };
        let (mut r, stats) = engine(config);
        offer(&mut r, &stats, vec![1, 2]);
        let mut now = t0;
        for attempt in 1..=5 {
            assert_eq!(r.start(now), None, "attempt {attempt} goes out");
            r.complete(
                Err(ExportError::Connect {
                    endpoint: "127.0.0.1:4317".into(),
                    reason: "connection refused".into(),
                }),
                now,
            );
            now = r.next_attempt_at().unwrap();
        }
        let w = stats.worker().clone();
        assert_eq!(w.circuit, Some(CircuitState::Open));
        assert_eq!((w.opened, w.requests, w.failed_requests), (1, 5, 5));
        // New data is buffered while open; no request goes out until the wait is over.
        offer(&mut r, &stats, vec![3]);
        let open_at = t0 + Duration::from_micros(100_000 + 150_000 + 225_000 + 337_500);
        let reopen = open_at + Duration::from_secs(30);
        assert_eq!(r.start(open_at + Duration::from_secs(29)), Some(reopen));
        assert_eq!(r.transport.sent.len(), 5);
        balanced(&stats);
        // The probe is the oldest batch; its success closes the circuit and the rest
        // follows, oldest first.
        assert_eq!(r.start(reopen), None);
        assert_eq!(r.transport.sent, [1, 1, 1, 1, 1, 1]);
        assert_eq!(stats.worker().circuit, Some(CircuitState::HalfOpen));
        r.complete(Ok(Delivered::default()), reopen);
        assert_eq!(stats.worker().circuit, Some(CircuitState::Closed));
        assert_eq!(r.start(reopen), None);
        assert_eq!(r.transport.sent.last(), Some(&3));
        r.complete(Ok(Delivered::default()), reopen);
        let w = stats.worker().clone();
        assert_eq!(
            (w.exported, w.opened, w.half_opened, w.closed),
            (3, 1, 1, 1)
        );
        assert!(r.is_idle());
        balanced(&stats);
    }

    #[test]
    fn permanent_errors_drop_at_once_and_partial_success_is_never_resent() {
        let t0 = Instant::now();
        let (mut r, stats) = engine(ResilienceConfig::default());
        offer(&mut r, &stats, vec![1, 2, 3, 4]);
        r.start(t0);
        r.complete(
            Err(ExportError::Http {
                endpoint: "e".into(),
                status: 400,
                retry_after: None,
                message: Some("bad".into()),
            }),
            t0,
        );
        assert_eq!(stats.worker().dropped_non_retryable, 4);
        assert!(r.is_idle());
        offer(&mut r, &stats, (10..20).collect());
        r.start(t0);
        r.complete(
            Ok(Delivered {
                rejected: 5,
                message: Some("5 spans too old".into()),
            }),
            t0,
        );
        let w = stats.worker().clone();
        assert_eq!((w.exported, w.dropped_rejected), (5, 5));
        assert!(r.is_idle(), "nothing is resent");
        assert_eq!(r.transport.sent.len(), 2);
        // RESOURCE_EXHAUSTED without RetryInfo is permanent too.
        offer(&mut r, &stats, vec![30]);
        r.start(t0);
        r.complete(
            Err(ExportError::Grpc {
                endpoint: "e".into(),
                code: GrpcCode(8),
                retry_after: None,
                message: "quota".into(),
            }),
            t0,
        );
        assert_eq!(stats.worker().dropped_non_retryable, 5);
        balanced(&stats);
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_batches_and_counts_them() {
        let t0 = Instant::now();
        let config = ResilienceConfig {
            buffer: RetryBufferConfig {
                max_items: 10,
                max_bytes: u64::MAX,
            },
            ..ResilienceConfig::default()
        };
        let (mut r, stats) = engine(config);
        offer(&mut r, &stats, vec![1, 1, 1, 1]);
        offer(&mut r, &stats, vec![2, 2, 2, 2]);
        offer(&mut r, &stats, vec![3, 3, 3, 3]);
        let w = stats.worker().clone();
        assert_eq!((w.buffered, w.dropped_buffer_full), (8, 4));
        assert_eq!(r.start(t0), None);
        assert_eq!(r.transport.sent, [2], "the oldest left was batch 2");
        balanced(&stats);
        // The byte bound works the same way.
        let config = ResilienceConfig {
            buffer: RetryBufferConfig {
                max_items: u64::MAX,
                max_bytes: 50,
            },
            ..ResilienceConfig::default()
        };
        let (mut r, stats) = engine(config);
        offer(&mut r, &stats, vec![1, 1, 1]);
        offer(&mut r, &stats, vec![2, 2, 2]);
        assert_eq!(stats.worker().dropped_buffer_full, 3);
        assert_eq!(stats.worker().buffered_bytes, 30);
    }

    #[test]
    fn a_batch_whose_retries_are_spent_waits_for_the_next_chance() {
        let t0 = Instant::now();
        let config = ResilienceConfig {
            retry: RetryConfig {
                max_attempts: 2,
                jitter: 0.0,
                ..RetryConfig::default()
            },
            circuit: CircuitBreakerConfig {
                failure_threshold: 100,
                ..CircuitBreakerConfig::default()
            },
            ..ResilienceConfig::default()
        };
        let (mut r, stats) = engine(config);
        offer(&mut r, &stats, vec![1]);
        r.start(t0);
        r.complete(Err(unavailable(None)), t0);
        let t1 = r.next_attempt_at().unwrap();
        assert_eq!(t1, t0 + Duration::from_millis(100));
        r.start(t1);
        r.complete(Err(unavailable(None)), t1);
        // Budget spent: kept (not dropped), retried after the longest backoff.
        assert_eq!(stats.worker().buffered, 1);
        assert_eq!(r.next_attempt_at(), Some(t1 + Duration::from_secs(2)));
        balanced(&stats);
    }

    #[test]
    fn abandon_counts_everything_left_as_shutdown_drops() {
        let t0 = Instant::now();
        let (mut r, stats) = engine(ResilienceConfig::default());
        offer(&mut r, &stats, vec![1, 2]);
        offer(&mut r, &stats, vec![3]);
        r.start(t0);
        assert_eq!(r.abandon(), 3);
        let w = stats.worker().clone();
        assert_eq!((w.dropped_shutdown, w.in_flight, w.buffered), (3, 0, 0));
        balanced(&stats);
    }
}
