//! Your own exporter: spans as JSON lines in a file, with the library's batching,
//! retry, circuit breaker, retry buffer and accounting around it.
//!
//! ```sh
//! cargo run --example custom_exporter -- spans.jsonl
//! ```

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::time::UNIX_EPOCH;

use telemetry::export::{ExportFailure, Exporter, SpanData};
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

/// Writes each span as one line of JSON.
struct JsonLines {
    out: BufWriter<File>,
    path: String,
}

impl Exporter<SpanData> for JsonLines {
    fn export(&mut self, batch: &[SpanData]) -> Result<(), ExportFailure> {
        for span in batch {
            let nanos = |t: std::time::SystemTime| {
                t.duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            };
            let attributes: serde_json::Map<String, serde_json::Value> = span
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string().into()))
                .collect();
            let line = serde_json::json!({
                "trace_id": span.span_context.trace_id().to_string(),
                "span_id": span.span_context.span_id().to_string(),
                "parent_span_id": span.parent_span_id.to_string(),
                "name": span.name,
                "start_unix_nano": nanos(span.start_time).to_string(),
                "end_unix_nano": nanos(span.end_time).to_string(),
                "attributes": attributes,
            });
            // A full disk may pass: worth another try.
            writeln!(self.out, "{line}").map_err(ExportFailure::retryable)?;
        }
        self.out.flush().map_err(ExportFailure::retryable)
    }

    fn target(&self) -> String {
        format!("file {}", self.path)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "spans.jsonl".to_string());
    let exporter = JsonLines {
        out: BufWriter::new(File::create(&path)?),
        path: path.clone(),
    };
    let telemetry = Telemetry::from_env_lossy()
        .default_service_name("custom-exporter-example")
        .span_exporter(exporter)
        .build()?;
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        for order in 1..=3_u64 {
            let _request = tracing::info_span!("checkout", order).entered();
            tracing::info_span!("charge", amount = 42 * order).in_scope(|| {});
        }
    });
    let report = telemetry.shutdown()?;
    println!(
        "{} spans written to {path} ({} received, {} dropped)",
        report.traces.exported, report.traces.received, report.traces.dropped
    );
    Ok(())
}
