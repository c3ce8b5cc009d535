//! [`TelemetryLayer`]: the one layer that turns `tracing` data into telemetry.

mod events;
pub(crate) mod fields;
pub(crate) mod logs;
pub(crate) mod metrics;

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use self::fields::Fields;
use self::logs::{LogSinks, SpanFields};
use self::metrics::{EventMetrics, SpanMetrics, SpanTiming};

use crate::propagation::RandomFlagTracer;
use opentelemetry::trace::TraceContextExt as _;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
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
    signals: Option<Arc<Signals>>,
    /// When telemetry is disabled: a per-layer filter that is never interested, so the
    /// subscriber skips callsites nobody else wants (as cheap as a level filter) while
    /// the user's other layers keep seeing everything.
    off: Option<Filtered<Off, Never, S>>,
    mark_error: MarkError,
    /// Span events are recorded by [`events`] where it can (see there).
    fast_span_events: bool,
    location: bool,
}

/// What the layer keeps per span, in one extension.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// For the span duration metric, when the span is measured.
    pub(crate) timing: Option<SpanTiming>,
    skip: Skip,
}

/// Whether tracing-opentelemetry sees the span.
#[derive(Debug)]
enum Skip {
    /// It does.
    No,
    /// It does not: the parent was not sampled.
    Unsampled,
    /// It does not: a root under a sampler that samples nothing, with a
    /// non-recording context of its own.
    Root(opentelemetry::Context),
}

impl SpanState {
    fn skipped(&self) -> bool {
        !matches!(self.skip, Skip::No)
    }
}

/// The new span's parent, and whether it is the span current on this thread: the
/// explicit parent, or the current span for a contextual span.
fn parent_of<S>(attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> Option<(Id, bool)>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    match attrs.parent() {
        Some(explicit) => Some((explicit.clone(), ctx.current_span().id() == Some(explicit))),
        None if attrs.is_contextual() => ctx.current_span().id().map(|id| (id.clone(), true)),
        None => None,
    }
}

/// Whether the new span's parent is known not to be sampled: it was itself skipped, or
/// it is the entered span whose OpenTelemetry context is current and not sampled.
fn parent_is_unsampled<S>(parent: Option<&(Id, bool)>, ctx: &Context<'_, S>) -> bool
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let Some((parent_id, is_current)) = parent else {
        return false;
    };
    let Some(parent) = ctx.span(parent_id) else {
        return false;
    };
    if parent
        .extensions()
        .get::<SpanState>()
        .is_some_and(SpanState::skipped)
    {
        return true;
    }
    // Only the entered span's OpenTelemetry context is the active one; an explicit
    // parent that is not current is not at hand, so no shortcut.
    if !is_current {
        return false;
    }
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid() && !sc.is_sampled()
    })
}

/// Optional span attributes, each with a cost per span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanDetails {
    /// `code.file.path`, `code.line.number`, `code.module.name` from the callsite.
    /// Default: on.
    pub location: bool,
    /// `thread.id` and `thread.name`. Default: off.
    pub threads: bool,
    /// `busy_ns` and `idle_ns`: time entered and not, measured at every enter and exit.
    /// Default: off.
    pub inactivity: bool,
}

impl Default for SpanDetails {
    fn default() -> Self {
        SpanDetails {
            location: true,
            threads: false,
            inactivity: false,
        }
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

/// What the layer records besides spans; shared by every layer made from one
/// [`Telemetry`](crate::Telemetry).
pub(crate) struct Signals {
    /// The instruments the macros and the HTTP layers record into, found through the
    /// dispatcher (see `downcast_raw`).
    pub instance_metrics: crate::__private::InstanceMetrics,
    pub span_metrics: Option<SpanMetrics>,
    pub event_metrics: Option<EventMetrics>,
    pub logs: Option<LogSinks>,
    /// Record every event as a span event too (otherwise only errors are, as
    /// exception events, and the rest are logs only).
    pub span_events: bool,
    /// Children of unsampled spans skip tracing-opentelemetry (true when the sampler
    /// guarantees they would not be sampled).
    pub skip_unsampled_children: bool,
    /// The sampler samples nothing, whatever the parent (always_off, traceidratio 0):
    /// roots skip tracing-opentelemetry too and carry a non-recording context of their
    /// own, so logs keep a trace id and outgoing requests say "not sampled".
    pub never_samples: bool,
    /// The sampler may leave traces unsampled here (anything but always_on and
    /// parentbased_always_on): entering a span first checks whether it was skipped, so
    /// that skipped spans cost tracing-opentelemetry nothing at enter and exit either.
    pub enter_checks_skip: bool,
}

thread_local! {
    /// Skipped spans entered on this thread, with the context attached for a skipped
    /// root.
    static ATTACHED: std::cell::RefCell<Vec<(Id, Option<opentelemetry::ContextGuard>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn skipped_root_context() -> opentelemetry::Context {
    use opentelemetry_sdk::trace::IdGenerator as _;
    let ids = opentelemetry_sdk::trace::RandomIdGenerator::default();
    let sc = opentelemetry::trace::SpanContext::new(
        ids.new_trace_id(),
        ids.new_span_id(),
        // A trace id generated here, at random: W3C level 2's random flag.
        crate::propagation::RANDOM,
        false,
        opentelemetry::trace::TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(sc)
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
        signals: Option<Arc<Signals>>,
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
        let off = (spans.is_none() && signals.is_none()).then(|| Off.with_filter(Never));
        let fast_span_events = spans.is_some() && signals.as_ref().is_some_and(|s| s.span_events);
        TelemetryLayer {
            spans,
            signals,
            off,
            mark_error: MarkError::of::<S>(),
            fast_span_events,
            location: details.location,
        }
    }

    /// Whether this layer records anything (false when telemetry is disabled).
    pub fn is_enabled(&self) -> bool {
        self.spans.is_some() || self.signals.is_some()
    }
}

impl<S> fmt::Debug for TelemetryLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryLayer")
            .field("spans", &self.spans.is_some())
            .field("metrics_and_logs", &self.signals.is_some())
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
        // A child of an unsampled span cannot be sampled (with every sampler this crate
        // offers): tracing-opentelemetry never sees it, and it costs only its metrics
        // and logs. Logs inside it carry the trace id of the unsampled trace.
        let never = self.signals.as_ref().is_some_and(|s| s.never_samples);
        let children = self
            .signals
            .as_ref()
            .is_some_and(|s| s.skip_unsampled_children);
        let parent = if never || children {
            parent_of(attrs, &ctx)
        } else {
            None
        };
        let unsampled_parent = children && parent_is_unsampled(parent.as_ref(), &ctx);
        // With a sampler that samples nothing, a root skips too, with a context of its own.
        let skipped_root = never && !unsampled_parent && parent.is_none();
        let skip = if skipped_root {
            Skip::Root(skipped_root_context())
        } else if unsampled_parent {
            Skip::Unsampled
        } else {
            Skip::No
        };
        let unsampled_parent = !matches!(skip, Skip::No);
        if let Some(signals) = &self.signals {
            let measured = signals
                .span_metrics
                .as_ref()
                .filter(|m| m.wants(attrs.metadata()));
            let keep_fields = signals
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
            if timing.is_some() || unsampled_parent || keep_fields {
                if let Some(span) = ctx.span(id) {
                    let mut ext = span.extensions_mut();
                    // One extension for what the layer keeps per span: one allocation.
                    if timing.is_some() || unsampled_parent {
                        ext.insert(SpanState { timing, skip });
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
            if !unsampled_parent {
                spans.on_new_span(attrs, id, ctx);
            }
        }
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_record(span, values, ctx);
        }
        if let Some(signals) = &self.signals {
            if let Some(s) = ctx.span(span) {
                let mut ext = s.extensions_mut();
                if let Some(timing) = ext.get_mut::<SpanState>().and_then(|s| s.timing.as_mut()) {
                    values.record(&mut TimingVisitor(timing));
                }
                if signals.logs.is_some() {
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
        let Some(signals) = &self.signals else {
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
            || signals
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
        let metric_event = signals
            .event_metrics
            .as_ref()
            .is_some_and(|m| m.interested(meta));
        // An event with metric fields and no message is a metric only: no log line, no
        // span event.
        let metric_only = metric_event && meta.fields().field("message").is_none();
        // With `logs_follow_sampling`, events of unsampled traces are no log records.
        let log_this = signals.logs.as_ref().is_some_and(|l| {
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
                if let Some(m) = &signals.event_metrics {
                    m.record(&fields);
                }
            }
            if let Some(logs) = signals.logs.as_ref().filter(|_| log_this) {
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
            } else if signals.span_events && !metric_only {
                let done = self.fast_span_events
                    && events::record(event, ctx.current_span().id(), self.location)
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
        if self
            .signals
            .as_ref()
            .is_some_and(|s| s.never_samples || s.enter_checks_skip)
        {
            if let Some(span) = ctx.span(id) {
                // A skipped span: tracing-opentelemetry has nothing for it. A skipped
                // root has a context of its own to attach.
                let guard = match span.extensions().get::<SpanState>().map(|s| &s.skip) {
                    Some(Skip::Root(cx)) => Some(Some(cx.clone().attach())),
                    Some(Skip::Unsampled) => Some(None),
                    Some(Skip::No) | None => None,
                };
                if let Some(guard) = guard {
                    let _ = ATTACHED.try_with(|a| a.borrow_mut().push((id.clone(), guard)));
                    if self.fast_span_events {
                        events::entered(id);
                    }
                    return;
                }
            }
        }
        if let Some(spans) = &self.spans {
            spans.on_enter(id, ctx);
            if self.fast_span_events {
                events::entered(id);
            }
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_exit(id, ctx);
        }
        if self.fast_span_events {
            events::exited(id);
        }
        if self
            .signals
            .as_ref()
            .is_some_and(|s| s.never_samples || s.enter_checks_skip)
        {
            let detached = ATTACHED.try_with(|a| {
                let mut a = a.borrow_mut();
                match a.iter().rposition(|(entered, _)| entered == id) {
                    Some(i) => {
                        // Guards drop in reverse order of attachment.
                        while a.len() > i {
                            drop(a.pop());
                        }
                        true
                    }
                    None => false,
                }
            });
            if detached == Ok(true) {
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
        if let Some(signals) = &self.signals {
            if let Some(span) = ctx.span(&id) {
                let ext = span.extensions();
                if let Some(state) = ext.get::<SpanState>() {
                    skipped = state.skipped();
                    if let (Some(m), Some(timing)) = (&signals.span_metrics, &state.timing) {
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
        if id == TypeId::of::<MarkError>() && self.signals.is_some() {
            return Some(&self.mark_error as *const MarkError as *const ());
        }
        if id == TypeId::of::<crate::__private::InstanceMetrics>() {
            if let Some(signals) = &self.signals {
                // A field of `self.signals`: it lives as long as the layer.
                let metrics: *const crate::__private::InstanceMetrics = &signals.instance_metrics;
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
