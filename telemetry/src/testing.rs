//! Test support (feature `testing`): capture spans in memory and render them as a
//! deterministic tree for snapshot assertions.
//!
//! ```
//! use telemetry::testing::InMemoryExporter;
//! use tracing_subscriber::prelude::*;
//!
//! let spans = InMemoryExporter::default();
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

/// Keeps every ended, sampled span in memory. Clones share the same storage.
///
/// Spans are stored the moment they end (no batching), so a test can assert right
/// after the code under test returns.
#[derive(Debug, Clone, Default)]
pub struct InMemoryExporter {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl InMemoryExporter {
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
        crate::export::console::render(&self.lock(), &crate::export::console::Style::SNAPSHOT)
    }
}

impl SpanProcessor for InMemoryExporter {
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
