//! The flight recorder: what the process did recently, kept in memory and searchable
//! without a backend. Off by default; [`TelemetryBuilder::recorder`] turns it on.
//!
//! It keeps the most recent finished traces (whole trees, with events and
//! attributes) and log records, bounded by a count and by bytes, evicting the oldest
//! first but keeping a share for traces with errors and for the slowest trace of each
//! root name. It takes what the export pipelines already carry, on their threads, and
//! its metrics from a reader already there. Only sampled spans reach it (what head
//! sampling drops is never built), and logs only while a log pipeline runs. It also
//! lists the spans running now ([`Recorder::running`]): the one thing the application
//! thread pays for, a slot of a lock-free table filled at the span's start and cleared
//! at its close (about 180 instructions per span).
//!
//! ```
//! use telemetry::recorder::{RecorderConfig, TraceQuery};
//! use tracing_subscriber::prelude::*;
//!
//! let telemetry = telemetry::Telemetry::builder()
//!     .recorder(RecorderConfig::default())
//!     .build()?;
//! let subscriber = tracing_subscriber::registry().with(telemetry.layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("checkout").in_scope(|| tracing::info!("done"));
//! });
//! telemetry.force_flush()?;
//! let recorder = telemetry.recorder().expect("on");
//! let traces = recorder.traces(&TraceQuery::default());
//! assert_eq!(traces[0].name, "checkout");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TelemetryBuilder::recorder`]: crate::TelemetryBuilder::recorder

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

mod query;
mod records;
mod render;
mod running;
mod store;

pub use query::{LogQuery, QueryError, TraceQuery};
pub use records::{RecordedEvent, RecordedLog, RecordedSpan, RecordedTrace, TraceSummary};
pub(crate) use running::Running;
pub use running::RunningSpan;

/// The decoded pairs of a query string.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query::pairs(query)
}

/// Whether a log query asks to follow (`follow` or `follow=true`).
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn query_follows(query: &str) -> bool {
    query::pairs(query)
        .iter()
        .any(|(k, v)| k == "follow" && !matches!(v.as_str(), "false" | "0"))
}

/// A bearer token: compared in constant time, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// A token; `build()` refuses an empty one.
    pub fn new(token: impl Into<String>) -> AdminToken {
        AdminToken(token.into())
    }

    /// Whether an `Authorization` header carries this token (`Bearer <token>`).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn admits(&self, header: Option<&str>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        let (a, b) = (given.as_bytes(), self.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// The recorder's bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecorderConfig {
    /// Finished traces kept at most. Default: 1000.
    pub max_traces: usize,
    /// Spans kept per trace at most. Default: 500.
    pub max_spans_per_trace: usize,
    /// Log records kept at most. Default: 5000.
    pub max_logs: usize,
    /// Bytes (estimated) kept at most, traces and logs together; logs get a quarter.
    /// Default: 8 MiB.
    pub max_bytes: usize,
    /// The share of `max_traces` kept for the newest traces with an error. Default: 0.2.
    pub error_share: f64,
    /// The share of `max_traces` kept for the slowest trace of each root name.
    /// Default: 0.1.
    pub slow_share: f64,
    /// Running spans listed at most (slots of a fixed table, 48 bytes each; a span
    /// that finds no free slot is counted, not listed). Default: 1024.
    pub max_running: usize,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            max_traces: 1000,
            max_spans_per_trace: 500,
            max_logs: 5000,
            max_bytes: 8 * 1024 * 1024,
            error_share: 0.2,
            slow_share: 0.1,
            max_running: 1024,
        }
    }
}

/// The flight recorder of a [`Telemetry`](crate::Telemetry): queries over what it
/// recorded. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Shared>,
}

struct Shared {
    store: Mutex<store::Store>,
    service: String,
    /// Reads the instruments on demand (the Prometheus endpoint's reader, or the
    /// recorder's own where no other reader keeps cumulative values).
    metrics: std::sync::OnceLock<Arc<opentelemetry_sdk::metrics::ManualReader>>,
    /// Or the last collection a periodic exporter sent, and when.
    exported: Mutex<Option<(SystemTime, Vec<crate::metrics::Point>)>>,
    /// The sequence number of the newest log record, for followers.
    log_seq: tokio::sync::watch::Sender<u64>,
    /// The spans running now, kept by the layer.
    running: Arc<Running>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.store();
        f.debug_struct("Recorder")
            .field("traces", &s.traces().count())
            .field("logs", &s.logs().count())
            .finish()
    }
}

impl Recorder {
    pub(crate) fn new(config: RecorderConfig, service: String) -> Recorder {
        Recorder {
            inner: Arc::new(Shared {
                store: Mutex::new(store::Store::new(config)),
                service,
                metrics: std::sync::OnceLock::new(),
                exported: Mutex::new(None),
                log_seq: tokio::sync::watch::Sender::new(0),
                running: Arc::new(Running::new(config.max_running)),
            }),
        }
    }

    fn store(&self) -> MutexGuard<'_, store::Store> {
        self.inner.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records finished spans (on an export thread).
    pub(crate) fn spans(&self, batch: &[crate::export::Span]) {
        // Copied one at a time: no second copy of the batch in memory.
        let mut store = self.store();
        for s in batch {
            store.span(s.to_sdk());
        }
    }

    /// Records log records (on an export thread).
    pub(crate) fn logs(&self, batch: &[crate::logs::PooledLog]) {
        let mut store = self.store();
        let mut last = None;
        for l in batch {
            last = Some(store.log(crate::logs::LogRecord::clone(l)));
        }
        drop(store);
        if let Some(seq) = last {
            self.inner.log_seq.send_replace(seq);
        }
    }

    /// The table the layer keeps running spans in.
    pub(crate) fn running_table(&self) -> Arc<Running> {
        self.inner.running.clone()
    }

    /// The spans running now (name, start, elapsed, trace id once entered), the
    /// longest running first. Spans of every trace, sampled or not.
    pub fn running(&self) -> Vec<RunningSpan> {
        self.inner.running.list()
    }

    /// Wakes when log records arrive (follow mode).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn watch_logs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.log_seq.subscribe()
    }

    /// The records that match and came after sequence number `after`, oldest first, at
    /// most `query.limit` of them (the newest), and the newest sequence number taken.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn logs_after(&self, after: u64, query: &LogQuery) -> (Vec<RecordedLog>, u64) {
        let store = self.store();
        let matcher = query.matcher();
        let mut found: Vec<RecordedLog> = store
            .logs()
            .rev()
            .take_while(|l| l.seq > after)
            .filter(|l| matcher.matches(&l.record))
            .take(query.limit)
            .map(|l| RecordedLog::from_record(&l.record))
            .collect();
        found.reverse();
        (found, store.last_log_seq())
    }

    /// The traces that match, newest first.
    pub fn traces(&self, query: &TraceQuery) -> Vec<TraceSummary> {
        let service = self.inner.service.as_str();
        if query.service.as_ref().is_some_and(|s| s != service) {
            return Vec::new();
        }
        let store = self.store();
        store
            .traces()
            .rev()
            .filter(|t| query.matches(t))
            .take(query.limit)
            .map(|t| TraceSummary::of(t, service))
            .collect()
    }

    /// One trace, whole, by its id (32 hex digits).
    pub fn trace(&self, trace_id: &str) -> Option<RecordedTrace> {
        let id = opentelemetry::trace::TraceId::from_hex(trace_id)
            .ok()?
            .to_bytes();
        let store = self.store();
        let found = store.traces().rev().find(|t| t.trace_id() == id);
        found.map(|t| RecordedTrace::from_stored(t, &self.inner.service))
    }

    /// One span, by its id (16 hex digits).
    pub fn span(&self, span_id: &str) -> Option<RecordedSpan> {
        let id = opentelemetry::trace::SpanId::from_hex(span_id).ok()?;
        let store = self.store();
        let found = store
            .traces()
            .rev()
            .flat_map(|t| t.spans())
            .find(|s| s.span_context.span_id() == id);
        found.map(RecordedSpan::from_sdk)
    }

    /// The log records that match, newest first.
    pub fn logs_matching(&self, query: &LogQuery) -> Vec<RecordedLog> {
        let matcher = query.matcher();
        let store = self.store();
        store
            .logs()
            .rev()
            .filter(|l| matcher.matches(&l.record))
            .take(query.limit)
            .map(|l| RecordedLog::from_record(&l.record))
            .collect()
    }

    /// Where the recorder's metrics come from: the values a reader already keeps, so
    /// that it adds no aggregation to the application's measurements. The Prometheus
    /// endpoint's reader (`pull`) is read on demand; a `periodic` reader with
    /// cumulative values shows the recorder each collection; only without either does
    /// the recorder need a reader of its own.
    pub(crate) fn metrics_feed(
        &self,
        pull: Option<&Arc<opentelemetry_sdk::metrics::ManualReader>>,
        periodic: bool,
    ) -> MetricsFeed {
        use opentelemetry_sdk::metrics::{ManualReader, Temporality};
        if let Some(pull) = pull {
            let _ = self.inner.metrics.set(pull.clone());
            return MetricsFeed::Pull;
        }
        if periodic {
            let r = self.clone();
            let tap = move |rm: &_| r.exported_metrics(rm);
            return MetricsFeed::Tap(crate::export::MetricsTap(Arc::new(tap)));
        }
        let reader = Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Cumulative)
                .build(),
        );
        let _ = self.inner.metrics.set(reader.clone());
        MetricsFeed::Reader(crate::metrics::SharedReader(reader))
    }

    /// Keeps a periodic exporter's collection as the metrics snapshot (on the reader's
    /// thread).
    pub(crate) fn exported_metrics(&self, rm: &opentelemetry_sdk::metrics::data::ResourceMetrics) {
        let points = crate::metrics::points_of(rm);
        let mut kept = self
            .inner
            .exported
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *kept = Some((SystemTime::now(), points));
    }

    /// Every metric series, with its attributes and cumulative value, those whose name
    /// starts with `prefix` when one is given.
    ///
    /// With metrics pulled by Prometheus, the values are read now. With a push
    /// exporter (OTLP, the console), they are those of its last collection (every
    /// `OTEL_METRIC_EXPORT_INTERVAL`, and at each `force_flush`): the recorder adds no
    /// reader of its own, so recording a measurement costs the application nothing
    /// more. See [`metrics_as_of`](Recorder::metrics_as_of).
    pub fn metrics(&self, prefix: Option<&str>) -> Vec<crate::metrics::Point> {
        let mut points = match self.inner.metrics.get() {
            Some(reader) => crate::metrics::collect_points(reader),
            None => self
                .inner
                .exported
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|(_, points)| points.clone())
                .unwrap_or_default(),
        };
        if let Some(p) = prefix {
            points.retain(|point| point.name.starts_with(p));
        }
        points
    }

    /// When the values [`metrics`](Recorder::metrics) returns were collected: `None`
    /// when they are read on demand (now), or before a push exporter's first
    /// collection.
    pub fn metrics_as_of(&self) -> Option<SystemTime> {
        if self.inner.metrics.get().is_some() {
            return None;
        }
        let kept = self
            .inner
            .exported
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        kept.as_ref().map(|(at, _)| *at)
    }

    /// What the recorder holds: traces, logs, estimated bytes, and what it let go.
    pub fn stats(&self) -> RecorderStats {
        let s = self.store();
        RecorderStats {
            traces: s.traces().count(),
            logs: s.logs().count(),
            bytes: s.bytes(),
            evicted_traces: s.evicted_traces,
            evicted_logs: s.evicted_logs,
            unlisted_running: self.inner.running.unlisted(),
        }
    }
}

/// How the recorder reads metrics (see [`Recorder::metrics_feed`]).
pub(crate) enum MetricsFeed {
    /// From the Prometheus endpoint's reader.
    Pull,
    /// From each collection of the first periodic reader.
    Tap(crate::export::MetricsTap),
    /// From a reader of its own, to add to the meter provider.
    Reader(crate::metrics::SharedReader),
}

/// What a [`Recorder`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RecorderStats {
    /// Traces kept.
    pub traces: usize,
    /// Log records kept.
    pub logs: usize,
    /// Estimated bytes kept.
    pub bytes: usize,
    /// Traces let go to stay within the bound.
    pub evicted_traces: u64,
    /// Log records let go.
    pub evicted_logs: u64,
    /// Spans running now that the running table had no slot for.
    pub unlisted_running: u64,
}
