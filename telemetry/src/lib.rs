//! # telemetry
//!
//! One `tracing` layer that turns ordinary `tracing` spans and events into
//! OpenTelemetry traces, metrics (span durations, event-field counters and gauges) and
//! logs correlated by trace and span id, exported in the background by a batching,
//! retrying pipeline with a circuit breaker that never blocks the application, even
//! when the collector is down. See [`metrics`] for what is recorded, [`logs`] for local
//! log outputs, [`Telemetry::health`] for the pipelines' state.
//!
//! ## Quickstart (no collector needed)
//!
//! With no endpoint configured, finished traces print to the console as trees:
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! fn main() -> Result<(), telemetry::Error> {
//!     let telemetry = telemetry::Telemetry::from_env_lossy()
//!         .default_service_name("checkout")
//!         .build()?;
//!     let subscriber = tracing_subscriber::registry().with(telemetry.layer());
//!     let _guard = telemetry.guard(); // flushes and shuts down on drop
//!     tracing::subscriber::with_default(subscriber, || {
//!         let _span = tracing::info_span!("handle", order = 42).entered();
//!         tracing::info!("processing");
//!     });
//!     Ok(())
//! }
//! ```
//!
//! The one-line form installs a global subscriber (with an `EnvFilter` from `RUST_LOG`,
//! default `info`) and returns the guard:
//!
//! ```no_run
//! let _guard = telemetry::Telemetry::init();
//! ```
//!
//! Point it at a collector with `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318`
//! (or `.endpoint(..)` in code).
//!
//! ## Configuration
//!
//! Precedence: settings made in code > per-signal variables > generic variables >
//! defaults. Every builder setter overrides the environment except
//! [`default_service_name`](TelemetryBuilder::default_service_name), which only fills
//! in `service.name` when neither `OTEL_SERVICE_NAME` nor `service.name` in
//! `OTEL_RESOURCE_ATTRIBUTES` gives one. [`Telemetry::from_env`] fails on a bad value, naming each variable, its
//! value and what is accepted; [`Telemetry::from_env_lossy`] (used by `init`) warns and
//! uses the default, as the OpenTelemetry specification says.
//!
//! | variable | default | accepted |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | `false` | `true` / `false` |
//! | `OTEL_SERVICE_NAME` | `default_service_name(..)`, else `unknown_service:<exe>` | any |
//! | `OTEL_RESOURCE_ATTRIBUTES` | – | `k=v,k2=v2`, percent-encoded |
//! | `OTEL_PROPAGATORS` | `tracecontext,baggage` | `tracecontext`, `baggage`, `b3`, `b3multi`, `none` |
//! | `OTEL_TRACES_SAMPLER` | `parentbased_always_on` | `always_on`, `always_off`, `traceidratio`, `parentbased_*` |
//! | `OTEL_TRACES_SAMPLER_ARG` | `1.0` | 0 to 1 |
//! | `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` | console, or `otlp` with an endpoint | `otlp`, `console`, `none` (+`prometheus`, `statsd`, `dogstatsd` for metrics) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` | `grpc`, `http/protobuf`, `http/json` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` (gRPC 4317) | URL; HTTP appends `v1/<signal>` |
//! | `OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT` | – | URL, used as is |
//! | `OTEL_EXPORTER_OTLP_[{SIGNAL}_]HEADERS` | – | `k=v,k2=v2` |
//! | `OTEL_EXPORTER_OTLP_[{SIGNAL}_]TIMEOUT` | `10000` | milliseconds, 0 = none |
//! | `OTEL_EXPORTER_OTLP_[{SIGNAL}_]COMPRESSION` | none | `gzip`, `none` |
//! | `OTEL_EXPORTER_OTLP_[{SIGNAL}_]INSECURE` | `false` | `true` / `false` (gRPC without scheme) |
//! | `OTEL_EXPORTER_OTLP_[{SIGNAL}_]CERTIFICATE` | the system's roots | PEM file of CA certificates to trust |
//! | `OTEL_EXPORTER_OTLP_[{SIGNAL}_]CLIENT_CERTIFICATE`, `_CLIENT_KEY` | – | PEM files of the client's certificate chain and key (mutual TLS) |
//! | `OTEL_BSP_SCHEDULE_DELAY`, `_EXPORT_TIMEOUT`, `_MAX_QUEUE_SIZE`, `_MAX_EXPORT_BATCH_SIZE` | 5000, 30000, 2048, 512 | ms, ms, count, count ≤ queue |
//! | `OTEL_BLRP_*` (same four) | 1000, 30000, 2048, 512 | as above |
//! | `OTEL_METRIC_EXPORT_INTERVAL`, `_TIMEOUT` | 60000, 30000 | ms |
//! | `OTEL_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_{ATTRIBUTE,EVENT,LINK}_COUNT_LIMIT` | 128 | count |
//! | `OTEL_EXPORTER_PROMETHEUS_HOST`, `_PORT` | `localhost`, `9464` | host, port |
//!
//! ### From a file
//!
//! [`Telemetry::from_config_file`] (strict), or `OTEL_CONFIG_FILE` read by
//! [`Telemetry::from_env`], [`Telemetry::from_env_lossy`] and `init`: OpenTelemetry's
//! declarative configuration file (YAML, `file_format: "1.1"`), which other SDKs read
//! too. The file then decides and the other `OTEL_*` variables are ignored, except
//! where the file substitutes them (`${COLLECTOR:-http://localhost:4318}`); code still
//! beats the file. This library's own settings (local log outputs, retry, circuit
//! breaker, retry buffer, span metrics) go in its `telemetry` section. A complete
//! example is `examples/telemetry.yaml`; the README's "Configuration file" lists the
//! keys honoured, and [`config::Config::from_file`] shows one in code.
//!
//! ## Sending over TLS
//!
//! An `https://` endpoint is verified against the system's roots (Mozilla's bundled set
//! where the system has none), or against the CA file of
//! `OTEL_EXPORTER_OTLP_CERTIFICATE` / [`certificate`](TelemetryBuilder::certificate);
//! [`client_certificate`](TelemetryBuilder::client_certificate) adds mutual TLS. A hosted
//! backend that wants an API key in a header:
//!
//! ```no_run
//! let telemetry = telemetry::Telemetry::from_env()
//!     .default_service_name("checkout")
//!     .endpoint("https://api.honeycomb.io")
//!     .header("x-honeycomb-team", std::env::var("HONEYCOMB_API_KEY").unwrap_or_default())
//!     .build()?;
//! # Ok::<(), telemetry::Error>(())
//! ```
//!
//! A failed handshake is an export failure with its reason in words in
//! [`health`](Telemetry::health), not retried, counted toward the circuit breaker.
//!
//! ## Feature flags
//!
//! - `grpc` (default): OTLP over gRPC. OTLP over HTTP (protobuf, JSON, gzip) is always
//!   built in.
//! - `tls` (default): `https://` endpoints for both protocols (rustls with `ring`).
//! - `cli`: the `telemetry` command-line program, which queries a running service's
//!   admin endpoint (traces, logs, metrics, health).
//! - `prometheus`: the admin endpoint: `/metrics` (`OTEL_METRICS_EXPORTER=prometheus`)
//!   and the health endpoints `/livez`, `/readyz`, `/health` of the [`checks`], and the
//!   [`recorder`]'s `/api/*`.
//! - `testing`: `testing::InMemorySpans`, `testing::InMemoryMetrics` and the span-tree
//!   renderer for your tests.
//! - `http`: a tower layer for servers (axum and any tower service) and a client helper
//!   for reqwest that propagate context and record HTTP spans and metrics.
//! - `macros-disabled`: the attribute macros expand to the bare function: all their
//!   instrumentation compiled out.
//!
//! ## How the code is organised
//!
//! One room per concern; data walks one way (layer → pipelines → transports) and the
//! configuration only gathers the settings each room owns.
//!
//! | room | what it owns |
//! |---|---|
//! | the root | [`Telemetry`], [`TelemetryBuilder`], [`TelemetryGuard`], the errors, [`HealthReport`], [`TelemetryLayer`], the macros, [`prelude`], [`env`](mod@env) |
//! | [`config`] | [`Config`](config::Config): aggregates and validates; reads the `OTEL_*` variables |
//! | the layer | dispatch of `tracing` callbacks, per-span state, span events, span and event metrics |
//! | [`logs`] | log records, sinks, formats, local outputs, processors |
//! | [`metrics`] | the metrics API; every instrument name and the one set of duration buckets |
//! | [`export`] | pipelines, the retry engine, accounting, OTLP and console transports |
//! | [`checks`] | dependency health checks: probes, thresholds, their thread, the health endpoints' bodies |
//! | [`sampling`], [`propagation`] | samplers and the rate limiter; W3C and B3 propagation |
//! | [`health`], [`resource`] | health and shutdown reports; the resource |
//! | the admin endpoint | the loopback server behind `/metrics` and `/health` |
//! | `http` | tower and reqwest integration (feature `http`) |
//! | `testing` | in-memory capture and a manual clock (feature `testing`) |
//!
//! ## Minimum supported Rust version
//!
//! 1.88.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "prometheus")]
mod admin;
mod builder;
pub mod checks;
pub mod config;
mod diagnostics;
mod error;
pub mod export;
mod fields;
pub mod health;
mod ids;
mod layer;
pub mod logs;
pub mod metrics;
mod pool;
pub mod propagation;
pub mod recorder;
pub mod resource;
pub mod rules;
pub mod sampling;
mod signal;
mod start;
mod telemetry;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;

#[doc(hidden)]
pub mod __macro_support;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use builder::TelemetryBuilder;
pub use checks::HealthCheck;
pub use error::{
    BuildError, ConfigError, EnvIssue, Error, FileIssue, FileIssueKind, InitError, ShutdownError,
};
pub use health::HealthReport;
pub use ids::{current_span_id, current_trace_id};
/// The former name of [`TelemetrySpanExt`] (the same trait): it named the trait as
/// tracing-opentelemetry names its own, which a glob import then shadowed.
pub use layer::TelemetrySpanExt as OpenTelemetrySpanExt;
pub use layer::{SpanRecorder, TelemetryLayer, TelemetrySpanExt};
pub use telemetry::{Telemetry, TelemetryGuard};
pub use telemetry_macros::{measure_performance, traced, track_errors};

/// The names of the `OTEL_*` variables this crate reads, as constants, each defined by
/// the module that owns its setting, next to its default. The per-signal OTLP
/// variables are the generic names with the signal inserted
/// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_LOGS_HEADERS`, ...).
pub mod env {
    pub use crate::config::{OTEL_CONFIG_FILE, OTEL_SDK_DISABLED};
    pub use crate::export::otlp::{
        OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
        OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_ENDPOINT,
        OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_PROTOCOL,
        OTEL_EXPORTER_OTLP_TIMEOUT,
    };
    pub use crate::export::{
        OTEL_BLRP_EXPORT_TIMEOUT, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, OTEL_BLRP_MAX_QUEUE_SIZE,
        OTEL_BLRP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
        OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_LOGS_EXPORTER,
        OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER,
    };
    pub use crate::layer::{
        OTEL_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT,
        OTEL_SPAN_LINK_COUNT_LIMIT, TELEMETRY_SPAN_RECORDER,
    };
    pub use crate::metrics::{
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_EXPORTER_PROMETHEUS_HOST,
        OTEL_EXPORTER_PROMETHEUS_PORT, OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT,
    };
    pub use crate::propagation::OTEL_PROPAGATORS;
    pub use crate::resource::{OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME};
    pub use crate::sampling::{OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG};
}

/// The OpenTelemetry crates this crate is built on, re-exported so your code uses the
/// very same versions.
pub mod otel {
    pub use opentelemetry as api;
    pub use opentelemetry_proto as proto;
    pub use opentelemetry_sdk as sdk;
    pub use tracing_opentelemetry;
}

/// What most programs import: `use telemetry::prelude::*;`.
pub mod prelude {
    pub use crate::{
        measure_performance, traced, track_errors, Telemetry, TelemetryGuard, TelemetrySpanExt,
    };
}
