//! Logs: every event becomes a log record carrying the trace and span id of the span
//! it was written in, sent to the log pipeline (OTLP or console) and to the local
//! outputs (pretty or JSON lines, stdout or rotating files).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use tracing_core::{Event, Level, Metadata};

use super::fields::{FieldList, FieldValue, Fields, Text};
use crate::export::pipeline::Pipeline;
use crate::health::rfc3339;
use crate::logs::{LocalOutput, LogProcessors};

/// One log record, as the layer builds it from an event.
#[derive(Debug, Clone)]
pub(crate) struct LogRecord {
    pub time: SystemTime,
    /// The event's callsite: level, target, file and line.
    pub meta: &'static Metadata<'static>,
    pub message: Text,
    pub fields: FieldList,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub sampled: bool,
    /// The current span stack, outermost first, with each span's fields (only kept
    /// when a local output wants them).
    pub spans: Vec<SpanFields>,
}

impl LogRecord {
    pub(crate) fn level(&self) -> &Level {
        self.meta.level()
    }
    pub(crate) fn target(&self) -> &'static str {
        self.meta.target()
    }
    pub(crate) fn file(&self) -> Option<&'static str> {
        self.meta.file()
    }
    pub(crate) fn line(&self) -> Option<u32> {
        self.meta.line()
    }
}

/// A span's name and fields, as a local output shows them.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanFields {
    pub name: &'static str,
    pub fields: Vec<(&'static str, FieldValue)>,
}

/// OTLP severity numbers.
pub(crate) fn severity(level: &Level) -> (i32, &'static str) {
    match *level {
        Level::TRACE => (1, "TRACE"),
        Level::DEBUG => (5, "DEBUG"),
        Level::INFO => (9, "INFO"),
        Level::WARN => (13, "WARN"),
        _ => (17, "ERROR"),
    }
}

/// Where the layer sends log records.
pub(crate) struct LogSinks {
    pub pipeline: Option<Arc<Pipeline<LogRecord>>>,
    /// With the console span exporter, events inside a sampled span are already shown
    /// in its tree: the console log exporter then prints only the others.
    pub pipeline_outside_spans_only: bool,
    pub local: Vec<Arc<LocalOutput>>,
    pub processors: Arc<LogProcessors>,
    /// Drop the events of unsampled traces (trace-based log sampling).
    pub follow_sampling: bool,
}

impl LogSinks {
    pub(crate) fn wants_span_fields(&self) -> bool {
        !self.local.is_empty()
    }

    /// Builds the record for `event` and hands it to every sink. `in_span` says whether
    /// a span is current; `spans` is the span stack when a local output wants it.
    pub(crate) fn record(
        &self,
        event: &Event<'_>,
        fields: Fields,
        in_span: bool,
        spans: Vec<SpanFields>,
    ) {
        let meta = event.metadata();
        let (trace_id, span_id, sampled) = opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let sc = span.span_context();
            if sc.is_valid() {
                (Some(sc.trace_id()), Some(sc.span_id()), sc.is_sampled())
            } else {
                (None, None, false)
            }
        });
        let mut record = LogRecord {
            time: SystemTime::now(),
            meta,
            message: fields.message.unwrap_or_default(),
            fields: fields.values,
            trace_id,
            span_id,
            sampled,
            spans,
        };
        if !self.processors.apply(&mut record) {
            return;
        }
        // Events of unsampled spans have no tree to appear in: they print as lines.
        let pipeline = self
            .pipeline
            .as_ref()
            .filter(|_| !(self.pipeline_outside_spans_only && in_span && record.sampled));
        // Each sink takes a record of its own; the last one takes this one. Local
        // outputs format on their writer thread, not here.
        match (pipeline, self.local.split_last()) {
            (Some(pipeline), _) => {
                for local in &self.local {
                    local.write(record.clone());
                }
                pipeline.push(record);
            }
            (None, Some((last, others))) => {
                for local in others {
                    local.write(record.clone());
                }
                last.write(record);
            }
            (None, None) => {}
        }
    }
}

/// `2026-11-21T19:31:02.123Z  INFO checkout: processing order=42  trace_id=… span_id=…`
pub(crate) fn pretty_line(r: &LogRecord, out: &mut String) {
    let _ = write!(
        out,
        "{} {:>5} {}: {}",
        rfc3339(r.time),
        severity(r.level()).1,
        r.target(),
        r.message
    );
    for span in &r.spans {
        for (k, v) in &span.fields {
            let _ = write!(out, " {}.{k}={}", span.name, quoted(v));
        }
    }
    for (k, v) in &r.fields {
        let _ = write!(out, " {k}={}", quoted(v));
    }
    if let (Some(t), Some(s)) = (r.trace_id, r.span_id) {
        let _ = write!(out, " trace_id={t} span_id={s}");
    }
    out.push('\n');
}

fn quoted(v: &FieldValue) -> String {
    match v {
        FieldValue::Str(s) if crate::export::console::needs_quotes(s) => {
            format!("{s:?}")
        }
        other => other.to_string(),
    }
}

/// One JSON object per line: RFC 3339 timestamp, level, target, message, fields, the
/// span stack's fields, trace_id, span_id.
pub(crate) fn json_line(r: &LogRecord, out: &mut String) {
    let mut obj = serde_json::Map::new();
    obj.insert("timestamp".into(), rfc3339(r.time).into());
    obj.insert("level".into(), severity(r.level()).1.into());
    obj.insert("target".into(), r.target().into());
    obj.insert("message".into(), r.message.as_str().into());
    let mut fields = serde_json::Map::new();
    for (k, v) in &r.fields {
        fields.insert((*k).to_string(), v.to_json());
    }
    obj.insert("fields".into(), fields.into());
    if !r.spans.is_empty() {
        let spans: Vec<serde_json::Value> = r
            .spans
            .iter()
            .map(|s| {
                let mut m = serde_json::Map::new();
                m.insert("name".into(), s.name.into());
                for (k, v) in &s.fields {
                    m.insert((*k).to_string(), v.to_json());
                }
                m.into()
            })
            .collect();
        obj.insert("spans".into(), spans.into());
    }
    if let (Some(t), Some(s)) = (r.trace_id, r.span_id) {
        obj.insert("trace_id".into(), t.to_string().into());
        obj.insert("span_id".into(), s.to_string().into());
    }
    if let Some(file) = r.file() {
        obj.insert("code.file.path".into(), file.into());
    }
    if let Some(line) = r.line() {
        obj.insert("code.line.number".into(), line.into());
    }
    let _ = write!(out, "{}", serde_json::Value::Object(obj));
    out.push('\n');
}
