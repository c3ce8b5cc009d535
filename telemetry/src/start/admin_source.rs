//! What the admin endpoint serves, from a running [`Telemetry`] it does not keep alive.

use crate::health::HealthReport;
use crate::telemetry::{Inner, Telemetry};

/// Serves the admin endpoint from a running [`Telemetry`] without keeping it alive.
pub(crate) struct AdminSource {
    /// Absent when metrics are not pulled (the endpoint serves only health).
    pub(crate) reader: Option<crate::admin::PullReader>,
    /// Whether the endpoint listens on loopback only.
    pub(crate) loopback: bool,
    /// The token that serves the recorder's data off loopback.
    pub(crate) token: Option<crate::recorder::AdminToken>,
    pub(crate) telemetry: std::sync::Weak<Inner>,
}

impl crate::admin::Source for AdminSource {
    fn metrics(&self) -> crate::admin::Pulled {
        use opentelemetry_sdk::metrics::reader::MetricReader as _;
        let Some(reader) = &self.reader else {
            return crate::admin::Pulled::Elsewhere;
        };
        let mut rm = opentelemetry_sdk::metrics::data::ResourceMetrics::default();
        match reader.collect(&mut rm) {
            Ok(()) => crate::admin::Pulled::Metrics(rm),
            Err(_) => crate::admin::Pulled::ShutDown,
        }
    }

    fn health(&self) -> Option<(HealthReport, Result<(), String>)> {
        let inner = self.telemetry.upgrade()?;
        let runner = match &inner.checks {
            Some((state, _)) => state.runner_alive(),
            None => Ok(()),
        };
        Some((Telemetry { inner }.health(), runner))
    }

    fn recorder(&self) -> Option<crate::recorder::Recorder> {
        self.telemetry.upgrade()?.recorder.clone()
    }

    fn serves_private_data(&self, authorization: Option<&str>) -> bool {
        match &self.token {
            Some(token) => token.admits(authorization),
            None => self.loopback,
        }
    }
}
