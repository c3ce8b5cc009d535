//! [`TelemetryLayer`]: the one layer that turns `tracing` data into telemetry.

mod events;
mod metrics;
pub(crate) use self::metrics::{EventMetrics, SpanMetrics};
mod settings;
mod span_ext;

pub use self::settings::SpanDetails;
pub(crate) use self::settings::SpanLimits;
pub use self::settings::{
    OTEL_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
};
pub use self::span_ext::OpenTelemetrySpanExt;

use std::any::TypeId;
use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use self::metrics::SpanTiming;
use crate::fields::Fields;
use crate::logs::{LogSinks, SpanFields};

use crate::propagation::RandomFlagTracer;
use opentelemetry::trace::TraceContextExt as _;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_opentelemetry::SetParentError;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The `tracing` layer made by [`Telemetry::layer`](crate::Telemetry::layer).
///
/// Spans become OpenTelemetry spans (parent/child from the span stack, fields as
/// attributes, events as span events, `otel.name`, `otel.kind`, `otel.status_code`,
/// `otel.status_description` honoured, error fields as exception events). It composes
/// with other layers and per-layer filters, and
/// [`OpenTelemetrySpanExt`](crate::OpenTelemetrySpanExt) works through it.
///
/// When telemetry is disabled the layer does nothing at all: every callback returns at
/// once and no span costs an allocation.
pub struct TelemetryLayer<S> {
    spans: Option<OpenTelemetryLayer<S, RandomFlagTracer>>,
    outputs: Option<Arc<Outputs>>,
    /// When telemetry is disabled: a per-layer filter that is never interested, so the
    /// subscriber skips callsites nobody else wants (as cheap as a level filter) while
    /// the user's other layers keep seeing everything.
    off: Option<Filtered<Off, Never, S>>,
    mark_error: MarkError,
    with_skipped: WithSkipped,
    /// This instance, in the per-thread stacks every layer of the process shares.
    key: LayerKey,
    /// Span events are recorded by [`events`] where it can (see there).
    fast_span_events: bool,
    location: bool,
}

/// Names one layer instance. Span ids are unique only within one registry, so the
/// per-thread stacks (the spans entered, the contexts attached) tag every entry with
/// the layer that made it, and a layer only reads and removes its own entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerKey(u64);

impl LayerKey {
    fn next() -> LayerKey {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        LayerKey(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What the layer keeps per span, in one extension.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// For the span duration metric, when the span is measured.
    pub(crate) timing: Option<SpanTiming>,
    /// Set when tracing-opentelemetry never sees the span.
    skipped: Option<Skipped>,
}

/// A span kept from tracing-opentelemetry because the sampler samples nothing, whatever
/// the parent (always_off, traceidratio 0): no parent can change that decision, so the
/// span costs only its metrics and logs. It still has a non-recording context of its
/// own, as the SDK gives a dropped span (the parent's trace, a span id of its own, "not
/// sampled"): logs keep a trace id, outgoing requests say "not sampled", and
/// [`OpenTelemetrySpanExt`] reads and re-parents it like any other span.
#[derive(Debug)]
pub(crate) enum Skipped {
    /// Not started yet, with what tracing-opentelemetry would take as the parent: the
    /// explicit parent's context, else the context current when the span was created;
    /// replaced by `set_parent` until the span starts.
    Pending(opentelemetry::Context),
    /// Started (first entered, or first asked for its context), with its own context.
    Started(opentelemetry::Context),
}

impl Skipped {
    /// Makes `cx` the parent, unless the span has started (as tracing-opentelemetry).
    pub(crate) fn set_parent(&mut self, cx: opentelemetry::Context) -> Result<(), SetParentError> {
        match self {
            Skipped::Pending(parent) => {
                *parent = cx;
                Ok(())
            }
            Skipped::Started(_) => Err(SetParentError::AlreadyStarted),
        }
    }

    /// The span's own context, starting the span if it has not started.
    pub(crate) fn context(&mut self) -> &opentelemetry::Context {
        if let Skipped::Pending(parent) = self {
            *self = Skipped::Started(own_context(parent));
        }
        match self {
            Skipped::Started(own) | Skipped::Pending(own) => own,
        }
    }
}

/// The context of a span that is not sampled, under `parent`: the parent's trace and
/// trace state (a new trace without a valid parent), a new span id, not sampled.
fn own_context(parent: &opentelemetry::Context) -> opentelemetry::Context {
    use opentelemetry_sdk::trace::IdGenerator as _;
    let ids = opentelemetry_sdk::trace::RandomIdGenerator::default();
    let of_parent = parent
        .has_active_span()
        .then(|| parent.span().span_context().clone())
        .filter(opentelemetry::trace::SpanContext::is_valid);
    // W3C level 2: the parent's random flag is kept; a trace id made here is random.
    let (trace_id, state, flags) = match of_parent {
        Some(sc) => (
            sc.trace_id(),
            sc.trace_state().clone(),
            sc.trace_flags() & crate::propagation::RANDOM,
        ),
        None => (
            ids.new_trace_id(),
            opentelemetry::trace::TraceState::default(),
            crate::propagation::RANDOM,
        ),
    };
    let sc =
        opentelemetry::trace::SpanContext::new(trace_id, ids.new_span_id(), flags, false, state);
    parent.with_remote_span_context(sc)
}

/// The parent context of a new skipped span, chosen as tracing-opentelemetry chooses
/// it: an explicit parent's own context; for a contextual span, OpenTelemetry's current
/// context (the entered span's, or one attached by hand); else none.
fn skipped_parent<S>(attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> opentelemetry::Context
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    if let Some(parent) = attrs.parent() {
        if let Some(span) = ctx.span(parent) {
            let mut ext = span.extensions_mut();
            if let Some(skipped) = ext.get_mut::<SpanState>().and_then(|s| s.skipped.as_mut()) {
                return skipped.context().clone();
            }
        }
    }
    if attrs.is_contextual() {
        opentelemetry::Context::current()
    } else {
        opentelemetry::Context::new()
    }
}

/// Lets code outside the layer (the attribute macros) mark a span as failed, so its
/// duration metric gets `outcome = error` and the `error.type`. Found through the
/// dispatcher, as tracing-opentelemetry's `WithContext` is.
#[derive(Clone, Copy)]
pub(crate) struct MarkError(pub(crate) fn(&tracing_core::Dispatch, &Id, &'static str));

impl MarkError {
    fn of<S>() -> MarkError
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        MarkError(|dispatch, id, kind| {
            let Some(registry) = dispatch.downcast_ref::<S>() else {
                return;
            };
            let Some(span) = registry.span(id) else {
                return;
            };
            let mut ext = span.extensions_mut();
            if let Some(timing) = ext.get_mut::<SpanState>().and_then(|s| s.timing.as_mut()) {
                timing.error = true;
                timing.error_type = Some(kind.to_string());
            }
        })
    }
}

/// Marks the span `id` as failed with `kind` for the span metrics, if a telemetry layer
/// is installed in `dispatch`.
pub(crate) fn mark_error(dispatch: &tracing_core::Dispatch, id: &Id, kind: &'static str) {
    if let Some(mark) = dispatch.downcast_ref::<MarkError>() {
        (mark.0)(dispatch, id, kind);
    }
}

/// Lets [`OpenTelemetrySpanExt`] reach the spans the layer keeps from
/// tracing-opentelemetry: calls the function with the span's [`Skipped`] state and
/// returns true when `id` is such a span. Found through the dispatcher, as
/// [`MarkError`]; offered only by a layer whose sampler samples nothing.
#[derive(Clone, Copy)]
pub(crate) struct WithSkipped(pub(crate) WithSkippedFn);

/// See [`WithSkipped`].
pub(crate) type WithSkippedFn =
    fn(&tracing_core::Dispatch, &Id, &mut dyn FnMut(&mut Skipped)) -> bool;

impl WithSkipped {
    fn of<S>() -> WithSkipped
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        WithSkipped(|dispatch, id, f| {
            let Some(registry) = dispatch.downcast_ref::<S>() else {
                return false;
            };
            let Some(span) = registry.span(id) else {
                return false;
            };
            let mut ext = span.extensions_mut();
            match ext.get_mut::<SpanState>().and_then(|s| s.skipped.as_mut()) {
                Some(skipped) => {
                    f(skipped);
                    true
                }
                None => false,
            }
        })
    }
}

/// The layer behind a disabled [`TelemetryLayer`]: it does nothing.
#[derive(Debug)]
pub(crate) struct Off;

impl<S: Subscriber> Layer<S> for Off {}

/// A per-layer filter that wants nothing.
#[derive(Debug)]
pub(crate) struct Never;

impl<S> tracing_subscriber::layer::Filter<S> for Never {
    fn enabled(&self, _meta: &tracing_core::Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        false
    }
    fn callsite_enabled(
        &self,
        _meta: &'static tracing_core::Metadata<'static>,
    ) -> tracing_core::subscriber::Interest {
        tracing_core::subscriber::Interest::never()
    }
    fn max_level_hint(&self) -> Option<tracing_core::LevelFilter> {
        Some(tracing_core::LevelFilter::OFF)
    }
}

/// What the layer records into besides spans (metrics, log sinks); shared by every
/// layer made from one
/// [`Telemetry`](crate::Telemetry).
pub(crate) struct Outputs {
    /// The instruments the macros and the HTTP layers record into, found through the
    /// dispatcher (see `downcast_raw`).
    pub instance_metrics: crate::metrics::InstanceMetrics,
    pub span_metrics: Option<SpanMetrics>,
    pub event_metrics: Option<EventMetrics>,
    pub logs: Option<LogSinks>,
    /// Record every event as a span event too (otherwise only errors are, as
    /// exception events, and the rest are logs only).
    pub span_events: bool,
    /// The sampler samples nothing, whatever the parent (always_off, traceidratio 0):
    /// spans skip tracing-opentelemetry (see [`Skipped`]). Under any other sampler
    /// every span goes through tracing-opentelemetry, which decides when the span
    /// starts, so that a parent given by `set_parent` before then, or a context
    /// attached by hand, decides as it should.
    pub never_samples: bool,
}

/// A skipped span entered on this thread, with the guard of the context attached for
/// it.
struct Attached {
    layer: LayerKey,
    span: u64,
    /// Dropped when the span exits. Not `Send`, hence a thread-local stack rather than
    /// state kept in the span.
    _guard: opentelemetry::ContextGuard,
}

thread_local! {
    /// Skipped spans entered on this thread, innermost last, by every telemetry layer.
    static ATTACHED: RefCell<Vec<Attached>> = const { RefCell::new(Vec::new()) };
}

/// Reads the few span fields that decide a span's metric attributes, without
/// allocating for the others.
struct TimingVisitor<'a>(&'a mut SpanTiming);

impl tracing_core::field::Visit for TimingVisitor<'_> {
    fn record_str(&mut self, field: &tracing_core::Field, value: &str) {
        match field.name() {
            "otel.status_code" if value.eq_ignore_ascii_case("error") => self.0.error = true,
            "error.type" => {
                self.0.error = true;
                self.0.error_type = Some(value.to_string());
            }
            // Only a new callsite needs it: no string per span otherwise.
            "code.function.name" if !self.0.known => self.0.function = Some(value.to_string()),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &tracing_core::Field, value: &dyn fmt::Debug) {
        let wanted = match field.name() {
            "otel.status_code" | "error.type" => true,
            "code.function.name" => !self.0.known,
            _ => false,
        };
        if wanted {
            self.record_str(field, format!("{value:?}").trim_matches('"'));
        }
    }
}

impl<S> TelemetryLayer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    pub(crate) fn new(
        tracer: Option<RandomFlagTracer>,
        outputs: Option<Arc<Outputs>>,
        details: SpanDetails,
    ) -> Self {
        let spans = tracer.map(|tracer| {
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(details.location)
                .with_threads(details.threads)
                .with_tracked_inactivity(details.inactivity)
                .with_error_fields_to_exceptions(true)
                .with_error_events_to_exceptions(true)
                .with_error_events_to_status(true)
                .with_error_records_to_exceptions(true)
        });
        let off = (spans.is_none() && outputs.is_none()).then(|| Off.with_filter(Never));
        let fast_span_events = spans.is_some() && outputs.as_ref().is_some_and(|s| s.span_events);
        TelemetryLayer {
            spans,
            outputs,
            off,
            mark_error: MarkError::of::<S>(),
            with_skipped: WithSkipped::of::<S>(),
            key: LayerKey::next(),
            fast_span_events,
            location: details.location,
        }
    }

    /// Whether this layer records anything (false when telemetry is disabled).
    pub fn is_enabled(&self) -> bool {
        self.spans.is_some() || self.outputs.is_some()
    }
}

impl<S> fmt::Debug for TelemetryLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryLayer")
            .field("spans", &self.spans.is_some())
            .field("metrics_and_logs", &self.outputs.is_some())
            .finish()
    }
}

impl<S> Layer<S> for TelemetryLayer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_register_dispatch(&self, subscriber: &tracing_core::Dispatch) {
        if let Some(off) = &self.off {
            return off.on_register_dispatch(subscriber);
        }
        if let Some(spans) = &self.spans {
            spans.on_register_dispatch(subscriber);
        }
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        if let Some(off) = &mut self.off {
            return off.on_layer(subscriber);
        }
        if let Some(spans) = &mut self.spans {
            spans.on_layer(subscriber);
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_new_span(attrs, id, ctx);
        }
        // Under a sampler that samples nothing, tracing-opentelemetry never sees the
        // span: it costs only its metrics and logs (see `Skipped`).
        let skipped = self
            .outputs
            .as_ref()
            .filter(|s| s.never_samples)
            .map(|_| Skipped::Pending(skipped_parent(attrs, &ctx)));
        let is_skipped = skipped.is_some();
        if let Some(outputs) = &self.outputs {
            let measured = outputs
                .span_metrics
                .as_ref()
                .filter(|m| m.wants(attrs.metadata()));
            let keep_fields = outputs
                .logs
                .as_ref()
                .is_some_and(LogSinks::wants_span_fields);
            let timing = measured.map(|m| {
                let known = m.known(attrs.metadata());
                // A known callsite without outcome fields needs no visit.
                let visit = known.unwrap_or(true);
                let mut timing = SpanTiming {
                    start: Instant::now(),
                    error_type: None,
                    error: false,
                    known: known.is_some(),
                    function: None,
                };
                if visit {
                    attrs.record(&mut TimingVisitor(&mut timing));
                }
                timing
            });
            if timing.is_some() || is_skipped || keep_fields {
                if let Some(span) = ctx.span(id) {
                    let mut ext = span.extensions_mut();
                    // One extension for what the layer keeps per span: one allocation.
                    if timing.is_some() || is_skipped {
                        ext.insert(SpanState { timing, skipped });
                    }
                    if keep_fields {
                        let mut fields = Fields::default();
                        attrs.record(&mut fields);
                        ext.insert(SpanFields {
                            name: attrs.metadata().name(),
                            fields: fields.values.into_vec(),
                        });
                    }
                }
            }
        }
        if let Some(spans) = &self.spans {
            if !is_skipped {
                spans.on_new_span(attrs, id, ctx);
            }
        }
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_record(span, values, ctx);
        }
        if let Some(outputs) = &self.outputs {
            if let Some(s) = ctx.span(span) {
                let mut ext = s.extensions_mut();
                if let Some(timing) = ext.get_mut::<SpanState>().and_then(|s| s.timing.as_mut()) {
                    values.record(&mut TimingVisitor(timing));
                }
                if outputs.logs.is_some() {
                    if let Some(kept) = ext.get_mut::<SpanFields>() {
                        let mut fields = Fields::default();
                        values.record(&mut fields);
                        for (k, v) in fields.values {
                            kept.fields.retain(|(key, _)| *key != k);
                            kept.fields.push((k, v));
                        }
                    }
                }
            }
        }
        if let Some(spans) = &self.spans {
            spans.on_record(span, values, ctx);
        }
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_follows_from(span, follows, ctx);
        }
        if let Some(spans) = &self.spans {
            spans.on_follows_from(span, follows, ctx);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_event(event, ctx);
        }
        let Some(outputs) = &self.outputs else {
            if let Some(spans) = &self.spans {
                spans.on_event(event, ctx);
            }
            return;
        };
        let meta = event.metadata();
        // An ERROR event marks its span as failed.
        let is_error = *meta.level() == tracing_core::Level::ERROR;
        // The span lookup is only paid for when something needs it.
        let needs_span = is_error
            || outputs
                .logs
                .as_ref()
                .is_some_and(|l| l.wants_span_fields() || l.pipeline_outside_spans_only);
        let current = if needs_span {
            ctx.event_span(event)
        } else {
            None
        };
        if is_error {
            if let Some(span) = &current {
                if let Some(timing) = span
                    .extensions_mut()
                    .get_mut::<SpanState>()
                    .and_then(|s| s.timing.as_mut())
                {
                    timing.error = true;
                }
            }
        }
        let metric_event = outputs
            .event_metrics
            .as_ref()
            .is_some_and(|m| m.interested(meta));
        // An event with metric fields and no message is a metric only: no log line, no
        // span event.
        let metric_only = metric_event && meta.fields().field("message").is_none();
        // With `logs_follow_sampling`, events of unsampled traces are no log records.
        let log_this = outputs.logs.as_ref().is_some_and(|l| {
            !l.follow_sampling
                || opentelemetry::Context::map_current(|cx| {
                    let span = cx.span();
                    let sc = span.span_context();
                    !sc.is_valid() || sc.is_sampled()
                })
        });
        if metric_event || log_this {
            let mut fields = Fields::default();
            event.record(&mut fields);
            if metric_event {
                if let Some(m) = &outputs.event_metrics {
                    m.record(&fields);
                }
            }
            if let Some(logs) = outputs.logs.as_ref().filter(|_| log_this) {
                if !metric_only {
                    let spans = if logs.wants_span_fields() {
                        current
                            .as_ref()
                            .map(|s| {
                                s.scope()
                                    .from_root()
                                    .filter_map(|s| s.extensions().get::<SpanFields>().cloned())
                                    .collect()
                            })
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    logs.record(event, fields, current.is_some(), spans);
                }
            }
        }
        drop(current);
        if let Some(spans) = &self.spans {
            if is_error {
                spans.on_event(event, ctx);
            } else if outputs.span_events && !metric_only {
                let done = self.fast_span_events
                    && events::record(self.key, event, ctx.current_span().id(), self.location)
                        == events::Outcome::Done;
                if !done {
                    spans.on_event(event, ctx);
                }
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_enter(id, ctx);
        }
        if self.outputs.as_ref().is_some_and(|s| s.never_samples) {
            if let Some(span) = ctx.span(id) {
                // A skipped span: tracing-opentelemetry has nothing for it; its own
                // context becomes the current one.
                let cx = span
                    .extensions_mut()
                    .get_mut::<SpanState>()
                    .and_then(|s| s.skipped.as_mut())
                    .map(|s| s.context().clone());
                if let Some(cx) = cx {
                    let attached = Attached {
                        layer: self.key,
                        span: id.into_u64(),
                        _guard: cx.attach(),
                    };
                    let _ = ATTACHED.try_with(|a| a.borrow_mut().push(attached));
                    if self.fast_span_events {
                        events::entered(self.key, id);
                    }
                    return;
                }
            }
        }
        if let Some(spans) = &self.spans {
            spans.on_enter(id, ctx);
            if self.fast_span_events {
                events::entered(self.key, id);
            }
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_exit(id, ctx);
        }
        if self.fast_span_events {
            events::exited(self.key, id);
        }
        if self.outputs.as_ref().is_some_and(|s| s.never_samples) {
            let span = id.into_u64();
            let detached = ATTACHED.try_with(|a| {
                let mut a = a.borrow_mut();
                let ours = |x: &Attached| x.layer == self.key && x.span == span;
                // Usually the innermost one.
                if a.last().is_some_and(ours) {
                    return a.pop();
                }
                a.iter().rposition(ours).map(|i| a.remove(i))
            });
            // OpenTelemetry's context stack allows guards to drop out of order. Dropped
            // here, with the stack no longer borrowed.
            if let Ok(Some(attached)) = detached {
                drop(attached);
                return;
            }
        }
        if let Some(spans) = &self.spans {
            spans.on_exit(id, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_close(id, ctx);
        }
        let mut skipped = false;
        if let Some(outputs) = &self.outputs {
            if let Some(span) = ctx.span(&id) {
                let ext = span.extensions();
                if let Some(state) = ext.get::<SpanState>() {
                    skipped = state.skipped.is_some();
                    if let (Some(m), Some(timing)) = (&outputs.span_metrics, &state.timing) {
                        m.record(span.metadata(), timing);
                    }
                }
            }
        }
        // tracing-opentelemetry never saw a skipped span: nothing to end.
        if let Some(spans) = self.spans.as_ref().filter(|_| !skipped) {
            spans.on_close(id, ctx);
        }
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_id_change(old, new, ctx);
        }
        if let Some(spans) = &self.spans {
            spans.on_id_change(old, new, ctx);
        }
    }

    fn register_callsite(
        &self,
        metadata: &'static tracing_core::Metadata<'static>,
    ) -> tracing_core::subscriber::Interest {
        match &self.off {
            Some(off) => off.register_callsite(metadata),
            None => tracing_core::subscriber::Interest::always(),
        }
    }

    fn enabled(&self, metadata: &tracing_core::Metadata<'_>, ctx: Context<'_, S>) -> bool {
        match &self.off {
            Some(off) => off.enabled(metadata, ctx),
            None => true,
        }
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        match &self.off {
            Some(off) => off.event_enabled(event, ctx),
            None => true,
        }
    }

    fn max_level_hint(&self) -> Option<tracing_core::LevelFilter> {
        self.off.as_ref().and_then(|off| off.max_level_hint())
    }

    // SAFETY: forwards to the inner layer, which returns pointers to itself only for
    // the type ids it recognises (this is how `OpenTelemetrySpanExt` finds it).
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        if id == TypeId::of::<MarkError>() && self.outputs.is_some() {
            return Some(&self.mark_error as *const MarkError as *const ());
        }
        if id == TypeId::of::<WithSkipped>()
            && self.outputs.as_ref().is_some_and(|s| s.never_samples)
        {
            return Some(&self.with_skipped as *const WithSkipped as *const ());
        }
        if id == TypeId::of::<crate::metrics::InstanceMetrics>() {
            if let Some(outputs) = &self.outputs {
                // A field of `self.outputs`: it lives as long as the layer.
                let metrics: *const crate::metrics::InstanceMetrics = &outputs.instance_metrics;
                return Some(metrics as *const ());
            }
        }
        if let Some(off) = &self.off {
            // SAFETY: the caller's contract is passed on unchanged; this is how the
            // subscriber learns that a per-layer filter is in place.
            return unsafe { off.downcast_raw(id) };
        }
        match &self.spans {
            // SAFETY: the caller's contract is passed on unchanged.
            Some(spans) => unsafe { spans.downcast_raw(id) },
            None => None,
        }
    }
}
