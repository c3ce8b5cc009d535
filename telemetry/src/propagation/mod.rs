//! Context propagation: W3C trace context and baggage, B3 single and multi header,
//! composed from [`Propagator`] settings; carriers for
//! `http::HeaderMap`; helpers that inject the current span's context and extract a
//! remote one; and [`InContextExt`] for spawned tasks.
//!
//! Extraction never fails loudly: a header that is not valid (see
//! [`TraceContextPropagator`] for the rules) is ignored and the context is left as it
//! was, so the request simply starts a new trace.
//!
//! # Which propagators
//!
//! The free functions ([`inject_current`], [`extract`], ...) use OpenTelemetry's
//! **global** propagator, which [`Telemetry::init`](crate::Telemetry::init) and
//! [`Telemetry::set_globals`](crate::Telemetry::set_globals) set to the configured
//! formats (`OTEL_PROPAGATORS`; before that it is a no-op). The methods of the same
//! names on [`Telemetry`](crate::Telemetry) always use that instance's configured
//! propagators, globals or not.

use std::fmt;
use std::future::Future;

use crate::TelemetrySpanExt as _;
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapCompositePropagator,
    TextMapPropagator,
};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::BaggagePropagator;

/// `OTEL_PROPAGATORS`: comma-separated `tracecontext`, `baggage`, `b3`, `b3multi`, `none`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

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

impl Propagator {
    /// `tracecontext,baggage`, the specification's default.
    pub(crate) const DEFAULT: [Propagator; 2] = [Propagator::TraceContext, Propagator::Baggage];
}

mod b3;
mod random_flag;
mod tracecontext;

#[cfg(test)]
use b3::remote;
pub use b3::B3Propagator;
pub(crate) use random_flag::{Tracer as RandomFlagTracer, RANDOM};
pub use tracecontext::TraceContextPropagator;

/// The propagators chosen by configuration, applied in order on extraction (a later
/// one wins) and all together on injection.
pub struct Propagators {
    inner: TextMapCompositePropagator,
    fields: Vec<String>,
}

impl fmt::Debug for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Propagators")
            .field("fields", &self.fields)
            .finish()
    }
}

impl Propagators {
    /// Builds the composite for the given formats (duplicates ignored).
    pub fn new(formats: &[Propagator]) -> Propagators {
        let mut seen = Vec::new();
        let mut list: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
        for p in formats {
            if seen.contains(p) {
                continue;
            }
            seen.push(*p);
            list.push(match p {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::B3 => Box::new(B3Propagator::single()),
                Propagator::B3Multi => Box::new(B3Propagator::multi()),
            });
        }
        let inner = TextMapCompositePropagator::new(list);
        let fields = inner.fields().map(str::to_string).collect();
        Propagators { inner, fields }
    }
}

impl TextMapPropagator for Propagators {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.inner.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.inner.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Writes into an `http::HeaderMap`; values that are not valid header values are skipped.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads from an `http::HeaderMap`. A value that is not visible ASCII reads as absent
/// through `get`, and as an empty string through `get_all`, so that repeated headers
/// are still counted (two `traceparent` headers are invalid even if one is garbage).
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

// ---- helpers ---------------------------------------------------------------------

/// The context to propagate from here: the OpenTelemetry context of the current
/// `tracing` span when a telemetry layer records it (this starts the span, so its
/// sampling decision is made), else OpenTelemetry's current context (which may carry
/// a remote parent or baggage attached by hand).
pub fn current_context() -> Context {
    let cx = tracing::Span::current().context();
    if cx.has_active_span() {
        cx
    } else {
        Context::current()
    }
}

/// Injects the [`current_context`] into an HTTP header map with the global propagator.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let telemetry = telemetry::Telemetry::builder()
///     .traces_exporter(telemetry::export::ExporterKind::None)
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("call inventory").entered();
///     let mut headers = http::HeaderMap::new();
///     telemetry.inject_current(&mut headers); // the configured propagators
///     assert!(headers.contains_key("traceparent"));
/// });
/// # Ok::<(), telemetry::Error>(())
/// ```
pub fn inject_current(headers: &mut http::HeaderMap) {
    inject_context(&current_context(), &mut HeaderInjector(headers));
}

/// Injects the [`current_context`] into any carrier with the global propagator.
pub fn inject_current_into(injector: &mut dyn Injector) {
    inject_context(&current_context(), injector);
}

/// Injects `cx` into any carrier with the global propagator.
pub fn inject_context(cx: &Context, injector: &mut dyn Injector) {
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, injector));
}

/// Extracts a remote context from HTTP headers with the global propagator, on top of
/// OpenTelemetry's current context. Invalid headers are ignored.
///
/// Make it the parent of a span with
/// [`TelemetrySpanExt::set_parent`](crate::TelemetrySpanExt::set_parent) before
/// the span is first entered.
pub fn extract(headers: &http::HeaderMap) -> Context {
    extract_from(&HeaderExtractor(headers))
}

/// Extracts a remote context from any carrier with the global propagator, on top of
/// OpenTelemetry's current context. Invalid values are ignored.
pub fn extract_from(extractor: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(extractor))
}

mod sealed {
    pub trait Sealed {}
    impl<F: std::future::Future> Sealed for F {}
}

/// Keeps the trace across `tokio::spawn` (and any executor): the spawned future runs
/// inside the current `tracing` span and with the current OpenTelemetry context
/// (remote parent, baggage), so spans it opens are children of the spawning span.
///
/// A plain `tokio::spawn(fut)` loses both: the task starts with no current span and its
/// spans become new root spans of new traces.
///
/// ```
/// use telemetry::propagation::InContextExt as _;
/// # use tracing_subscriber::prelude::*;
/// # let telemetry = telemetry::Telemetry::builder().traces_exporter(telemetry::export::ExporterKind::None).build()?;
/// # let _default = tracing_subscriber::registry().with(telemetry.layer()).set_default();
/// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// # rt.block_on(async {
/// let _request = tracing::info_span!("request").entered();
/// let task = tokio::spawn(
///     async { tracing::info_span!("background work").in_scope(|| {}) }.in_current_context(),
/// );
/// # task.await.unwrap();
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait InContextExt: Future + sealed::Sealed + Sized {
    /// Wraps the future so that every poll runs inside the `tracing` span current now
    /// and with the OpenTelemetry context current now.
    fn in_current_context(self) -> InCurrentContext<Self> {
        use opentelemetry::context::FutureExt as _;
        use tracing::Instrument as _;
        self.with_context(Context::current())
            .instrument(tracing::Span::current())
    }
}

impl<F: Future> InContextExt for F {}

/// The future returned by [`InContextExt::in_current_context`].
pub type InCurrentContext<F> =
    tracing::instrument::Instrumented<opentelemetry::context::WithContext<F>>;

#[cfg(test)]
mod tests;
