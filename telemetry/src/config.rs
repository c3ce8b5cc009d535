//! [`Config`]: every setting, its default, and the `OTEL_*` variable that also sets it.
//!
//! Parsing works on an injected list of variables ([`Config::from_vars`]), so nothing
//! here touches the process environment except [`Config::from_env`] and its lossy twin.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::{ConfigError, EnvIssue};

/// `OTEL_SDK_DISABLED`: `true` turns every signal into a no-op.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: `k=v,k2=v2`, percent-encoded.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `OTEL_PROPAGATORS`: comma-separated `tracecontext`, `baggage`, `b3`, `b3multi`, `none`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// `OTEL_TRACES_SAMPLER`: the sampler's name.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// `OTEL_TRACES_SAMPLER_ARG`: the ratio of the `traceidratio` samplers.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// `OTEL_TRACES_EXPORTER`: `otlp`, `console` or `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// `OTEL_METRICS_EXPORTER`: `otlp`, `console`, `prometheus` or `none`.
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// `OTEL_LOGS_EXPORTER`: `otlp`, `console` or `none`.
pub const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
/// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; HTTP appends `v1/<signal>`.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf` or `http/json`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_HEADERS`: `k=v,k2=v2`, percent-encoded.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `OTEL_EXPORTER_OTLP_TIMEOUT`: milliseconds per export request; 0 means no limit.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip` or `none`.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// `OTEL_EXPORTER_OTLP_INSECURE`: for gRPC endpoints without a scheme.
pub const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `OTEL_EXPORTER_PROMETHEUS_HOST`: the Prometheus endpoint's host.
pub const OTEL_EXPORTER_PROMETHEUS_HOST: &str = "OTEL_EXPORTER_PROMETHEUS_HOST";
/// `OTEL_EXPORTER_PROMETHEUS_PORT`: the Prometheus endpoint's port.
pub const OTEL_EXPORTER_PROMETHEUS_PORT: &str = "OTEL_EXPORTER_PROMETHEUS_PORT";
/// `OTEL_METRIC_EXPORT_INTERVAL`: milliseconds between metric pushes.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// `OTEL_METRIC_EXPORT_TIMEOUT`: milliseconds per metric push.
pub const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: `cumulative`, `delta` or `lowmemory`.
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// `OTEL_ATTRIBUTE_COUNT_LIMIT`: the default limit of attributes per item.
pub const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
/// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`: attributes per span.
pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// `OTEL_SPAN_EVENT_COUNT_LIMIT`: events per span.
pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// `OTEL_SPAN_LINK_COUNT_LIMIT`: links per span.
pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";

/// Default bound of a flush or shutdown.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest OTLP request sent, encoded and before compression: 4 MiB, what the
/// Collector's gRPC receiver accepts by default.
pub(crate) const DEFAULT_MAX_REQUEST_SIZE: u64 = 4 * 1024 * 1024;
/// OTLP's own bound on a request: 64 MiB.
pub(crate) const OTLP_MAX_REQUEST_SIZE: u64 = 64 * 1024 * 1024;
/// Default OTLP request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
pub(crate) const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Default limit of attributes, events and links per span.
pub(crate) const DEFAULT_SPAN_LIMIT: u32 = 128;

pub use crate::signal::Signal;

/// Where a signal is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExporterKind {
    /// OTLP to a collector.
    Otlp,
    /// Human-readable output on stdout.
    Console,
    /// Prometheus scrape endpoint (metrics only).
    Prometheus,
    /// Nothing is exported.
    None,
}

/// The OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC, port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318 (the default).
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies, port 4318.
    HttpJson,
}

impl Protocol {
    /// The spelling used by `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed (the default).
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// How root spans are sampled; see the OpenTelemetry trace SDK specification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Sampler {
    /// Record and sample every span.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample a fixed ratio of traces, decided deterministically from the trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; use the inner sampler for root spans.
    ParentBased(Box<Sampler>),
    /// Sample at most `per_second` spans per second (a token bucket with bursts of
    /// `max(per_second, 1)`). As the root of [`ParentBased`](Sampler::ParentBased) it
    /// limits traces per second. Env: `ratelimited` / `parentbased_ratelimited` with
    /// `OTEL_TRACES_SAMPLER_ARG` = traces per second (default 1). See
    /// [`RateLimitingSampler`](crate::RateLimitingSampler).
    RateLimited {
        /// Spans (or, parent-based, traces) per second; positive.
        per_second: f64,
    },
}

impl Default for Sampler {
    /// `parentbased_always_on`, the specification's default.
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

/// A context propagation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// B3 single header (`b3`).
    B3,
    /// B3 multiple headers (`X-B3-TraceId`, ...).
    B3Multi,
}

/// Settings of a batching processor (`OTEL_BSP_*` for spans, `OTEL_BLRP_*` for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Longest wait between two exports.
    pub schedule_delay: Duration,
    /// Longest time one export may take (retries included).
    pub export_timeout: Duration,
    /// Items held before new ones are dropped (and counted).
    pub max_queue_size: usize,
    /// Items per export request; at most `max_queue_size`.
    pub max_export_batch_size: usize,
}

impl BatchConfig {
    /// The span processor's defaults: 5 s, 30 s, 2048, 512.
    pub const TRACES: BatchConfig = BatchConfig {
        schedule_delay: Duration::from_millis(5000),
        export_timeout: Duration::from_millis(30_000),
        max_queue_size: 2048,
        max_export_batch_size: 512,
    };
    /// The log processor's defaults: 1 s, 30 s, 2048, 512.
    pub const LOGS: BatchConfig = BatchConfig {
        schedule_delay: Duration::from_millis(1000),
        export_timeout: Duration::from_millis(30_000),
        max_queue_size: 2048,
        max_export_batch_size: 512,
    };
}

/// OTLP settings of one signal. Unset fields fall back to the generic ones.
#[derive(Clone, Default, PartialEq)]
struct OtlpSettings {
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    headers: Option<Vec<(String, String)>>,
    timeout: Option<Duration>,
    compression: Option<Compression>,
    insecure: Option<bool>,
}

/// The OTLP settings of one signal after the per-signal, generic and default values
/// have been merged. Its `Debug` output shows header names, not their values.
#[derive(Clone, PartialEq)]
pub struct OtlpTarget {
    /// The full URL requests go to (for HTTP, including `/v1/<signal>`).
    pub endpoint: String,
    /// The wire protocol.
    pub protocol: Protocol,
    /// Extra request headers (or gRPC metadata).
    pub headers: Vec<(String, String)>,
    /// Per-request timeout; `None` means no limit.
    pub timeout: Option<Duration>,
    /// Body compression.
    pub compression: Compression,
}

/// Every setting of the crate, with the specification's defaults.
///
/// `Config::default()` never reads the environment; [`Config::from_env`] and
/// [`Config::from_vars`] do. Most users never name this type: they call setters on
/// [`TelemetryBuilder`](crate::TelemetryBuilder), which wraps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub(crate) enabled: bool,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) deployment_environment: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) exporters: [Option<ExporterKind>; 3],
    otlp_generic: OtlpSettings,
    otlp_signal: [OtlpSettings; 3],
    pub(crate) sampler: Sampler,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) traces_batch: BatchConfig,
    pub(crate) logs_batch: BatchConfig,
    pub(crate) metric_export_interval: Duration,
    pub(crate) metric_export_timeout: Duration,
    pub(crate) span_attribute_limit: u32,
    pub(crate) span_event_limit: u32,
    pub(crate) span_link_limit: u32,
    pub(crate) prometheus_host: String,
    pub(crate) prometheus_port: u16,
    pub(crate) shutdown_timeout: Duration,
    /// Encoded bytes of one OTLP request at most; larger batches are cut.
    pub(crate) max_request_size: u64,
    pub(crate) resilience: crate::export::resilient::ResilienceConfig,
    pub(crate) span_metrics: crate::metrics::SpanMetricsConfig,
    pub(crate) temporality: crate::metrics::Temporality,
    pub(crate) log_outputs: Vec<crate::logs::LogOutput>,
    pub(crate) log_processors: crate::logs::LogProcessors,
    pub(crate) span_events: Option<bool>,
    pub(crate) install_globals: bool,
    pub(crate) discard: bool,
    pub(crate) span_details: crate::layer::SpanDetails,
    pub(crate) logs_follow_sampling: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            service_name: None,
            service_version: None,
            deployment_environment: None,
            resource_attributes: Vec::new(),
            exporters: [None; 3],
            otlp_generic: OtlpSettings::default(),
            otlp_signal: Default::default(),
            sampler: Sampler::default(),
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
            traces_batch: BatchConfig::TRACES,
            logs_batch: BatchConfig::LOGS,
            metric_export_interval: Duration::from_millis(60_000),
            metric_export_timeout: Duration::from_millis(30_000),
            span_attribute_limit: DEFAULT_SPAN_LIMIT,
            span_event_limit: DEFAULT_SPAN_LIMIT,
            span_link_limit: DEFAULT_SPAN_LIMIT,
            prometheus_host: "localhost".to_string(),
            prometheus_port: 9464,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            resilience: Default::default(),
            span_metrics: Default::default(),
            temporality: crate::metrics::Temporality::Cumulative,
            log_outputs: Vec::new(),
            log_processors: Default::default(),
            span_events: None,
            install_globals: true,
            discard: false,
            span_details: Default::default(),
            logs_follow_sampling: false,
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
    /// use telemetry::Config;
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
            .filter(|(k, _)| k.as_ref().starts_with("OTEL_"))
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let mut env = EnvReader {
            map,
            issues: Vec::new(),
        };
        let config = env.read();
        (config, env.issues)
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
        (self.metric_export_interval, self.metric_export_timeout)
    }

    /// Attribute, event and link limits per span.
    pub fn span_limits(&self) -> (u32, u32, u32) {
        (
            self.span_attribute_limit,
            self.span_event_limit,
            self.span_link_limit,
        )
    }

    /// The Prometheus endpoint's host and port.
    pub fn prometheus_address(&self) -> (&str, u16) {
        (&self.prometheus_host, self.prometheus_port)
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

    /// The merged OTLP settings of a signal, with the endpoint joined as the
    /// specification says: a generic HTTP endpoint gets `v1/<signal>` appended, a
    /// per-signal one is used as is (an empty path becomes `/`), gRPC appends nothing.
    ///
    /// # Errors
    /// [`ConfigError::InvalidSetting`] when an endpoint is not an `http://` or
    /// `https://` URL (gRPC also accepts `host:port`).
    pub fn otlp(&self, signal: Signal) -> Result<OtlpTarget, ConfigError> {
        let specific = &self.otlp_signal[signal.index()];
        let generic = &self.otlp_generic;
        let protocol = specific
            .protocol
            .or(generic.protocol)
            .unwrap_or(Protocol::HttpProtobuf);
        let insecure = specific.insecure.or(generic.insecure).unwrap_or(false);
        let endpoint = match (&specific.endpoint, &generic.endpoint) {
            (Some(ep), _) => normalise_endpoint(ep, protocol, insecure, None)?,
            (None, Some(ep)) => normalise_endpoint(ep, protocol, insecure, Some(signal))?,
            (None, None) => match protocol {
                Protocol::Grpc => "http://localhost:4317".to_string(),
                _ => format!("http://localhost:4318/v1/{}", signal.as_str()),
            },
        };
        let mut headers = generic.headers.clone().unwrap_or_default();
        if let Some(extra) = &specific.headers {
            for (k, v) in extra {
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                headers.push((k.clone(), v.clone()));
            }
        }
        let timeout = specific
            .timeout
            .or(generic.timeout)
            .unwrap_or(DEFAULT_OTLP_TIMEOUT);
        Ok(OtlpTarget {
            endpoint,
            protocol,
            headers,
            timeout: (!timeout.is_zero()).then_some(timeout),
            compression: specific
                .compression
                .or(generic.compression)
                .unwrap_or_default(),
        })
    }

    // ---- setters used by the builder -------------------------------------------------

    pub(crate) fn set_exporter(&mut self, signal: Signal, kind: ExporterKind) {
        self.exporters[signal.index()] = Some(kind);
    }
    pub(crate) fn set_endpoint(&mut self, signal: Option<Signal>, endpoint: String) {
        self.otlp_mut(signal).endpoint = Some(endpoint);
    }
    pub(crate) fn set_protocol(&mut self, signal: Option<Signal>, protocol: Protocol) {
        self.otlp_mut(signal).protocol = Some(protocol);
    }
    pub(crate) fn add_header(&mut self, signal: Option<Signal>, name: String, value: String) {
        let headers = self.otlp_mut(signal).headers.get_or_insert_with(Vec::new);
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        headers.push((name, value));
    }
    pub(crate) fn set_timeout(&mut self, signal: Option<Signal>, timeout: Duration) {
        self.otlp_mut(signal).timeout = Some(timeout);
    }
    pub(crate) fn set_compression(&mut self, signal: Option<Signal>, compression: Compression) {
        self.otlp_mut(signal).compression = Some(compression);
    }
    pub(crate) fn clear_endpoint(&mut self, signal: Option<Signal>) {
        self.otlp_mut(signal).endpoint = None;
    }
    fn otlp_mut(&mut self, signal: Option<Signal>) -> &mut OtlpSettings {
        match signal {
            Some(s) => &mut self.otlp_signal[s.index()],
            None => &mut self.otlp_generic,
        }
    }

    /// Checks values set in code; the environment readers already validate theirs.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_sampler(&self.sampler)?;
        for (setting, batch) in [
            ("traces batch", &self.traces_batch),
            ("logs batch", &self.logs_batch),
        ] {
            if batch.max_queue_size == 0 {
                return Err(ConfigError::InvalidSetting {
                    setting,
                    value: "max_queue_size = 0".into(),
                    expected: "a queue of at least one item".into(),
                });
            }
            if batch.max_export_batch_size == 0
                || batch.max_export_batch_size > batch.max_queue_size
            {
                return Err(ConfigError::InvalidSetting {
                    setting,
                    value: format!(
                        "max_export_batch_size = {}, max_queue_size = {}",
                        batch.max_export_batch_size, batch.max_queue_size
                    ),
                    expected: "a batch size between 1 and the queue size".into(),
                });
            }
        }
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

fn check_sampler(sampler: &Sampler) -> Result<(), ConfigError> {
    match sampler {
        Sampler::TraceIdRatio(r) if !(0.0..=1.0).contains(r) => Err(ConfigError::InvalidSetting {
            setting: "sampler ratio",
            value: r.to_string(),
            expected: "a number between 0 and 1".into(),
        }),
        Sampler::ParentBased(inner) => check_sampler(inner),
        Sampler::RateLimited { per_second } => crate::sampling::check_rate(*per_second),
        _ => Ok(()),
    }
}

pub(crate) fn check_header(name: &str, value: &str) -> Result<(), ConfigError> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(ConfigError::InvalidSetting {
            setting: "header name",
            value: name.to_string(),
            expected: HEADER_NAME.into(),
        });
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(ConfigError::InvalidHeaderValue {
            header: name.to_string(),
            expected: HEADER_VALUE,
        });
    }
    Ok(())
}

const HEADER_NAME: &str = "an HTTP header name (letters, digits and `-`)";
const HEADER_VALUE: &str = "visible ASCII characters";

/// Header lists in `Debug` output: names, never values.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, format_args!("<redacted>"))))
            .finish()
    }
}

impl fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpSettings")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &self.headers.as_deref().map(RedactedHeaders))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl fmt::Debug for OtlpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpTarget")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .finish()
    }
}

/// Turns a configured endpoint into the URL requests go to.
pub(crate) fn normalise_endpoint(
    raw: &str,
    protocol: Protocol,
    insecure: bool,
    append_signal: Option<Signal>,
) -> Result<String, ConfigError> {
    let bad = |expected: &str| ConfigError::InvalidSetting {
        setting: "endpoint",
        value: raw.to_string(),
        expected: expected.to_string(),
    };
    let raw = raw.trim();
    let with_scheme = if raw.starts_with("http://") || raw.starts_with("https://") {
        raw.to_string()
    } else if protocol == Protocol::Grpc && !raw.contains("://") {
        let scheme = if insecure { "http" } else { "https" };
        format!("{scheme}://{raw}")
    } else {
        return Err(bad(
            "an http:// or https:// URL, like http://localhost:4318",
        ));
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|_| bad("an http:// or https:// URL, like http://localhost:4318"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("a URL with a host, like http://localhost:4318"));
    }
    if protocol == Protocol::Grpc {
        return Ok(with_scheme);
    }
    match append_signal {
        Some(signal) => {
            let base = with_scheme.trim_end_matches('/');
            Ok(format!("{base}/v1/{}", signal.as_str()))
        }
        None => {
            if !has_path(&with_scheme) {
                Ok(format!("{}/", with_scheme.trim_end_matches('/')))
            } else {
                Ok(with_scheme)
            }
        }
    }
}

fn has_path(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.contains('/'))
        .unwrap_or(false)
}

// ---- environment reading ---------------------------------------------------------------

struct EnvReader {
    map: BTreeMap<String, String>,
    issues: Vec<EnvIssue>,
}

const BOOL: &str = "`true` or `false`";
const MILLIS: &str = "a non-negative integer of milliseconds";

impl EnvReader {
    /// The value of `var`, or `None` when unset or empty (empty means unset).
    fn get(&self, var: &str) -> Option<String> {
        self.map
            .get(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn issue(
        &mut self,
        var: &'static str,
        value: &str,
        expected: impl Into<String>,
        setting: &'static str,
    ) {
        // Header values carry tokens: no message, warning or `Debug` output repeats them.
        let value = if EnvIssue::is_secret(var) {
            String::new()
        } else {
            value.to_string()
        };
        self.issues.push(EnvIssue {
            var,
            value,
            expected: expected.into(),
            setting,
        });
    }

    fn bool(&mut self, var: &'static str, setting: &'static str) -> Option<bool> {
        let v = self.get(var)?;
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.issue(var, &v, BOOL, setting);
            None
        }
    }

    fn u64(&mut self, var: &'static str, expected: &str, setting: &'static str) -> Option<u64> {
        let v = self.get(var)?;
        match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.issue(var, &v, expected, setting);
                None
            }
        }
    }

    fn millis(&mut self, var: &'static str, setting: &'static str) -> Option<Duration> {
        self.u64(var, MILLIS, setting).map(Duration::from_millis)
    }

    fn positive_count(&mut self, var: &'static str, setting: &'static str) -> Option<usize> {
        let v = self.get(var)?;
        match v.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.issue(var, &v, "a positive integer", setting);
                None
            }
        }
    }

    fn limit(&mut self, var: &'static str, setting: &'static str) -> Option<u32> {
        let v = self.get(var)?;
        match v.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.issue(var, &v, "a non-negative integer below 2^32", setting);
                None
            }
        }
    }

    fn exporter(&mut self, var: &'static str, signal: Signal) -> Option<ExporterKind> {
        let v = self.get(var)?;
        let setting = match signal {
            Signal::Traces => "traces.exporter",
            Signal::Metrics => "metrics.exporter",
            Signal::Logs => "logs.exporter",
        };
        // A list is allowed by the specification; we take the first entry.
        let first = v
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match first.as_str() {
            "otlp" => Some(ExporterKind::Otlp),
            "console" | "logging" => Some(ExporterKind::Console),
            "none" => Some(ExporterKind::None),
            "prometheus" if signal == Signal::Metrics => Some(ExporterKind::Prometheus),
            _ => {
                let expected = if signal == Signal::Metrics {
                    "one of otlp, prometheus, console, none"
                } else {
                    "one of otlp, console, none"
                };
                self.issue(var, &v, expected, setting);
                None
            }
        }
    }

    fn protocol(&mut self, var: &'static str, setting: &'static str) -> Option<Protocol> {
        let v = self.get(var)?;
        match v.to_ascii_lowercase().as_str() {
            "grpc" => Some(Protocol::Grpc),
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            _ => {
                self.issue(var, &v, "one of grpc, http/protobuf, http/json", setting);
                None
            }
        }
    }

    fn compression(&mut self, var: &'static str, setting: &'static str) -> Option<Compression> {
        let v = self.get(var)?;
        match v.to_ascii_lowercase().as_str() {
            "gzip" => Some(Compression::Gzip),
            "none" => Some(Compression::None),
            _ => {
                self.issue(var, &v, "gzip or none", setting);
                None
            }
        }
    }

    fn pairs(&mut self, var: &'static str, setting: &'static str) -> Option<Vec<(String, String)>> {
        let v = self.get(var)?;
        match parse_pairs(&v, EnvIssue::is_secret(var)) {
            Ok(pairs) => Some(pairs),
            Err(why) => {
                self.issue(var, &v, why, setting);
                None
            }
        }
    }

    fn endpoint(&mut self, var: &'static str, setting: &'static str) -> Option<String> {
        let v = self.get(var)?;
        let looks_ok = (v.starts_with("http://") || v.starts_with("https://"))
            && v.parse::<http::Uri>()
                .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
        // gRPC also accepts host:port without a scheme.
        let host_port = !v.contains("://") && v.contains(':');
        if looks_ok || host_port {
            Some(v)
        } else {
            self.issue(
                var,
                &v,
                "an http:// or https:// URL, like http://localhost:4318",
                setting,
            );
            None
        }
    }

    fn otlp(&mut self, signal: Option<Signal>) -> OtlpSettings {
        macro_rules! var {
            ($suffix:literal, $name:literal) => {
                match signal {
                    None => (
                        concat!("OTEL_EXPORTER_OTLP_", $suffix),
                        concat!("otlp.", $name),
                    ),
                    Some(Signal::Traces) => (
                        concat!("OTEL_EXPORTER_OTLP_TRACES_", $suffix),
                        concat!("otlp.", $name, ".traces"),
                    ),
                    Some(Signal::Metrics) => (
                        concat!("OTEL_EXPORTER_OTLP_METRICS_", $suffix),
                        concat!("otlp.", $name, ".metrics"),
                    ),
                    Some(Signal::Logs) => (
                        concat!("OTEL_EXPORTER_OTLP_LOGS_", $suffix),
                        concat!("otlp.", $name, ".logs"),
                    ),
                }
            };
        }
        let (endpoint_var, endpoint_setting) = var!("ENDPOINT", "endpoint");
        let (protocol_var, protocol_setting) = var!("PROTOCOL", "protocol");
        let (headers_var, headers_setting) = var!("HEADERS", "headers");
        let (timeout_var, timeout_setting) = var!("TIMEOUT", "timeout");
        let (compression_var, compression_setting) = var!("COMPRESSION", "compression");
        let (insecure_var, insecure_setting) = var!("INSECURE", "insecure");
        let headers = self.pairs(headers_var, headers_setting).and_then(|h| {
            let bad = h.iter().enumerate().find_map(|(i, (k, v))| {
                match check_header(k, v) {
                    Ok(()) => None,
                    Err(ConfigError::InvalidSetting { .. }) => Some(format!(
                        "a list of headers (entry {} has no valid header name: expected {HEADER_NAME})",
                        i + 1
                    )),
                    Err(_) => Some(format!(
                        "a list of headers (the value of `{k}` has characters a header cannot carry: expected {HEADER_VALUE})"
                    )),
                }
            });
            match bad {
                Some(why) => {
                    self.issue(headers_var, "", why, headers_setting);
                    None
                }
                None => Some(h),
            }
        });
        OtlpSettings {
            endpoint: self.endpoint(endpoint_var, endpoint_setting),
            protocol: self.protocol(protocol_var, protocol_setting),
            headers,
            timeout: self.millis(timeout_var, timeout_setting),
            compression: self.compression(compression_var, compression_setting),
            insecure: self.bool(insecure_var, insecure_setting),
        }
    }

    fn sampler(&mut self) -> Sampler {
        let arg = self.get(OTEL_TRACES_SAMPLER_ARG);
        let name = self
            .get(OTEL_TRACES_SAMPLER)
            .map(|s| s.to_ascii_lowercase());
        if let Some(n @ ("ratelimited" | "parentbased_ratelimited")) = name.as_deref() {
            let per_second = match arg.as_deref().map(|raw| (raw, raw.trim().parse::<f64>())) {
                None => 1.0,
                Some((_, Ok(r))) if crate::sampling::check_rate(r).is_ok() => r,
                Some((raw, _)) => {
                    self.issue(
                        OTEL_TRACES_SAMPLER_ARG,
                        raw,
                        "a positive number of traces per second",
                        "sampler",
                    );
                    1.0
                }
            };
            let limited = Sampler::RateLimited { per_second };
            return if n == "ratelimited" {
                limited
            } else {
                Sampler::ParentBased(Box::new(limited))
            };
        }
        let mut ratio = || -> f64 {
            let Some(raw) = arg.clone() else { return 1.0 };
            match raw.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    self.issue(
                        OTEL_TRACES_SAMPLER_ARG,
                        &raw,
                        "a number between 0 and 1",
                        "sampler",
                    );
                    1.0
                }
            }
        };
        match name.as_deref() {
            None | Some("parentbased_always_on") => Sampler::default(),
            Some("always_on") => Sampler::AlwaysOn,
            Some("always_off") => Sampler::AlwaysOff,
            Some("traceidratio") => Sampler::TraceIdRatio(ratio()),
            Some("parentbased_always_off") => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            Some("parentbased_traceidratio") => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(ratio())))
            }
            Some(other) => {
                let other = other.to_string();
                self.issue(
                    OTEL_TRACES_SAMPLER,
                    &other,
                    "one of always_on, always_off, traceidratio, ratelimited, \
                     parentbased_always_on, parentbased_always_off, \
                     parentbased_traceidratio, parentbased_ratelimited",
                    "sampler",
                );
                Sampler::default()
            }
        }
    }

    fn propagators(&mut self) -> Option<Vec<Propagator>> {
        let v = self.get(OTEL_PROPAGATORS)?;
        let mut out = Vec::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = match part.to_ascii_lowercase().as_str() {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                "none" => continue,
                _ => {
                    self.issue(
                        OTEL_PROPAGATORS,
                        &v,
                        format!("a list of tracecontext, baggage, b3, b3multi, none (`{part}` is unknown)"),
                        "propagators",
                    );
                    // Known entries still apply: an unknown one is ignored, not the list.
                    continue;
                }
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Some(out)
    }

    fn batch(&mut self, prefix: &str, defaults: BatchConfig) -> BatchConfig {
        let (delay, timeout, queue, batch) = if prefix == "BSP" {
            (
                "OTEL_BSP_SCHEDULE_DELAY",
                "OTEL_BSP_EXPORT_TIMEOUT",
                "OTEL_BSP_MAX_QUEUE_SIZE",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            )
        } else {
            (
                "OTEL_BLRP_SCHEDULE_DELAY",
                "OTEL_BLRP_EXPORT_TIMEOUT",
                "OTEL_BLRP_MAX_QUEUE_SIZE",
                "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            )
        };
        let setting = if prefix == "BSP" {
            "traces.batch"
        } else {
            "logs.batch"
        };
        let mut out = defaults;
        if let Some(d) = self.millis(delay, setting) {
            out.schedule_delay = d;
        }
        if let Some(d) = self.millis(timeout, setting) {
            out.export_timeout = d;
        }
        if let Some(n) = self.positive_count(queue, setting) {
            out.max_queue_size = n;
        }
        if let Some(n) = self.positive_count(batch, setting) {
            out.max_export_batch_size = n;
        }
        if out.max_export_batch_size > out.max_queue_size {
            // The specification: the batch must not exceed the queue.
            let raw = self.get(batch).unwrap_or_default();
            self.issue(
                batch,
                &raw,
                format!("at most the queue size ({})", out.max_queue_size),
                setting,
            );
            out.max_export_batch_size = out.max_queue_size.min(defaults.max_export_batch_size);
        }
        out
    }

    fn read(&mut self) -> Config {
        let mut c = Config::default();
        if let Some(disabled) = self.bool(OTEL_SDK_DISABLED, "enabled") {
            c.enabled = !disabled;
        }
        if let Some(attrs) = self.pairs(OTEL_RESOURCE_ATTRIBUTES, "resource") {
            for (k, v) in attrs {
                match k.as_str() {
                    "service.name" => c.service_name = Some(v),
                    "service.version" => c.service_version = Some(v),
                    "deployment.environment.name" => c.deployment_environment = Some(v),
                    _ => c.resource_attributes.push((k, v)),
                }
            }
        }
        if let Some(name) = self.get(OTEL_SERVICE_NAME) {
            c.service_name = Some(name);
        }
        c.sampler = self.sampler();
        if let Some(p) = self.propagators() {
            c.propagators = p;
        }
        c.exporters = [
            self.exporter(OTEL_TRACES_EXPORTER, Signal::Traces),
            self.exporter(OTEL_METRICS_EXPORTER, Signal::Metrics),
            self.exporter(OTEL_LOGS_EXPORTER, Signal::Logs),
        ];
        c.otlp_generic = self.otlp(None);
        c.otlp_signal = [
            self.otlp(Some(Signal::Traces)),
            self.otlp(Some(Signal::Metrics)),
            self.otlp(Some(Signal::Logs)),
        ];
        c.traces_batch = self.batch("BSP", BatchConfig::TRACES);
        c.logs_batch = self.batch("BLRP", BatchConfig::LOGS);
        if let Some(d) = self.millis(OTEL_METRIC_EXPORT_INTERVAL, "metrics.interval") {
            if d.is_zero() {
                self.issue(
                    OTEL_METRIC_EXPORT_INTERVAL,
                    "0",
                    "a positive number of milliseconds",
                    "metrics.interval",
                );
            } else {
                c.metric_export_interval = d;
            }
        }
        if let Some(raw) = self.get(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE) {
            match raw.to_ascii_lowercase().as_str() {
                "cumulative" => c.temporality = crate::metrics::Temporality::Cumulative,
                "delta" => c.temporality = crate::metrics::Temporality::Delta,
                "lowmemory" => c.temporality = crate::metrics::Temporality::LowMemory,
                _ => self.issue(
                    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                    &raw,
                    "one of cumulative, delta, lowmemory",
                    "metrics.temporality",
                ),
            }
        }
        if let Some(d) = self.millis(OTEL_METRIC_EXPORT_TIMEOUT, "metrics.timeout") {
            c.metric_export_timeout = d;
        }
        let generic_limit = self.limit(OTEL_ATTRIBUTE_COUNT_LIMIT, "limits");
        c.span_attribute_limit = self
            .limit(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "limits")
            .or(generic_limit)
            .unwrap_or(DEFAULT_SPAN_LIMIT);
        c.span_event_limit = self
            .limit(OTEL_SPAN_EVENT_COUNT_LIMIT, "limits")
            .unwrap_or(DEFAULT_SPAN_LIMIT);
        c.span_link_limit = self
            .limit(OTEL_SPAN_LINK_COUNT_LIMIT, "limits")
            .unwrap_or(DEFAULT_SPAN_LIMIT);
        if let Some(host) = self.get(OTEL_EXPORTER_PROMETHEUS_HOST) {
            c.prometheus_host = host;
        }
        if let Some(raw) = self.get(OTEL_EXPORTER_PROMETHEUS_PORT) {
            match raw.parse::<u16>() {
                Ok(p) => c.prometheus_port = p,
                Err(_) => self.issue(
                    OTEL_EXPORTER_PROMETHEUS_PORT,
                    &raw,
                    "a port number from 0 to 65535",
                    "prometheus",
                ),
            }
        }
        c
    }
}

/// Parses `k=v,k2=v2` with percent-encoded keys and values. Any malformed member makes
/// the whole value invalid, as the specification asks for resource attributes. With
/// `secret` values (request headers), a complaint names an entry by its position or
/// its key, never by its text.
pub(crate) fn parse_pairs(raw: &str, secret: bool) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, member) in raw.split(',').enumerate() {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let entry = i + 1;
        let shown = |what: &str| -> String {
            if secret {
                format!("entry {entry} {what}")
            } else {
                format!("`{member}` {what}")
            }
        };
        let Some((k, v)) = member.split_once('=') else {
            return Err(format!(
                "a list of key=value pairs ({})",
                shown("has no `=`")
            ));
        };
        let Some(k) = decode(k.trim()) else {
            let what = if secret {
                format!("the key of entry {entry}")
            } else {
                format!("`{}`", k.trim())
            };
            return Err(format!(
                "percent-encoded key=value pairs ({what} has a bad % escape)"
            ));
        };
        let Some(v) = decode(v.trim()) else {
            let what = if secret {
                format!("the value of `{k}`")
            } else {
                format!("`{}`", v.trim())
            };
            return Err(format!(
                "percent-encoded key=value pairs ({what} has a bad % escape)"
            ));
        };
        if k.is_empty() {
            return Err(format!(
                "a list of key=value pairs ({})",
                shown("has an empty key")
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn decode(s: &str) -> Option<String> {
    // Reject malformed escapes explicitly: percent_decode passes them through.
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests;
