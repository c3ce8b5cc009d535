//! [`SpanState`]: all the layer keeps per span, in one extension of the span (one
//! allocation, one lookup per callback): the span duration metric's timing, the
//! skipped-span state, and the fields local log outputs show. Also how code outside the
//! layer reaches it through the dispatcher ([`MarkError`], [`WithSkipped`]).

use std::sync::Arc;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::skip::Skipped;
use super::span_metrics::SpanTiming;
use super::Outputs;
use crate::fields::Fields;
use crate::logs::SpanFields;

/// What the layer keeps per span, in one extension.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// For the span duration metric, when the span is measured.
    pub(crate) timing: Option<SpanTiming>,
    /// Set when tracing-opentelemetry never sees the span.
    pub(crate) skipped: Option<Skipped>,
    /// The span's name and fields, when a local log output shows them: shared with the
    /// log records of the events written in the span (and boxed, so the state of every
    /// other span stays small).
    pub(crate) fields: Option<Arc<SpanFields>>,
}

impl SpanState {
    /// Keeps the state of the new span `id`, if the layer keeps any for it; returns
    /// whether the span is skipped, and when it started if its timing began.
    pub(crate) fn insert_new<S>(
        attrs: &Attributes<'_>,
        id: &Id,
        ctx: &Context<'_, S>,
        outputs: &Outputs,
    ) -> (bool, Option<std::time::Instant>)
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        // Under a sampler that samples nothing, tracing-opentelemetry never sees the
        // span: it costs only its metrics and logs (see `Skipped`).
        let native = outputs
            .native
            .as_ref()
            .filter(|n| outputs.never_samples && !n.samples_nothing);
        let measure = outputs
            .span_metrics
            .as_ref()
            .and_then(|m| m.measures(attrs.metadata()));
        // One clock reading for the span's start and its duration metric.
        let now = (native.is_some() || measure.is_some()).then(std::time::Instant::now);
        let skipped = outputs.never_samples.then(|| {
            let recording = native
                .zip(now)
                .map(|(n, now)| super::native::Recording::new(n, attrs, now));
            Skipped::new(attrs, explicit_parent_context(attrs, ctx), recording)
        });
        let timing = measure
            .zip(now)
            .map(|(site, now)| SpanTiming::start(site, attrs, now));
        let keep_fields = outputs
            .logs
            .as_ref()
            .is_some_and(crate::logs::LogSinks::wants_span_fields);
        let fields = keep_fields.then(|| {
            let mut fields = Fields::new();
            attrs.record(&mut fields);
            Arc::new(SpanFields {
                name: attrs.metadata().name(),
                fields: fields.values.into_vec(),
            })
        });
        let is_skipped = skipped.is_some();
        let started = timing.as_ref().map(SpanTiming::started);
        if timing.is_some() || is_skipped || fields.is_some() {
            if let Some(span) = ctx.span(id) {
                // Built in place: the one allocation of the span's state.
                span.extensions_mut().insert(SpanState {
                    timing,
                    skipped,
                    fields,
                });
            }
        }
        (is_skipped, started)
    }

    /// Takes in values recorded on the span after its creation.
    pub(crate) fn record(&mut self, values: &Record<'_>) {
        if let Some(timing) = &mut self.timing {
            timing.record(values);
        }
        if let Some(recording) = self.skipped.as_mut().and_then(Skipped::recording) {
            recording.record(values);
        }
        if let Some(kept) = &mut self.fields {
            let mut fields = Fields::new();
            values.record(&mut fields);
            // Records already written keep the values they were written with.
            let kept = Arc::make_mut(kept);
            for (k, v) in fields.values {
                kept.fields.retain(|(key, _)| *key != k);
                kept.fields.push((k, v));
            }
        }
    }
}

/// The own context of the explicit parent of a new span, when that parent is skipped.
fn explicit_parent_context<S>(
    attrs: &Attributes<'_>,
    ctx: &Context<'_, S>,
) -> Option<opentelemetry::Context>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let span = ctx.span(attrs.parent()?)?;
    let mut ext = span.extensions_mut();
    let skipped = ext.get_mut::<SpanState>()?.skipped.as_mut()?;
    Some(skipped.context().clone())
}

/// The name and fields of `span` and its ancestors that local log outputs show,
/// outermost first.
#[inline(never)]
pub(crate) fn stack_fields<S>(span: &SpanRef<'_, S>) -> Vec<Arc<SpanFields>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    span.scope()
        .from_root()
        .filter_map(|s| {
            Some(Arc::clone(
                s.extensions().get::<SpanState>()?.fields.as_ref()?,
            ))
        })
        .collect()
}

/// Runs `f` with the state of span `id` in `dispatch`, when its subscriber is an `S`
/// and keeps state for that span.
fn with_state<S, R>(dispatch: &Dispatch, id: &Id, f: impl FnOnce(&mut SpanState) -> R) -> Option<R>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    let mut ext = span.extensions_mut();
    ext.get_mut::<SpanState>().map(f)
}

/// Lets code outside the layer (the attribute macros) mark a span as failed, so its
/// duration metric gets `outcome = error` and the `error.type`. Found through the
/// dispatcher, as tracing-opentelemetry's `WithContext` is.
#[derive(Clone, Copy)]
pub(crate) struct MarkError(pub(crate) fn(&Dispatch, &Id, &'static str));

impl MarkError {
    /// The hook of a layer over the subscriber `S`.
    pub(crate) fn of<S>() -> MarkError
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        MarkError(|dispatch, id, kind| {
            with_state::<S, _>(dispatch, id, |state| {
                if let Some(timing) = &mut state.timing {
                    timing.fail(Some(kind));
                }
            });
        })
    }
}

/// Marks the span `id` as failed with `kind` for the span metrics, if a telemetry layer
/// is installed in `dispatch`.
pub(crate) fn mark_error(dispatch: &Dispatch, id: &Id, kind: &'static str) {
    if let Some(mark) = dispatch.downcast_ref::<MarkError>() {
        (mark.0)(dispatch, id, kind);
    }
}

/// Lets [`TelemetrySpanExt`](super::TelemetrySpanExt) reach the spans the
/// layer keeps from tracing-opentelemetry: calls the function with the span's
/// [`Skipped`] state and returns true when `id` is such a span. Found through the
/// dispatcher, as [`MarkError`]; offered only by a layer whose sampler samples nothing.
#[derive(Clone, Copy)]
pub(crate) struct WithSkipped(pub(crate) WithSkippedFn);

/// See [`WithSkipped`].
pub(crate) type WithSkippedFn = fn(&Dispatch, &Id, &mut dyn FnMut(&mut Skipped)) -> bool;

impl WithSkipped {
    /// The hook of a layer over the subscriber `S`.
    pub(crate) fn of<S>() -> WithSkipped
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        WithSkipped(|dispatch, id, f| {
            with_state::<S, _>(dispatch, id, |state| {
                state.skipped.as_mut().map(f).is_some()
            })
            .unwrap_or(false)
        })
    }
}
