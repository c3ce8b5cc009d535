//! [`Telemetry`]: build the pipelines, hand out the layer, shut down with a guard.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_core::Subscriber;
use tracing_subscriber::registry::LookupSpan;

use crate::config::Config;
use crate::error::{EnvIssue, ShutdownError};
use crate::export::ExporterKind;
use crate::export::SignalPipeline;
use crate::health::{HealthReport, ShutdownReport, SignalReport};
use crate::layer::{Outputs, TelemetryLayer};
use crate::logs::{LocalOutput, PooledLog};
use crate::propagation::{Propagators, RandomFlagTracer};
use crate::signal::Signal;

/// The entry point: owns the pipelines, hands out the [`layer`](Telemetry::layer) and
/// the [`guard`](Telemetry::guard). Cheap to clone.
///
/// # Examples
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let telemetry = telemetry::Telemetry::builder()
///     .default_service_name("checkout")
///     .traces_exporter(telemetry::export::ExporterKind::None)
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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) resource: Resource,
    pub(crate) provider: Option<SdkTracerProvider>,
    pub(crate) tracer: Option<RandomFlagTracer>,
    pub(crate) traces: Option<SignalPipeline<crate::export::Span>>,
    /// The console's span pipeline beside another exporter (`otlp,console`).
    pub(crate) console_traces: Option<SignalPipeline<crate::export::Span>>,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    pub(crate) metrics: Option<SignalPipeline<ExportMetricsServiceRequest>>,
    /// The console's metric pipeline beside another exporter (`otlp,console`).
    pub(crate) console_metrics: Option<SignalPipeline<ExportMetricsServiceRequest>>,
    pub(crate) logs: Option<SignalPipeline<PooledLog>>,
    pub(crate) local_logs: Vec<Arc<LocalOutput>>,
    pub(crate) lost_log_lines: Arc<AtomicU64>,
    pub(crate) metric_overflow: Arc<AtomicU64>,
    pub(crate) outputs: Option<Arc<Outputs>>,
    #[cfg(feature = "prometheus")]
    pub(crate) admin: std::sync::OnceLock<crate::admin::AdminServer>,
    pub(crate) propagators: Arc<Propagators>,
    pub(crate) warnings: Vec<EnvIssue>,
    /// The health checks' state and their runner, when there are checks.
    pub(crate) checks: Option<(
        Arc<crate::checks::state::Checks>,
        crate::checks::runner::Runner,
    )>,
    /// The flight recorder, when it is on.
    pub(crate) recorder: Option<crate::recorder::Recorder>,
    pub(crate) file_warnings: Vec<crate::error::FileIssue>,
    pub(crate) shutdown: Mutex<Option<ShutdownReport>>,
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
    /// The layer to add to a `tracing_subscriber::registry()`.
    pub fn layer<S>(&self) -> TelemetryLayer<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        TelemetryLayer::new(
            self.inner.tracer.clone(),
            self.inner.outputs.clone(),
            self.inner.config.span_details,
            self.inner.recorder.as_ref().map(|r| r.running_table()),
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

    /// The problems of the configuration file (`OTEL_CONFIG_FILE`) that the lossy
    /// reader warned about and left at their defaults: values not accepted, keys not
    /// supported or not of the schema.
    pub fn file_warnings(&self) -> &[crate::error::FileIssue] {
        &self.inner.file_warnings
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
            .map(SignalPipeline::report)
            .unwrap_or_default()
    }

    /// The flight recorder, when [`recorder`](crate::TelemetryBuilder::recorder) turned
    /// it on: the recent traces and logs, searchable.
    pub fn recorder(&self) -> Option<crate::recorder::Recorder> {
        self.inner.recorder.clone()
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
        let traces = self.inner.traces.as_ref().map(SignalPipeline::health);
        let metrics = self.inner.metrics.as_ref().map(SignalPipeline::health);
        let logs = self.inner.logs.as_ref().map(SignalPipeline::health);
        let checks = match &self.inner.checks {
            Some((state, _)) => state.reports(),
            None => Vec::new(),
        };
        let healthy = [&traces, &metrics, &logs]
            .iter()
            .all(|s| s.as_ref().is_none_or(|h| h.healthy))
            && !checks
                .iter()
                .any(|c| c.critical && c.status == crate::checks::CheckStatus::Fail);
        HealthReport {
            healthy,
            traces,
            metrics,
            logs,
            lost_log_lines: self.lost_log_lines(),
            metric_overflow: self.inner.metric_overflow.load(Ordering::Relaxed),
            checks,
        }
    }

    /// Log lines the local outputs could not take (their buffer was full).
    pub fn lost_log_lines(&self) -> u64 {
        self.inner.lost_log_lines.load(Ordering::Relaxed)
    }

    /// Makes your own instruments on this instance's meter provider, under the
    /// library's instrumentation scope (`telemetry`); see
    /// [`metrics_with_scope`](Self::metrics_with_scope) for your own.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        self.metrics_in(crate::metrics::scope())
    }

    /// Makes your own instruments under an instrumentation scope of your choosing
    /// (`otel.scope.name` in Prometheus, the scope of OTLP metrics), such as your crate's
    /// name and version.
    ///
    /// ```
    /// let telemetry = telemetry::Telemetry::builder().build()?;
    /// let metrics = telemetry.metrics_with_scope("checkout", Some(env!("CARGO_PKG_VERSION")));
    /// metrics.counter("checkout.orders").build()?.add(1, &[]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics_with_scope(
        &self,
        name: &'static str,
        version: Option<&'static str>,
    ) -> crate::metrics::Metrics {
        let mut scope = InstrumentationScope::builder(name);
        if let Some(version) = version {
            scope = scope.with_version(version);
        }
        self.metrics_in(scope.build())
    }

    fn metrics_in(&self, scope: InstrumentationScope) -> crate::metrics::Metrics {
        let meter = match &self.inner.meter_provider {
            Some(mp) => mp.meter_with_scope(scope),
            // Disabled: an SDK provider with no reader records nothing.
            None => SdkMeterProvider::builder().build().meter_with_scope(scope),
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
        if let Some(p) = &self.inner.traces {
            result = result.and(p.flush(timeout));
        }
        if let Some(p) = &self.inner.logs {
            result = result.and(p.flush(timeout));
        }
        if let Some(p) = &self.inner.metrics {
            // Already flushed by the reader, whose outcome the SDK keeps to itself.
            result = result.and(p.flush(timeout));
        }
        // The console beside another exporter prints; it cannot fail to deliver.
        if let Some(p) = &self.inner.console_traces {
            let _ = p.flush(timeout);
        }
        if let Some(p) = &self.inner.console_metrics {
            let _ = p.flush(timeout);
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
    /// [`ShutdownError::Incomplete`] when any signal did not finish: each signal's
    /// failure ([`ShutdownError::Timeout`] with the number of items left undelivered,
    /// [`ShutdownError::Export`] when the last export failed,
    /// [`ShutdownError::ExportThreadStopped`] when its export thread had stopped) and
    /// the report of every signal.
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
            let traces = scope.spawn(|| {
                if let Some(p) = &self.inner.console_traces {
                    let _ = p.shutdown(timeout);
                }
                match &self.inner.traces {
                    Some(p) => p.shutdown(timeout),
                    None => Ok(()),
                }
            });
            let logs = scope.spawn(|| {
                let result = match &self.inner.logs {
                    Some(p) => p.shutdown(timeout),
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
                    if let Some(p) = &self.inner.console_metrics {
                        let _ = p.shutdown(timeout);
                    }
                    match &self.inner.metrics {
                        Some(p) => p.shutdown(timeout),
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
        if let Some((_, runner)) = &self.inner.checks {
            runner.stop();
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
                .metrics
                .as_ref()
                .map(SignalPipeline::report)
                .unwrap_or_default(),
            logs: self
                .inner
                .logs
                .as_ref()
                .map(SignalPipeline::report)
                .unwrap_or_default(),
            lost_log_lines: self.lost_log_lines(),
        };
        *done = Some(report);
        let failures: Vec<ShutdownError> = [traces, metrics, logs]
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if failures.is_empty() {
            Ok(report)
        } else {
            Err(ShutdownError::Incomplete {
                failures,
                report: Box::new(report),
            })
        }
    }
}

/// A guard that shuts telemetry down when dropped; see [`Telemetry::guard`].
#[must_use = "dropping the guard at once shuts telemetry down; bind it with `let _guard = ...`"]
pub struct TelemetryGuard {
    pub(crate) telemetry: Option<Telemetry>,
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

fn join_now(
    handle: std::thread::ScopedJoinHandle<'_, Result<(), ShutdownError>>,
) -> Result<(), ShutdownError> {
    handle.join().unwrap_or(Err(ShutdownError::AlreadyShutdown))
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
    /// [`TelemetrySpanExt::set_parent`](crate::TelemetrySpanExt::set_parent).
    ///
    /// ```
    /// use telemetry::TelemetrySpanExt as _;
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
