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

pub use crate::metrics::{Point, PointValue};

impl InMemoryMetrics {
    pub(crate) fn reader(&self) -> impl opentelemetry_sdk::metrics::reader::MetricReader {
        crate::metrics::SharedReader(self.reader.clone())
    }

    /// Every data point the instruments hold now (cumulative).
    pub fn collect(&self) -> Vec<Point> {
        crate::metrics::collect_points(&self.reader)
    }
}
