//! Your own exporter: implement [`Exporter`] for spans, metrics or logs and plug it in
//! with one builder call; it gets what the built-in exporters get: batching, retry
//! with backoff, the circuit breaker, the retry buffer and exact accounting. Its
//! errors say whether the batch is worth another try ([`ExportFailure`]).
//!
//! ```
//! use telemetry::export::{ExportFailure, Exporter, SpanData};
//!
//! /// Counts spans; refuses batches while "down".
//! struct Count { spans: usize, down: bool }
//!
//! impl Exporter<SpanData> for Count {
//!     fn export(&mut self, batch: &[SpanData]) -> Result<(), ExportFailure> {
//!         if self.down {
//!             return Err(ExportFailure::retryable("the backend is down"));
//!         }
//!         self.spans += batch.len();
//!         Ok(())
//!     }
//! }
//!
//! let telemetry = telemetry::Telemetry::builder()
//!     .span_exporter(Count { spans: 0, down: false })
//!     .build()?;
//! # Ok::<(), telemetry::Error>(())
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use super::transport::{BoxFuture, Delivered, Encoded, Transport};
use super::ExportError;

/// The metrics a metric exporter receives: one OTLP request per collection.
pub use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
/// The log records a log exporter receives (OTLP's).
pub use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLogRecord;
/// The spans a span exporter receives (the OpenTelemetry SDK's).
pub use opentelemetry_sdk::trace::SpanData;

/// Sends batches of `T` somewhere: spans ([`SpanData`]), metric collections
/// ([`ExportMetricsServiceRequest`]) or log records ([`OtlpLogRecord`]).
///
/// `export` runs on a thread of the export pipeline's (never the application's) and
/// may block. A batch that fails with a [retryable](ExportFailure::retryable) error is
/// sent again after a backoff, waits in the retry buffer while the circuit breaker is
/// open, and is counted as dropped only when the buffer overflows or at shutdown; a
/// [permanent](ExportFailure::permanent) failure drops it (`non_retryable`).
pub trait Exporter<T>: Send + 'static {
    /// Sends one batch.
    fn export(&mut self, batch: &[T]) -> Result<(), ExportFailure>;

    /// Where it sends, as `health()` shows it. Default: `custom`.
    fn target(&self) -> String {
        "custom".into()
    }

    /// Called once when the pipeline stops, after the last batch.
    fn shutdown(&mut self) {}
}

/// Why a batch could not be exported, and whether another try may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExportFailure {
    message: String,
    retryable: bool,
}

impl ExportFailure {
    /// A failure that may pass later (the backend is down, busy, unreachable).
    pub fn retryable(message: impl fmt::Display) -> ExportFailure {
        ExportFailure {
            message: message.to_string(),
            retryable: true,
        }
    }

    /// A failure that will not pass by trying again (the batch is refused).
    pub fn permanent(message: impl fmt::Display) -> ExportFailure {
        ExportFailure {
            message: message.to_string(),
            retryable: false,
        }
    }

    /// Whether another try may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// The exporters of the application's, set in code.
#[derive(Default)]
pub(crate) struct CustomExporters {
    pub(crate) spans: Option<Box<dyn Exporter<SpanData>>>,
    pub(crate) metrics: Option<Box<dyn Exporter<ExportMetricsServiceRequest>>>,
    pub(crate) logs: Option<Box<dyn Exporter<OtlpLogRecord>>>,
    /// The SDK span processors added with `with_span_processor`, which the native span
    /// path shows every ended span too.
    pub(crate) span_processors: Vec<Arc<dyn opentelemetry_sdk::trace::SpanProcessor>>,
}

/// A span processor shared by the SDK provider and the native span path.
#[derive(Debug)]
pub(crate) struct SharedProcessor(pub(crate) Arc<dyn opentelemetry_sdk::trace::SpanProcessor>);

impl opentelemetry_sdk::trace::SpanProcessor for SharedProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// A user's exporter as a transport of the pipeline carrying `T`; `convert` turns the
/// pipeline's items into what the exporter takes.
pub(crate) struct CustomTransport<T, U> {
    exporter: Arc<Mutex<Box<dyn Exporter<U>>>>,
    convert: fn(T) -> U,
    target: String,
    _items: PhantomData<fn(T)>,
}

impl<T, U: 'static> CustomTransport<T, U> {
    pub(crate) fn new(exporter: Box<dyn Exporter<U>>, convert: fn(T) -> U) -> Self {
        let target = exporter.target();
        CustomTransport {
            exporter: Arc::new(Mutex::new(exporter)),
            convert,
            target,
            _items: PhantomData,
        }
    }
}

impl<T: Send + 'static, U: Send + Sync + 'static> Transport<T> for CustomTransport<T, U> {
    type Payload = Arc<Vec<U>>;

    fn encode(&mut self, batch: Vec<T>) -> Result<Encoded<Self::Payload>, ExportError> {
        let items = batch.len() as u64;
        let converted: Vec<U> = batch.into_iter().map(self.convert).collect();
        Ok(Encoded::one(Arc::new(converted), items))
    }

    fn size(&self, payload: &Self::Payload) -> u64 {
        // What the items hold in memory, roughly: the buffer's byte bound still bites.
        (payload.len() * std::mem::size_of::<U>().max(64)) as u64
    }

    fn send(
        &mut self,
        payload: &Self::Payload,
    ) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        let exporter = self.exporter.clone();
        let payload = payload.clone();
        let target = self.target.clone();
        Box::pin(async move {
            let failed = |message: String, retryable: bool| ExportError::Exporter {
                target: target.clone(),
                message,
                retryable,
            };
            let run = tokio::task::spawn_blocking(move || {
                // A run that outlasted its timeout still holds the exporter.
                let Ok(mut exporter) = exporter.try_lock() else {
                    return Err(ExportFailure::retryable(
                        "the previous export is still running",
                    ));
                };
                exporter.export(&payload)
            });
            match run.await {
                Ok(Ok(())) => Ok(Delivered::default()),
                Ok(Err(e)) => Err(failed(e.message, e.retryable)),
                Err(join) => Err(failed(
                    match join.try_into_panic() {
                        Ok(p) => format!(
                            "the exporter panicked: {}",
                            p.downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| p.downcast_ref::<String>().cloned())
                                .unwrap_or_default()
                        ),
                        Err(_) => "the export was cancelled".into(),
                    },
                    false,
                )),
            }
        })
    }

    fn target(&self) -> &str {
        &self.target
    }

    fn shutdown(&mut self) {
        if let Ok(mut exporter) = self.exporter.lock() {
            exporter.shutdown();
        }
    }
}
