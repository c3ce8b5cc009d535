//! Where log records go: every event the layer hands over becomes a [`LogRecord`] carrying the trace and
//! span id of the span it was written in, handed to the log pipeline (OTLP or console)
//! and to the local outputs, which format it on their own threads.

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt as _;

use super::{LocalOutput, LogProcessors, LogRecord, PooledLog, SpanFields};
use crate::export::Pipeline;
use crate::pool::{Pool, Pooled};

/// Where the layer sends log records.
pub(crate) struct LogSinks {
    pub pipeline: Option<Arc<Pipeline<PooledLog>>>,
    pub local: Vec<Arc<LocalOutput>>,
    pub processors: Arc<LogProcessors>,
    /// Drop the events of unsampled traces (trace-based log sampling).
    pub follow_sampling: bool,
    /// The records handed back by the sinks, for the next events.
    pub pool: Arc<Pool<LogRecord>>,
}

impl LogSinks {
    pub(crate) fn wants_span_fields(&self) -> bool {
        !self.local.is_empty()
    }

    /// An empty record for an event of `meta`, for its fields to be read into (then
    /// [`record`](Self::record)).
    #[inline(always)]
    pub(crate) fn blank(&self, meta: &'static tracing_core::Metadata<'static>) -> PooledLog {
        let mut record = Pooled::take_or(&self.pool, || LogRecord::blank(meta));
        record.meta = meta;
        record
    }

    /// Completes `record`, the fields of its event read into it, and hands it to every
    /// sink. `spans` is the span stack when a local output wants it.
    #[inline(always)]
    pub(crate) fn record(&self, mut record: PooledLog, spans: Vec<Arc<SpanFields>>) {
        let (trace_id, span_id, sampled) = opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let sc = span.span_context();
            if sc.is_valid() {
                (Some(sc.trace_id()), Some(sc.span_id()), sc.is_sampled())
            } else {
                (None, None, false)
            }
        });
        record.time = SystemTime::now();
        record.trace_id = trace_id;
        record.span_id = span_id;
        record.sampled = sampled;
        record.spans = spans;
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
