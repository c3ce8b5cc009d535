//! Export: the batching pipelines, the retry engine (retry with backoff, circuit
//! breaker, bounded retry buffer) and the transports behind them (OTLP, console).
//!
//! The application thread only pushes into a bounded queue (`pipeline`); a
//! background thread owning a small tokio runtime batches and hands each batch to the
//! `engine`, which sends it through a `transport`, so exporting works the same
//! with no runtime, a current-thread or a multi-thread one. `stats` keeps the books
//! of every item; `self_metrics` publishes them.
//!
//! Dependencies run one way: `sdk_bridge` → `pipeline` → `engine` →
//! `retry_buffer` → `stats` → `circuit`; the engine also uses `retry` and
//! `transport`; the transports (`otlp`, `console`) know only `transport`; any of them
//! may use this file's shared vocabulary ([`ExportError`], `after`). The rest of
//! the crate reaches export through the re-exports below.

use std::fmt;
use std::time::Duration;

mod batch;
mod circuit;
mod console;
mod custom;
mod engine;
mod handle;
pub(crate) mod otlp;
mod pipeline;
mod remote_write;
mod retry;
mod retry_buffer;
mod sdk_bridge;
mod self_metrics;
mod span;
mod stats;
mod statsd;
mod tap;
mod transport;
mod words;

pub use batch::BatchConfig;
pub(crate) use batch::BatchVars;
pub use batch::{
    OTEL_BLRP_EXPORT_TIMEOUT, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, OTEL_BLRP_MAX_QUEUE_SIZE,
    OTEL_BLRP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY,
};
pub use circuit::{CircuitBreakerConfig, CircuitState};
#[cfg(feature = "testing")]
pub(crate) use console::render;
pub(crate) use console::Style;
pub(crate) use console::{console_logs, console_metrics, human, needs_quotes, ConsoleExporter};
pub(crate) use custom::{CustomExporters, CustomTransport, SharedProcessor};
pub use custom::{ExportFailure, ExportMetricsServiceRequest, Exporter, OtlpLogRecord, SpanData};
pub(crate) use engine::ResilienceConfig;
pub(crate) use handle::SignalPipeline;
pub use otlp::{Compression, OtlpTarget, Protocol, TlsFiles};
pub(crate) use pipeline::{Deferred, Pipeline};
pub use remote_write::RemoteWriteConfig;
pub(crate) use remote_write::RemoteWriteTransport;
pub use retry::RetryConfig;
pub use retry_buffer::RetryBufferConfig;
pub(crate) use sdk_bridge::{MetricsTap, MetricsToPipeline, SpansToPipeline};
pub(crate) use self_metrics::register as register_self_metrics;
pub(crate) use span::Span;
pub(crate) use stats::{Snapshot, Stats};
pub(crate) use statsd::StatsdTransport;
pub use statsd::{StatsdConfig, StatsdFlavor, StatsdHistogram, DD_AGENT_HOST, DD_DOGSTATSD_PORT};
pub(crate) use tap::{Tap, Tapped};
pub(crate) use transport::{Discard, Transport};
pub(crate) use words::{any_text, point_value, reason_of};

/// `OTEL_TRACES_EXPORTER`: `otlp`, `console` or `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// `OTEL_METRICS_EXPORTER`: `otlp`, `console`, `prometheus` or `none`.
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// `OTEL_LOGS_EXPORTER`: `otlp`, `console` or `none`.
pub const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";

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
    /// StatsD or DogStatsD over UDP (metrics only; see [`StatsdConfig`]).
    Statsd,
    /// Prometheus remote write (metrics only; see [`RemoteWriteConfig`]).
    RemoteWrite,
    /// Your own [`Exporter`], set in code (`span_exporter`, `metric_exporter`,
    /// `log_exporter` on the builder).
    Custom,
}

/// `now + d`, never panicking: a delay too long to represent (a hostile `Retry-After`,
/// a `Duration::MAX` setting) becomes "thirty years from now".
pub(crate) fn after(now: std::time::Instant, d: Duration) -> std::time::Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    now.checked_add(d)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// One background export's failure, as reported in health and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// No connection could be made, or it broke before a response came.
    #[error("connection failed: {reason} ({endpoint})")]
    Connect {
        /// Where the request went.
        endpoint: String,
        /// What the transport said.
        reason: String,
    },
    /// The TLS handshake failed: the collector's certificate was not trusted, was for
    /// another host or has expired, or the collector refused our client certificate.
    /// Not retried (the same handshake would fail again), but counted toward the
    /// circuit breaker, which bounds how often it is tried.
    #[error("TLS handshake failed: {reason} ({endpoint})")]
    Tls {
        /// Where the request went.
        endpoint: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// The request took longer than the export timeout.
    #[error("no response within {timeout:?} ({endpoint})")]
    Timeout {
        /// Where the request went.
        endpoint: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The collector answered with an HTTP error status.
    #[error("HTTP {status} from {endpoint}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Http {
        /// Where the request went.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// The message of the response body, if any.
        message: Option<String>,
    },
    /// The collector answered with a gRPC error status.
    #[error("gRPC {code} from {endpoint}: {message}")]
    Grpc {
        /// Where the request went.
        endpoint: String,
        /// The gRPC status code name, e.g. `Unavailable`.
        code: GrpcCode,
        /// The delay of a `google.rpc.RetryInfo` detail, if any.
        retry_after: Option<Duration>,
        /// The status message.
        message: String,
    },
    /// The batch could not be encoded, or is larger than OTLP allows.
    #[error("could not encode the request: {0}")]
    Encode(String),
    /// The pipeline is shut down.
    #[error("the exporter is shut down")]
    Shutdown,
    /// A custom [`Exporter`] failed.
    #[error("{target}: {message}")]
    Exporter {
        /// The exporter's target.
        target: String,
        /// What it said.
        message: String,
        /// Whether it said another try may pass.
        retryable: bool,
    },
}

/// A gRPC status code, kept as a number with a readable name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GrpcCode(pub i32);

impl GrpcCode {
    /// The code's canonical name, e.g. `UNAVAILABLE`.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 17] = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        usize::try_from(self.0)
            .ok()
            .and_then(|i| NAMES.get(i).copied())
            .unwrap_or("UNKNOWN")
    }
}

impl fmt::Display for GrpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for GrpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}
