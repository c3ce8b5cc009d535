//! Metrics: what the layer records by itself, and a typed API for your own
//! instruments.
//!
//! The layer records, for every closed span, its duration in the histogram
//! [`SPAN_DURATION`] (unit `s`, attributes `span.name`, `code.function.name` when the
//! span has it, `outcome` = `ok` | `error`, and `error.type` on errors), whether or not
//! the trace was sampled. Events with fields named `monotonic_counter.<name>`,
//! `counter.<name>`, `histogram.<name>` or `gauge.<name>` feed the instrument `<name>`,
//! with the event's other fields as attributes.
//!
//! ```
//! use telemetry::otel::api::KeyValue;
//!
//! let telemetry = telemetry::Telemetry::builder().build()?;
//! let metrics = telemetry.metrics();
//! let requests = metrics.counter("app.requests").unit("{request}").build()?;
//! let ok = requests.bind(&[KeyValue::new("outcome", "ok")]); // pre-bound: no allocation per add
//! ok.add(1);
//! let latency = metrics
//!     .histogram("app.db.duration")
//!     .unit("s")
//!     .buckets(vec![0.001, 0.01, 0.1, 1.0])
//!     .build()?;
//! latency.record(0.004, &[KeyValue::new("table", "orders")]);
//! assert!(metrics.counter("1-bad-name").build().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;

mod instance;
mod instruments;
mod number;
pub(crate) mod prometheus_names;
mod snapshot;
pub(crate) use snapshot::{collect_points, points_of, SharedReader};
pub use snapshot::{Point, PointValue};

pub(crate) use instance::with_instance;
pub(crate) use instance::{FunctionInstruments, InstanceMetrics};
#[cfg(feature = "http")]
pub(crate) use instruments::duration_histogram;
pub(crate) use instruments::{
    scope, CODE_FUNCTION_NAME, ERROR_TYPE, ERROR_TYPE_OTHER, METER_SCOPE, OUTCOME, OUTCOME_ERROR,
    OUTCOME_OK,
};
#[cfg(feature = "http")]
pub(crate) use instruments::{
    CLIENT_DURATION, CLIENT_DURATION_DESCRIPTION, SERVER_DURATION, SERVER_DURATION_DESCRIPTION,
};
pub use instruments::{DURATION_BUCKETS, FUNCTION_DURATION, FUNCTION_ERRORS, SPAN_DURATION};
pub(crate) use number::AsF64;

/// Which spans the layer measures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpanFilter {
    /// Every span (the default).
    #[default]
    All,
    /// Spans at this level or more severe (`INFO` counts `INFO`, `WARN`, `ERROR`).
    MinLevel(tracing_core::Level),
    /// Spans whose target starts with one of these prefixes.
    Targets(Vec<String>),
    /// Only spans made by `#[traced]` (they carry `code.function.name`).
    Instrumented,
}

/// Settings of the span duration metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanMetricsConfig {
    /// Record span durations at all. Default: true.
    pub enabled: bool,
    /// Which spans. Default: all.
    pub filter: SpanFilter,
    /// Histogram bucket boundaries in seconds. Default: [`DURATION_BUCKETS`].
    pub buckets: Option<Vec<f64>>,
    /// Distinct attribute sets before new ones collapse into one series with
    /// `otel.metric.overflow = true` (and are counted). Default: 2000.
    pub cardinality_limit: usize,
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        SpanMetricsConfig {
            enabled: true,
            filter: SpanFilter::All,
            buckets: None,
            cardinality_limit: 2000,
        }
    }
}

/// Cumulative or delta sums and histograms in OTLP metric pushes.
pub use opentelemetry_sdk::metrics::Temporality;

/// `OTEL_METRIC_EXPORT_INTERVAL`: milliseconds between metric pushes.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// `OTEL_METRIC_EXPORT_TIMEOUT`: milliseconds per metric push.
pub const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: `cumulative`, `delta` or `lowmemory`.
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// `OTEL_EXPORTER_PROMETHEUS_HOST`: the Prometheus endpoint's host.
pub const OTEL_EXPORTER_PROMETHEUS_HOST: &str = "OTEL_EXPORTER_PROMETHEUS_HOST";
/// `OTEL_EXPORTER_PROMETHEUS_PORT`: the Prometheus endpoint's port.
pub const OTEL_EXPORTER_PROMETHEUS_PORT: &str = "OTEL_EXPORTER_PROMETHEUS_PORT";

/// How often metrics are pushed and how long a push may take
/// (`OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_METRIC_EXPORT_TIMEOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetricExport {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
}

impl MetricExport {
    /// The specification's defaults: every 60 s, 30 s each.
    pub(crate) const DEFAULT: MetricExport = MetricExport {
        interval: Duration::from_millis(60_000),
        timeout: Duration::from_millis(30_000),
    };
}

/// Where the Prometheus endpoint listens (`OTEL_EXPORTER_PROMETHEUS_HOST`, `_PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrometheusAddress {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Default for PrometheusAddress {
    /// `localhost:9464`, the specification's default.
    fn default() -> Self {
        PrometheusAddress {
            host: "localhost".to_string(),
            port: 9464,
        }
    }
}

/// An instrument name that OpenTelemetry rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a valid instrument name: expected a letter, then up to 254 letters, digits, `_`, `.`, `-` or `/`")]
pub struct InvalidInstrumentName {
    /// The name given.
    pub name: String,
}

/// `ALPHA 0*254(ALPHA | DIGIT | "_" | "." | "-" | "/")`.
pub(crate) fn valid_instrument_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
}

/// Makes instruments; see the [module docs](self). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    meter: Meter,
}

impl Metrics {
    pub(crate) fn new(meter: Meter) -> Metrics {
        Metrics { meter }
    }

    /// A monotonic counter of `u64`.
    pub fn counter(
        &self,
        name: impl Into<Cow<'static, str>>,
    ) -> InstrumentBuilder<'_, Counter<u64>> {
        InstrumentBuilder::new(self, name)
    }

    /// A counter that can go down, of `i64`.
    pub fn up_down_counter(
        &self,
        name: impl Into<Cow<'static, str>>,
    ) -> InstrumentBuilder<'_, UpDownCounter<i64>> {
        InstrumentBuilder::new(self, name)
    }

    /// A histogram of `f64`, with [`DURATION_BUCKETS`] unless
    /// [`buckets`](InstrumentBuilder::buckets) says otherwise.
    pub fn histogram(
        &self,
        name: impl Into<Cow<'static, str>>,
    ) -> InstrumentBuilder<'_, Histogram<f64>> {
        InstrumentBuilder::new(self, name)
    }

    /// A gauge of `f64`.
    pub fn gauge(&self, name: impl Into<Cow<'static, str>>) -> InstrumentBuilder<'_, Gauge<f64>> {
        InstrumentBuilder::new(self, name)
    }

    /// The underlying OpenTelemetry meter, for anything else.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }
}

/// Configures one instrument; finish with `build()`.
#[derive(Debug)]
#[must_use = "an instrument builder does nothing until `build()`"]
pub struct InstrumentBuilder<'a, I> {
    metrics: &'a Metrics,
    name: Cow<'static, str>,
    unit: Option<Cow<'static, str>>,
    description: Option<Cow<'static, str>>,
    buckets: Option<Vec<f64>>,
    _instrument: std::marker::PhantomData<I>,
}

impl<'a, I> InstrumentBuilder<'a, I> {
    fn new(metrics: &'a Metrics, name: impl Into<Cow<'static, str>>) -> Self {
        InstrumentBuilder {
            metrics,
            name: name.into(),
            unit: None,
            description: None,
            buckets: None,
            _instrument: std::marker::PhantomData,
        }
    }

    /// The unit, in UCUM (`s`, `By`, `{request}`).
    pub fn unit(mut self, unit: impl Into<Cow<'static, str>>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// A description, shown as HELP by Prometheus.
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Bucket boundaries (histograms only).
    pub fn buckets(mut self, boundaries: Vec<f64>) -> Self {
        self.buckets = Some(boundaries);
        self
    }

    fn check(&self) -> Result<(), InvalidInstrumentName> {
        if valid_instrument_name(&self.name) {
            Ok(())
        } else {
            Err(InvalidInstrumentName {
                name: self.name.to_string(),
            })
        }
    }
}

macro_rules! build {
    ($ty:ty, $wrapper:ident, $make:ident) => {
        impl InstrumentBuilder<'_, $ty> {
            /// Makes the instrument.
            ///
            /// # Errors
            /// [`InvalidInstrumentName`] when the name does not follow OpenTelemetry's
            /// rules.
            pub fn build(self) -> Result<$wrapper, InvalidInstrumentName> {
                self.check()?;
                let mut b = self.metrics.meter.$make(self.name);
                if let Some(u) = self.unit {
                    b = b.with_unit(u);
                }
                if let Some(d) = self.description {
                    b = b.with_description(d);
                }
                Ok($wrapper(with_buckets!(b, self.buckets, $make).build()))
            }
        }
    };
}

macro_rules! with_buckets {
    ($b:ident, $buckets:expr, f64_histogram) => {
        $b.with_boundaries($buckets.unwrap_or_else(|| DURATION_BUCKETS.to_vec()))
    };
    ($b:ident, $buckets:expr, $other:ident) => {{
        let _ = $buckets;
        $b
    }};
}

build!(Counter<u64>, CounterInstrument, u64_counter);
build!(
    UpDownCounter<i64>,
    UpDownCounterInstrument,
    i64_up_down_counter
);
build!(Histogram<f64>, HistogramInstrument, f64_histogram);
build!(Gauge<f64>, GaugeInstrument, f64_gauge);

/// A monotonic counter.
#[derive(Debug, Clone)]
pub struct CounterInstrument(Counter<u64>);
/// An up-down counter.
#[derive(Debug, Clone)]
pub struct UpDownCounterInstrument(UpDownCounter<i64>);
/// A histogram.
#[derive(Debug, Clone)]
pub struct HistogramInstrument(Histogram<f64>);
/// A gauge.
#[derive(Debug, Clone)]
pub struct GaugeInstrument(Gauge<f64>);

/// An instrument with its attributes bound once: recording allocates nothing.
#[derive(Debug, Clone)]
pub struct Bound<I> {
    instrument: I,
    attributes: Arc<[KeyValue]>,
}

impl CounterInstrument {
    /// Adds `value` with these attributes.
    pub fn add(&self, value: u64, attributes: &[KeyValue]) {
        self.0.add(value, attributes);
    }
    /// Binds an attribute set for repeated use.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<Counter<u64>> {
        Bound {
            instrument: self.0.clone(),
            attributes: attributes.into(),
        }
    }
}

impl UpDownCounterInstrument {
    /// Adds `value` (negative to go down) with these attributes.
    pub fn add(&self, value: i64, attributes: &[KeyValue]) {
        self.0.add(value, attributes);
    }
    /// Binds an attribute set for repeated use.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<UpDownCounter<i64>> {
        Bound {
            instrument: self.0.clone(),
            attributes: attributes.into(),
        }
    }
}

impl HistogramInstrument {
    /// Records `value` with these attributes.
    pub fn record(&self, value: f64, attributes: &[KeyValue]) {
        self.0.record(value, attributes);
    }
    /// Binds an attribute set for repeated use.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<Histogram<f64>> {
        Bound {
            instrument: self.0.clone(),
            attributes: attributes.into(),
        }
    }
}

impl GaugeInstrument {
    /// Sets the gauge to `value` for these attributes.
    pub fn record(&self, value: f64, attributes: &[KeyValue]) {
        self.0.record(value, attributes);
    }
    /// Binds an attribute set for repeated use.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<Gauge<f64>> {
        Bound {
            instrument: self.0.clone(),
            attributes: attributes.into(),
        }
    }
}

impl Bound<Counter<u64>> {
    /// Adds `value`.
    pub fn add(&self, value: u64) {
        self.instrument.add(value, &self.attributes);
    }
}

impl Bound<UpDownCounter<i64>> {
    /// Adds `value` (negative to go down).
    pub fn add(&self, value: i64) {
        self.instrument.add(value, &self.attributes);
    }
}

impl Bound<Histogram<f64>> {
    /// Records `value`.
    pub fn record(&self, value: f64) {
        self.instrument.record(value, &self.attributes);
    }
}

impl Bound<Gauge<f64>> {
    /// Sets the gauge to `value`.
    pub fn record(&self, value: f64) {
        self.instrument.record(value, &self.attributes);
    }
}

/// Events with a field starting with this prefix add to a monotonic counter named by
/// the rest of the field (`monotonic_counter.requests = 1`). Same convention as
/// tracing-opentelemetry's `MetricsLayer`.
pub const MONOTONIC_COUNTER_PREFIX: &str = "monotonic_counter.";
/// An up-down counter (`counter.queue_depth = -1`).
pub const COUNTER_PREFIX: &str = "counter.";
/// A histogram (`histogram.payload_bytes = 512`).
pub const HISTOGRAM_PREFIX: &str = "histogram.";
/// A gauge (`gauge.temperature = 21.5`).
pub const GAUGE_PREFIX: &str = "gauge.";

/// The kind of metric a prefixed field feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MetricKind {
    MonotonicCounter,
    UpDownCounter,
    Histogram,
    Gauge,
}

/// The metric a field name asks for, if any: its kind and name.
pub(crate) fn metric_of(field: &str) -> Option<(MetricKind, &str)> {
    [
        (MONOTONIC_COUNTER_PREFIX, MetricKind::MonotonicCounter),
        (COUNTER_PREFIX, MetricKind::UpDownCounter),
        (HISTOGRAM_PREFIX, MetricKind::Histogram),
        (GAUGE_PREFIX, MetricKind::Gauge),
    ]
    .iter()
    .find_map(|(prefix, kind)| field.strip_prefix(prefix).map(|name| (*kind, name)))
    .filter(|(_, name)| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{metric_of, valid_instrument_name, MetricKind};

    #[test]
    fn instrument_names_follow_the_specification() {
        for ok in [
            "a",
            "http.server.request.duration",
            "a/b-c_d.e",
            &"a".repeat(255),
        ] {
            assert!(valid_instrument_name(ok), "{ok}");
        }
        for bad in ["", "1abc", "_a", "a b", "a:b", &"a".repeat(256), "é"] {
            assert!(!valid_instrument_name(bad), "{bad}");
        }
    }
    #[test]
    fn metric_prefixes() {
        assert_eq!(
            metric_of("monotonic_counter.requests"),
            Some((MetricKind::MonotonicCounter, "requests"))
        );
        assert_eq!(
            metric_of("counter.queue"),
            Some((MetricKind::UpDownCounter, "queue"))
        );
        assert_eq!(
            metric_of("histogram.bytes"),
            Some((MetricKind::Histogram, "bytes"))
        );
        assert_eq!(metric_of("gauge.temp"), Some((MetricKind::Gauge, "temp")));
        assert_eq!(metric_of("counter."), None);
        assert_eq!(metric_of("user.id"), None);
    }
}
