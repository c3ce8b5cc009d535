//! The console transports, printing to stdout: spans as one indented tree per trace,
//! printed when its root span ends ([`ConsoleExporter`], drawn by [`tree`]); metric
//! collections as a short table ([`metrics`]); log records as pretty lines.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::trace::SpanData;

use super::transport::{BoxFuture, Delivered, Encoded, Transport};
use super::ExportError;
use crate::logs::{console_line, PooledLog};

mod metrics;
mod tree;

pub(crate) use tree::{human, needs_quotes, render, Style};

/// Spans waiting for their root before printing; past this, the oldest traces print
/// as they are.
const MAX_PENDING_SPANS: usize = 10_000;

/// Prints spans to stdout as trees.
#[derive(Default)]
pub(crate) struct ConsoleExporter {
    pending: HashMap<TraceId, Vec<SpanData>>,
    order: Vec<TraceId>,
    pending_spans: usize,
}

/// Console payloads are delivered exactly once (printing never fails), so the batch
/// is taken out of its cell when sent.
pub(crate) type ConsolePayload = Arc<Mutex<Vec<SpanData>>>;

impl Transport<crate::export::Span> for ConsoleExporter {
    type Payload = ConsolePayload;

    fn encode(
        &mut self,
        batch: Vec<crate::export::Span>,
    ) -> Result<Encoded<ConsolePayload>, ExportError> {
        let items = batch.len() as u64;
        let batch = batch
            .into_iter()
            .map(crate::export::Span::into_sdk)
            .collect();
        Ok(Encoded::one(Arc::new(Mutex::new(batch)), items))
    }

    fn size(&self, payload: &ConsolePayload) -> u64 {
        payload.lock().map(|b| b.len() as u64 * 512).unwrap_or(0)
    }

    fn send(
        &mut self,
        payload: &ConsolePayload,
    ) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        let batch = match payload.lock() {
            Ok(mut b) => std::mem::take(&mut *b),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        self.print_batch(batch);
        Box::pin(async { Ok(Delivered::default()) })
    }

    fn target(&self) -> &str {
        "console"
    }

    fn shutdown(&mut self) {
        let mut text = String::new();
        for trace in std::mem::take(&mut self.order) {
            if let Some(spans) = self.pending.remove(&trace) {
                text.push_str(&render(&spans, &Style::CONSOLE));
            }
        }
        self.pending_spans = 0;
        if !text.is_empty() {
            print(&text);
        }
    }
}

impl ConsoleExporter {
    fn take(&mut self, trace: TraceId) -> Vec<SpanData> {
        self.order.retain(|t| *t != trace);
        let spans = self.pending.remove(&trace).unwrap_or_default();
        self.pending_spans -= spans.len();
        spans
    }

    /// Holds each span until its trace's root has ended, then prints the tree.
    fn print_batch(&mut self, batch: Vec<SpanData>) {
        let mut complete = Vec::new();
        for span in batch {
            let trace = span.span_context.trace_id();
            if is_root(&span) {
                complete.push(trace);
            }
            self.pending_spans += 1;
            let entry = self.pending.entry(trace).or_default();
            if entry.is_empty() {
                self.order.push(trace);
            }
            entry.push(span);
        }
        let mut text = String::new();
        for trace in complete {
            let spans = self.take(trace);
            if !spans.is_empty() {
                text.push_str(&render(&spans, &Style::CONSOLE));
            }
        }
        while self.pending_spans > MAX_PENDING_SPANS {
            let Some(oldest) = self.order.first().copied() else {
                break;
            };
            let spans = self.take(oldest);
            text.push_str(&render(&spans, &Style::CONSOLE));
        }
        if !text.is_empty() {
            print(&text);
        }
    }
}

/// Whether a span ends its trace's wait: it has no parent, or a remote one.
fn is_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}

/// Writes to stdout at once; a closed stdout is not worth failing over.
fn print(text: &str) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Prints what a render function makes of each batch (console metrics and logs).
pub(crate) struct Printer<T>(fn(Vec<T>) -> String);

impl<T: Send + 'static> Transport<T> for Printer<T> {
    type Payload = String;

    fn encode(&mut self, batch: Vec<T>) -> Result<Encoded<String>, ExportError> {
        let items = batch.len() as u64;
        Ok(Encoded::one((self.0)(batch), items))
    }

    fn size(&self, payload: &String) -> u64 {
        payload.len() as u64
    }

    fn send(&mut self, payload: &String) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        print(payload);
        Box::pin(async { Ok(Delivered::default()) })
    }

    fn target(&self) -> &str {
        "console"
    }
}

/// Prints each metric collection as a short table.
pub(crate) fn console_metrics() -> Printer<ExportMetricsServiceRequest> {
    Printer(metrics::render_metrics)
}

/// Prints every log record as it comes, as a compact line naming its trace by a short
/// id (events inside a span also appear in the trace's tree, in another form, when it
/// ends): a request that hangs still shows what it did so far.
pub(crate) fn console_logs() -> Printer<PooledLog> {
    Printer(|batch| {
        let mut out = String::new();
        for record in &batch {
            console_line(record, &mut out);
        }
        out
    })
}
