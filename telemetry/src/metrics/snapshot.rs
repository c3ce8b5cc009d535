//! Metric data points, simplified: what the instruments hold now, read through a
//! manual reader (the flight recorder's `metrics()`, the tests' `InMemoryMetrics`, the
//! admin endpoint's pull reader).

use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

use super::AsF64;

/// One data point, simplified for assertions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Point {
    /// The instrumentation scope's name (`telemetry` for the library's instruments).
    pub scope: String,
    /// Instrument name.
    pub name: String,
    /// Instrument unit.
    pub unit: String,
    /// Attributes, sorted by key, values as text.
    pub attributes: Vec<(String, String)>,
    /// The value.
    pub value: PointValue,
}

impl Point {
    /// The value of one attribute, as text.
    pub fn attribute(&self, key: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

/// A data point's value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PointValue {
    /// A counter's or up-down counter's sum.
    Sum(f64),
    /// A gauge's last value.
    Gauge(f64),
    /// A histogram: count, sum, bucket boundaries and per-bucket counts.
    Histogram {
        /// Recorded values.
        count: u64,
        /// Their sum.
        sum: f64,
        /// Bucket upper bounds.
        bounds: Vec<f64>,
        /// Counts per bucket (one more than bounds: the last is +Inf).
        counts: Vec<u64>,
    },
}

/// A manual reader shared between the meter provider and whoever collects.
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(pub Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Every data point `reader` holds now.
pub(crate) fn collect_points(reader: &ManualReader) -> Vec<Point> {
    use opentelemetry_sdk::metrics::reader::MetricReader as _;
    let mut rm = ResourceMetrics::default();
    if reader.collect(&mut rm).is_err() {
        return Vec::new();
    }
    points_of(&rm)
}

/// Every data point of a collection.
pub(crate) fn points_of(rm: &ResourceMetrics) -> Vec<Point> {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    fn attrs<'a>(it: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = it
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        v.sort();
        v
    }
    fn points<T: Copy + AsF64>(
        scope: &str,
        name: &str,
        unit: &str,
        data: &MetricData<T>,
        out: &mut Vec<Point>,
    ) {
        let mut push = |attributes, value| {
            out.push(Point {
                scope: scope.to_string(),
                name: name.to_string(),
                unit: unit.to_string(),
                attributes,
                value,
            })
        };
        match data {
            MetricData::Sum(s) => {
                for p in s.data_points() {
                    push(attrs(p.attributes()), PointValue::Sum(p.value().to_f64()));
                }
            }
            MetricData::Gauge(g) => {
                for p in g.data_points() {
                    push(attrs(p.attributes()), PointValue::Gauge(p.value().to_f64()));
                }
            }
            MetricData::Histogram(h) => {
                for p in h.data_points() {
                    push(
                        attrs(p.attributes()),
                        PointValue::Histogram {
                            count: p.count(),
                            sum: p.sum().to_f64(),
                            bounds: p.bounds().collect(),
                            counts: p.bucket_counts().collect(),
                        },
                    );
                }
            }
            MetricData::ExponentialHistogram(_) => {}
        }
    }
    let mut out = Vec::new();
    for sm in rm.scope_metrics() {
        for m in sm.metrics() {
            match m.data() {
                AggregatedMetrics::F64(d) => {
                    points(sm.scope().name(), m.name(), m.unit(), d, &mut out)
                }
                AggregatedMetrics::U64(d) => {
                    points(sm.scope().name(), m.name(), m.unit(), d, &mut out)
                }
                AggregatedMetrics::I64(d) => {
                    points(sm.scope().name(), m.name(), m.unit(), d, &mut out)
                }
            }
        }
    }
    out
}
