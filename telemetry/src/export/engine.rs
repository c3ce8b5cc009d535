//! [`Engine`]: the one mechanism, for spans, metrics and logs alike, that stands
//! between a batch and the collector: a bounded retry buffer, oldest first
//! ([`super::retry_buffer`]), one retry loop with backoff and jitter that honours the
//! server's delay ([`super::retry`]), a circuit breaker that sees every failed request
//! ([`super::circuit`]), and exact accounting of every item ([`super::stats`]).
//!
//! It is driven by the export thread's loop ([`super::pipeline`]): the loop asks it
//! when to wake, lets it start a request, and hands it the request's outcome. A
//! request in flight never stops new batches from being taken in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::circuit::{CircuitBreaker, CircuitBreakerConfig, CircuitState, Permit, Transition};
use super::retry::{refused_for_size, Jitter, RetryConfig, Verdict};
use super::retry_buffer::{Entry, RetryBuffer, RetryBufferConfig};
use super::stats::{DropReason, Stats};
use super::transport::{BoxFuture, Delivered, Encoded, Transport};
use super::ExportError;
use crate::signal::Signal;

/// Settings of the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ResilienceConfig {
    pub retry: RetryConfig,
    pub circuit: CircuitBreakerConfig,
    pub buffer: RetryBufferConfig,
    /// Per request; `None` means no limit.
    pub attempt_timeout: Option<Duration>,
}

struct InFlight<P> {
    entry: Entry<P>,
    future: BoxFuture<'static, Result<Delivered, ExportError>>,
}

/// The retry engine of one signal; see the module docs.
pub(crate) struct Engine<T, X: Transport<T>> {
    signal: Signal,
    transport: X,
    retry: RetryConfig,
    breaker: CircuitBreaker,
    jitter: Jitter,
    attempt_timeout: Option<Duration>,
    buffer: RetryBuffer<X::Payload>,
    in_flight: Option<InFlight<X::Payload>>,
    next_attempt_at: Option<Instant>,
    stats: Arc<Stats>,
    last_error: Option<ExportError>,
    _items: std::marker::PhantomData<fn(T)>,
}

impl<T, X: Transport<T>> Engine<T, X> {
    pub(crate) fn new(
        signal: Signal,
        transport: X,
        config: ResilienceConfig,
        stats: Arc<Stats>,
        jitter: Jitter,
    ) -> Self {
        stats.thread_counters().circuit = Some(CircuitState::Closed);
        Engine {
            signal,
            transport,
            retry: config.retry,
            breaker: CircuitBreaker::new(config.circuit),
            jitter,
            attempt_timeout: config.attempt_timeout,
            buffer: RetryBuffer::new(config.buffer),
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
        let encoded = self.transport.encode(batch);
        let mut counters = self.stats.thread_counters();
        counters.left_batch(items);
        let Encoded {
            requests,
            too_large,
        } = match encoded {
            Ok(encoded) => encoded,
            Err(e) => {
                counters.dropped(DropReason::NonRetryable, items);
                drop(counters);
                crate::diagnostics::warn_for(
                    self.signal,
                    "encode",
                    format_args!("{}: dropped {items} item(s): {e}", self.signal),
                );
                return;
            }
        };
        let mut accounted = too_large;
        for (payload, n) in requests {
            let bytes = self.transport.size(&payload);
            accounted = accounted.saturating_add(n);
            self.buffer
                .push_back(&mut counters, Entry::new(payload, n, bytes));
        }
        counters.dropped(DropReason::TooLarge, too_large);
        // Items the encoder lost track of still balance the books.
        counters.dropped(DropReason::NonRetryable, items.saturating_sub(accounted));
        if too_large > 0 {
            crate::diagnostics::warn_for(
                self.signal,
                "too-large",
                format_args!(
                    "{}: dropped {too_large} item(s), each larger than the request size limit on its own",
                    self.signal
                ),
            );
        }
        let evicted = self.buffer.evict_past_limits(&mut counters);
        drop(counters);
        if evicted > 0 {
            // The evicted batch may have been waiting out a backoff.
            self.next_attempt_at = None;
            let limits = self.buffer.limits();
            crate::diagnostics::warn_for(
                self.signal,
                "buffer-full",
                format_args!(
                    "{}: retry buffer full ({} items / {} bytes max): dropped the oldest {evicted} item(s)",
                    self.signal, limits.max_items, limits.max_bytes
                ),
            );
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
        self.on_transition(transition);
        match permit {
            Permit::WaitUntil(at) => {
                self.next_attempt_at = Some(at);
                return Some(at);
            }
            Permit::Send | Permit::Probe => {}
        }
        let mut entry = {
            let mut counters = self.stats.thread_counters();
            let entry = self.buffer.pop_front(&mut counters)?;
            counters.sent(entry.items, entry.attempts > 0);
            entry
        };
        if entry.first_attempt.is_none() {
            entry.first_attempt = Some(now);
        }
        entry.attempts = entry.attempts.saturating_add(1);
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
        let Some(InFlight { entry, .. }) = self.in_flight.take() else {
            return;
        };
        match result {
            Ok(Delivered { rejected, message }) => {
                let items = entry.items;
                let rejected = rejected.min(items);
                {
                    let mut counters = self.stats.thread_counters();
                    counters.landed(items);
                    counters.exported(items, rejected);
                }
                if let Some(message) = message {
                    crate::diagnostics::warn_for(
                self.signal,
                        "partial-success",
                        format_args!(
                            "{}: the collector accepted the request but rejected {rejected} item(s): {message}",
                            self.signal
                        ),
                    );
                }
                self.collector_answered();
            }
            Err(error) => {
                self.stats.thread_counters().failed(error.to_string());
                self.last_error = Some(error.clone());
                if refused_for_size(&error) {
                    self.split_refused(entry, &error);
                    self.collector_answered();
                } else {
                    match self.transport.classify(&error) {
                        Verdict::Permanent => self.drop_failed(entry, &error),
                        Verdict::Unreachable => self.drop_unreachable(entry, &error, now),
                        Verdict::Retry { after } => self.retry_later(entry, &error, after, now),
                    }
                }
            }
        }
        self.stats.thread_counters().consecutive_failures = self.breaker.consecutive_failures();
    }

    /// The collector answered, even if with a refusal: it is reachable.
    fn collector_answered(&mut self) {
        let transition = self.breaker.on_success();
        self.on_transition(transition);
    }

    /// A request that failed for good is dropped (`non_retryable`): the collector
    /// answered, so the circuit counts a success.
    fn drop_failed(&mut self, entry: Entry<X::Payload>, error: &ExportError) {
        self.drop_non_retryable(entry, error);
        self.collector_answered();
    }

    /// A request that cannot succeed while the setup stays as it is (a refused TLS
    /// handshake) is dropped (`non_retryable`) and counts as a failure toward the
    /// circuit breaker: an open circuit then sends nothing until its wait is over.
    fn drop_unreachable(&mut self, entry: Entry<X::Payload>, error: &ExportError, now: Instant) {
        self.drop_non_retryable(entry, error);
        let transition = self.breaker.on_failure(now);
        self.on_transition(transition);
        if let Some(until) = self.breaker.open_until() {
            self.next_attempt_at = Some(until);
        }
    }

    /// Counts a batch dropped as `non_retryable`, and says so.
    fn drop_non_retryable(&mut self, entry: Entry<X::Payload>, error: &ExportError) {
        let items = entry.items;
        {
            let mut counters = self.stats.thread_counters();
            counters.landed(items);
            counters.dropped(DropReason::NonRetryable, items);
        }
        crate::diagnostics::warn_for(
            self.signal,
            "non-retryable",
            format_args!(
                "{}: dropped {items} item(s), not retryable: {error}",
                self.signal
            ),
        );
    }

    /// A request that failed for now goes back to the front of the buffer, to be sent
    /// again after the backoff, or the server's delay if that is longer.
    fn retry_later(
        &mut self,
        mut entry: Entry<X::Payload>,
        error: &ExportError,
        server_delay: Option<Duration>,
        now: Instant,
    ) {
        let mut delay = self.retry.delay(entry.attempts, &mut self.jitter);
        if let Some(server) = server_delay {
            delay = delay.max(server);
        }
        let started = entry.first_attempt.unwrap_or(now);
        let spent = now.saturating_duration_since(started).saturating_add(delay);
        if entry.attempts >= self.retry.max_attempts || spent > self.retry.max_elapsed {
            // This batch's retries are spent: it waits in the buffer for the collector
            // to answer again, with a fresh budget then.
            entry.attempts = 0;
            entry.first_attempt = None;
            delay = delay.max(self.retry.max_backoff);
        }
        {
            let mut counters = self.stats.thread_counters();
            counters.landed(entry.items);
            self.buffer.push_front(&mut counters, entry);
        }
        self.next_attempt_at = Some(super::after(now, delay));
        let waiting = self.stats.snapshot().pending();
        crate::diagnostics::warn_for(
            self.signal,
            "retry",
            format_args!("{}", retry_warning(self.signal, delay, error, waiting)),
        );
        let transition = self.breaker.on_failure(now);
        self.on_transition(transition);
        // An open circuit sends nothing before its wait is over: say so now, so a
        // flush or shutdown need not wait to find out.
        if let Some(until) = self.breaker.open_until() {
            self.next_attempt_at = Some(until.max(super::after(now, delay)));
        }
    }

    /// A request the collector refused for its size goes back, split in two, to the
    /// front of the buffer; a single item is dropped (`too_large`).
    fn split_refused(&mut self, entry: Entry<X::Payload>, error: &ExportError) {
        let items = entry.items;
        let halves = self.transport.split(&entry.payload);
        let mut counters = self.stats.thread_counters();
        counters.landed(items);
        let Some(halves) = halves else {
            counters.dropped(DropReason::TooLarge, items);
            drop(counters);
            crate::diagnostics::warn_for(
                self.signal,
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
                .push_front(&mut counters, Entry::new(payload, n, bytes));
        }
        counters.dropped(DropReason::NonRetryable, items.saturating_sub(accounted));
        drop(counters);
        // Sent again at once: the halves are new requests, not retries.
        self.next_attempt_at = None;
    }

    /// Counts a move of the circuit breaker and says so on stderr.
    fn on_transition(&mut self, transition: Option<Transition>) {
        let Some(t) = transition else {
            return;
        };
        let buffered = {
            let mut counters = self.stats.thread_counters();
            counters.circuit_moved(t.to);
            counters.buffered
        };
        let last = self
            .last_error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "none".to_string());
        let signal = self.signal;
        let target = self.transport.target();
        match (t.from, t.to) {
            (CircuitState::Closed, CircuitState::Open) => {
                crate::diagnostics::pipeline_state_change(format_args!(
                    "{signal}: circuit breaker open: {} consecutive export failures; last error: {last}; \
                     holding data in the retry buffer",
                    self.breaker.consecutive_failures(),
                ))
            }
            (CircuitState::HalfOpen, CircuitState::Open) => {
                crate::diagnostics::pipeline_state_change(format_args!(
                    "{signal}: circuit breaker open again: the probe failed; last error: {last}"
                ))
            }
            (_, CircuitState::HalfOpen) => crate::diagnostics::pipeline_state_change(
                format_args!("{signal}: circuit breaker half-open: probing {target}"),
            ),
            (_, CircuitState::Closed) => crate::diagnostics::pipeline_state_change(format_args!(
                "{signal}: circuit breaker closed: {target} answered again; delivering {buffered} buffered item(s)"
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
        let mut counters = self.stats.thread_counters();
        let mut dropped = 0u64;
        if let Some(f) = self.in_flight.take() {
            counters.landed(f.entry.items);
            dropped = dropped.saturating_add(f.entry.items);
        }
        dropped = dropped.saturating_add(self.buffer.clear(&mut counters));
        counters.dropped(DropReason::Shutdown, dropped);
        dropped
    }

    pub(crate) fn shutdown_transport(&mut self) {
        self.transport.shutdown();
    }
}

#[cfg(test)]
mod tests;

/// The warning of a failed export that will be retried: the signal, when, why (the
/// error names where the request went) and how many items wait meanwhile.
pub(crate) fn retry_warning(
    signal: Signal,
    delay: Duration,
    error: &ExportError,
    waiting: u64,
) -> String {
    format!("{signal}: export failed, retrying in {delay:?}: {error}; {waiting} item(s) waiting")
}
