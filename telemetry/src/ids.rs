//! The ids of the current trace and span, for log lines, error pages and tickets; and
//! the new random ids of the spans the layer starts itself.

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

/// A new random trace id for a span the layer starts (the native path, spans that are
/// never sampled): from a per-thread generator (`fastrand`'s wyrand), never the
/// invalid all-zero id.
#[inline]
pub(crate) fn new_trace_id() -> opentelemetry::trace::TraceId {
    opentelemetry::trace::TraceId::from(nonzero(|| fastrand::u128(..)))
}

/// A new random span id (see [`new_trace_id`]), never the invalid all-zero id.
#[inline]
pub(crate) fn new_span_id() -> opentelemetry::trace::SpanId {
    opentelemetry::trace::SpanId::from(nonzero(|| fastrand::u64(..)))
}

/// The first value `draw` gives that is not zero.
#[inline]
fn nonzero<T: Default + PartialEq>(draw: impl Fn() -> T) -> T {
    loop {
        let v = draw();
        if v != T::default() {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn new_ids_are_valid_and_differ() {
        let traces: HashSet<_> = (0..1000).map(|_| super::new_trace_id()).collect();
        let spans: HashSet<_> = (0..1000).map(|_| super::new_span_id()).collect();
        assert_eq!((traces.len(), spans.len()), (1000, 1000));
        assert!(!traces.contains(&opentelemetry::trace::TraceId::INVALID));
        assert!(!spans.contains(&opentelemetry::trace::SpanId::INVALID));
        // Other threads draw other ids.
        let other =
            std::thread::spawn(|| (0..1000).map(|_| super::new_span_id()).collect::<Vec<_>>())
                .join()
                .unwrap();
        assert!(other.iter().all(|id| !spans.contains(id)));
    }
}
