//! The metric and log sides of the pipelines: the SDK's periodic reader hands each
//! collection to our pipeline; console transports print metrics and logs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;

use super::pipeline::Pipeline;
use super::resilient::{Encoded, Transport};
use super::{BoxFuture, Delivered, ExportError};
use crate::logs::{pretty_line, LogRecord};

/// Receives each collection from the SDK's periodic reader and queues it, encoded, on
/// the metric pipeline. Never blocks the reader.
#[derive(Debug)]
pub(crate) struct MetricsToPipeline {
    pub pipeline: Arc<Pipeline<ExportMetricsServiceRequest>>,
    pub temporality: Temporality,
    pub flush_timeout: Duration,
}

impl PushMetricExporter for MetricsToPipeline {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let request = ExportMetricsServiceRequest::from(metrics);
        if request
            .resource_metrics
            .iter()
            .any(|rm| rm.scope_metrics.iter().any(|sm| !sm.metrics.is_empty()))
        {
            self.pipeline.push(request);
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.pipeline
            .flush(self.flush_timeout)
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    /// Stops nothing: the pipeline belongs to [`Telemetry`](crate::Telemetry), which
    /// shuts it down after this final collection was queued and reports the outcome.
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

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
    Printer(render_metrics)
}

/// Prints log records as pretty lines.
pub(crate) fn console_logs() -> Printer<LogRecord> {
    Printer(|batch| {
        let mut out = String::new();
        for record in &batch {
            pretty_line(record, &mut out);
        }
        out
    })
}

/// The resource's `service.name`, when it is a string.
fn service_name(
    resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    resource?
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

fn render_metrics(batch: Vec<ExportMetricsServiceRequest>) -> String {
    let mut lines = Vec::new();
    let mut service = None;
    for request in batch {
        for rm in request.resource_metrics {
            service = service.or_else(|| service_name(rm.resource.as_ref()));
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    // The pipelines' own figures are for backends; on the console
                    // the health report says it better.
                    if m.name.starts_with("telemetry.export.") {
                        continue;
                    }
                    let mut text = String::new();
                    render_metric(&mut text, &m);
                    lines.extend(text.lines().map(str::to_string));
                }
            }
        }
    }
    lines.sort();
    let mut out = String::new();
    if !lines.is_empty() {
        match service {
            Some(service) => {
                let _ = writeln!(out, "metrics (service.name={service})");
            }
            None => out.push_str("metrics\n"),
        }
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

fn attrs(kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> String {
    let mut out = String::new();
    let mut kvs: Vec<_> = kvs.iter().collect();
    kvs.sort_by(|a, b| a.key.cmp(&b.key));
    for kv in kvs {
        let v = kv
            .value
            .as_ref()
            .and_then(|v| v.value.as_ref())
            .map(|v| match v {
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => {
                    s.clone()
                }
                opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(i) => {
                    i.to_string()
                }
                opentelemetry_proto::tonic::common::v1::any_value::Value::DoubleValue(d) => {
                    d.to_string()
                }
                opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(b) => {
                    b.to_string()
                }
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        let _ = write!(out, " {}={}", kv.key, v);
    }
    out
}

fn number(v: &Option<number_data_point::Value>) -> String {
    match v {
        Some(number_data_point::Value::AsInt(i)) => i.to_string(),
        Some(number_data_point::Value::AsDouble(d)) => format!("{d}"),
        None => "-".into(),
    }
}

fn render_metric(out: &mut String, m: &opentelemetry_proto::tonic::metrics::v1::Metric) {
    let unit = if m.unit.is_empty() {
        String::new()
    } else {
        format!(" ({})", m.unit)
    };
    match &m.data {
        Some(Data::Histogram(h)) => {
            for p in &h.data_points {
                let mean = if p.count > 0 {
                    p.sum.unwrap_or(0.0) / p.count as f64
                } else {
                    0.0
                };
                let _ = writeln!(
                    out,
                    "  {}{unit}{}  count={} sum={:.6} mean={:.6} min={:.6} max={:.6}",
                    m.name,
                    attrs(&p.attributes),
                    p.count,
                    p.sum.unwrap_or(0.0),
                    mean,
                    p.min.unwrap_or(0.0),
                    p.max.unwrap_or(0.0)
                );
            }
        }
        Some(Data::Sum(s)) => {
            for p in &s.data_points {
                let _ = writeln!(
                    out,
                    "  {}{unit}{}  sum={}",
                    m.name,
                    attrs(&p.attributes),
                    number(&p.value)
                );
            }
        }
        Some(Data::Gauge(g)) => {
            for p in &g.data_points {
                let _ = writeln!(
                    out,
                    "  {}{unit}{}  value={}",
                    m.name,
                    attrs(&p.attributes),
                    number(&p.value)
                );
            }
        }
        _ => {}
    }
}
