//! The flight recorder: what the process did recently, kept in memory and searchable
//! without a backend. Off by default; [`TelemetryBuilder::recorder`] turns it on.
//!
//! It keeps the most recent finished traces (whole trees, with events and
//! attributes) and log records, bounded by a count and by bytes, evicting the oldest
//! first but keeping a share for traces with errors and for the slowest trace of each
//! root name. It takes what the export pipelines already carry, on their threads: the
//! application thread pays nothing more. Only sampled spans reach it (what head
//! sampling drops is never built), and logs only while a log pipeline runs.
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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

mod query;
mod render;
mod running;
mod store;

pub use query::{LogQuery, QueryError, TraceQuery};
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

/// One finished span.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordedSpan {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The parent's span id, if any.
    pub parent_span_id: Option<String>,
    /// The span's name.
    pub name: String,
    /// `server`, `client`, `producer`, `consumer` or `internal`.
    pub kind: &'static str,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// Duration, in nanoseconds.
    pub duration_ns: u64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// The error description, if any.
    pub status_message: Option<String>,
    /// Attributes, as text.
    pub attributes: Vec<(String, String)>,
    /// Events (logs inside the span, exceptions).
    pub events: Vec<RecordedEvent>,
    #[serde(skip)]
    pub(crate) trace_id_bytes: [u8; 16],
    #[serde(skip)]
    pub(crate) is_root: bool,
}

/// An event of a span.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordedEvent {
    /// The event's name (its message).
    pub name: String,
    /// When, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Its attributes, as text.
    pub attributes: Vec<(String, String)>,
}

/// One finished trace: its root and every span that reached the recorder.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordedTrace {
    /// 32 hex digits.
    pub trace_id: String,
    /// The root span's name.
    pub name: String,
    /// The service (`service.name`).
    pub service: String,
    /// The root's start, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// The root's duration, in nanoseconds.
    pub duration_ns: u64,
    /// Whether any span has an error status.
    pub error: bool,
    /// Every span, the root last.
    pub spans: Vec<RecordedSpan>,
    #[serde(skip)]
    pub(crate) trace_id_bytes: [u8; 16],
    #[serde(skip)]
    pub(crate) bytes: usize,
}

/// A trace as lists show it: no spans.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceSummary {
    /// 32 hex digits.
    pub trace_id: String,
    /// The root span's name.
    pub name: String,
    /// The service.
    pub service: String,
    /// The root's start, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// The root's duration, in nanoseconds.
    pub duration_ns: u64,
    /// The same, as the console writes it (`12.30ms`).
    pub duration: String,
    /// Whether any span has an error status.
    pub error: bool,
    /// How many spans it holds.
    pub spans: usize,
}

/// One log record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordedLog {
    /// When, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// The same, in RFC 3339 (UTC).
    pub time: String,
    /// `TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR`.
    pub level: &'static str,
    /// The event's target.
    pub target: String,
    /// The message.
    pub message: String,
    /// The other fields, as text.
    pub fields: Vec<(String, String)>,
    /// The trace it was written in, if any.
    pub trace_id: Option<String>,
    /// The span it was written in, if any.
    pub span_id: Option<String>,
    /// The recorder's sequence number of the record (follow mode reads on from it).
    #[serde(skip)]
    pub(crate) seq: u64,
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn text_bytes(pairs: &[(String, String)]) -> usize {
    pairs.iter().map(|(k, v)| k.len() + v.len() + 48).sum()
}

impl RecordedSpan {
    pub(crate) fn from_sdk(s: &SpanData) -> RecordedSpan {
        let kind = match s.span_kind {
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
            SpanKind::Internal => "internal",
        };
        let (status, status_message) = match &s.status {
            Status::Unset => ("unset", None),
            Status::Ok => ("ok", None),
            Status::Error { description } => ("error", Some(description.to_string())),
        };
        let parent = s.parent_span_id;
        let has_parent = parent != opentelemetry::trace::SpanId::INVALID;
        RecordedSpan {
            trace_id: s.span_context.trace_id().to_string(),
            span_id: s.span_context.span_id().to_string(),
            parent_span_id: has_parent.then(|| parent.to_string()),
            name: s.name.to_string(),
            kind,
            start_unix_nano: nanos(s.start_time),
            duration_ns: s
                .end_time
                .duration_since(s.start_time)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0),
            status,
            status_message,
            attributes: s
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect(),
            events: s
                .events
                .iter()
                .map(|e| RecordedEvent {
                    name: e.name.to_string(),
                    time_unix_nano: nanos(e.timestamp),
                    attributes: e
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect(),
                })
                .collect(),
            trace_id_bytes: s.span_context.trace_id().to_bytes(),
            is_root: !has_parent || s.parent_span_is_remote,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        256 + self.name.len()
            + text_bytes(&self.attributes)
            + self
                .events
                .iter()
                .map(|e| 64 + e.name.len() + text_bytes(&e.attributes))
                .sum::<usize>()
    }
}

impl RecordedTrace {
    fn new(spans: Vec<RecordedSpan>, service: &str) -> RecordedTrace {
        let root = spans.last().cloned();
        let bytes = spans.iter().map(RecordedSpan::bytes).sum::<usize>() + 128;
        let root = root.unwrap_or_else(unreachable_root);
        RecordedTrace {
            trace_id: root.trace_id.clone(),
            name: root.name.clone(),
            service: service.to_string(),
            start_unix_nano: root.start_unix_nano,
            duration_ns: root.duration_ns,
            error: spans.iter().any(|s| s.status == "error"),
            trace_id_bytes: root.trace_id_bytes,
            spans,
            bytes,
        }
    }

    fn add(&mut self, span: RecordedSpan) {
        self.error |= span.status == "error";
        self.bytes += span.bytes();
        self.spans.insert(0, span);
    }

    /// The summary of lists.
    pub fn summary(&self) -> TraceSummary {
        TraceSummary {
            trace_id: self.trace_id.clone(),
            name: self.name.clone(),
            service: self.service.clone(),
            start_unix_nano: self.start_unix_nano,
            duration_ns: self.duration_ns,
            duration: crate::export::human(self.duration()),
            error: self.error,
            spans: self.spans.len(),
        }
    }

    /// The root's duration.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns)
    }
}

/// A root for an empty span list (never made: a trace is made from its root).
fn unreachable_root() -> RecordedSpan {
    RecordedSpan {
        trace_id: String::new(),
        span_id: String::new(),
        parent_span_id: None,
        name: String::new(),
        kind: "internal",
        start_unix_nano: 0,
        duration_ns: 0,
        status: "unset",
        status_message: None,
        attributes: Vec::new(),
        events: Vec::new(),
        trace_id_bytes: [0; 16],
        is_root: true,
    }
}

impl RecordedLog {
    pub(crate) fn from_record(r: &crate::logs::LogRecord) -> RecordedLog {
        RecordedLog {
            time_unix_nano: nanos(r.time),
            time: crate::health::rfc3339(r.time),
            level: r.level().as_str(),
            target: r.target().to_string(),
            message: r.message.to_string(),
            fields: r
                .fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            trace_id: r.trace_id.map(|t| t.to_string()),
            span_id: r.span_id.map(|s| s.to_string()),
            seq: 0,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        128 + self.target.len() + self.message.len() + text_bytes(&self.fields)
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
    pub(crate) fn spans(&self, batch: &[SpanData]) {
        let spans: Vec<RecordedSpan> = batch.iter().map(RecordedSpan::from_sdk).collect();
        let mut store = self.store();
        for s in spans {
            store.span(s, &self.inner.service);
        }
    }

    /// Records log records (on an export thread).
    pub(crate) fn logs(&self, batch: &[crate::logs::LogRecord]) {
        let logs: Vec<RecordedLog> = batch.iter().map(RecordedLog::from_record).collect();
        let mut store = self.store();
        let mut last = None;
        for l in logs {
            last = Some(store.log(l));
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
        let mut found: Vec<RecordedLog> = store
            .logs()
            .rev()
            .take_while(|l| l.seq > after)
            .filter(|l| query.matches(l))
            .take(query.limit)
            .cloned()
            .collect();
        found.reverse();
        (found, store.last_log_seq())
    }

    /// The traces that match, newest first.
    pub fn traces(&self, query: &TraceQuery) -> Vec<TraceSummary> {
        let store = self.store();
        store
            .traces()
            .rev()
            .filter(|t| query.matches(t))
            .take(query.limit)
            .map(RecordedTrace::summary)
            .collect()
    }

    /// One trace, whole, by its id (32 hex digits).
    pub fn trace(&self, trace_id: &str) -> Option<RecordedTrace> {
        let id = trace_id.to_ascii_lowercase();
        self.store()
            .traces()
            .rev()
            .find(|t| t.trace_id == id)
            .cloned()
    }

    /// One span, by its id (16 hex digits).
    pub fn span(&self, span_id: &str) -> Option<RecordedSpan> {
        let id = span_id.to_ascii_lowercase();
        let store = self.store();
        let found = store
            .traces()
            .rev()
            .flat_map(|t| t.spans.iter())
            .find(|s| s.span_id == id)
            .cloned();
        found
    }

    /// The log records that match, newest first.
    pub fn logs_matching(&self, query: &LogQuery) -> Vec<RecordedLog> {
        let store = self.store();
        store
            .logs()
            .rev()
            .filter(|l| query.matches(l))
            .take(query.limit)
            .cloned()
            .collect()
    }

    /// Reads the meter provider's instruments through `reader` from now on.
    pub(crate) fn read_metrics(&self, reader: Arc<opentelemetry_sdk::metrics::ManualReader>) {
        let _ = self.inner.metrics.set(reader);
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
