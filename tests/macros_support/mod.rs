//! Shared by the `macros_*` tests: a subscriber that captures spans (in memory) and
//! log events, and the metrics of its telemetry instance (in memory too). The harness
//! is the thread's default while it lives, and so are its metrics for `metrics()`:
//! tests running side by side never see each other's.
#![allow(dead_code)]

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use telemetry::testing::{InMemoryMetrics, InMemorySpans, PointValue};
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
    pub spans: InMemorySpans,
    pub events: Events,
    pub telemetry: Telemetry,
    pub metrics: Metrics,
    _guard: DefaultGuard,
    _metrics: MetricsGuard,
}

/// Everything at every level is recorded.
pub fn harness() -> Harness {
    harness_at(LevelFilter::TRACE)
}

/// Only what `filter` lets through is recorded.
pub fn harness_at(filter: LevelFilter) -> Harness {
    let spans = InMemorySpans::default();
    let metrics = InMemoryMetrics::default();
    // Not global: the metrics must come through the instance's layer.
    let telemetry = Telemetry::builder()
        .service_name("macros-test")
        .install_globals(false)
        .metrics_exporter(telemetry::export::ExporterKind::None)
        .logs_exporter(telemetry::export::ExporterKind::None)
        .in_memory(&spans)
        .in_memory_metrics(&metrics)
        .build()
        .unwrap();
    let events = Events::default();
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(telemetry.layer())
        .with(events.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    let metrics = Metrics(metrics);
    let previous = CURRENT.with(|c| c.borrow_mut().replace(metrics.clone()));
    Harness {
        spans,
        events,
        telemetry,
        metrics,
        _guard: guard,
        _metrics: MetricsGuard(previous),
    }
}

thread_local! {
    /// The metrics of the harness that is this thread's default.
    static CURRENT: RefCell<Option<Metrics>> = const { RefCell::new(None) };
}

/// Puts back the metrics of the harness that was the default before.
struct MetricsGuard(Option<Metrics>);

impl Drop for MetricsGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
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
pub fn attribute(spans: &InMemorySpans, span: &str, key: &str) -> Option<String> {
    let data = spans.span(span)?;
    data.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The metrics of the harness that is this thread's default (empty without one).
#[derive(Clone, Default)]
pub struct Metrics(InMemoryMetrics);

pub fn metrics() -> Metrics {
    CURRENT.with(|c| c.borrow().clone()).unwrap_or_default()
}

fn matches(attributes: &[(String, String)], wanted: &[(&str, &str)]) -> bool {
    attributes.len() == wanted.len()
        && wanted
            .iter()
            .all(|(k, v)| attributes.iter().any(|(key, value)| key == k && value == v))
}

/// One histogram data point.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    pub count: u64,
    pub sum: f64,
    pub bounds: Vec<f64>,
}

impl Metrics {
    fn points(&self, name: &str) -> Vec<telemetry::testing::Point> {
        let mut points = self.0.collect();
        points.retain(|p| p.name == name);
        points
    }

    /// The unit of a metric.
    pub fn unit(&self, name: &str) -> Option<String> {
        self.points(name).first().map(|p| p.unit.clone())
    }

    /// The value of the `u64` counter `name` for exactly these attributes (0 if none).
    pub fn counter(&self, name: &str, attributes: &[(&str, &str)]) -> u64 {
        self.points(name)
            .iter()
            .find(|p| matches(&p.attributes, attributes))
            .map_or(0, |p| match p.value {
                PointValue::Sum(v) => v as u64,
                ref other => panic!("{name} is not a counter: {other:?}"),
            })
    }

    /// The data point of the `f64` histogram `name` for exactly these attributes.
    pub fn histogram(&self, name: &str, attributes: &[(&str, &str)]) -> Option<HistogramPoint> {
        self.points(name)
            .iter()
            .find(|p| matches(&p.attributes, attributes))
            .map(|p| match &p.value {
                PointValue::Histogram {
                    count, sum, bounds, ..
                } => HistogramPoint {
                    count: *count,
                    sum: *sum,
                    bounds: bounds.clone(),
                },
                other => panic!("{name} is not a histogram: {other:?}"),
            })
    }
}
