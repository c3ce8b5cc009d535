//! [`TelemetryBuilder`]: settings in code over the environment, then `build()` or
//! `init()`. The setters record typed [`Overrides`]; `build()` reads the environment,
//! applies them, validates, and starts everything.

use std::fmt;
use std::time::Duration;

use opentelemetry_sdk::metrics::MeterProviderBuilder;
use opentelemetry_sdk::trace::{SpanProcessor, TracerProviderBuilder};

use crate::error::{ConfigError, InitError};
use crate::export::{
    BatchConfig, CircuitBreakerConfig, Compression, ExporterKind, Protocol, RetryBufferConfig,
    RetryConfig,
};
use crate::logs::LogOutput;
use crate::propagation::Propagator;
use crate::sampling::Sampler;
use crate::signal::Signal;
use crate::telemetry::{Telemetry, TelemetryGuard};

mod build;
mod init;
mod otlp;
mod overrides;

use overrides::Overrides;

/// Changes the SDK's tracer provider before it is built (span processors added in code).
pub(crate) type ProviderHook =
    Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>;
/// Changes the SDK's meter provider before it is built (readers added in code).
pub(crate) type MeterHook = Box<dyn FnOnce(MeterProviderBuilder) -> MeterProviderBuilder + Send>;

impl Telemetry {
    /// A builder that reads no environment variable.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::new(None, false)
    }

    /// A builder that reads the `OTEL_*` variables strictly: `build()` fails on any bad
    /// value, naming each variable, its value and the accepted forms. When
    /// `OTEL_CONFIG_FILE` is set, the file it names decides instead (see
    /// [`from_config_file`](Self::from_config_file)).
    pub fn from_env() -> TelemetryBuilder {
        TelemetryBuilder::new(Some(std::env::vars().collect()), true)
    }

    /// A builder that reads the `OTEL_*` variables as the specification says: a bad
    /// value is reported once on stderr and its default is used. When
    /// `OTEL_CONFIG_FILE` is set, the file it names decides instead, read the same
    /// way: each problem is reported once and its setting keeps its default (a file
    /// that cannot be read or parsed still fails `build()`).
    pub fn from_env_lossy() -> TelemetryBuilder {
        TelemetryBuilder::new(Some(std::env::vars().collect()), false)
    }

    /// A builder that reads a declarative configuration file strictly: OpenTelemetry's
    /// configuration schema in YAML (`file_format: "1.1"` or `"1.0"`), read by the
    /// Java, Go, C++, Python and JS SDKs too. Each `${NAME}`, `${env:NAME}` or
    /// `${NAME:-default}` in a value is replaced from the process environment (or the
    /// variables given to [`vars`](TelemetryBuilder::vars)); no other `OTEL_*`
    /// variable is read. Settings made in code beat the file. The README's
    /// "Configuration file" section lists the keys this library honours; this
    /// library's own settings go in its `telemetry` section.
    ///
    /// ```no_run
    /// let telemetry = telemetry::Telemetry::from_config_file("otel.yaml")
    ///     .default_service_name("checkout")
    ///     .build()?;
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    ///
    /// # Errors
    /// `build()` returns [`ConfigError::InvalidFile`] listing every value not
    /// accepted and every key unsupported or unknown, each with its path in the file;
    /// [`ConfigError::FileUnreadable`], [`ConfigError::FileSyntax`] or
    /// [`ConfigError::FileSubstitution`] when there is nothing usable.
    pub fn from_config_file(path: impl Into<std::path::PathBuf>) -> TelemetryBuilder {
        let mut builder = TelemetryBuilder::new(Some(std::env::vars().collect()), true);
        builder.config_file = Some(path.into());
        builder
    }

    /// The one-call setup: `from_env_lossy()`, then [`TelemetryBuilder::init`].
    ///
    /// ```no_run
    /// let _guard = telemetry::Telemetry::init();
    /// tracing::info!("hello");
    /// ```
    pub fn init() -> TelemetryGuard {
        Telemetry::from_env_lossy().init()
    }

    /// The fallible twin of [`Telemetry::init`].
    ///
    /// # Errors
    /// See [`TelemetryBuilder::try_init`].
    pub fn try_init() -> Result<TelemetryGuard, InitError> {
        Telemetry::from_env_lossy().try_init()
    }
}

/// Builds a [`Telemetry`]: start from [`Telemetry::builder`] (code only),
/// [`Telemetry::from_env`] (strict) or [`Telemetry::from_env_lossy`], then call setters.
/// Settings made in code beat the environment.
#[must_use = "a builder does nothing until `build()` or `init()` is called"]
pub struct TelemetryBuilder {
    vars: Option<Vec<(String, String)>>,
    /// The configuration file named in code ([`Telemetry::from_config_file`]).
    config_file: Option<std::path::PathBuf>,
    strict: bool,
    overrides: Overrides,
    hooks: Vec<ProviderHook>,
    metric_hooks: Vec<MeterHook>,
    health_checks: Vec<crate::HealthCheck>,
    custom: crate::export::CustomExporters,
    errors: Vec<ConfigError>,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("reads_env", &self.vars.is_some())
            .field("config_file", &self.config_file)
            .field("strict", &self.strict)
            .field("settings", &self.overrides)
            .finish()
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident, $ty:ty, |$o:ident, $v:ident| $body:expr) => {
        $(#[$doc])*
        pub fn $name(mut self, $v: $ty) -> Self {
            let $o = &mut self.overrides;
            $body;
            self
        }
    };
}

impl TelemetryBuilder {
    pub(crate) fn new(vars: Option<Vec<(String, String)>>, strict: bool) -> Self {
        TelemetryBuilder {
            vars,
            config_file: None,
            strict,
            overrides: Overrides::default(),
            hooks: Vec::new(),
            metric_hooks: Vec::new(),
            health_checks: Vec::new(),
            custom: Default::default(),
            errors: Vec::new(),
        }
    }

    /// Reads the given variables instead of the process environment, for tests and
    /// embedding. Strictness stays that of the constructor: after
    /// [`Telemetry::from_env`] a bad value fails `build()`; after
    /// [`Telemetry::from_env_lossy`] or [`Telemetry::builder`] it warns.
    ///
    /// ```
    /// let err = telemetry::Telemetry::from_env()
    ///     .vars([("OTEL_BSP_MAX_QUEUE_SIZE", "-5")])
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "1 invalid environment variable: OTEL_BSP_MAX_QUEUE_SIZE=\"-5\" is not a positive integer"
    /// );
    /// ```
    pub fn vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.vars = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Records `set` when `check` passes, else the error `build()` returns.
    fn checked(mut self, check: Result<(), ConfigError>, set: impl FnOnce(&mut Overrides)) -> Self {
        match check {
            Ok(()) => set(&mut self.overrides),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// `service.name`, overriding the environment: `OTEL_SERVICE_NAME` and
    /// `service.name` in `OTEL_RESOURCE_ATTRIBUTES` are then ignored. Default:
    /// `OTEL_SERVICE_NAME`, else `service.name` from `OTEL_RESOURCE_ATTRIBUTES`, else
    /// `unknown_service:<exe>`.
    ///
    /// Most programs want [`default_service_name`](Self::default_service_name)
    /// instead, which leaves the operator the last word.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.overrides.service_name = Some(name.into());
        self
    }

    /// The `service.name` to use when the environment gives none: neither
    /// `OTEL_SERVICE_NAME` nor `service.name` in `OTEL_RESOURCE_ATTRIBUTES` is set.
    /// It replaces `unknown_service:<exe>`, and an operator can still rename the
    /// service without a rebuild.
    ///
    /// ```
    /// use telemetry::otel::api::Key;
    ///
    /// let service = |vars: &[(&str, &str)]| -> Result<String, telemetry::Error> {
    ///     let telemetry = telemetry::Telemetry::builder()
    ///         .vars(vars.iter().copied())
    ///         .default_service_name("checkout")
    ///         .install_globals(false)
    ///         .build()?;
    ///     let name = telemetry.resource().get(&Key::new("service.name"));
    ///     let _ = telemetry.shutdown();
    ///     Ok(name.map(|v| v.to_string()).unwrap_or_default())
    /// };
    /// assert_eq!(service(&[])?, "checkout");
    /// assert_eq!(service(&[("OTEL_SERVICE_NAME", "checkout-eu")])?, "checkout-eu");
    /// assert_eq!(
    ///     service(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=checkout-us")])?,
    ///     "checkout-us"
    /// );
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn default_service_name(mut self, name: impl Into<String>) -> Self {
        // A default overrides nothing the environment says.
        self.overrides.default_service_name = Some(name.into());
        self
    }

    /// `service.version`. Default: unset (or from `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.overrides.service_version = Some(version.into());
        self
    }

    /// `deployment.environment.name` (e.g. `production`). Default: unset.
    pub fn deployment_environment(mut self, environment: impl Into<String>) -> Self {
        self.overrides.deployment_environment = Some(environment.into());
        self
    }

    setter!(
        /// Turns every signal on or off. Default: on, unless `OTEL_SDK_DISABLED=true`.
        /// Off, the layer is a no-op that allocates nothing; propagation still works.
        enabled, bool, |o, on| o.enabled = Some(on));
    setter!(
        /// Where spans go. Default: `OTEL_TRACES_EXPORTER`, else OTLP when an endpoint is
        /// configured and the console when none is.
        traces_exporter, ExporterKind, |o, kind| o.exporters[Signal::Traces.index()] = Some(kind));
    setter!(
        /// Where metrics go (see [`traces_exporter`](Self::traces_exporter)).
        metrics_exporter, ExporterKind, |o, kind| o.exporters[Signal::Metrics.index()] = Some(kind));
    setter!(
        /// Where logs go (see [`traces_exporter`](Self::traces_exporter)).
        logs_exporter, ExporterKind, |o, kind| o.exporters[Signal::Logs.index()] = Some(kind));
    setter!(
        /// The OTLP protocol of every signal. Default: `OTEL_EXPORTER_OTLP_PROTOCOL`, else
        /// `http/protobuf`.
        protocol, Protocol, |o, protocol| o.protocol = Some(protocol));
    setter!(
        /// Timeout of one OTLP request; zero means none. Default:
        /// `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10 s.
        timeout, Duration, |o, timeout| o.timeout = Some(timeout));
    setter!(
        /// Whether a gRPC endpoint written without a scheme (`collector:4317`) is sent
        /// in plain text (`true`) or over TLS (`false`). Default:
        /// `OTEL_EXPORTER_OTLP_INSECURE`, else `false`. Endpoints with a scheme follow
        /// their scheme.
        insecure, bool, |o, on| o.insecure = Some(on));
    setter!(
        /// Request compression. Default: `OTEL_EXPORTER_OTLP_COMPRESSION`, else none.
        compression, Compression, |o, compression| o.compression = Some(compression));
    setter!(
        /// Batch settings of the span pipeline. Default: `OTEL_BSP_*`, else
        /// [`BatchConfig::TRACES`].
        traces_batch, BatchConfig, |o, batch| o.traces_batch = Some(batch));
    setter!(
        /// Batch settings of the log pipeline. Default: `OTEL_BLRP_*`, else
        /// [`BatchConfig::LOGS`].
        logs_batch, BatchConfig, |o, batch| o.logs_batch = Some(batch));
    setter!(
        /// How long [`Telemetry::shutdown`] and the guard wait at most. Default: 5 s.
        shutdown_timeout, Duration, |o, timeout| o.shutdown_timeout = Some(timeout));
    setter!(
        /// How long between metric pushes. Default: `OTEL_METRIC_EXPORT_INTERVAL`, else 60 s.
        metric_export_interval, Duration, |o, interval| o.metric_export_interval = Some(interval));

    /// How failed exports are retried (one retry loop for every signal). Default:
    /// [`RetryConfig::default`]: 100 ms doubling by 1.5 up to 2 s, with ±50 % jitter,
    /// at most 5 tries and 10 s per batch.
    pub fn retry(self, retry: RetryConfig) -> Self {
        let check = retry.validate();
        self.checked(check, |o| o.retry = Some(retry))
    }

    /// When the circuit breaker opens and for how long. Default: open after 5
    /// consecutive failed requests, for 30 s, then one probe.
    pub fn circuit_breaker(mut self, circuit: CircuitBreakerConfig) -> Self {
        self.overrides.circuit = Some(circuit);
        self
    }

    /// Bounds of the retry buffer. Default: 150,000 items or 64 MiB, about 30 s of
    /// 5,000 spans/s.
    pub fn retry_buffer(mut self, buffer: RetryBufferConfig) -> Self {
        self.overrides.retry_buffer = Some(buffer);
        self
    }

    /// Which spans feed the span duration histogram, its buckets and cardinality
    /// limit. Default: every span, advised duration buckets, 2000 series.
    pub fn span_metrics(mut self, span_metrics: crate::metrics::SpanMetricsConfig) -> Self {
        self.overrides.span_metrics = Some(span_metrics);
        self
    }

    /// Cumulative or delta sums and histograms in OTLP metric pushes. Default:
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, else cumulative.
    pub fn metrics_temporality(mut self, temporality: crate::metrics::Temporality) -> Self {
        self.overrides.temporality = Some(temporality);
        self
    }

    /// Adds a local log output (pretty or JSON lines, stdout, stderr or a rotating
    /// file), beside the log exporter. Default: none.
    pub fn log_output(mut self, output: LogOutput) -> Self {
        self.overrides.log_outputs.push(output);
        self
    }

    /// Adds a field to every log record (a processor). Default: none.
    pub fn log_static_field(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.overrides.log_static_fields.push((key, value.into()));
        self
    }

    /// Drops every log record with `field` equal to `value` (in the event or one of
    /// its spans), e.g. `drop_logs_where("path", "/health")`. Default: none.
    pub fn drop_logs_where(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides
            .drop_logs_where
            .push((field.into(), value.into()));
        self
    }

    /// Trace-based log sampling: drop the log records of events written inside
    /// unsampled traces (their metrics are still recorded). Default: off, every event
    /// is a log record whatever the sampler decided.
    pub fn logs_follow_sampling(mut self, on: bool) -> Self {
        self.overrides.logs_follow_sampling = Some(on);
        self
    }

    /// Whether the export pipelines publish their own metrics: the eight
    /// `telemetry.export.*` instruments (received, exported, dropped by reason,
    /// pending, requests, retries, circuit state and transitions, per signal). Default:
    /// on, so a dashboard can see a pipeline drop before anyone asks;
    /// [`Telemetry::health`] reports the same figures either way.
    pub fn self_metrics(mut self, on: bool) -> Self {
        self.overrides.self_metrics = Some(on);
        self
    }

    /// Whether every event is also recorded as a span event. Default: yes, unless logs
    /// are exported over OTLP (they would arrive twice); error events always are.
    pub fn span_events(mut self, on: bool) -> Self {
        self.overrides.span_events = Some(on);
        self
    }

    /// The admin endpoint's address (`/metrics`, `/health`) when metrics go to
    /// Prometheus, e.g. `127.0.0.1:9464` or `127.0.0.1:0` for any free port. Default:
    /// `OTEL_EXPORTER_PROMETHEUS_HOST` / `_PORT`, else `localhost:9464`.
    pub fn prometheus_address(mut self, address: std::net::SocketAddr) -> Self {
        self.overrides.prometheus = Some(address);
        self
    }

    /// Whether `build()` registers this instance's tracer provider, meter provider and
    /// propagator as OpenTelemetry's globals (so the attribute macros' metrics and
    /// crates that use the global propagator reach it). Default: true. Turn it off to
    /// run several instances side by side.
    pub fn install_globals(mut self, on: bool) -> Self {
        self.overrides.install_globals = Some(on);
        self
    }

    /// Which optional attributes spans carry (code location, thread, busy/idle time),
    /// each costing something per span. Default: location only.
    pub fn span_details(mut self, details: crate::layer::SpanDetails) -> Self {
        self.overrides.span_details = Some(details);
        self
    }

    /// Which code records spans: tracing-opentelemetry (the default) or the layer's
    /// own recorder; see [`SpanRecorder`](crate::SpanRecorder). In the configuration
    /// file: `telemetry.span_recorder: native`.
    pub fn span_recorder(mut self, recorder: crate::layer::SpanRecorder) -> Self {
        self.overrides.span_recorder = Some(recorder);
        self
    }

    /// The sampler. Default: `OTEL_TRACES_SAMPLER` / `_ARG`, else
    /// `parentbased_always_on`. A ratio outside 0..=1 fails `build()`.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.overrides.sampler = Some(sampler);
        self
    }

    /// The propagation formats, in order. Default: `OTEL_PROPAGATORS`, else
    /// `tracecontext,baggage`. An empty list turns propagation off.
    pub fn propagators(mut self, formats: impl IntoIterator<Item = Propagator>) -> Self {
        let mut list: Vec<Propagator> = Vec::new();
        for p in formats {
            if !list.contains(&p) {
                list.push(p);
            }
        }
        self.overrides.propagators = Some(list);
        self
    }

    /// Adds a resource attribute. Attributes set here beat `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides
            .resource_attributes
            .push((key.into(), value.into()));
        self
    }

    /// Sends spans to your own [`Exporter`](crate::export::Exporter) instead of the
    /// configured exporter (it beats `OTEL_TRACES_EXPORTER`), through the same batching,
    /// retry, circuit breaker, retry buffer and accounting as the built-in ones.
    pub fn span_exporter(
        mut self,
        exporter: impl crate::export::Exporter<crate::export::SpanData>,
    ) -> Self {
        self.custom.spans = Some(Box::new(exporter));
        self.overrides.exporters[Signal::Traces.index()] = Some(ExporterKind::Custom);
        self
    }

    /// Sends each metric collection (one OTLP request) to your own
    /// [`Exporter`](crate::export::Exporter); see [`span_exporter`](Self::span_exporter).
    pub fn metric_exporter(
        mut self,
        exporter: impl crate::export::Exporter<crate::export::ExportMetricsServiceRequest>,
    ) -> Self {
        self.custom.metrics = Some(Box::new(exporter));
        self.overrides.exporters[Signal::Metrics.index()] = Some(ExporterKind::Custom);
        self
    }

    /// Sends log records (as OTLP records) to your own
    /// [`Exporter`](crate::export::Exporter); see [`span_exporter`](Self::span_exporter).
    pub fn log_exporter(
        mut self,
        exporter: impl crate::export::Exporter<crate::export::OtlpLogRecord>,
    ) -> Self {
        self.custom.logs = Some(Box::new(exporter));
        self.overrides.exporters[Signal::Logs.index()] = Some(ExporterKind::Custom);
        self
    }

    /// Turns the flight recorder on: the recent traces and logs, kept in memory within
    /// these bounds, searchable with [`Telemetry::recorder`] and on the admin endpoint
    /// (`/api/traces`, `/api/logs`; feature `prometheus`). Off by default.
    pub fn recorder(mut self, config: crate::recorder::RecorderConfig) -> Self {
        self.overrides.recorder = Some(config);
        self
    }

    /// The bearer token that serves the recorder's data (`/api/*`, which can hold user
    /// data in attributes and logs) on an admin address that is not loopback: requests
    /// must send `Authorization: Bearer <token>`. With the recorder on, `build()`
    /// refuses a non-loopback address without one. `/metrics` and the health
    /// endpoints carry no user data and stay open, for Prometheus and probes.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        let token = crate::recorder::AdminToken::new(token);
        if token.is_empty() {
            self.errors.push(ConfigError::InvalidSetting {
                setting: "admin_token",
                value: String::new(),
                expected: "a non-empty token".into(),
            });
        } else {
            self.overrides.admin_token = Some(token);
        }
        self
    }

    /// Adds a dependency health check, run in the background from start-up on the
    /// library's own thread. Its state is in [`Telemetry::health`] and, on the admin
    /// endpoint (feature `prometheus`, at [`prometheus_address`](Self::prometheus_address)),
    /// behind `/livez`, `/readyz`, `/readyz/<name>` and `/health`; its metrics are
    /// `health.check.status` and `health.check.duration`. `build()` fails on a bad
    /// setting (an address without a port, a threshold of 0, ...) or a name used twice.
    ///
    /// ```no_run
    /// use telemetry::HealthCheck;
    /// let telemetry = telemetry::Telemetry::builder()
    ///     .health_check(HealthCheck::tcp("database", "127.0.0.1:5432"))
    ///     .health_check(HealthCheck::http("cache", "http://127.0.0.1:8001/health").optional())
    ///     .build()?;
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn health_check(mut self, check: crate::HealthCheck) -> Self {
        let check_result = check.validate().and_then(|()| {
            if self.health_checks.iter().any(|c| c.name == check.name) {
                Err(ConfigError::InvalidSetting {
                    setting: "health check name",
                    value: check.name.clone(),
                    expected: "a name no other health check has".into(),
                })
            } else {
                Ok(())
            }
        });
        match check_result {
            Ok(()) => self.health_checks.push(check),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Adds an OpenTelemetry SDK span processor beside the configured exporter (for
    /// example a custom exporter's processor). It sees every recorded span.
    /// On the native span path ([`span_recorder`](Self::span_recorder)) it sees each
    /// span when it ends (`on_end`), not when it starts: there is no SDK span.
    pub fn with_span_processor<P: SpanProcessor + 'static>(mut self, processor: P) -> Self {
        let shared: std::sync::Arc<dyn SpanProcessor> = std::sync::Arc::new(processor);
        self.custom.span_processors.push(shared.clone());
        self.hooks.push(Box::new(move |b| {
            b.with_span_processor(crate::export::SharedProcessor(shared))
        }));
        self
    }

    /// Captures spans in memory (and exports them nowhere else unless an exporter is
    /// chosen in code), for tests.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn in_memory(self, exporter: &crate::testing::InMemorySpans) -> Self {
        let exporter = exporter.clone();
        let chosen = self.overrides.exporters[Signal::Traces.index()].is_some();
        let this = self.with_span_processor(exporter);
        if chosen {
            this
        } else {
            this.traces_exporter(ExporterKind::None)
        }
    }

    /// Captures metrics in memory, for tests: the capture reads this instance's
    /// instruments on demand.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn in_memory_metrics(mut self, capture: &crate::testing::InMemoryMetrics) -> Self {
        let reader = capture.reader();
        self.metric_hooks
            .push(Box::new(move |b| b.with_reader(reader)));
        self
    }

    /// Runs every pipeline in full (queue, batches, retry engine) but discards what it
    /// would send, counting it as exported: for benchmarks and tests that measure the
    /// application side.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn discard_exports(mut self) -> Self {
        self.overrides.discard = true;
        self
    }
}

#[cfg(test)]
mod tests;
