//! `init` and `try_init`: build, then install the global `tracing` subscriber; and
//! what `init` installs when telemetry cannot start.

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use super::TelemetryBuilder;
use crate::error::InitError;
use crate::export::ExporterKind;
use crate::logs::LogOutput;
use crate::sampling::Sampler;
use crate::telemetry::{Telemetry, TelemetryGuard};

impl TelemetryBuilder {
    /// Builds and installs globally: a `tracing` subscriber (registry, `EnvFilter` from
    /// `RUST_LOG` with default `info`, this layer), the tracer provider and the
    /// propagator. Never panics. When telemetry cannot start, it still installs a
    /// subscriber that prints the application's log lines to stdout (pretty format),
    /// says so once on stderr, and returns a guard that flushes those lines; when a
    /// global subscriber exists already, it warns and returns a guard that does nothing.
    pub fn init(self) -> TelemetryGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(InitError::AlreadyInstalled) => {
                crate::diagnostics::config_warning(format_args!(
                    "telemetry is off: {}",
                    InitError::AlreadyInstalled
                ));
                TelemetryGuard { telemetry: None }
            }
            Err(e) => match local_logs_only() {
                Ok(guard) => {
                    crate::diagnostics::config_warning(format_args!(
                        "telemetry is off: {e}; the application's log lines go to stdout"
                    ));
                    guard
                }
                Err(_) => {
                    crate::diagnostics::config_warning(format_args!("telemetry is off: {e}"));
                    TelemetryGuard { telemetry: None }
                }
            },
        }
    }

    /// The fallible twin of [`init`](Self::init).
    ///
    /// # Errors
    /// [`InitError::Build`] when building fails, [`InitError::AlreadyInstalled`] when a
    /// global subscriber exists already.
    pub fn try_init(self) -> Result<TelemetryGuard, InitError> {
        let telemetry = self.build()?;
        install(&telemetry)?;
        telemetry.set_globals();
        Ok(telemetry.guard())
    }
}

/// Installs the global subscriber: the registry, `RUST_LOG`'s filter (default `info`)
/// and the layer of `telemetry`.
fn install(telemetry: &Telemetry) -> Result<(), InitError> {
    let filter = match tracing_subscriber::EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(e) => {
            if std::env::var_os("RUST_LOG").is_some() {
                crate::diagnostics::config_warning(format_args!(
                    "RUST_LOG is not a valid filter ({e}); using `info`"
                ));
            }
            tracing_subscriber::EnvFilter::new("info")
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(telemetry.layer())
        .try_init()
        .map_err(|_| InitError::AlreadyInstalled)
}

/// What `init` installs when telemetry cannot start: log lines on stdout, nothing
/// exported, no globals, every span left unsampled (so spans cost almost nothing).
fn local_logs_only() -> Result<TelemetryGuard, InitError> {
    let telemetry = Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .sampler(Sampler::AlwaysOff)
        .log_output(LogOutput::stdout(crate::logs::LogFormat::Pretty))
        .install_globals(false)
        .build()?;
    install(&telemetry)?;
    Ok(telemetry.guard())
}
