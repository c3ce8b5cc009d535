//! Shared by the `macros_*` tests: a subscriber that captures spans (in memory) and
//! log events, and an in-memory metrics pipeline installed as the global meter
//! provider (process-wide, so metric tests live in their own binaries and use
//! functions of their own, told apart by `code.function.name`).
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use telemetry::testing::InMemoryExporter;
use telemetry::Telemetry;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// One `tracing` event as a log line would show it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub level: tracing::Level,
    pub target: String,
    /// `message` first, then `key=value` for the other fields.
    pub text: String,
}

/// Captures the events (log lines) that reach the subscriber.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<LogLine>>>);

impl Events {
    pub fn lines(&self) -> Vec<LogLine> {
        self.0.lock().unwrap().clone()
    }
}

struct Visitor(String);

impl tracing::field::Visit for Visitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let text = format!("{value:?}");
            self.0 = if self.0.is_empty() {
                text
            } else {
                format!("{text} {}", self.0)
            };
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut v = Visitor(String::new());
        event.record(&mut v);
        self.0.lock().unwrap().push(LogLine {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            text: v.0,
        });
    }
}

/// A subscriber set as the thread's default while this lives.
pub struct Harness {
    pub spans: InMemoryExporter,
    pub events: Events,
    pub telemetry: Telemetry,
    _guard: DefaultGuard,
}

/// Everything at every level is recorded.
pub fn harness() -> Harness {
    harness_at(LevelFilter::TRACE)
}

/// Only what `filter` lets through is recorded.
pub fn harness_at(filter: LevelFilter) -> Harness {
    let spans = InMemoryExporter::default();
    // Not global: the metric tests install their own global meter provider (see
    // `metrics()`), which an instance's `build()` would otherwise replace.
    let telemetry = Telemetry::builder()
        .service_name("macros-test")
        .install_globals(false)
        .metrics_exporter(telemetry::ExporterKind::None)
        .logs_exporter(telemetry::ExporterKind::None)
        .in_memory(&spans)
        .build()
        .unwrap();
    let events = Events::default();
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(telemetry.layer())
        .with(events.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    Harness {
        spans,
        events,
        telemetry,
        _guard: guard,
    }
}

/// The rendering with the line numbers of message-less events (named `event
/// file:line` by `tracing`) replaced by `N`, so editing a test file moves nothing.
pub fn without_lines(rendered: &str) -> String {
    rendered
        .lines()
        .map(|line| match line.find(".rs:") {
            Some(at) => {
                let rest = &line[at + 4..];
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                format!("{}.rs:N{}", &line[..at], &rest[digits..])
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The value of an attribute of the span named `span`, as text.
pub fn attribute(spans: &InMemoryExporter, span: &str, key: &str) -> Option<String> {
    let data = spans.span(span)?;
    data.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The in-memory metrics pipeline, installed as the global meter provider once.
pub struct Metrics {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        opentelemetry::global::set_meter_provider(provider.clone());
        Metrics { provider, exporter }
    })
}

fn matches(attributes: Vec<&KeyValue>, wanted: &[(&str, &str)]) -> bool {
    attributes.len() == wanted.len()
        && wanted.iter().all(|(k, v)| {
            attributes
                .iter()
                .any(|kv| kv.key.as_str() == *k && kv.value.to_string() == *v)
        })
}

/// One histogram data point.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    pub count: u64,
    pub sum: f64,
    pub bounds: Vec<f64>,
}

impl Metrics {
    fn with_metric<T>(
        &self,
        name: &str,
        f: impl FnOnce(&str, &AggregatedMetrics) -> T,
    ) -> Option<T> {
        self.provider.force_flush().unwrap();
        let exported = self.exporter.get_finished_metrics().unwrap();
        let last = exported.last()?;
        for scope in last.scope_metrics() {
            if scope.scope().name() != "telemetry" {
                continue;
            }
            for metric in scope.metrics() {
                if metric.name() == name {
                    return Some(f(metric.unit(), metric.data()));
                }
            }
        }
        None
    }

    /// The unit of a metric.
    pub fn unit(&self, name: &str) -> Option<String> {
        self.with_metric(name, |unit, _| unit.to_string())
    }

    /// The value of the `u64` counter `name` for exactly these attributes (0 if none).
    pub fn counter(&self, name: &str, attributes: &[(&str, &str)]) -> u64 {
        self.with_metric(name, |_, data| match data {
            AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
                .data_points()
                .find(|p| matches(p.attributes().collect(), attributes))
                .map_or(0, |p| p.value()),
            other => panic!("{name} is not a u64 counter: {other:?}"),
        })
        .unwrap_or(0)
    }

    /// The data point of the `f64` histogram `name` for exactly these attributes.
    pub fn histogram(&self, name: &str, attributes: &[(&str, &str)]) -> Option<HistogramPoint> {
        self.with_metric(name, |_, data| match data {
            AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                .data_points()
                .find(|p| matches(p.attributes().collect(), attributes))
                .map(|p| HistogramPoint {
                    count: p.count(),
                    sum: p.sum(),
                    bounds: p.bounds().collect(),
                }),
            other => panic!("{name} is not an f64 histogram: {other:?}"),
        })
        .flatten()
    }
}
