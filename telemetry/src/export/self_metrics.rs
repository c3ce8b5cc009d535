//! The export pipelines' own figures, published as metrics on the same meter provider
//! (so they reach the collector or `/metrics` with everything else):
//!
//! | name | kind | unit | attributes |
//! |---|---|---|---|
//! | `telemetry.export.received` | counter | `{item}` | `signal` |
//! | `telemetry.export.exported` | counter | `{item}` | `signal` |
//! | `telemetry.export.dropped` | counter | `{item}` | `signal`, `reason` |
//! | `telemetry.export.pending` | gauge | `{item}` | `signal` |
//! | `telemetry.export.requests` | counter | `{request}` | `signal` |
//! | `telemetry.export.retries` | counter | `{request}` | `signal` |
//! | `telemetry.export.circuit.open` | gauge | – | `signal` (1 while open or half-open) |
//! | `telemetry.export.circuit.transitions` | counter | `{transition}` | `signal`, `to` |

use std::sync::Arc;

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;

use super::circuit::CircuitState;
use super::stats::{Snapshot, Stats};
use crate::signal::Signal;

/// Reads one figure (or several, with extra attributes) from a snapshot.
type Reader = fn(&Snapshot, &mut dyn FnMut(u64, &[KeyValue]));

/// Registers the observable instruments; their callbacks read the pipelines' counters.
pub(crate) fn register(meter: &Meter, pipelines: Vec<(Signal, Arc<Stats>)>) {
    if pipelines.is_empty() {
        return;
    }
    let pipelines = Arc::new(pipelines);
    let each = move |f: Reader| {
        let pipelines = pipelines.clone();
        move |observe: &mut dyn FnMut(u64, &[KeyValue])| {
            for (signal, stats) in pipelines.iter() {
                let snapshot = stats.snapshot();
                let mut with_signal = |value: u64, extra: &[KeyValue]| {
                    let mut attrs = Vec::with_capacity(extra.len() + 1);
                    attrs.push(KeyValue::new("signal", signal.as_str()));
                    attrs.extend_from_slice(extra);
                    observe(value, &attrs);
                };
                f(&snapshot, &mut with_signal);
            }
        }
    };
    let counter = |name: &'static str, unit: &'static str, description: &'static str, f: Reader| {
        let read = each(f);
        meter
            .u64_observable_counter(name)
            .with_unit(unit)
            .with_description(description)
            .with_callback(move |o| read(&mut |v, a| o.observe(v, a)))
            .build();
    };
    let gauge = |name: &'static str, unit: &'static str, description: &'static str, f: Reader| {
        let read = each(f);
        let mut b = meter.u64_observable_gauge(name);
        if !unit.is_empty() {
            b = b.with_unit(unit);
        }
        b.with_description(description)
            .with_callback(move |o| read(&mut |v, a| o.observe(v, a)))
            .build();
    };
    counter(
        "telemetry.export.received",
        "{item}",
        "Items offered to the export pipeline",
        |s, o| o(s.received, &[]),
    );
    counter(
        "telemetry.export.exported",
        "{item}",
        "Items the collector accepted",
        |s, o| o(s.thread.exported, &[]),
    );
    counter(
        "telemetry.export.dropped",
        "{item}",
        "Items dropped, by reason",
        |s, o| {
            let w = &s.thread;
            for (reason, n) in [
                ("queue_full", s.dropped_queue_full),
                ("buffer_full", w.dropped_buffer_full),
                ("rejected_by_collector", w.dropped_rejected),
                ("non_retryable", w.dropped_non_retryable),
                ("shutdown", s.dropped_shutdown()),
                ("thread_stopped", s.dropped_thread_stopped()),
                ("too_large", w.dropped_too_large),
            ] {
                o(n, &[KeyValue::new("reason", reason)]);
            }
        },
    );
    gauge(
        "telemetry.export.pending",
        "{item}",
        "Items queued, buffered or in flight",
        |s, o| o(s.pending(), &[]),
    );
    counter(
        "telemetry.export.requests",
        "{request}",
        "Export requests sent, retries included",
        |s, o| o(s.thread.requests, &[]),
    );
    counter(
        "telemetry.export.retries",
        "{request}",
        "Export requests that retried a failed one",
        |s, o| o(s.thread.retries, &[]),
    );
    gauge(
        "telemetry.export.circuit.open",
        "",
        "1 while the circuit breaker is open or half-open",
        |s, o| {
            o(
                u64::from(s.thread.circuit.is_some_and(|c| c != CircuitState::Closed)),
                &[],
            )
        },
    );
    counter(
        "telemetry.export.circuit.transitions",
        "{transition}",
        "Circuit breaker transitions",
        |s, o| {
            let w = &s.thread;
            o(w.opened, &[KeyValue::new("to", "open")]);
            o(w.half_opened, &[KeyValue::new("to", "half_open")]);
            o(w.closed, &[KeyValue::new("to", "closed")]);
        },
    );
}
