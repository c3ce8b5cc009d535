//! [`SignalPipeline`]: the handle of one signal's running pipeline, through which
//! health, flush and shutdown reach it.

use std::sync::Arc;
use std::time::Duration;

use super::pipeline::Pipeline;
use super::stats::Stats;
use crate::error::ShutdownError;
use crate::health::{SignalHealth, SignalReport};

/// One signal's running pipeline and the name of where it exports, as health shows it.
#[derive(Debug)]
pub(crate) struct SignalPipeline<T> {
    pub(crate) pipeline: Arc<Pipeline<T>>,
    target: String,
}

impl<T: Send + 'static> SignalPipeline<T> {
    /// The handle of a started pipeline exporting to `target`.
    pub(crate) fn new(pipeline: Pipeline<T>, target: String) -> Self {
        SignalPipeline {
            pipeline: Arc::new(pipeline),
            target,
        }
    }

    /// The pipeline's state, for [`Telemetry::health`].
    pub(crate) fn health(&self) -> SignalHealth {
        SignalHealth::from_snapshot(&self.target, &self.pipeline.stats.snapshot())
    }

    /// The pipeline's counters so far.
    pub(crate) fn report(&self) -> SignalReport {
        SignalReport::from_snapshot(&self.pipeline.stats.snapshot())
    }

    /// The pipeline's counters, shared (for the self-metrics).
    pub(crate) fn stats(&self) -> Arc<Stats> {
        self.pipeline.stats.clone()
    }

    /// Exports what is queued, waiting at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), ShutdownError> {
        self.pipeline.flush(timeout)
    }

    /// Exports what is queued and stops, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownError> {
        self.pipeline.shutdown(timeout)
    }
}
