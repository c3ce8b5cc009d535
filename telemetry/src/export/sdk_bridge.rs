//! The bridge from the OpenTelemetry SDK's metric side to ours: the SDK's periodic
//! reader hands each collection to the metric pipeline.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;

use super::pipeline::Pipeline;

/// Receives each collection from the SDK's periodic reader and queues it, encoded, on
/// the metric pipeline. Never blocks the reader.
#[derive(Debug)]
pub(crate) struct MetricsToPipeline {
    pub pipeline: Arc<Pipeline<ExportMetricsServiceRequest>>,
    pub temporality: Temporality,
    pub flush_timeout: Duration,
}

impl PushMetricExporter for MetricsToPipeline {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
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
