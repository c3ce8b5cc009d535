//! Metric collections on the console: one line per data point, sorted, under the
//! service's name.

use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Metric, NumberDataPoint,
};

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

/// The table of a batch of collections (the pipelines' own figures left out).
pub(super) fn render_metrics(batch: Vec<ExportMetricsServiceRequest>) -> String {
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

fn render_metric(out: &mut String, m: &Metric) {
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
        Some(Data::Sum(s)) => number_points(out, m, &unit, "sum", &s.data_points),
        Some(Data::Gauge(g)) => number_points(out, m, &unit, "value", &g.data_points),
        _ => {}
    }
}

/// One line per data point of a sum or a gauge: `name (unit) attrs  label=value`.
fn number_points(
    out: &mut String,
    m: &Metric,
    unit: &str,
    label: &str,
    points: &[NumberDataPoint],
) {
    for p in points {
        let _ = writeln!(
            out,
            "  {}{unit}{}  {label}={}",
            m.name,
            attrs(&p.attributes),
            number(&p.value)
        );
    }
}
