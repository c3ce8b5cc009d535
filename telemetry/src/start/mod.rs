//! Wiring: from a resolved [`Config`] to a running [`Telemetry`]. The tracer and meter
//! providers, the admin endpoint, and the one generic start of a signal's pipeline
//! ([`start_signal`]), which returns the [`SignalPipeline`] handle that health, flush and
//! shutdown go through.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use crate::recorder::MetricsFeed;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

use crate::builder::{MeterHook, ProviderHook};
use crate::config::Config;
use crate::error::{BuildError, EnvIssue};
use crate::export::otlp::{Encoding, Logs, Metrics, OtlpTransport, Traces};
use crate::export::{
    console_logs, console_metrics, BatchConfig, ConsoleExporter, CustomExporters, CustomTransport,
    Discard, ExporterKind, MetricsToPipeline, Pipeline, SignalPipeline, SpansToPipeline, Stats,
    Transport,
};
use crate::export::{Tap, Tapped};
use crate::layer::{EventMetrics, Outputs, SpanMetrics};
use crate::logs::{LocalOutput, LogOutput, LogSinks, PooledLog};
use crate::metrics::InstanceMetrics;
use crate::propagation::{Propagators, RandomFlagTracer};
use crate::sampling::Sampler;
use crate::signal::Signal;
use crate::telemetry::{Inner, Telemetry};

/// Starts the pipeline of `signal` as the configuration says: OTLP (with encoding `E`),
/// the console (`console`, exporting at least every `console_delay`: a person is
/// watching), the discarding transport of benchmarks, or nothing. `Prometheus` starts
/// nothing here: the admin endpoint pulls instead.
#[allow(clippy::too_many_arguments)]
fn start_signal<E, C, U>(
    config: &Config,
    signal: Signal,
    mut batch: BatchConfig,
    console_delay: Option<Duration>,
    resource: &Resource,
    console: impl FnOnce() -> C,
    custom: Option<CustomTransport<E::Item, U>>,
    tap: Option<Tap<E::Item>>,
) -> Result<Option<SignalPipeline<E::Item>>, BuildError>
where
    E: Encoding,
    C: Transport<E::Item>,
    U: Send + Sync + 'static,
{
    let mut resilience = config.resilience;
    let mut name = target_name(config, signal);
    // With a tap (the flight recorder), every transport shows it each batch first.
    fn start<T: Send + 'static, X: Transport<T>>(
        signal: Signal,
        batch: BatchConfig,
        resilience: crate::export::ResilienceConfig,
        transport: X,
        tap: Option<Tap<T>>,
    ) -> Result<Pipeline<T>, BuildError> {
        match tap {
            Some(tap) => Pipeline::start(
                signal,
                batch,
                resilience,
                Tapped {
                    inner: transport,
                    tap,
                },
            ),
            None => Pipeline::start(signal, batch, resilience, transport),
        }
    }
    let pipeline = match config.exporter(signal) {
        // Nothing is exported, but the recorder still sees what is recorded.
        ExporterKind::None if tap.is_some() => {
            name = "none (recorder)".to_string();
            start(signal, batch, resilience, Discard, tap)?
        }
        ExporterKind::None => return Ok(None),
        _ if config.discard => start(signal, batch, resilience, Discard, tap)?,
        ExporterKind::Prometheus => return Ok(None),
        ExporterKind::Otlp => {
            let target = config.otlp(signal)?;
            check_transport(config, signal, &target)?;
            resilience.attempt_timeout = target.timeout;
            let transport = OtlpTransport::<E>::new(target, resource, config.max_request_size)?;
            start(signal, batch, resilience, transport, tap)?
        }
        ExporterKind::Console => {
            if let Some(delay) = console_delay {
                batch.schedule_delay = batch.schedule_delay.min(delay);
            }
            start(signal, batch, resilience, console(), tap)?
        }
        // Metrics only: started by `start` itself.
        ExporterKind::Statsd | ExporterKind::RemoteWrite => return Ok(None),
        ExporterKind::Custom => match custom {
            Some(custom) => {
                name = format!("custom {}", custom.target());
                start(signal, batch, resilience, custom, tap)?
            }
            None => return Ok(None),
        },
    };
    Ok(Some(SignalPipeline::new(pipeline, name)))
}

impl Telemetry {
    /// Starts every provider and pipeline of `config`.
    pub(crate) fn start(
        config: Config,
        warnings: Vec<EnvIssue>,
        file_warnings: Vec<crate::error::FileIssue>,
        hooks: Vec<ProviderHook>,
        metric_hooks: Vec<MeterHook>,
        health_checks: Vec<crate::HealthCheck>,
        custom: CustomExporters,
    ) -> Result<Telemetry, BuildError> {
        let resource = crate::resource::build(&config.resource);
        let recorder = config.recorder.map(|c| {
            let service = resource
                .get(&opentelemetry::Key::from_static_str("service.name"))
                .map(|v| v.to_string())
                .unwrap_or_default();
            crate::recorder::Recorder::new(c, service)
        });
        let propagators = Arc::new(Propagators::new(&config.propagators));
        let lost_log_lines = Arc::new(AtomicU64::new(0));
        let metric_overflow = Arc::new(AtomicU64::new(0));
        let mut provider = None;
        let mut tracer = None;
        let mut native = None;
        let mut traces = None;
        let mut meter_provider = None;
        let mut metrics = None;
        let mut logs = None;
        let mut local_logs = Vec::new();
        let mut outputs = None;
        let mut console_traces = None;
        let mut console_metrics_pipeline = None;
        let mut checks_meter = None;
        #[allow(unused_mut)]
        let mut pull_reader: Option<Arc<opentelemetry_sdk::metrics::ManualReader>> = None;
        if config.enabled {
            // Spans: the SDK samples and builds them; our processor queues them.
            let limits = config.span_limits;
            let mut builder = SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_sampler(crate::sampling::sdk_sampler(&config.sampler))
                .with_max_attributes_per_span(limits.attributes)
                .with_max_events_per_span(limits.events)
                .with_max_links_per_span(limits.links)
                .with_max_attributes_per_event(limits.event_attributes)
                .with_max_attributes_per_link(limits.link_attributes);
            traces = start_signal::<Traces, _, _>(
                &config,
                Signal::Traces,
                config.traces_batch,
                Some(Duration::from_millis(500)),
                &resource,
                ConsoleExporter::default,
                custom
                    .spans
                    .map(|e| CustomTransport::new(e, crate::export::Span::into_sdk)),
                recorder
                    .clone()
                    .map(|r| -> Tap<crate::export::Span> { Arc::new(move |batch| r.spans(batch)) }),
            )?;
            // `OTEL_TRACES_EXPORTER=otlp,console`: the console shows the trees too.
            if config.shows_console_too(Signal::Traces) {
                let mut batch = config.traces_batch;
                batch.schedule_delay = batch.schedule_delay.min(Duration::from_millis(500));
                let p = Pipeline::start(
                    Signal::Traces,
                    batch,
                    config.resilience,
                    ConsoleExporter::default(),
                )?;
                console_traces = Some(SignalPipeline::new(p, "console".to_string()));
            }
            for t in traces.iter().chain(&console_traces) {
                builder = builder.with_span_processor(SpansToPipeline {
                    pipeline: t.pipeline.clone(),
                    flush_timeout: config.shutdown_timeout,
                });
            }
            for hook in hooks {
                builder = hook(builder);
            }
            let p = builder.build();
            if config.span_recorder == crate::layer::SpanRecorder::Native {
                // The layer records spans itself, straight onto the span pipelines.
                native = Some(Arc::new(crate::layer::NativeSpans {
                    sampler: crate::sampling::sdk_sampler(&config.sampler),
                    shortcut: crate::layer::Shortcut::of(&config.sampler),
                    pipelines: traces
                        .iter()
                        .chain(&console_traces)
                        .map(|t| t.pipeline.clone())
                        .collect(),
                    processors: custom.span_processors.clone(),
                    scope: crate::metrics::scope(),
                    location: config.span_details.location,
                    threads: config.span_details.threads,
                    samples_nothing: matches!(config.sampler, Sampler::AlwaysOff)
                        || matches!(config.sampler, Sampler::TraceIdRatio(r) if r <= 0.0),
                    limits,
                    spares: crate::layer::Spares::for_batches(
                        config.traces_batch.max_export_batch_size,
                    ),
                }));
            } else {
                tracer = Some(RandomFlagTracer::new(
                    p.tracer_with_scope(crate::metrics::scope()),
                ));
            }
            provider = Some(p);

            // Metrics: the SDK aggregates; a periodic reader pushes into our pipeline, or
            // the admin endpoint pulls.
            let mut mp = SdkMeterProvider::builder().with_resource(resource.clone());
            let metric_batch = BatchConfig {
                schedule_delay: Duration::from_millis(100),
                export_timeout: config.metric_export.timeout,
                max_queue_size: 64,
                max_export_batch_size: 1,
            };
            if config.exporter(Signal::Metrics) == ExporterKind::Prometheus && !config.discard {
                #[cfg(feature = "prometheus")]
                {
                    let reader = Arc::new(
                        opentelemetry_sdk::metrics::ManualReader::builder()
                            .with_temporality(opentelemetry_sdk::metrics::Temporality::Cumulative)
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
            } else if matches!(
                config.exporter(Signal::Metrics),
                ExporterKind::Statsd | ExporterKind::RemoteWrite
            ) && !config.discard
            {
                let p = start_beyond_otlp(&config, metric_batch)?;
                metrics = Some(SignalPipeline::new(
                    p,
                    target_name(&config, Signal::Metrics),
                ));
            } else {
                metrics = start_signal::<Metrics, _, _>(
                    &config,
                    Signal::Metrics,
                    metric_batch,
                    None,
                    &resource,
                    console_metrics,
                    custom
                        .metrics
                        .map(|e| CustomTransport::new(e, std::convert::identity)),
                    None,
                )?;
            }
            if config.shows_console_too(Signal::Metrics) {
                let p = Pipeline::start(
                    Signal::Metrics,
                    metric_batch,
                    config.resilience,
                    console_metrics(),
                )?;
                console_metrics_pipeline = Some(SignalPipeline::new(p, "console".to_string()));
            }
            let statsd = config.exporter(Signal::Metrics) == ExporterKind::Statsd;
            // The flight recorder's metrics: the values a reader already keeps.
            let mut recorder_tap = None;
            if let Some(r) = &recorder {
                let periodic = !statsd
                    && config.temporality == crate::metrics::Temporality::Cumulative
                    && (metrics.is_some() || console_metrics_pipeline.is_some());
                match r.metrics_feed(pull_reader.as_ref(), periodic) {
                    MetricsFeed::Tap(tap) => recorder_tap = Some(tap),
                    MetricsFeed::Reader(reader) => mp = mp.with_reader(reader),
                    MetricsFeed::Pull => {}
                }
            }
            for m in metrics.iter().chain(&console_metrics_pipeline) {
                let reader = PeriodicReader::builder(MetricsToPipeline {
                    pipeline: m.pipeline.clone(),
                    // StatsD aggregates per flush: it takes deltas.
                    temporality: if statsd {
                        crate::metrics::Temporality::Delta
                    } else {
                        config.temporality
                    },
                    flush_timeout: config.shutdown_timeout,
                    // The first reader is enough.
                    tap: recorder_tap.take(),
                })
                .with_interval(match config.statsd.flush_interval {
                    Some(every) if statsd => every,
                    _ => config.metric_export.interval,
                })
                .build();
                mp = mp.with_reader(reader);
            }
            for hook in metric_hooks {
                mp = hook(mp);
            }
            let mp = mp.build();
            let meter = mp.meter_with_scope(crate::metrics::scope());
            let span_metrics = config.span_metrics.enabled.then(|| {
                SpanMetrics::new(&meter, config.span_metrics.clone(), metric_overflow.clone())
            });
            let instance_metrics = InstanceMetrics::new(meter.clone());
            meter_provider = Some(mp);
            checks_meter = Some(meter.clone());

            // Logs: the pipeline (OTLP or console) and the local outputs. A local output
            // on stdout already prints every event there: the console exporter would
            // print those outside spans a second time.
            let stdout_output = config.log_outputs.iter().any(LogOutput::is_stdout);
            if config.discard
                || !(stdout_output && config.exporter(Signal::Logs) == ExporterKind::Console)
            {
                logs = start_signal::<Logs, _, _>(
                    &config,
                    Signal::Logs,
                    config.logs_batch,
                    Some(Duration::from_millis(200)),
                    &resource,
                    console_logs,
                    custom.logs.map(|e| {
                        CustomTransport::new(e, |r: PooledLog| {
                            crate::export::otlp::log_to_proto(&r)
                        })
                    }),
                    recorder
                        .clone()
                        .map(|r| -> Tap<PooledLog> { Arc::new(move |batch| r.logs(batch)) }),
                )?;
            }

            // The pipelines' own figures, as metrics.
            let own: Vec<(Signal, Arc<Stats>)> = [
                (Signal::Traces, traces.as_ref().map(SignalPipeline::stats)),
                (Signal::Metrics, metrics.as_ref().map(SignalPipeline::stats)),
                (Signal::Logs, logs.as_ref().map(SignalPipeline::stats)),
            ]
            .into_iter()
            .filter_map(|(signal, stats)| Some((signal, stats?)))
            .collect();
            if config.self_metrics {
                crate::export::register_self_metrics(&meter, own);
            }
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
            // `OTEL_LOGS_EXPORTER=otlp,console`: log lines on stdout too.
            if config.shows_console_too(Signal::Logs) && !stdout_output {
                let stdout = LogOutput::stdout(crate::logs::LogFormat::Pretty);
                let local =
                    LocalOutput::start(&stdout, lost_log_lines.clone()).map_err(|source| {
                        BuildError::LogOutput {
                            output: format!("{stdout:?}"),
                            source,
                        }
                    })?;
                local_logs.push(Arc::new(local));
            }
            let logs_kind = config.exporter(Signal::Logs);
            let log_sinks = (logs.is_some() || !local_logs.is_empty()).then(|| LogSinks {
                pipeline: logs
                    .as_ref()
                    .map(|l: &SignalPipeline<PooledLog>| l.pipeline.clone()),
                local: local_logs.clone(),
                processors: Arc::new(config.log_processors.clone()),
                follow_sampling: config.logs_follow_sampling,
                pool: Arc::new(crate::pool::Pool::for_batches(
                    config.logs_batch.max_export_batch_size,
                )),
            });
            // Events also become span events unless logs already carry them to a backend
            // (the console shows in-span events in the trace tree instead).
            let logs_to_backend =
                logs.is_some() && (config.discard || logs_kind != ExporterKind::Console);
            outputs = Some(Arc::new(Outputs {
                instance_metrics,
                span_metrics,
                event_metrics: Some(EventMetrics::new(meter)),
                logs: log_sinks,
                span_events: config.span_events.unwrap_or(!logs_to_backend),
                never_samples: native.is_some()
                    || matches!(config.sampler, Sampler::AlwaysOff)
                    || matches!(config.sampler, Sampler::TraceIdRatio(r) if r <= 0.0),
                native: native.clone(),
            }));
        }
        // Health checks: the file's, then code's (code wins for a name in both); on
        // their own thread, from now on.
        let health_checks = {
            let mut all: Vec<crate::HealthCheck> = config
                .health_checks
                .iter()
                .filter(|f| !health_checks.iter().any(|c| c.name() == f.name()))
                .cloned()
                .collect();
            all.extend(health_checks);
            all
        };
        let checks = if health_checks.is_empty() {
            None
        } else {
            let state = Arc::new(crate::checks::state::Checks::new(&health_checks));
            let runner = crate::checks::runner::Runner::start(
                health_checks,
                state.clone(),
                checks_meter.as_ref(),
            )
            .map_err(|source| BuildError::Thread {
                signal: "health checks",
                source,
            })?;
            Some((state, runner))
        };
        let telemetry = Telemetry {
            inner: Arc::new(Inner {
                config,
                resource,
                provider,
                tracer,
                traces,
                console_traces,
                meter_provider,
                metrics,
                console_metrics: console_metrics_pipeline,
                logs,
                local_logs,
                lost_log_lines,
                metric_overflow,
                outputs,
                #[cfg(feature = "prometheus")]
                admin: std::sync::OnceLock::new(),
                propagators,
                warnings,
                checks,
                recorder,
                file_warnings,
                shutdown: Mutex::new(None),
            }),
        };
        // The admin endpoint serves `/metrics` when metrics are pulled, and the health
        // endpoints when there are checks.
        #[cfg(feature = "prometheus")]
        if pull_reader.is_some()
            || telemetry.inner.checks.is_some()
            || telemetry.inner.recorder.is_some()
        {
            telemetry.start_admin(pull_reader)?;
        }
        #[cfg(not(feature = "prometheus"))]
        let _ = pull_reader;
        if telemetry.inner.config.install_globals {
            telemetry.set_globals();
        }
        Ok(telemetry)
    }

    /// Starts the admin endpoint (`/metrics`, `/livez`, `/readyz`, `/health`) on the
    /// configured address.
    #[cfg(feature = "prometheus")]
    fn start_admin(
        &self,
        reader: Option<Arc<opentelemetry_sdk::metrics::ManualReader>>,
    ) -> Result<(), BuildError> {
        let (host, port) = self.inner.config.prometheus_address();
        let host = if host == "localhost" {
            "127.0.0.1"
        } else {
            host
        };
        let address = format!("{host}:{port}");
        let addr: std::net::SocketAddr =
            address
                .parse()
                .map_err(|_| crate::error::ConfigError::InvalidSetting {
                    setting: "prometheus address",
                    value: address.clone(),
                    expected: "an IP address and port, like 127.0.0.1:9464".into(),
                })?;
        // The recorder's data (user data in attributes and logs) is never served off
        // loopback without a token.
        if self.inner.recorder.is_some()
            && !addr.ip().is_loopback()
            && self.inner.config.admin_token.is_none()
        {
            return Err(crate::error::ConfigError::InvalidSetting {
                setting: "prometheus address",
                value: address,
                expected: "a loopback address (127.0.0.1) while the flight recorder is on, or \
                           a bearer token for the other addresses (admin_token(..), or \
                           telemetry.admin_token in the configuration file)"
                    .into(),
            }
            .into());
        }
        let source = Arc::new(admin_source::AdminSource {
            reader: reader.map(crate::admin::PullReader),
            loopback: addr.ip().is_loopback(),
            token: self.inner.config.admin_token.clone(),
            telemetry: Arc::downgrade(&self.inner),
        });
        let server = crate::admin::AdminServer::start(addr, source, crate::admin::Limits::DEFAULT)
            .map_err(|source| BuildError::Bind { address, source })?;
        let _ = self.inner.admin.set(server);
        Ok(())
    }
}

#[cfg(feature = "prometheus")]
mod admin_source;
mod targets;

use targets::{check_transport, start_beyond_otlp, target_name};
#[cfg(test)]
mod tests;
