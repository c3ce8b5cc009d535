//! Where each signal goes: the check that its transport is compiled in, the pipelines
//! of the exporters beyond OTLP, and the name health gives the target.

use crate::config::Config;
use crate::error::{BuildError, ConfigError};
use crate::export::{BatchConfig, ExportMetricsServiceRequest, ExporterKind, Pipeline, Protocol};
use crate::signal::Signal;

/// The transport a target needs must be compiled in.
pub(super) fn check_transport(
    config: &Config,
    signal: Signal,
    target: &crate::export::OtlpTarget,
) -> Result<(), BuildError> {
    if target.protocol == Protocol::Grpc && !cfg!(feature = "grpc") {
        return Err(BuildError::FeatureDisabled {
            what: "OTLP over gRPC",
            feature: "grpc",
        });
    }
    if target.endpoint.starts_with("https://") && !cfg!(feature = "tls") {
        // Name the endpoint as the user wrote it, and the rule that made it https.
        let written = config.otlp_signal[signal.index()]
            .endpoint
            .as_ref()
            .or(config.otlp_generic.endpoint.as_ref())
            .filter(|raw| !raw.contains("://"));
        let (value, expected) = match written {
            Some(raw) => (
                raw.clone(),
                format!(
                    "a gRPC endpoint this build can reach: without a scheme, a gRPC endpoint \
                     uses TLS (https://{raw}) unless OTEL_EXPORTER_OTLP_INSECURE=true, and this \
                     build has no TLS (the `tls` feature of the telemetry crate is off); write \
                     http://{raw} or set OTEL_EXPORTER_OTLP_INSECURE=true to send in plain text"
                ),
            ),
            None => (
                target.endpoint.clone(),
                "an http:// endpoint: this build has no TLS (turn on the `tls` feature of the \
                 telemetry crate)"
                    .to_string(),
            ),
        };
        return Err(ConfigError::InvalidSetting {
            setting: "endpoint",
            value,
            expected,
        }
        .into());
    }
    Ok(())
}

/// The metric pipeline of the StatsD or remote-write exporter.
pub(super) fn start_beyond_otlp(
    config: &Config,
    batch: BatchConfig,
) -> Result<Pipeline<ExportMetricsServiceRequest>, BuildError> {
    if config.exporter(Signal::Metrics) == ExporterKind::Statsd {
        let statsd = crate::export::StatsdTransport::new(config.statsd.clone());
        return Pipeline::start(Signal::Metrics, batch, config.resilience, statsd);
    }
    let rw = config
        .remote_write
        .clone()
        .ok_or_else(|| ConfigError::InvalidSetting {
            setting: "metrics exporter",
            value: "remote write".into(),
            expected: "a remote write URL".into(),
        })?;
    let mut resilience = config.resilience;
    resilience.attempt_timeout = Some(rw.timeout);
    let transport = crate::export::RemoteWriteTransport::new(rw);
    Pipeline::start(Signal::Metrics, batch, resilience, transport)
}

/// How health names where a signal goes.
pub(super) fn target_name(config: &Config, signal: Signal) -> String {
    if config.discard {
        return "discard".to_string();
    }
    match config.exporter(signal) {
        ExporterKind::Otlp => config
            .otlp(signal)
            .map(|t| format!("otlp {} {}", t.protocol.as_str(), t.endpoint))
            .unwrap_or_else(|_| "otlp".to_string()),
        ExporterKind::Console => "console".to_string(),
        ExporterKind::Prometheus => "prometheus".to_string(),
        ExporterKind::None => "none".to_string(),
        ExporterKind::Custom => "custom".to_string(),
        ExporterKind::Statsd => format!("statsd {}", config.statsd.address),
        ExporterKind::RemoteWrite => config
            .remote_write
            .as_ref()
            .map(|rw| format!("remote write {}", rw.url))
            .unwrap_or_default(),
    }
}
