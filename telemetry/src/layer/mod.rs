//! [`TelemetryLayer`]: the one layer that turns `tracing` data into telemetry.

mod callsites;
mod event_metrics;
mod native;
mod settings;
mod skip;
mod span_events;
mod span_ext;
mod span_metrics;
mod span_state;

pub(crate) use self::event_metrics::EventMetrics;
pub(crate) use self::span_metrics::SpanMetrics;
pub(crate) use self::span_state::mark_error;

pub(crate) use self::native::{Ended, NativeSpans, Shortcut, Spares};
pub(crate) use self::settings::SpanLimits;
pub use self::settings::{SpanDetails, SpanRecorder, TELEMETRY_SPAN_RECORDER};
pub use self::settings::{
    OTEL_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
};
pub use self::span_ext::TelemetrySpanExt;

use std::any::TypeId;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use self::span_events::Route;
use self::span_state::{MarkError, SpanState, WithSkipped};
use crate::fields::Fields;
use crate::logs::LogSinks;
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
/// with other layers and per-layer filters, and [`TelemetrySpanExt`] works through
/// it.
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
    /// Span events are recorded by [`span_events`] where it can (see there).
    fast_span_events: bool,
    location: bool,
    /// The flight recorder's table of running spans, when it is on.
    running: Option<Arc<crate::recorder::Running>>,
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
/// layer made from one [`Telemetry`](crate::Telemetry).
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
    /// spans skip tracing-opentelemetry (see [`Skipped`](skip::Skipped)). Under any
    /// other sampler every span goes through tracing-opentelemetry, which decides when
    /// the span starts, so that a parent given by `set_parent` before then, or a
    /// context attached by hand, decides as it should. Also true on the native span
    /// path, where every span is the layer's own.
    pub never_samples: bool,
    /// The native span path, when chosen ([`SpanRecorder::Native`]).
    pub native: Option<Arc<NativeSpans>>,
}

impl Outputs {
    /// Whether spans may have a [`SpanState`]: with span metrics, skipped spans, or
    /// span fields kept for local log outputs. Otherwise no callback looks the span up.
    fn keeps_span_state(&self) -> bool {
        self.span_metrics.is_some()
            || self.never_samples
            || self.logs.as_ref().is_some_and(LogSinks::wants_span_fields)
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
        running: Option<Arc<crate::recorder::Running>>,
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
        let off_layer = spans.is_none() && outputs.is_none();
        let off = off_layer.then(|| Off.with_filter(Never));
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
            running: running.filter(|_| !off_layer),
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
        let (skipped, started) = match &self.outputs {
            Some(outputs) => SpanState::insert_new(attrs, id, &ctx, outputs),
            None => (false, None),
        };
        if let Some(running) = &self.running {
            // The span metric's start when there is one: one clock read per span.
            running.opened(id, attrs.metadata(), started);
        }
        // tracing-opentelemetry never sees a skipped span.
        if let Some(spans) = self.spans.as_ref().filter(|_| !skipped) {
            spans.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_record(span, values, ctx);
        }
        if self.outputs.as_ref().is_some_and(|o| o.keeps_span_state()) {
            if let Some(s) = ctx.span(span) {
                if let Some(state) = s.extensions_mut().get_mut::<SpanState>() {
                    state.record(values);
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
        if self.outputs.as_ref().is_some_and(|o| o.native.is_some()) {
            return native_link(span, follows, &ctx);
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
        let needs_span = is_error || outputs.logs.as_ref().is_some_and(|l| l.wants_span_fields());
        let mut current = if needs_span {
            ctx.event_span(event)
        } else {
            None
        };
        if is_error {
            if let Some(span) = &current {
                if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
                    if let Some(timing) = &mut state.timing {
                        timing.fail(None);
                    }
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
        let to_logs = log_this && !metric_only;
        // This layer's own span-event path (see `span_events`), chosen before the one
        // visit of the fields; `Sdk` leaves the span event to tracing-opentelemetry.
        let mut own = Route::Sdk;
        if self.fast_span_events && !is_error && !metric_only {
            own = span_events::route(self.key, event, ctx.current_span().id());
        }
        // The native path records the span event itself (errors always, the rest when
        // events are span events), when the event's span still has a recording: not
        // under a sampler that samples nothing, nor once the sampler dropped the span.
        let native_event = outputs.native.as_ref().is_some_and(|n| !n.samples_nothing)
            && !metric_only
            && (is_error || outputs.span_events)
            && {
                if current.is_none() {
                    current = ctx.event_span(event);
                }
                current
                    .as_ref()
                    .is_some_and(|span| recording_of(&mut span.extensions_mut()).is_some())
            };
        if metric_event || log_this || own == Route::Here || native_event {
            // One visit of the event's fields, for every output: straight into the log
            // record when there is one.
            let logs = outputs.logs.as_ref().filter(|_| to_logs);
            let mut record = logs.map(|l| l.blank(meta));
            let mut alone;
            let fields = match &mut record {
                Some(record) => &mut record.read,
                None => {
                    alone = Fields::new();
                    &mut alone
                }
            };
            event.record(fields);
            if metric_event {
                if let Some(m) = &outputs.event_metrics {
                    m.record(fields);
                }
            }
            if own == Route::Here {
                own = Route::Nowhere;
                if fields.has_error {
                    own = Route::Sdk;
                } else {
                    let message = fields.message.as_ref();
                    span_events::add(meta, message, &mut fields.values, to_logs, self.location);
                }
            }
            if native_event {
                if let Some(span) = &current {
                    native_event_on(span, event, fields);
                }
            }
            if let (Some(logs), Some(record)) = (logs, record) {
                let spans = match &current {
                    Some(span) if logs.wants_span_fields() => span_state::stack_fields(span),
                    _ => Vec::new(),
                };
                logs.record(record, spans);
            }
        }
        drop(current);
        if let Some(spans) = &self.spans {
            if is_error || (outputs.span_events && !metric_only && own == Route::Sdk) {
                spans.on_event(event, ctx);
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
                    skip::attach(self.key, id, cx);
                    if self.fast_span_events {
                        span_events::entered(self.key, id);
                    }
                    if let Some(running) = &self.running {
                        running.entered(id);
                    }
                    return;
                }
            }
        }
        if let Some(spans) = &self.spans {
            spans.on_enter(id, ctx);
            if self.fast_span_events {
                span_events::entered(self.key, id);
            }
        }
        if let Some(running) = &self.running {
            running.entered(id);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_exit(id, ctx);
        }
        if self.fast_span_events {
            span_events::exited(self.key, id);
        }
        if self.outputs.as_ref().is_some_and(|s| s.never_samples) && skip::detach(self.key, id) {
            return;
        }
        if let Some(spans) = &self.spans {
            spans.on_exit(id, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(off) = &self.off {
            return off.on_close(id, ctx);
        }
        if let Some(running) = &self.running {
            running.closed(&id);
        }
        let mut skipped = false;
        // Only span metrics and skipped spans have anything to do at the close.
        if let Some(outputs) = self
            .outputs
            .as_ref()
            .filter(|o| o.span_metrics.is_some() || o.never_samples)
        {
            if let Some(span) = ctx.span(&id) {
                let mut ext = span.extensions_mut();
                if let Some(state) = ext.get_mut::<SpanState>() {
                    skipped = state.skipped.is_some();
                    // One clock reading for the span's end and its duration metric.
                    let recorded = outputs.native.as_ref().filter(|_| {
                        state
                            .skipped
                            .as_ref()
                            .is_some_and(|s| s.recording.is_some())
                    });
                    let now = (state.timing.is_some() || recorded.is_some())
                        .then(std::time::Instant::now);
                    if let (Some(m), Some(timing), Some(now)) =
                        (&outputs.span_metrics, &state.timing, now)
                    {
                        m.record(span.metadata(), timing, now);
                    }
                    // The native path exports the span now.
                    if let (Some(native), Some(now)) = (recorded, now) {
                        if let Some(own) = state.skipped.take() {
                            drop(ext);
                            own.end(native, now);
                        }
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
    // the type ids it recognises (this is how tracing-opentelemetry's `OpenTelemetrySpanExt` finds it).
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

/// `span` follows from `follows`, on the native path: a link to its context.
fn native_link<S>(span: &Id, follows: &Id, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    use opentelemetry::trace::TraceContextExt as _;
    let Some(other) = ctx.span(follows) else {
        return;
    };
    let to = {
        let mut ext = other.extensions_mut();
        let Some(own) = ext.get_mut::<SpanState>().and_then(|s| s.skipped.as_mut()) else {
            return;
        };
        own.context().span().span_context().clone()
    };
    if let Some(this) = ctx.span(span) {
        if let Some(recording) = recording_of(&mut this.extensions_mut()) {
            recording.link(to, Vec::new());
        }
    }
}

/// The native recording of a span, if it has one.
fn recording_of<'a>(
    ext: &'a mut tracing_subscriber::registry::ExtensionsMut<'_>,
) -> Option<&'a mut native::Recording> {
    ext.get_mut::<SpanState>()?.skipped.as_mut()?.recording()
}

/// Records `event` (its fields already read) on `span`'s native recording, if any.
fn native_event_on<S>(
    span: &tracing_subscriber::registry::SpanRef<'_, S>,
    event: &Event<'_>,
    fields: &Fields,
) where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let mut ext = span.extensions_mut();
    if let Some(recording) = recording_of(&mut ext) {
        let mut errors = native::ErrorChains::default();
        // The sources of a `dyn Error` value, which the field list keeps as one text.
        if fields.has_error {
            event.record(&mut errors);
        }
        recording.event(event.metadata(), fields, &errors);
    }
}
