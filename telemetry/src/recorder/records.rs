//! What the recorder answers with: finished spans, traces and log records as text,
//! made from what the store keeps (the SDK's span data and the layer's log records)
//! only when asked for, so that recording formats nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

use super::store::{duration_of, StoredTrace};
use crate::logs::LogRecord;

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
}

/// Nanoseconds since the Unix epoch (0 before it).
pub(crate) fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn text(pairs: &[opentelemetry::KeyValue]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn span_kind(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

impl RecordedSpan {
    /// The text of one span the store keeps.
    pub(crate) fn from_sdk(s: &SpanData) -> RecordedSpan {
        let (status, status_message) = match &s.status {
            Status::Unset => ("unset", None),
            Status::Ok => ("ok", None),
            Status::Error { description } => ("error", Some(description.to_string())),
        };
        let parent = s.parent_span_id;
        RecordedSpan {
            trace_id: s.span_context.trace_id().to_string(),
            span_id: s.span_context.span_id().to_string(),
            parent_span_id: (parent != SpanId::INVALID).then(|| parent.to_string()),
            name: s.name.to_string(),
            kind: span_kind(&s.span_kind),
            start_unix_nano: nanos(s.start_time),
            duration_ns: u64::try_from(duration_of(s).as_nanos()).unwrap_or(u64::MAX),
            status,
            status_message,
            attributes: text(&s.attributes),
            events: s
                .events
                .iter()
                .map(|e| RecordedEvent {
                    name: e.name.to_string(),
                    time_unix_nano: nanos(e.timestamp),
                    attributes: text(&e.attributes),
                })
                .collect(),
        }
    }
}

impl RecordedTrace {
    /// The text of a trace the store keeps.
    pub(crate) fn from_stored(t: &StoredTrace, service: &str) -> RecordedTrace {
        let spans: Vec<RecordedSpan> = t
            .children
            .iter()
            .chain(std::iter::once(&t.root))
            .map(RecordedSpan::from_sdk)
            .collect();
        RecordedTrace {
            trace_id: t.root.span_context.trace_id().to_string(),
            name: t.root.name.to_string(),
            service: service.to_string(),
            start_unix_nano: nanos(t.root.start_time),
            duration_ns: u64::try_from(t.duration().as_nanos()).unwrap_or(u64::MAX),
            error: t.error,
            spans,
        }
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

impl TraceSummary {
    /// The summary of a trace the store keeps.
    pub(crate) fn of(t: &StoredTrace, service: &str) -> TraceSummary {
        let duration = t.duration();
        TraceSummary {
            trace_id: t.root.span_context.trace_id().to_string(),
            name: t.root.name.to_string(),
            service: service.to_string(),
            start_unix_nano: nanos(t.root.start_time),
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            duration: crate::export::human(duration),
            error: t.error,
            spans: t.children.len() + 1,
        }
    }
}

impl RecordedLog {
    /// The text of a log record the store keeps.
    pub(crate) fn from_record(r: &LogRecord) -> RecordedLog {
        RecordedLog {
            time_unix_nano: nanos(r.time),
            time: crate::health::rfc3339(r.time),
            level: r.level().as_str(),
            target: r.target().to_string(),
            message: r.message().to_string(),
            fields: r
                .fields()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            trace_id: r.trace_id.map(|t| t.to_string()),
            span_id: r.span_id.map(|s| s.to_string()),
        }
    }
}
