//! The bridges from the OpenTelemetry SDK to our pipelines: the span processor hands
//! each ended span to the span pipeline, and the SDK's periodic reader hands each
//! metric collection to the metric pipeline.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};

use super::pipeline::Pipeline;
use crate::error::ShutdownError;

/// The span processor: hands each ended, sampled span from the SDK to the span
/// pipeline's queue, never blocking.
#[derive(Debug)]
pub(crate) struct SpansToPipeline {
    pub pipeline: Arc<Pipeline<super::Span>>,
    pub flush_timeout: Duration,
}

impl SpanProcessor for SpansToPipeline {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        // After shutdown the pipeline counts the span as dropped (`shutdown`).
        if span.span_context.is_sampled() {
            self.pipeline.push(super::Span::Sdk(span));
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self.pipeline.flush(self.flush_timeout) {
            Ok(()) => Ok(()),
            Err(ShutdownError::AlreadyShutdown) => Err(OTelSdkError::AlreadyShutdown),
            Err(ShutdownError::Timeout { timeout, .. }) => Err(OTelSdkError::Timeout(timeout)),
            Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self.pipeline.shutdown(timeout) {
            Ok(()) | Err(ShutdownError::AlreadyShutdown) => Ok(()),
            Err(ShutdownError::Timeout { timeout, .. }) => Err(OTelSdkError::Timeout(timeout)),
            Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
        }
    }
}

/// Receives each collection from the SDK's periodic reader and queues it, encoded, on
/// the metric pipeline. Never blocks the reader.
#[derive(Debug)]
pub(crate) struct MetricsToPipeline {
    pub pipeline: Arc<Pipeline<ExportMetricsServiceRequest>>,
    pub temporality: Temporality,
    pub flush_timeout: Duration,
    /// Also shown each collection (the flight recorder's snapshot), on the reader's
    /// thread.
    pub tap: Option<MetricsTap>,
}

/// What sees each metric collection.
#[derive(Clone)]
pub(crate) struct MetricsTap(pub Arc<dyn Fn(&ResourceMetrics) + Send + Sync>);

impl std::fmt::Debug for MetricsTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsTap")
    }
}

impl PushMetricExporter for MetricsToPipeline {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        if let Some(tap) = &self.tap {
            (tap.0)(metrics);
        }
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
