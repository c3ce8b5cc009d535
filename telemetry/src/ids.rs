//! The ids of the current trace and span, for log lines, error pages and tickets.

/// The trace id of the current span (the span the layer records, else OpenTelemetry's
/// current context), for log lines, error pages and support tickets; `None` outside
/// any trace. Its `Display` is the 32 hex digits W3C uses.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let telemetry = telemetry::Telemetry::builder()
///     .traces_exporter(telemetry::export::ExporterKind::None)
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     assert_eq!(telemetry::current_trace_id(), None);
///     let _span = tracing::info_span!("handle").entered();
///     let id = telemetry::current_trace_id().expect("inside a span");
///     assert_eq!(id.to_string().len(), 32);
///     assert!(telemetry::current_span_id().is_some());
/// });
/// # Ok::<(), telemetry::Error>(())
/// ```
pub fn current_trace_id() -> Option<opentelemetry::trace::TraceId> {
    current_span_context().map(|sc| sc.trace_id())
}

/// The span id of the current span (see [`current_trace_id`]); its `Display` is 16 hex
/// digits.
pub fn current_span_id() -> Option<opentelemetry::trace::SpanId> {
    current_span_context().map(|sc| sc.span_id())
}

fn current_span_context() -> Option<opentelemetry::trace::SpanContext> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = crate::propagation::current_context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}
