//! The Prometheus exposition of a metric collection, following OpenTelemetry's rules
//! for Prometheus names, units and labels; and the pull reader the endpoint collects
//! through.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};

use crate::metrics::prometheus_names::{float, label_name, metric_name, unit_suffix};
use crate::metrics::AsF64;

/// A pull reader shared between the meter provider and the endpoint.
pub(crate) use crate::metrics::SharedReader as PullReader;

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.as_str().to_string(),
        other => other.to_string(),
    }
}

fn labels<'a>(
    attrs: impl Iterator<Item = &'a KeyValue>,
    scope: &str,
    version: Option<&str>,
    extra: Option<(&str, String)>,
) -> String {
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    for kv in attrs {
        let key = label_name(kv.key.as_str());
        let value = value_text(&kv.value);
        // Keys that collide after sanitising are joined with `;`, as the spec says.
        pairs
            .entry(key)
            .and_modify(|v| {
                v.push(';');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    pairs.insert("otel_scope_name".into(), scope.to_string());
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        pairs.insert("otel_scope_version".into(), v.to_string());
    }
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape_label(v));
    }
    if let Some((k, v)) = extra {
        if pairs.is_empty() {
            let _ = write!(out, "{k}=\"{v}\"");
        } else {
            let _ = write!(out, ",{k}=\"{v}\"");
        }
    }
    out.push('}');
    out
}

struct Family {
    kind: &'static str,
    help: String,
    unit: String,
    samples: Vec<String>,
}

/// Adds one sample per point to the family `key`, named `sample`.
fn push_simple<'a, A>(
    families: &mut BTreeMap<String, Family>,
    key: &str,
    sample: &str,
    points: impl Iterator<Item = (A, f64)>,
    scope: &str,
    version: Option<&str>,
) where
    A: Iterator<Item = &'a KeyValue>,
{
    if let Some(f) = families.get_mut(key) {
        for (attrs, value) in points {
            f.samples.push(format!(
                "{sample}{} {}",
                labels(attrs, scope, version, None),
                float(value)
            ));
        }
    }
}

fn add<T: AsF64>(
    families: &mut BTreeMap<String, Family>,
    metric: &Metric,
    data: &MetricData<T>,
    scope: &str,
    version: Option<&str>,
    openmetrics: bool,
) {
    let (name, unit, help) = (metric.name(), metric.unit(), metric.description());
    let family = |families: &mut BTreeMap<String, Family>, key: String, kind: &'static str| {
        let help = if help.is_empty() {
            name.to_string()
        } else {
            help.to_string()
        };
        families
            .entry(key)
            .or_insert_with(|| Family {
                kind,
                help,
                unit: unit.to_string(),
                samples: Vec::new(),
            })
            .samples
            .len()
    };
    match data {
        MetricData::Sum(sum) if sum.is_monotonic() => {
            let base = metric_name(name, unit, false);
            let base = base.strip_suffix("_total").unwrap_or(&base).to_string();
            let key = if openmetrics {
                base.clone()
            } else {
                format!("{base}_total")
            };
            family(families, key.clone(), "counter");
            let points = sum
                .data_points()
                .map(|p| (p.attributes(), p.value().to_f64()));
            push_simple(
                families,
                &key,
                &format!("{base}_total"),
                points,
                scope,
                version,
            );
        }
        MetricData::Sum(sum) => {
            let n = metric_name(name, unit, true);
            family(families, n.clone(), "gauge");
            let points = sum
                .data_points()
                .map(|p| (p.attributes(), p.value().to_f64()));
            push_simple(families, &n, &n, points, scope, version);
        }
        MetricData::Gauge(g) => {
            let n = metric_name(name, unit, true);
            family(families, n.clone(), "gauge");
            let points = g
                .data_points()
                .map(|p| (p.attributes(), p.value().to_f64()));
            push_simple(families, &n, &n, points, scope, version);
        }
        MetricData::Histogram(h) => {
            let n = metric_name(name, unit, false);
            family(families, n.clone(), "histogram");
            if let Some(f) = families.get_mut(&n) {
                for p in h.data_points() {
                    let mut cumulative = 0u64;
                    for (bound, count) in p.bounds().zip(p.bucket_counts()) {
                        cumulative += count;
                        let l = labels(p.attributes(), scope, version, Some(("le", float(bound))));
                        f.samples.push(format!("{n}_bucket{l} {cumulative}"));
                    }
                    let l = labels(p.attributes(), scope, version, Some(("le", "+Inf".into())));
                    f.samples.push(format!("{n}_bucket{l} {}", p.count()));
                    let plain = labels(p.attributes(), scope, version, None);
                    f.samples
                        .push(format!("{n}_sum{plain} {}", float(p.sum().to_f64())));
                    f.samples.push(format!("{n}_count{plain} {}", p.count()));
                }
            }
        }
        // Exponential histograms have no text form here; they are not produced by
        // this crate's views.
        MetricData::ExponentialHistogram(_) => {}
    }
}

/// The exposition of a collection, with `target_info` first.
pub(crate) fn encode(rm: &ResourceMetrics, openmetrics: bool) -> String {
    let mut out = String::new();
    // target_info: one gauge = 1 with the resource's attributes as labels.
    let mut resource_labels: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in rm.resource().iter() {
        resource_labels.insert(label_name(k.as_str()), value_text(v));
    }
    let body: Vec<String> = resource_labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n");
    let _ = writeln!(out, "target_info{{{}}} 1", body.join(","));

    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for sm in rm.scope_metrics() {
        let scope = sm.scope().name();
        let version = sm.scope().version();
        for m in sm.metrics() {
            match m.data() {
                AggregatedMetrics::F64(d) => add(&mut families, m, d, scope, version, openmetrics),
                AggregatedMetrics::U64(d) => add(&mut families, m, d, scope, version, openmetrics),
                AggregatedMetrics::I64(d) => add(&mut families, m, d, scope, version, openmetrics),
            }
        }
    }
    for (name, f) in families {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
        let _ = writeln!(out, "# TYPE {name} {}", f.kind);
        if openmetrics {
            if let Some(suffix) = unit_suffix(&f.unit) {
                if name.ends_with(suffix) {
                    let _ = writeln!(out, "# UNIT {name} {suffix}");
                }
            }
        }
        for s in f.samples {
            out.push_str(&s);
            out.push('\n');
        }
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::prometheus_names::sanitize;

    #[test]
    fn names_follow_the_otel_to_prometheus_rules() {
        assert_eq!(
            metric_name("http.server.request.duration", "s", false),
            "http_server_request_duration_seconds"
        );
        assert_eq!(metric_name("payload", "By", false), "payload_bytes");
        assert_eq!(metric_name("requests", "{request}", false), "requests");
        assert_eq!(
            metric_name("cpu.utilization", "1", true),
            "cpu_utilization_ratio"
        );
        assert_eq!(sanitize("1bad..name-x"), "_1bad_name_x");
        assert_eq!(label_name("service.name"), "service_name");
        assert_eq!(label_name("__reserved"), "_reserved");
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("line\\one\ntwo"), "line\\\\one\\ntwo");
    }
}
