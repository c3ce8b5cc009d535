//! One log record: what an event becomes, with the trace and span it was written in.

use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceId};
use tracing_core::{Level, Metadata};

use crate::fields::{FieldList, FieldValue, Fields};
use crate::pool::{Pooled, Reuse};

/// One log record, as the layer builds it from an event.
#[derive(Debug, Clone)]
pub(crate) struct LogRecord {
    pub time: SystemTime,
    /// The event's callsite: level, target, file and line.
    pub meta: &'static Metadata<'static>,
    /// The event's message and fields, read straight into the record (see
    /// [`PooledLog`]).
    pub read: Fields,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub sampled: bool,
    /// The current span stack, outermost first, with each span's fields (only kept
    /// when a local output wants them), shared with the spans' own state.
    pub spans: Vec<std::sync::Arc<SpanFields>>,
}

/// A log record in a box of the log sinks' pool: the event's fields are read straight
/// into it, the queues move the box rather than copying the record (368 bytes)
/// at every step, and the export thread hands it back emptied for the next event.
pub(crate) type PooledLog = Pooled<LogRecord>;

impl Reuse for LogRecord {
    fn empty(&mut self) {
        self.read.clear();
        self.spans.clear();
        self.trace_id = None;
        self.span_id = None;
        self.sampled = false;
    }
}

impl LogRecord {
    /// A record of `meta` with nothing in it yet.
    pub(crate) fn blank(meta: &'static Metadata<'static>) -> LogRecord {
        LogRecord {
            time: SystemTime::UNIX_EPOCH,
            meta,
            read: Fields::new(),
            trace_id: None,
            span_id: None,
            sampled: false,
            spans: Vec::new(),
        }
    }

    /// The message (empty when the event has none).
    pub(crate) fn message(&self) -> &str {
        self.read.message.as_ref().map_or("", |m| m.as_str())
    }

    /// The fields other than the message, in order.
    pub(crate) fn fields(&self) -> &FieldList {
        &self.read.values
    }

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::pool::Pool;

    static SITE: tracing_core::callsite::DefaultCallsite =
        tracing_core::callsite::DefaultCallsite::new(&META);
    static META: Metadata<'static> = tracing_core::metadata! {
        name: "event",
        target: "records",
        level: Level::INFO,
        fields: &["message"],
        callsite: &SITE,
        kind: tracing_core::Kind::EVENT,
    };

    #[test]
    fn a_record_handed_back_keeps_nothing_of_its_event() {
        let pool = Arc::new(Pool::for_batches(1));
        let mut first = Pooled::take_or(&pool, || LogRecord::blank(&META));
        first.time = SystemTime::now();
        first.read.message = Some("hello".into());
        first.read.values.push(("order", FieldValue::U64(7)));
        first.read.has_error = true;
        first.trace_id = Some(TraceId::from(1_u128));
        first.span_id = Some(SpanId::from(2_u64));
        first.sampled = true;
        first.spans.push(Arc::new(SpanFields::default()));
        let at = &*first as *const LogRecord;
        drop(first);
        let again = Pooled::take_or(&pool, || unreachable!("the record is reused"));
        assert_eq!(&*again as *const LogRecord, at);
        assert_eq!(again.message(), "");
        assert!(again.fields().is_empty() && !again.read.has_error);
        assert_eq!(
            (again.trace_id, again.span_id, again.sampled),
            (None, None, false)
        );
        assert!(again.spans.is_empty());
    }
}
