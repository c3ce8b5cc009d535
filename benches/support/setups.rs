//! The setups measured side by side: what a user would otherwise assemble by hand
//! (tracing-opentelemetry + the SDK's batch processor, MetricsLayer, the
//! appender-tracing log bridge, all with counting no-op exporters) and ours. Shared by
//! `benches/lifecycle.rs`, `examples/throughput.rs` and `examples/lifecycle.rs` (the
//! instruction-count driver).

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use telemetry::export::ExporterKind;
use telemetry::sampling::Sampler;
use telemetry::Telemetry;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// With `--features mimalloc`, every setup runs on mimalloc instead of the system
/// allocator (the README's allocator guidance comes from these runs).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The measured lifecycle: a span with 3 attributes, enter, one event with 2 fields,
/// exit, close.
#[inline(never)]
pub fn lifecycle() {
    let span = tracing::info_span!("request", a = 1_u64, b = "two", c = true);
    let _entered = span.enter();
    tracing::info!(x = 1_u64, y = 2_u64, "event");
}

/// A request-shaped trace: a root span with three children, each child with one
/// event: where skipping the children of an unsampled root pays off.
#[inline(never)]
pub fn lifecycle_tree() {
    let root = tracing::info_span!("request", a = 1_u64, b = "two", c = true);
    let _root = root.enter();
    for i in 0..3_u64 {
        let child = tracing::info_span!("step", i);
        let _child = child.enter();
        tracing::info!(x = 1_u64, y = 2_u64, "event");
    }
}

/// Items the no-op exporters saw.
#[derive(Debug, Default)]
pub struct Counts {
    pub spans: AtomicU64,
    pub logs: AtomicU64,
}

#[derive(Debug)]
struct CountingSpans(Arc<Counts>);

impl SpanExporter for CountingSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .spans
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Debug)]
struct CountingLogs(Arc<Counts>);

impl LogExporter for CountingLogs {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.0
            .logs
            .fetch_add(batch.iter().count() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Debug)]
struct NoopMetrics;

impl PushMetricExporter for NoopMetrics {
    async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// One setup: its dispatch, and how to shut it down and report what happened.
pub struct Setup {
    pub name: &'static str,
    pub dispatch: tracing::Dispatch,
    shutdown: Box<dyn FnOnce() -> Report>,
}

/// What a pipeline did with the spans of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    pub exported: Option<u64>,
    pub dropped: Option<u64>,
    pub logs_exported: Option<u64>,
}

impl Setup {
    pub fn finish(self) -> Report {
        (self.shutdown)()
    }
}

/// Every setup, each next to what it is compared with.
pub const NAMES: [&str; 20] = [
    "no_subscriber",
    "level_filtered",
    "ours_disabled",
    "registry_only",
    "baseline_traces",
    "ours_traces",
    "baseline_full",
    "ours_full",
    "ours_full_recorder",
    "ours_full_native",
    "ours_traces_native",
    "ours_unsampled_native",
    "ours_unsampled",
    "ours_unsampled_logsampling",
    "ours_unsampled_traces",
    "ours_unsampled_traces_native",
    "ours_ratio",
    "ours_ratio_native",
    "ours_full_json_lines",
    "experiment_sdk_direct",
];

fn none() -> Box<dyn FnOnce() -> Report> {
    Box::new(Report::default)
}

/// The queue size of every setup's batch processors: the defaults (2048), unless
/// `TELEMETRY_BENCH_QUEUE` says otherwise. The instruction counts use a queue large
/// enough that nothing drops: under valgrind the export threads run rarely, and
/// dropping would be measured instead of exporting.
fn queue_size() -> Option<usize> {
    std::env::var("TELEMETRY_BENCH_QUEUE")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// The SDK's batch span processor with a counting no-op exporter, as a user would set
/// it up (queue size aside, see [`queue_size`]).
fn counting_tracer_provider(counts: &Arc<Counts>) -> SdkTracerProvider {
    let mut batch = opentelemetry_sdk::trace::BatchConfigBuilder::default();
    if let Some(n) = queue_size() {
        batch = batch.with_max_queue_size(n);
    }
    SdkTracerProvider::builder()
        .with_span_processor(
            opentelemetry_sdk::trace::BatchSpanProcessor::builder(CountingSpans(counts.clone()))
                .with_batch_config(batch.build())
                .build(),
        )
        .build()
}

fn baseline(full: bool) -> Setup {
    let counts = Arc::new(Counts::default());
    let mut log_batch = opentelemetry_sdk::logs::BatchConfigBuilder::default();
    if let Some(n) = queue_size() {
        log_batch = log_batch.with_max_queue_size(n);
    }
    let provider = counting_tracer_provider(&counts);
    let tracer = provider.tracer("bench");
    let traces = tracing_opentelemetry::layer().with_tracer(tracer);
    let (dispatch, meters, loggers) = if full {
        let meters = SdkMeterProvider::builder()
            .with_periodic_exporter(NoopMetrics)
            .build();
        let loggers = SdkLoggerProvider::builder()
            .with_log_processor(
                opentelemetry_sdk::logs::BatchLogProcessor::builder(CountingLogs(counts.clone()))
                    .with_batch_config(log_batch.build())
                    .build(),
            )
            .build();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(traces)
                .with(tracing_opentelemetry::MetricsLayer::new(meters.clone()))
                .with(
                    opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(
                        &loggers,
                    ),
                ),
        );
        (dispatch, Some(meters), Some(loggers))
    } else {
        (
            tracing::Dispatch::new(tracing_subscriber::registry().with(traces)),
            None,
            None,
        )
    };
    Setup {
        name: if full {
            "baseline_full"
        } else {
            "baseline_traces"
        },
        dispatch,
        shutdown: Box::new(move || {
            let _ = provider.force_flush();
            let _ = provider.shutdown();
            if let Some(m) = meters {
                let _ = m.shutdown();
            }
            if let Some(l) = &loggers {
                let _ = l.force_flush();
                let _ = l.shutdown();
            }
            Report {
                exported: Some(counts.spans.load(Ordering::Relaxed)),
                dropped: None,
                logs_exported: loggers.map(|_| counts.logs.load(Ordering::Relaxed)),
            }
        }),
    }
}

fn ours(name: &'static str) -> Setup {
    let mut builder = Telemetry::builder()
        .install_globals(false)
        .discard_exports();
    if let Some(n) = queue_size() {
        builder = builder
            .traces_batch(telemetry::export::BatchConfig {
                max_queue_size: n,
                ..telemetry::export::BatchConfig::TRACES
            })
            .logs_batch(telemetry::export::BatchConfig {
                max_queue_size: n,
                ..telemetry::export::BatchConfig::LOGS
            });
    }
    // Each `_native` setup is its twin on the native span path.
    let (base, native) = match name.strip_suffix("_native") {
        Some(base) => (base, true),
        None => (name, false),
    };
    if native {
        builder = builder.span_recorder(telemetry::SpanRecorder::Native);
    }
    // Spans only: no metrics, no logs.
    let traces_only = |b: telemetry::TelemetryBuilder| {
        b.metrics_exporter(ExporterKind::None)
            .logs_exporter(ExporterKind::None)
            .span_metrics(telemetry::metrics::SpanMetricsConfig {
                enabled: false,
                ..Default::default()
            })
    };
    let builder = match base {
        "ours_traces" => traces_only(builder),
        "ours_full" => builder,
        // The same with the flight recorder on (it reads the export threads' batches).
        "ours_full_recorder" => builder
            .recorder(telemetry::recorder::RecorderConfig::default())
            .prometheus_address("127.0.0.1:0".parse().expect("an address")),
        // The same, and every event also a JSON line on a local output (to /dev/null,
        // never rotated): what the application thread pays for local logs.
        "ours_full_json_lines" => builder.log_output(
            telemetry::logs::LogOutput::file("/dev/null", telemetry::logs::LogFormat::Json)
                .max_size(u64::MAX)
                .buffer(queue_size().unwrap_or(8192)),
        ),
        "ours_unsampled" => builder.sampler(Sampler::TraceIdRatio(0.0)),
        // Unsampled spans alone: what the span path itself costs a span that is not
        // sampled.
        "ours_unsampled_traces" => traces_only(builder.sampler(Sampler::TraceIdRatio(0.0))),
        // A production-like sampler: one trace in ten, the rest decided at the start.
        "ours_ratio" => builder.sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.1)))),
        // The same, with trace-based log sampling: events of unsampled traces are not
        // logged (metrics still are).
        "ours_unsampled_logsampling" => builder
            .sampler(Sampler::TraceIdRatio(0.0))
            .logs_follow_sampling(true),
        _ => builder.enabled(false),
    };
    let telemetry = builder.build().expect("telemetry");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    Setup {
        name,
        dispatch,
        shutdown: Box::new(move || {
            let report = telemetry.shutdown().unwrap_or_default();
            if name == "ours_disabled" {
                // No pipeline at all: nothing to report.
                return Report::default();
            }
            Report {
                exported: Some(report.traces.exported),
                dropped: Some(report.traces.dropped),
                logs_exported: Some(report.logs.exported),
            }
        }),
    }
}

/// An experiment: a span path built directly on the SDK tracer API, without
/// tracing-opentelemetry: each span starts an SDK span at creation (with its fields as
/// attributes, parented on its parent's), events become span events, close ends it.
/// Traces only, with the same batch processor and counting exporter as
/// `baseline_traces`. Not part of the library: it measures what such a path would cost.
mod direct {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
    use opentelemetry::{Context, KeyValue};
    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::Context as LayerContext;
    use tracing_subscriber::registry::LookupSpan;

    pub struct DirectLayer(pub opentelemetry_sdk::trace::SdkTracer);

    struct Direct(Context);

    struct Attrs<'a>(&'a mut Vec<KeyValue>, Option<&'a mut String>);

    impl Visit for Attrs<'_> {
        fn record_u64(&mut self, f: &Field, v: u64) {
            self.0.push(KeyValue::new(f.name(), v as i64));
        }
        fn record_i64(&mut self, f: &Field, v: i64) {
            self.0.push(KeyValue::new(f.name(), v));
        }
        fn record_bool(&mut self, f: &Field, v: bool) {
            self.0.push(KeyValue::new(f.name(), v));
        }
        fn record_str(&mut self, f: &Field, v: &str) {
            self.0.push(KeyValue::new(f.name(), v.to_string()));
        }
        fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
            match (&mut self.1, f.name()) {
                (Some(message), "message") => **message = format!("{v:?}"),
                _ => self.0.push(KeyValue::new(f.name(), format!("{v:?}"))),
            }
        }
    }

    impl<S> tracing_subscriber::Layer<S> for DirectLayer
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            id: &tracing::span::Id,
            ctx: LayerContext<'_, S>,
        ) {
            let Some(span) = ctx.span(id) else { return };
            let parent = span
                .parent()
                .and_then(|p| p.extensions().get::<Direct>().map(|d| d.0.clone()))
                .unwrap_or_default();
            let mut kv = Vec::with_capacity(attrs.fields().len());
            attrs.record(&mut Attrs(&mut kv, None));
            let otel = self
                .0
                .span_builder(attrs.metadata().name())
                .with_attributes(kv)
                .start_with_context(&self.0, &parent);
            span.extensions_mut().insert(Direct(parent.with_span(otel)));
        }

        fn on_event(&self, event: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
            let Some(span) = ctx.event_span(event) else {
                return;
            };
            let ext = span.extensions();
            let Some(Direct(cx)) = ext.get::<Direct>() else {
                return;
            };
            let mut kv = Vec::with_capacity(event.fields().count());
            let mut message = String::new();
            event.record(&mut Attrs(&mut kv, Some(&mut message)));
            cx.span().add_event(message, kv);
        }

        fn on_close(&self, id: tracing::span::Id, ctx: LayerContext<'_, S>) {
            if let Some(span) = ctx.span(&id) {
                if let Some(Direct(cx)) = span.extensions_mut().remove::<Direct>() {
                    cx.span().end();
                }
            }
        }
    }
}

fn experiment() -> Setup {
    let counts = Arc::new(Counts::default());
    let provider = counting_tracer_provider(&counts);
    let layer = direct::DirectLayer(provider.tracer("bench"));
    Setup {
        name: "experiment_sdk_direct",
        dispatch: tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
        shutdown: Box::new(move || {
            let _ = provider.force_flush();
            let _ = provider.shutdown();
            Report {
                exported: Some(counts.spans.load(Ordering::Relaxed)),
                dropped: None,
                logs_exported: None,
            }
        }),
    }
}

/// Builds a setup by name (see [`NAMES`]).
pub fn setup(name: &str) -> Setup {
    match name {
        "no_subscriber" => Setup {
            name: "no_subscriber",
            dispatch: tracing::Dispatch::none(),
            shutdown: none(),
        },
        "level_filtered" => Setup {
            name: "level_filtered",
            dispatch: tracing::Dispatch::new(
                tracing_subscriber::registry().with(LevelFilter::WARN),
            ),
            shutdown: none(),
        },
        // With a layer that does nothing: a registry on its own never frees a closed
        // span's slot (a layer's close is what releases it), so it would measure a leak.
        "registry_only" => Setup {
            name: "registry_only",
            dispatch: tracing::Dispatch::new(
                tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new()),
            ),
            shutdown: none(),
        },
        "baseline_traces" => baseline(false),
        "baseline_full" => baseline(true),
        "ours_traces" => ours("ours_traces"),
        "ours_full" => ours("ours_full"),
        "ours_full_recorder" => ours("ours_full_recorder"),
        "ours_full_native" => ours("ours_full_native"),
        "ours_traces_native" => ours("ours_traces_native"),
        "ours_unsampled_native" => ours("ours_unsampled_native"),
        "ours_unsampled" => ours("ours_unsampled"),
        "ours_unsampled_logsampling" => ours("ours_unsampled_logsampling"),
        "ours_unsampled_traces" => ours("ours_unsampled_traces"),
        "ours_unsampled_traces_native" => ours("ours_unsampled_traces_native"),
        "ours_ratio" => ours("ours_ratio"),
        "ours_ratio_native" => ours("ours_ratio_native"),
        "ours_full_json_lines" => ours("ours_full_json_lines"),
        "ours_disabled" => ours("ours_disabled"),
        "experiment_sdk_direct" => experiment(),
        other => panic!("unknown setup {other:?}; one of {NAMES:?}"),
    }
}
