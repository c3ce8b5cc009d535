//! Test support (feature `testing`): capture spans ([`InMemorySpans`]) and metrics
//! ([`InMemoryMetrics`]) in memory, render spans as a deterministic tree for snapshot
//! assertions, and drive time-dependent parts with a [`ManualClock`].
//!
//! ```
//! use telemetry::testing::InMemorySpans;
//! use tracing_subscriber::prelude::*;
//!
//! let spans = InMemorySpans::default();
//! let telemetry = telemetry::Telemetry::builder().in_memory(&spans).build()?;
//! let subscriber = tracing_subscriber::registry().with(telemetry.layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     let _outer = tracing::info_span!("outer").entered();
//!     tracing::info_span!("inner", answer = 42).in_scope(|| {});
//! });
//! assert_eq!(spans.render(), "trace\n└─ outer\n   └─ inner  answer=42\n");
//! # Ok::<(), telemetry::Error>(())
//! ```

use std::sync::{Arc, Mutex, MutexGuard};

use crate::metrics::AsF64;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};

pub use crate::sampling::clock::{Clock, ManualClock, SystemClock};

/// The former name of [`InMemorySpans`], which is a span processor, not an exporter.
#[deprecated(note = "renamed to `InMemorySpans`")]
pub type InMemoryExporter = InMemorySpans;

/// A span processor that keeps every ended, sampled span in memory. Clones share the
/// same storage.
///
/// Spans are stored the moment they end (no batching), so a test can assert right
/// after the code under test returns.
#[derive(Debug, Clone, Default)]
pub struct InMemorySpans {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl InMemorySpans {
    fn lock(&self) -> MutexGuard<'_, Vec<SpanData>> {
        match self.spans.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A copy of the spans captured so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        self.lock().clone()
    }

    /// The span named `name` (the first to end, if several).
    pub fn span(&self, name: &str) -> Option<SpanData> {
        self.lock().iter().find(|s| s.name == name).cloned()
    }

    /// Forgets the spans captured so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The captured spans as indented trees, one per trace: names, kinds, statuses,
    /// attributes sorted by key, and events; no ids, times, thread or line numbers, so
    /// the text is the same on every run.
    pub fn render(&self) -> String {
        crate::export::render(&self.lock(), &crate::export::Style::SNAPSHOT)
    }
}

impl SpanProcessor for InMemorySpans {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.lock().push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Captures metrics for tests: add it with
/// [`TelemetryBuilder::in_memory_metrics`](crate::TelemetryBuilder::in_memory_metrics),
/// then read what the instruments hold with [`collect`](Self::collect).
///
/// ```
/// use telemetry::testing::InMemoryMetrics;
/// use tracing_subscriber::prelude::*;
///
/// let metrics = InMemoryMetrics::default();
/// let telemetry = telemetry::Telemetry::builder()
///     .traces_exporter(telemetry::export::ExporterKind::None)
///     .install_globals(false)
///     .in_memory_metrics(&metrics)
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("load").in_scope(|| {});
///     tracing::info!(monotonic_counter.jobs = 2_u64, queue = "fast");
/// });
/// let points = metrics.collect();
/// let jobs = points.iter().find(|p| p.name == "jobs").unwrap();
/// assert_eq!(jobs.value, telemetry::testing::PointValue::Sum(2.0));
/// assert_eq!(jobs.attribute("queue"), Some("fast".to_string()));
/// let load = points.iter().find(|p| p.name == "span.duration").unwrap();
/// assert_eq!(load.attribute("span.name"), Some("load".to_string()));
/// # Ok::<(), telemetry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryMetrics {
    reader: Arc<opentelemetry_sdk::metrics::ManualReader>,
}

impl Default for InMemoryMetrics {
    fn default() -> Self {
        InMemoryMetrics {
            reader: Arc::new(opentelemetry_sdk::metrics::ManualReader::builder().build()),
        }
    }
}

/// One data point, simplified for assertions.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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

struct SharedReader(Arc<opentelemetry_sdk::metrics::ManualReader>);

impl std::fmt::Debug for SharedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InMemoryMetrics")
    }
}

impl opentelemetry_sdk::metrics::reader::MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut opentelemetry_sdk::metrics::data::ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(
        &self,
        kind: opentelemetry_sdk::metrics::InstrumentKind,
    ) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality(kind)
    }
}

impl InMemoryMetrics {
    pub(crate) fn reader(&self) -> impl opentelemetry_sdk::metrics::reader::MetricReader {
        SharedReader(self.reader.clone())
    }

    /// Every data point the instruments hold now (cumulative).
    pub fn collect(&self) -> Vec<Point> {
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
        use opentelemetry_sdk::metrics::reader::MetricReader as _;
        let mut rm = ResourceMetrics::default();
        if self.reader.collect(&mut rm).is_err() {
            return Vec::new();
        }
        fn attrs<'a>(
            it: impl Iterator<Item = &'a opentelemetry::KeyValue>,
        ) -> Vec<(String, String)> {
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
}
