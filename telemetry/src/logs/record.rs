//! One log record: what an event becomes, with the trace and span it was written in.

use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceId};
use tracing_core::{Level, Metadata};

use crate::fields::{FieldList, FieldValue, Text};

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
    /// when a local output wants them), shared with the spans' own state.
    pub spans: Vec<std::sync::Arc<SpanFields>>,
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
