//! [`Telemetry`]: build the pipelines, hand out the layer, shut down with a guard.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor, TracerProviderBuilder};
use opentelemetry_sdk::Resource;
use tracing_core::Subscriber;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::Config;
use crate::error::{BuildError, ConfigError, EnvIssue, InitError, ShutdownError};
use crate::export::otlp::{Logs as OtlpLogs, Metrics as OtlpMetrics, OtlpTransport, Traces};
use crate::export::{console_logs, console_metrics, ConsoleExporter, MetricsToPipeline, Pipeline};
use crate::export::{BatchConfig, Compression, ExporterKind, Protocol};
use crate::export::{CircuitBreakerConfig, RetryBufferConfig, RetryConfig};
use crate::health::{HealthReport, SignalHealth, SignalReport};
use crate::layer::Outputs;
use crate::layer::TelemetryLayer;
use crate::layer::{EventMetrics, SpanMetrics};
use crate::logs::{LocalOutput, LogOutput};
use crate::logs::{LogRecord, LogSinks};
use crate::propagation::Propagator;
use crate::propagation::Propagators;
use crate::sampling::Sampler;
use crate::signal::Signal;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader, SdkMeterProvider};
use std::sync::atomic::AtomicU64;

mod builder;

pub use builder::TelemetryBuilder;
use builder::{MeterHook, ProviderHook};

/// The entry point: owns the pipelines, hands out the [`layer`](Telemetry::layer) and
/// the [`guard`](Telemetry::guard). Cheap to clone.
///
/// # Examples
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let telemetry = telemetry::Telemetry::builder()
///     .default_service_name("checkout")
///     .traces_exporter(telemetry::ExporterKind::None)
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("handle", order = 42).in_scope(|| tracing::info!("processing"));
/// });
/// telemetry.shutdown()?;
/// # Ok::<(), telemetry::Error>(())
/// ```
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    resource: Resource,
    provider: Option<SdkTracerProvider>,
    tracer: Option<crate::propagation::RandomFlagTracer>,
    traces: Option<(Arc<Pipeline<SpanData>>, String)>,
    meter_provider: Option<SdkMeterProvider>,
    metrics_pipeline: Option<(Arc<Pipeline<ExportMetricsServiceRequest>>, String)>,
    logs: Option<(Arc<Pipeline<LogRecord>>, String)>,
    local_logs: Vec<Arc<LocalOutput>>,
    lost_log_lines: Arc<AtomicU64>,
    metric_overflow: Arc<AtomicU64>,
    outputs: Option<Arc<Outputs>>,
    #[cfg(feature = "prometheus")]
    admin: std::sync::OnceLock<crate::admin::AdminServer>,
    propagators: Arc<Propagators>,
    warnings: Vec<EnvIssue>,
    shutdown: Mutex<Option<ShutdownReport>>,
}

/// Serves the admin endpoint from a running [`Telemetry`] without keeping it alive.
#[cfg(feature = "prometheus")]
struct AdminSource {
    reader: crate::admin::PullReader,
    resource: Resource,
    telemetry: std::sync::Weak<Inner>,
}

#[cfg(feature = "prometheus")]
impl crate::admin::Source for AdminSource {
    fn metrics(&self) -> Option<opentelemetry_sdk::metrics::data::ResourceMetrics> {
        use opentelemetry_sdk::metrics::reader::MetricReader as _;
        let mut rm = opentelemetry_sdk::metrics::data::ResourceMetrics::default();
        self.reader.collect(&mut rm).ok()?;
        let _ = &self.resource;
        Some(rm)
    }

    fn health(&self) -> (bool, String) {
        match self.telemetry.upgrade() {
            Some(inner) => {
                let report = Telemetry { inner }.health();
                (report.healthy, report.to_json())
            }
            None => (
                false,
                "{\"healthy\":false,\"error\":\"telemetry is shut down\"}".to_string(),
            ),
        }
    }
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("enabled", &self.inner.config.enabled)
            .field("traces", &self.inner.config.exporter(Signal::Traces))
            .finish()
    }
}

impl Telemetry {
    /// A builder that reads no environment variable.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::new(None, false)
    }

    /// A builder that reads the `OTEL_*` variables strictly: `build()` fails on any bad
    /// value, naming each variable, its value and the accepted forms.
    pub fn from_env() -> TelemetryBuilder {
        TelemetryBuilder::new(Some(std::env::vars().collect()), true)
    }

    /// A builder that reads the `OTEL_*` variables as the specification says: a bad
    /// value is reported once on stderr and its default is used.
    pub fn from_env_lossy() -> TelemetryBuilder {
        TelemetryBuilder::new(Some(std::env::vars().collect()), false)
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

    fn start(
        config: Config,
        warnings: Vec<EnvIssue>,
        hooks: Vec<ProviderHook>,
        metric_hooks: Vec<MeterHook>,
    ) -> Result<Telemetry, BuildError> {
        let resource = crate::resource::build(&config.resource);
        let propagators = Arc::new(Propagators::new(&config.propagators));
        let mut provider = None;
        let mut tracer = None;
        let mut traces = None;
        if config.enabled {
            let mut builder = SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_sampler(sdk_sampler(&config.sampler))
                .with_max_attributes_per_span(config.span_limits.attributes)
                .with_max_events_per_span(config.span_limits.events)
                .with_max_links_per_span(config.span_limits.links);
            let mut batch = config.traces_batch;
            let mut resilience = config.resilience;
            let pipeline = match config.exporter(Signal::Traces) {
                kind if config.discard && kind != ExporterKind::None => Some(Pipeline::start(
                    Signal::Traces,
                    batch,
                    resilience,
                    crate::export::Discard,
                )?),
                ExporterKind::Otlp => {
                    let target = config.otlp(Signal::Traces)?;
                    check_transport(&target)?;
                    resilience.attempt_timeout = target.timeout;
                    Some(Pipeline::start(
                        Signal::Traces,
                        batch,
                        resilience,
                        OtlpTransport::<Traces>::new(target, &resource, config.max_request_size),
                    )?)
                }
                ExporterKind::Console => {
                    // A person is watching: print soon after a trace ends.
                    batch.schedule_delay = batch.schedule_delay.min(Duration::from_millis(500));
                    Some(Pipeline::start(
                        Signal::Traces,
                        batch,
                        resilience,
                        ConsoleExporter::default(),
                    )?)
                }
                ExporterKind::None | ExporterKind::Prometheus => None,
            };
            if let Some(pipeline) = pipeline {
                let pipeline = Arc::new(pipeline);
                builder = builder.with_span_processor(QueueProcessor {
                    pipeline: pipeline.clone(),
                    flush_timeout: config.shutdown_timeout,
                });
                traces = Some((pipeline, target_name(&config, Signal::Traces)));
            }
            for hook in hooks {
                builder = hook(builder);
            }
            let p = builder.build();
            tracer = Some(crate::propagation::RandomFlagTracer::new(
                p.tracer_with_scope(
                    InstrumentationScope::builder("telemetry")
                        .with_version(env!("CARGO_PKG_VERSION"))
                        .build(),
                ),
            ));
            provider = Some(p);
        }
        let lost_log_lines = Arc::new(AtomicU64::new(0));
        let metric_overflow = Arc::new(AtomicU64::new(0));
        let mut meter_provider = None;
        let mut metrics_pipeline = None;
        let mut logs = None;
        let mut local_logs = Vec::new();
        let mut outputs = None;
        #[allow(unused_mut)]
        let mut pull_reader: Option<Arc<opentelemetry_sdk::metrics::ManualReader>> = None;
        if config.enabled {
            // Metrics: the SDK aggregates; a periodic reader pushes into our pipeline, or
            // the admin endpoint pulls.
            let mut mp = SdkMeterProvider::builder().with_resource(resource.clone());
            let (interval, metric_timeout) =
                (config.metric_export.interval, config.metric_export.timeout);
            let push = |transport_pipeline: Pipeline<ExportMetricsServiceRequest>| {
                let pipeline = Arc::new(transport_pipeline);
                let reader = PeriodicReader::builder(MetricsToPipeline {
                    pipeline: pipeline.clone(),
                    temporality: config.temporality,
                    flush_timeout: config.shutdown_timeout,
                })
                .with_interval(interval)
                .build();
                (pipeline, reader)
            };
            let metric_batch = BatchConfig {
                schedule_delay: Duration::from_millis(100),
                export_timeout: metric_timeout,
                max_queue_size: 64,
                max_export_batch_size: 1,
            };
            match config.exporter(Signal::Metrics) {
                kind if config.discard && kind != ExporterKind::None => {
                    let p = Pipeline::start(
                        Signal::Metrics,
                        metric_batch,
                        config.resilience,
                        crate::export::Discard,
                    )?;
                    let (pipeline, reader) = push(p);
                    mp = mp.with_reader(reader);
                    metrics_pipeline = Some((pipeline, "discard".to_string()));
                }
                ExporterKind::Otlp => {
                    let target = config.otlp(Signal::Metrics)?;
                    check_transport(&target)?;
                    let mut resilience = config.resilience;
                    resilience.attempt_timeout = target.timeout;
                    let p = Pipeline::start(
                        Signal::Metrics,
                        metric_batch,
                        resilience,
                        OtlpTransport::<OtlpMetrics>::new(
                            target,
                            &resource,
                            config.max_request_size,
                        ),
                    )?;
                    let (pipeline, reader) = push(p);
                    mp = mp.with_reader(reader);
                    metrics_pipeline = Some((pipeline, target_name(&config, Signal::Metrics)));
                }
                ExporterKind::Console => {
                    let p = Pipeline::start(
                        Signal::Metrics,
                        metric_batch,
                        config.resilience,
                        console_metrics(),
                    )?;
                    let (pipeline, reader) = push(p);
                    mp = mp.with_reader(reader);
                    metrics_pipeline = Some((pipeline, "console".to_string()));
                }
                ExporterKind::Prometheus => {
                    #[cfg(feature = "prometheus")]
                    {
                        let reader = Arc::new(
                            opentelemetry_sdk::metrics::ManualReader::builder()
                                .with_temporality(
                                    opentelemetry_sdk::metrics::Temporality::Cumulative,
                                )
                                .build(),
                        );
                        mp = mp.with_reader(crate::admin::PullReader(reader.clone()));
                        pull_reader = Some(reader);
                    }
                    #[cfg(not(feature = "prometheus"))]
                    return Err(BuildError::FeatureDisabled {
                        what: "the Prometheus metrics endpoint",
                        feature: "prometheus",
                    });
                }
                ExporterKind::None => {}
            }
            for hook in metric_hooks {
                mp = hook(mp);
            }
            let mp = mp.build();
            let meter = mp.meter_with_scope(
                InstrumentationScope::builder("telemetry")
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
            );
            let span_metrics = config.span_metrics.enabled.then(|| {
                SpanMetrics::new(&meter, config.span_metrics.clone(), metric_overflow.clone())
            });
            let own_meter = meter.clone();
            let event_metrics = Some(EventMetrics::new(meter));
            meter_provider = Some(mp);

            // Logs.
            let logs_kind = config.exporter(Signal::Logs);
            let traces_console = config.exporter(Signal::Traces) == ExporterKind::Console;
            let mut log_batch = config.logs_batch;
            match logs_kind {
                kind if config.discard && kind != ExporterKind::None => {
                    let p = Pipeline::start(
                        Signal::Logs,
                        log_batch,
                        config.resilience,
                        crate::export::Discard,
                    )?;
                    logs = Some((Arc::new(p), "discard".to_string()));
                }
                ExporterKind::Otlp => {
                    let target = config.otlp(Signal::Logs)?;
                    check_transport(&target)?;
                    let mut resilience = config.resilience;
                    resilience.attempt_timeout = target.timeout;
                    let p = Pipeline::start(
                        Signal::Logs,
                        log_batch,
                        resilience,
                        OtlpTransport::<OtlpLogs>::new(target, &resource, config.max_request_size),
                    )?;
                    logs = Some((Arc::new(p), target_name(&config, Signal::Logs)));
                }
                ExporterKind::Console => {
                    log_batch.schedule_delay =
                        log_batch.schedule_delay.min(Duration::from_millis(200));
                    let p = Pipeline::start(
                        Signal::Logs,
                        log_batch,
                        config.resilience,
                        console_logs(),
                    )?;
                    logs = Some((Arc::new(p), "console".to_string()));
                }
                ExporterKind::None | ExporterKind::Prometheus => {}
            }
            // The pipelines' own figures, as metrics.
            let mut own: Vec<(Signal, Arc<crate::export::Stats>)> = Vec::new();
            for (signal, stats) in [
                (
                    Signal::Traces,
                    traces.as_ref().map(|(p, _)| p.stats.clone()),
                ),
                (
                    Signal::Metrics,
                    metrics_pipeline.as_ref().map(|(p, _)| p.stats.clone()),
                ),
                (Signal::Logs, logs.as_ref().map(|(p, _)| p.stats.clone())),
            ] {
                if let Some(stats) = stats {
                    own.push((signal, stats));
                }
            }
            crate::export::register_self_metrics(&own_meter, own);
            for output in &config.log_outputs {
                let local =
                    LocalOutput::start(output, lost_log_lines.clone()).map_err(|source| {
                        BuildError::LogOutput {
                            output: format!("{output:?}"),
                            source,
                        }
                    })?;
                local_logs.push(Arc::new(local));
            }
            let log_sinks = (logs.is_some() || !local_logs.is_empty()).then(|| LogSinks {
                pipeline: logs.as_ref().map(|(p, _)| p.clone()),
                pipeline_outside_spans_only: !config.discard
                    && logs_kind == ExporterKind::Console
                    && traces_console,
                local: local_logs.clone(),
                processors: Arc::new(config.log_processors.clone()),
                follow_sampling: config.logs_follow_sampling,
            });
            // Events also become span events unless logs already carry them to a backend
            // (the console shows in-span events in the trace tree instead).
            let logs_to_backend =
                logs.is_some() && (config.discard || logs_kind != ExporterKind::Console);
            let span_events = config.span_events.unwrap_or(!logs_to_backend);
            outputs = Some(Arc::new(Outputs {
                instance_metrics: crate::metrics::InstanceMetrics::new(own_meter.clone()),
                span_metrics,
                event_metrics,
                logs: log_sinks,
                span_events,
                never_samples: matches!(config.sampler, Sampler::AlwaysOff)
                    || matches!(config.sampler, Sampler::TraceIdRatio(r) if r <= 0.0),
            }));
        }
        let inner = Arc::new(Inner {
            config,
            resource,
            provider,
            tracer,
            traces,
            meter_provider,
            metrics_pipeline,
            logs,
            local_logs,
            lost_log_lines,
            metric_overflow,
            outputs,
            #[cfg(feature = "prometheus")]
            admin: std::sync::OnceLock::new(),
            propagators,
            warnings,
            shutdown: Mutex::new(None),
        });
        let telemetry = Telemetry { inner };
        #[cfg(feature = "prometheus")]
        if let Some(reader) = pull_reader {
            let (host, port) = telemetry.inner.config.prometheus_address();
            let host = if host == "localhost" {
                "127.0.0.1"
            } else {
                host
            };
            let address = format!("{host}:{port}");
            let addr: std::net::SocketAddr =
                address.parse().map_err(|_| ConfigError::InvalidSetting {
                    setting: "prometheus address",
                    value: address.clone(),
                    expected: "an IP address and port, like 127.0.0.1:9464".into(),
                })?;
            let source = Arc::new(AdminSource {
                reader: crate::admin::PullReader(reader),
                resource: telemetry.inner.resource.clone(),
                telemetry: Arc::downgrade(&telemetry.inner),
            });
            let server =
                crate::admin::AdminServer::start(addr, source, crate::admin::Limits::DEFAULT)
                    .map_err(|source| BuildError::Bind { address, source })?;
            let _ = telemetry.inner.admin.set(server);
        }
        #[cfg(not(feature = "prometheus"))]
        let _ = pull_reader;
        if telemetry.inner.config.install_globals {
            telemetry.set_globals();
        }
        Ok(telemetry)
    }

    /// The layer to add to a `tracing_subscriber::registry()`.
    pub fn layer<S>(&self) -> TelemetryLayer<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        TelemetryLayer::new(
            self.inner.tracer.clone(),
            self.inner.outputs.clone(),
            self.inner.config.span_details,
        )
    }

    /// A guard that flushes and shuts down when dropped (bounded by the shutdown
    /// timeout). Keep it alive until the end of `main`.
    pub fn guard(&self) -> TelemetryGuard {
        TelemetryGuard {
            telemetry: Some(self.clone()),
        }
    }

    /// Registers this instance's tracer provider and propagator as OpenTelemetry's
    /// globals, so `opentelemetry::global::tracer(..)` and crates that inject headers
    /// through the global propagator use them. [`init`](Self::init) does this.
    pub fn set_globals(&self) {
        if let Some(provider) = &self.inner.provider {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
        if let Some(mp) = &self.inner.meter_provider {
            opentelemetry::global::set_meter_provider(mp.clone());
        }
        opentelemetry::global::set_text_map_propagator(PropagatorHandle(
            self.inner.propagators.clone(),
        ));
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The resource every signal carries.
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// The configured propagators (they work even when telemetry is disabled).
    pub fn propagators(&self) -> &Propagators {
        &self.inner.propagators
    }

    /// The bad environment values that the lossy reader replaced by defaults.
    pub fn warnings(&self) -> &[EnvIssue] {
        &self.inner.warnings
    }

    /// The SDK tracer provider, for direct use of the OpenTelemetry API (`None` when
    /// telemetry is disabled).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.inner.provider.as_ref()
    }

    /// Counters of the span pipeline so far.
    pub fn traces_report(&self) -> SignalReport {
        self.inner
            .traces
            .as_ref()
            .map(|(p, _)| SignalReport::from_snapshot(&p.stats.snapshot()))
            .unwrap_or_default()
    }

    /// What every export pipeline is doing: circuit state, failures, queue and buffer
    /// depth, counters. Cheap enough to serve on every health check.
    ///
    /// ```
    /// let telemetry = telemetry::Telemetry::builder().build()?;
    /// let health = telemetry.health();
    /// assert!(health.healthy);
    /// assert_eq!(health.traces.unwrap().exporter, "console");
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn health(&self) -> HealthReport {
        let traces = self
            .inner
            .traces
            .as_ref()
            .map(|(p, target)| SignalHealth::from_snapshot(target, &p.stats.snapshot()));
        let metrics = self
            .inner
            .metrics_pipeline
            .as_ref()
            .map(|(p, target)| SignalHealth::from_snapshot(target, &p.stats.snapshot()));
        let logs = self
            .inner
            .logs
            .as_ref()
            .map(|(p, target)| SignalHealth::from_snapshot(target, &p.stats.snapshot()));
        let healthy = [&traces, &metrics, &logs]
            .iter()
            .all(|s| s.as_ref().is_none_or(|h| h.healthy));
        HealthReport {
            healthy,
            traces,
            metrics,
            logs,
            lost_log_lines: self.lost_log_lines(),
            metric_overflow: self
                .inner
                .metric_overflow
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Log lines the local outputs could not take (their buffer was full).
    pub fn lost_log_lines(&self) -> u64 {
        self.inner
            .lost_log_lines
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes your own instruments on this instance's meter provider.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        let meter = match &self.inner.meter_provider {
            Some(mp) => mp.meter_with_scope(
                InstrumentationScope::builder("telemetry")
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
            ),
            // Disabled: an SDK provider with no reader records nothing.
            None => SdkMeterProvider::builder()
                .build()
                .meter_with_scope(InstrumentationScope::builder("telemetry").build()),
        };
        crate::metrics::Metrics::new(meter)
    }

    /// The SDK meter provider (`None` when telemetry is disabled).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.inner.meter_provider.as_ref()
    }

    /// Where the admin endpoint (`/metrics`, `/health`) listens, when metrics go to
    /// Prometheus.
    pub fn admin_address(&self) -> Option<std::net::SocketAddr> {
        #[cfg(feature = "prometheus")]
        return self
            .inner
            .admin
            .get()
            .map(crate::admin::AdminServer::address);
        #[cfg(not(feature = "prometheus"))]
        None
    }

    /// Exports everything recorded so far, waiting at most the shutdown timeout.
    ///
    /// # Errors
    /// [`ShutdownError::Timeout`] when the collector did not answer in time,
    /// [`ShutdownError::Export`] when it refused, [`ShutdownError::ExportThreadStopped`]
    /// when a signal's export thread has stopped, [`ShutdownError::AlreadyShutdown`]
    /// after a shutdown.
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let timeout = self.inner.config.shutdown_timeout;
        if let Some(mp) = &self.inner.meter_provider {
            // Collects and queues the metrics (and flushes their pipeline).
            let _ = mp.force_flush();
        }
        let mut result = Ok(());
        if let Some((p, _)) = &self.inner.traces {
            result = result.and(p.flush(timeout));
        }
        if let Some((p, _)) = &self.inner.logs {
            result = result.and(p.flush(timeout));
        }
        if let Some((p, _)) = &self.inner.metrics_pipeline {
            // Already flushed by the reader, whose outcome the SDK keeps to itself.
            result = result.and(p.flush(timeout));
        }
        for local in &self.inner.local_logs {
            local.flush(timeout);
        }
        if let Some(provider) = &self.inner.provider {
            // Other processors (in-memory, user-added).
            let _ = provider.force_flush();
        }
        result
    }

    /// Flushes and stops every pipeline, waiting at most the shutdown timeout (5 s by
    /// default) even if the collector hangs. Safe to call twice: the second call
    /// returns [`ShutdownError::AlreadyShutdown`].
    ///
    /// # Errors
    /// [`ShutdownError::Timeout`] with the number of items left undelivered,
    /// [`ShutdownError::Export`] when the last export failed, or
    /// [`ShutdownError::ExportThreadStopped`] when a signal's export thread had stopped.
    pub fn shutdown(&self) -> Result<ShutdownReport, ShutdownError> {
        let mut done = match self.inner.shutdown.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if done.is_some() {
            return Err(ShutdownError::AlreadyShutdown);
        }
        let timeout = self.inner.config.shutdown_timeout;
        // The three signals shut down side by side: one slow collector does not eat
        // the others' time, and the whole stays within the timeout.
        let (traces, metrics, logs) = std::thread::scope(|scope| {
            let traces = scope.spawn(|| match &self.inner.traces {
                Some((p, _)) => p.shutdown(timeout),
                None => Ok(()),
            });
            let logs = scope.spawn(|| {
                let result = match &self.inner.logs {
                    Some((p, _)) => p.shutdown(timeout),
                    None => Ok(()),
                };
                for local in &self.inner.local_logs {
                    local.shutdown(timeout);
                }
                result
            });
            let metrics = || match &self.inner.meter_provider {
                // The final collection is pushed, then the metric pipeline stops (the
                // reader leaves that to us, so its outcome is ours to report).
                Some(mp) => {
                    let _ = mp.shutdown_with_timeout(timeout);
                    match &self.inner.metrics_pipeline {
                        Some((p, _)) => p.shutdown(timeout),
                        None => Ok(()),
                    }
                }
                None => Ok(()),
            };
            if self.inner.config.exporter(Signal::Metrics) == ExporterKind::Console {
                // On the console, metrics print last, after the traces and logs they
                // sum up.
                let (traces, logs) = (join_now(traces), join_now(logs));
                (traces, metrics(), logs)
            } else {
                let metrics = scope.spawn(metrics);
                (join_now(traces), join_now(metrics), join_now(logs))
            }
        });
        if let Some(provider) = &self.inner.provider {
            // Our processor is stopped already; this stops user-added ones.
            let _ = provider.shutdown_with_timeout(timeout);
        }
        // The admin endpoint goes last, so a scrape can watch the shutdown; its port is
        // free when this returns.
        #[cfg(feature = "prometheus")]
        if let Some(admin) = self.inner.admin.get() {
            admin.stop(timeout);
        }
        let report = ShutdownReport {
            traces: self.traces_report(),
            metrics: self
                .inner
                .metrics_pipeline
                .as_ref()
                .map(|(p, _)| SignalReport::from_snapshot(&p.stats.snapshot()))
                .unwrap_or_default(),
            logs: self
                .inner
                .logs
                .as_ref()
                .map(|(p, _)| SignalReport::from_snapshot(&p.stats.snapshot()))
                .unwrap_or_default(),
            lost_log_lines: self.lost_log_lines(),
        };
        *done = Some(report);
        traces.and(logs).and(metrics).map(|()| report)
    }
}

/// A guard that shuts telemetry down when dropped; see [`Telemetry::guard`].
#[must_use = "dropping the guard at once shuts telemetry down; bind it with `let _guard = ...`"]
pub struct TelemetryGuard {
    telemetry: Option<Telemetry>,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("active", &self.telemetry.is_some())
            .finish()
    }
}

impl TelemetryGuard {
    /// The telemetry this guard shuts down (`None` for the inert guard `init` returns
    /// after a failure).
    pub fn telemetry(&self) -> Option<&Telemetry> {
        self.telemetry.as_ref()
    }

    /// Shuts down now and returns the report, instead of waiting for the drop.
    ///
    /// # Errors
    /// See [`Telemetry::shutdown`].
    pub fn shutdown(mut self) -> Result<ShutdownReport, ShutdownError> {
        match self.telemetry.take() {
            Some(t) => t.shutdown(),
            None => Err(ShutdownError::AlreadyShutdown),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(t) = self.telemetry.take() {
            match t.shutdown() {
                Ok(_) | Err(ShutdownError::AlreadyShutdown) => {}
                Err(e) => crate::diagnostics::config_warning(format_args!("shutdown: {e}")),
            }
        }
    }
}

/// What [`Telemetry::shutdown`] delivered, per signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Spans.
    pub traces: SignalReport,
    /// Metric collections (one item per collection pushed).
    pub metrics: SignalReport,
    /// Log records.
    pub logs: SignalReport,
    /// Lines the local log outputs could not take.
    pub lost_log_lines: u64,
}

/// Hands spans from the SDK to the pipeline's queue without blocking.
#[derive(Debug)]
struct QueueProcessor {
    pipeline: Arc<Pipeline<SpanData>>,
    flush_timeout: Duration,
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        // After shutdown the pipeline counts the span as dropped (`shutdown`).
        if span.span_context.is_sampled() {
            self.pipeline.push(span);
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

/// The transport a target needs must be compiled in.
fn check_transport(target: &crate::OtlpTarget) -> Result<(), BuildError> {
    if target.protocol == Protocol::Grpc && !cfg!(feature = "grpc") {
        return Err(BuildError::FeatureDisabled {
            what: "OTLP over gRPC",
            feature: "grpc",
        });
    }
    if target.endpoint.starts_with("https://") {
        return Err(ConfigError::InvalidSetting {
            setting: "endpoint",
            value: target.endpoint.clone(),
            expected: "an http:// endpoint: TLS is not built in yet (export to a local collector that terminates TLS)".into(),
        }
        .into());
    }
    Ok(())
}

fn join_now(
    handle: std::thread::ScopedJoinHandle<'_, Result<(), ShutdownError>>,
) -> Result<(), ShutdownError> {
    handle.join().unwrap_or(Err(ShutdownError::AlreadyShutdown))
}

fn target_name(config: &Config, signal: Signal) -> String {
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
    }
}

/// The SDK sampler of a setting; see `crate::sampling::sdk_sampler` (parent-based
/// samplers follow the specification's five cases, `RateLimited` is a token bucket).
fn sdk_sampler(s: &Sampler) -> Box<dyn opentelemetry_sdk::trace::ShouldSample> {
    crate::sampling::sdk_sampler(s)
}

/// Lets the global propagator share this instance's propagators.
#[derive(Debug)]
struct PropagatorHandle(Arc<Propagators>);

impl opentelemetry::propagation::TextMapPropagator for PropagatorHandle {
    fn inject_context(
        &self,
        cx: &opentelemetry::Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        self.0.inject_context(cx, injector);
    }
    fn extract_with_context(
        &self,
        cx: &opentelemetry::Context,
        extractor: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        self.0.extract_with_context(cx, extractor)
    }
    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        self.0.fields()
    }
}

/// Propagation with this instance's configured propagators (`OTEL_PROPAGATORS`), whether
/// or not they are installed as OpenTelemetry's globals; see `crate::propagation` for
/// the free functions that use the global propagator instead.
impl Telemetry {
    /// Injects the current span's context (see
    /// [`propagation::current_context`](crate::propagation::current_context)) into HTTP
    /// headers, e.g. before an outgoing request.
    pub fn inject_current(&self, headers: &mut http::HeaderMap) {
        self.inject_current_into(&mut crate::propagation::HeaderInjector(headers));
    }

    /// Injects the current span's context into any carrier.
    pub fn inject_current_into(&self, injector: &mut dyn opentelemetry::propagation::Injector) {
        self.inject_context(&crate::propagation::current_context(), injector);
    }

    /// Injects `cx` into any carrier.
    pub fn inject_context(
        &self,
        cx: &opentelemetry::Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        use opentelemetry::propagation::TextMapPropagator as _;
        self.inner.propagators.inject_context(cx, injector);
    }

    /// Extracts the remote context of incoming HTTP headers, on top of OpenTelemetry's
    /// current context. Invalid headers are ignored (the context is returned
    /// unchanged). Make it a span's parent with
    /// [`OpenTelemetrySpanExt::set_parent`](crate::OpenTelemetrySpanExt::set_parent).
    ///
    /// ```
    /// use telemetry::OpenTelemetrySpanExt as _;
    /// use opentelemetry::trace::TraceContextExt as _;
    ///
    /// let telemetry = telemetry::Telemetry::builder().build()?;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert(
    ///     "traceparent",
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
    /// );
    /// let parent = telemetry.extract(&headers);
    /// assert_eq!(
    ///     parent.span().span_context().trace_id().to_string(),
    ///     "4bf92f3577b34da6a3ce929d0e0e4736"
    /// );
    /// let span = tracing::info_span!("handle request");
    /// let _ = span.set_parent(parent);
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn extract(&self, headers: &http::HeaderMap) -> opentelemetry::Context {
        self.extract_from(&crate::propagation::HeaderExtractor(headers))
    }

    /// Extracts a remote context from any carrier, on top of OpenTelemetry's current
    /// context.
    pub fn extract_from(
        &self,
        extractor: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        use opentelemetry::propagation::TextMapPropagator as _;
        self.inner.propagators.extract(extractor)
    }

    /// The configured propagators, shared (for the HTTP layers).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn shared_propagators(&self) -> Arc<Propagators> {
        self.inner.propagators.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_endpoints_are_refused_with_advice() {
        let err = Telemetry::builder()
            .endpoint("https://collector.example:4318")
            .install_globals(false)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("TLS is not built in"), "{err}");
    }

    #[test]
    fn a_stopped_metrics_export_thread_fails_flush_and_shutdown_and_shows_in_health() {
        let t = Telemetry::builder()
            .endpoint("http://127.0.0.1:9")
            .install_globals(false)
            .build()
            .unwrap();
        let Some((p, _)) = &t.inner.metrics_pipeline else {
            panic!("an OTLP endpoint exports metrics");
        };
        p.crash_export_thread("metric encoder bug");
        p.stats
            .wait_stopped(std::time::Instant::now() + Duration::from_secs(30))
            .expect("the metrics export thread stops");
        let health = t.health();
        assert!(!health.healthy, "{health:?}");
        let metrics = health.metrics.expect("metrics health");
        assert!(!metrics.healthy, "{metrics:?}");
        let last = metrics.last_error.unwrap_or_default();
        assert!(last.contains("`telemetry-export-metrics`"), "{last}");
        assert!(last.contains("panicked: metric encoder bug"), "{last}");
        assert!(health.traces.expect("traces health").healthy);
        let stopped = |r: Result<(), ShutdownError>| matches!(r, Err(ShutdownError::ExportThreadStopped { signal: "metrics", ref reason }) if reason.contains("metric encoder bug"));
        assert!(stopped(t.force_flush()));
        assert!(stopped(t.shutdown().map(|_| ())));
    }

    #[cfg(not(feature = "grpc"))]
    #[test]
    fn grpc_without_the_feature_names_the_feature() {
        let err = Telemetry::builder()
            .endpoint("http://127.0.0.1:4317")
            .protocol(Protocol::Grpc)
            .install_globals(false)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "OTLP over gRPC needs the `grpc` feature of the telemetry crate, which this build does not enable"
        );
    }
}
