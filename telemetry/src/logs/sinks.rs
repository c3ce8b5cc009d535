//! Where log records go: every event the layer hands over becomes a [`LogRecord`] carrying the trace and
//! span id of the span it was written in, handed to the log pipeline (OTLP or console)
//! and to the local outputs, which format it on their own threads.

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt as _;
use tracing_core::Event;

use super::{LocalOutput, LogProcessors, LogRecord, SpanFields};
use crate::export::Pipeline;
use crate::fields::Fields;

/// Where the layer sends log records.
pub(crate) struct LogSinks {
    pub pipeline: Option<Arc<Pipeline<LogRecord>>>,
    pub local: Vec<Arc<LocalOutput>>,
    pub processors: Arc<LogProcessors>,
    /// Drop the events of unsampled traces (trace-based log sampling).
    pub follow_sampling: bool,
}

impl LogSinks {
    pub(crate) fn wants_span_fields(&self) -> bool {
        !self.local.is_empty()
    }

    /// Builds the record for `event`, with the `fields` of its one visit, and hands it
    /// to every sink. `spans` is the span stack when a local output wants it.
    #[inline(always)]
    pub(crate) fn record(
        &self,
        event: &Event<'_>,
        fields: Fields,
        spans: Vec<std::sync::Arc<SpanFields>>,
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
        let pipeline = self.pipeline.as_ref();
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
