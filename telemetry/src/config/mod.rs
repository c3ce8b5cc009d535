//! [`Config`]: every setting, its default, and the `OTEL_*` variable that also sets it;
//! or the declarative configuration file that sets them instead (`OTEL_CONFIG_FILE`,
//! [`Config::from_file`]).
//!
//! Parsing works on an injected list of variables ([`Config::from_vars`]), so nothing
//! here touches the process environment except [`Config::from_env`] and its lossy twin.

use std::collections::BTreeMap;

use std::time::Duration;

use crate::error::{ConfigError, EnvIssue, FileIssue};
use crate::export::otlp::{check_header, OtlpSettings, OtlpTarget, DEFAULT_MAX_REQUEST_SIZE};
use crate::export::{BatchConfig, ExporterKind, ResilienceConfig};
use crate::layer::SpanLimits;
use crate::logs::{LogOutput, LogProcessors};
use crate::metrics::{MetricExport, PrometheusAddress, SpanMetricsConfig, Temporality};
use crate::propagation::Propagator;
use crate::resource::ResourceSettings;
use crate::sampling::Sampler;

mod env;
mod file;

pub(crate) use env::misspelt_variables;

pub use crate::layer::SpanDetails;
pub use crate::signal::Signal;

/// `OTEL_SDK_DISABLED`: `true` turns every signal into a no-op.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";

/// `OTEL_CONFIG_FILE`: the path of a declarative configuration file (OpenTelemetry's
/// configuration schema, `file_format` 1.0 or 1.1). When set, the file decides and the
/// other `OTEL_*` variables are ignored, except where the file substitutes them
/// (`${OTEL_SERVICE_NAME}`).
pub const OTEL_CONFIG_FILE: &str = "OTEL_CONFIG_FILE";

/// Default bound of a flush or shutdown.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Every setting of the crate, with the specification's defaults.
///
/// `Config::default()` never reads the environment; [`Config::from_env`] and
/// [`Config::from_vars`] do. Most users never name this type: they call setters on
/// [`TelemetryBuilder`](crate::TelemetryBuilder), which wraps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub(crate) enabled: bool,
    pub(crate) resource: ResourceSettings,
    pub(crate) exporters: [Option<ExporterKind>; 3],
    /// Per signal: the console shows it too, beside its exporter (`otlp,console`).
    pub(crate) console_too: [bool; 3],
    pub(crate) otlp_generic: OtlpSettings,
    pub(crate) otlp_signal: [OtlpSettings; 3],
    pub(crate) sampler: Sampler,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) traces_batch: BatchConfig,
    pub(crate) logs_batch: BatchConfig,
    pub(crate) metric_export: MetricExport,
    pub(crate) temporality: Temporality,
    pub(crate) span_limits: SpanLimits,
    pub(crate) prometheus: PrometheusAddress,
    pub(crate) shutdown_timeout: Duration,
    /// Encoded bytes of one OTLP request at most; larger batches are cut.
    pub(crate) max_request_size: u64,
    pub(crate) resilience: ResilienceConfig,
    pub(crate) span_metrics: SpanMetricsConfig,
    pub(crate) log_outputs: Vec<LogOutput>,
    pub(crate) log_processors: LogProcessors,
    pub(crate) span_events: Option<bool>,
    pub(crate) install_globals: bool,
    pub(crate) discard: bool,
    pub(crate) span_details: SpanDetails,
    /// Which code records spans.
    pub(crate) span_recorder: crate::layer::SpanRecorder,
    pub(crate) logs_follow_sampling: bool,
    /// Whether the pipelines publish their own `telemetry.export.*` metrics.
    pub(crate) self_metrics: bool,
    /// The StatsD exporter's settings (used when metrics go to StatsD).
    pub(crate) statsd: crate::export::StatsdConfig,
    /// Where metrics are remote-written (when they are).
    pub(crate) remote_write: Option<crate::export::RemoteWriteConfig>,
    /// Health checks from the configuration file (those set in code join them).
    pub(crate) health_checks: Vec<crate::HealthCheck>,
    /// The flight recorder's bounds, when it is on.
    pub(crate) recorder: Option<crate::recorder::RecorderConfig>,
    /// The bearer token that serves the recorder's data off loopback.
    pub(crate) admin_token: Option<crate::recorder::AdminToken>,
}

impl Config {
    /// The defaults of a builder that reads no variables, but for the one every builder
    /// reads: `TELEMETRY_SPAN_RECORDER`, which code records spans (code's
    /// `span_recorder` still wins). A value it does not know is said once and left.
    pub(crate) fn code_defaults() -> Config {
        let mut c = Config::default();
        if let Ok(v) = std::env::var(crate::layer::TELEMETRY_SPAN_RECORDER) {
            match crate::layer::SpanRecorder::parse(&v) {
                Some(r) => c.span_recorder = r,
                None if v.trim().is_empty() => {}
                None => crate::diagnostics::config_warning(format_args!(
                    "{}={v:?} is not accepted: expected opentelemetry or native; spans are \
                     recorded by tracing-opentelemetry",
                    crate::layer::TELEMETRY_SPAN_RECORDER
                )),
            }
        }
        c
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            resource: ResourceSettings::default(),
            exporters: [None; 3],
            console_too: [false; 3],
            otlp_generic: OtlpSettings::default(),
            otlp_signal: Default::default(),
            sampler: Sampler::default(),
            propagators: Propagator::DEFAULT.to_vec(),
            traces_batch: BatchConfig::TRACES,
            logs_batch: BatchConfig::LOGS,
            metric_export: MetricExport::DEFAULT,
            temporality: Temporality::Cumulative,
            span_limits: SpanLimits::default(),
            prometheus: PrometheusAddress::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            resilience: ResilienceConfig::default(),
            span_metrics: SpanMetricsConfig::default(),
            log_outputs: Vec::new(),
            log_processors: LogProcessors::default(),
            span_events: None,
            install_globals: true,
            discard: false,
            span_details: SpanDetails::default(),
            span_recorder: crate::layer::SpanRecorder::default(),
            logs_follow_sampling: false,
            self_metrics: true,
            statsd: crate::export::StatsdConfig::default(),
            remote_write: None,
            health_checks: Vec::new(),
            recorder: None,
            admin_token: None,
        }
    }
}

impl Config {
    /// Reads the process environment strictly: any bad `OTEL_*` value is an error
    /// naming the variable, its value and the accepted forms.
    ///
    /// # Errors
    /// [`ConfigError::InvalidEnv`] listing every bad variable.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(std::env::vars())
    }

    /// Reads the process environment as the OpenTelemetry specification says: a bad
    /// value is reported in the returned list and the default is used.
    pub fn from_env_lossy() -> (Config, Vec<EnvIssue>) {
        Config::from_vars_lossy(std::env::vars())
    }

    /// Parses the given variables strictly (see [`Config::from_env`]).
    ///
    /// # Examples
    /// ```
    /// use telemetry::config::Config;
    /// let err = Config::from_vars([
    ///     ("OTEL_TRACES_SAMPLER", "traceidratio"),
    ///     ("OTEL_TRACES_SAMPLER_ARG", "abc"),
    /// ])
    /// .unwrap_err();
    /// assert!(err.to_string().contains("OTEL_TRACES_SAMPLER_ARG=\"abc\""));
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::InvalidEnv`] listing every bad variable.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (config, issues) = Config::from_vars_lossy(vars);
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::InvalidEnv { issues })
        }
    }

    /// Parses the given variables leniently: each bad value is returned as an
    /// [`EnvIssue`] and its setting keeps its default.
    pub fn from_vars_lossy<I, K, V>(vars: I) -> (Config, Vec<EnvIssue>)
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let map: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| {
                let k = k.as_ref();
                // DogStatsD finds the Agent through Datadog's own variables.
                k.starts_with("OTEL_")
                    || k == crate::export::DD_AGENT_HOST
                    || k == crate::export::DD_DOGSTATSD_PORT
                    || k == crate::layer::TELEMETRY_SPAN_RECORDER
            })
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        env::read(map)
    }

    /// Reads a declarative configuration file strictly: the YAML of OpenTelemetry's
    /// configuration schema (`file_format: "1.1"` or `"1.0"`), each `${NAME}`,
    /// `${env:NAME}` and `${NAME:-default}` in a value substituted from `vars` (the
    /// process environment, for [`Telemetry::from_config_file`](crate::Telemetry::from_config_file)).
    /// Signals whose provider the file leaves out export nothing, and no propagator is
    /// used unless the file names some, as the specification says.
    ///
    /// # Examples
    /// ```
    /// use telemetry::config::Config;
    /// # let dir = std::env::temp_dir().join(format!("doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("otel.yaml");
    /// std::fs::write(&path, r#"
    /// file_format: "1.1"
    /// tracer_provider:
    ///   processors:
    ///     - batch:
    ///         exporter:
    ///           otlp_http:
    ///             endpoint: ${COLLECTOR:-http://localhost:4318}/v1/traces
    ///   sampler:
    ///     parent_based:
    ///       root:
    ///         trace_id_ratio_based:
    ///           ratio: 0.25
    /// "#)?;
    /// let config = Config::from_file(&path, [("COLLECTOR", "http://collector:4318")])?;
    /// let target = config.otlp(telemetry::config::Signal::Traces)?;
    /// assert_eq!(target.endpoint, "http://collector:4318/v1/traces");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::FileUnreadable`], [`ConfigError::FileSyntax`] (not YAML, or no
    /// usable `file_format`), [`ConfigError::FileSubstitution`] (an invalid `${...}`),
    /// or [`ConfigError::InvalidFile`] listing every value not accepted and every key
    /// not supported or not of the schema.
    pub fn from_file<I, K, V>(
        path: impl AsRef<std::path::Path>,
        vars: I,
    ) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let path = path.as_ref();
        let (config, issues) = Config::from_file_lossy(path, vars)?;
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::InvalidFile {
                file: path.to_path_buf(),
                issues,
            })
        }
    }

    /// Reads a declarative configuration file leniently: each value not accepted and
    /// each key not supported or not of the schema is returned as a [`FileIssue`],
    /// and the setting keeps its default.
    ///
    /// # Errors
    /// The file's own faults, which leave nothing to use: [`ConfigError::FileUnreadable`],
    /// [`ConfigError::FileSyntax`], [`ConfigError::FileSubstitution`].
    pub fn from_file_lossy<I, K, V>(
        path: impl AsRef<std::path::Path>,
        vars: I,
    ) -> Result<(Config, Vec<FileIssue>), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        file::read_path(path.as_ref(), &vars)
    }

    /// Whether telemetry is on (`OTEL_SDK_DISABLED` and `enabled(false)` turn it off).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The configured sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// The configured propagators, in order, deduplicated.
    pub fn propagators(&self) -> &[Propagator] {
        &self.propagators
    }

    /// The batch settings of the span pipeline.
    pub fn traces_batch(&self) -> BatchConfig {
        self.traces_batch
    }

    /// The batch settings of the log pipeline.
    pub fn logs_batch(&self) -> BatchConfig {
        self.logs_batch
    }

    /// Interval and timeout of metric pushes.
    pub fn metric_export(&self) -> (Duration, Duration) {
        (self.metric_export.interval, self.metric_export.timeout)
    }

    /// Attribute, event and link limits per span.
    pub fn span_limits(&self) -> (u32, u32, u32) {
        let l = self.span_limits;
        (l.attributes, l.events, l.links)
    }

    /// The Prometheus endpoint's host and port.
    pub fn prometheus_address(&self) -> (&str, u16) {
        (&self.prometheus.host, self.prometheus.port)
    }

    /// The exporter chosen for a signal. With nothing chosen, a signal goes to OTLP when
    /// an endpoint is configured (generic or for that signal) and to the console
    /// otherwise, so a program with no collector still shows its telemetry.
    pub fn exporter(&self, signal: Signal) -> ExporterKind {
        if let Some(kind) = self.exporters[signal.index()] {
            return kind;
        }
        let has_endpoint = self.otlp_generic.endpoint.is_some()
            || self.otlp_signal[signal.index()].endpoint.is_some();
        if has_endpoint {
            ExporterKind::Otlp
        } else {
            ExporterKind::Console
        }
    }

    /// Whether the console shows `signal` beside its exporter (`otlp,console` in
    /// `OTEL_*_EXPORTER`).
    pub(crate) fn shows_console_too(&self, signal: Signal) -> bool {
        self.console_too[signal.index()]
            && !self.discard
            && !matches!(
                self.exporter(signal),
                ExporterKind::Console | ExporterKind::None
            )
    }

    /// The merged OTLP settings of a signal, with the endpoint joined as the
    /// specification says: a generic HTTP endpoint gets `v1/<signal>` appended, a
    /// per-signal one is used as is (an empty path becomes `/`), gRPC appends nothing.
    ///
    /// # Errors
    /// [`ConfigError::InvalidSetting`] when an endpoint is not an `http://` or
    /// `https://` URL (gRPC also accepts `host:port`).
    pub fn otlp(&self, signal: Signal) -> Result<OtlpTarget, ConfigError> {
        OtlpSettings::resolve(
            &self.otlp_signal[signal.index()],
            &self.otlp_generic,
            signal,
        )
    }

    /// Checks values set in code; the environment readers already validate theirs.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.sampler.validate()?;
        for signal in [Signal::Traces, Signal::Logs] {
            if matches!(
                self.exporter(signal),
                ExporterKind::Statsd | ExporterKind::RemoteWrite
            ) {
                return Err(ConfigError::InvalidSetting {
                    setting: "exporter",
                    value: format!("{:?} for {signal}", self.exporter(signal)),
                    expected: "StatsD and remote write for metrics only".into(),
                });
            }
        }
        match self.exporter(Signal::Metrics) {
            ExporterKind::Statsd => self.statsd.validate()?,
            ExporterKind::RemoteWrite => match &self.remote_write {
                Some(rw) => rw.validate()?,
                None => {
                    return Err(ConfigError::InvalidSetting {
                        setting: "metrics exporter",
                        value: "remote write".into(),
                        expected: "a remote write URL (`prometheus_remote_write(..)`)".into(),
                    })
                }
            },
            _ => {}
        }
        self.traces_batch.validate("traces batch")?;
        self.logs_batch.validate("logs batch")?;
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            if self.exporter(signal) == ExporterKind::Otlp {
                let target = self.otlp(signal)?;
                for (name, value) in &target.headers {
                    check_header(name, value)?;
                }
            }
        }
        if self.exporter(Signal::Traces) == ExporterKind::Prometheus
            || self.exporter(Signal::Logs) == ExporterKind::Prometheus
        {
            return Err(ConfigError::InvalidSetting {
                setting: "exporter",
                value: "prometheus".into(),
                expected: "otlp, console or none for traces and logs (prometheus is for metrics)"
                    .into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
