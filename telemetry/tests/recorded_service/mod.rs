//! The service the admin-endpoint tests look at (the CLI's here, the page's in the
//! workspace's `tests/debug_page.rs`): the recorder and the admin endpoint on, logs
//! kept, nothing exported.

use std::time::Duration;

use telemetry::export::ExporterKind;
use telemetry::recorder::RecorderConfig;
use telemetry::Telemetry;

/// A service named `name` with the recorder and the admin endpoint (on an ephemeral
/// loopback port) on, logs kept, nothing exported.
pub fn recorded_service(name: &str) -> Telemetry {
    Telemetry::builder()
        .service_name(name)
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::Console)
        .log_output(telemetry::logs::LogOutput::writer(
            std::io::sink(),
            telemetry::logs::LogFormat::Pretty,
        ))
        .recorder(RecorderConfig::default())
        .prometheus_address("127.0.0.1:0".parse().unwrap())
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}
