//! Span events without tracing-opentelemetry's per-event cost.
//!
//! When events are recorded as span events (no log backend, or `span_events(true)`),
//! tracing-opentelemetry formats every non-string field through `Debug` and grows its
//! attribute vector field by field: about 4,500 instructions for an event with two
//! integer fields. The common case, an event written inside the span that is entered
//! on this thread, is recorded here straight onto that span through the OpenTelemetry
//! API, with the same name and attributes; integers stay integers.
//!
//! The span is found through the current OpenTelemetry context, which
//! tracing-opentelemetry attaches when a span is entered. A thread-local stack records,
//! at each enter, which OpenTelemetry span became current for which `tracing` span, so
//! that an event is only recorded here when both still agree (a context attached by
//! hand inside the span, an explicit parent, a filtered span, a span of another
//! subscriber entered meanwhile: the event takes tracing-opentelemetry's path instead).
//! Span ids are unique only within one registry, so every entry also names the layer
//! instance that made it, and a layer only ever reads and removes its own entries.
//! Errors (`ERROR` events, `error` fields, `dyn Error` values) and events bridged from
//! the `log` crate always take that path: they set the span status and become exception
//! events there.
//!
//! The attributes come from the crate's one field list
//! ([`Fields`](crate::fields::Fields)), each value moved into its OpenTelemetry value.

use std::cell::RefCell;

use opentelemetry::trace::{SpanId, TraceContextExt as _};
use opentelemetry::{Key, KeyValue, StringValue, Value};
use tracing_core::span::Id;
use tracing_core::{Event, Metadata};

use super::LayerKey;
use crate::fields::{FieldList, Text};

/// One span entered on this thread.
#[derive(Debug)]
struct Entered {
    /// The layer instance that entered it (see [`LayerKey`]).
    layer: LayerKey,
    /// The span's id in that layer's registry.
    span: u64,
    /// The OpenTelemetry span current right after it was entered.
    otel: SpanId,
}

thread_local! {
    /// Spans entered on this thread, innermost last, by every telemetry layer.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

fn current_span_id() -> SpanId {
    opentelemetry::Context::map_current(|cx| cx.span().span_context().span_id())
}

/// Notes the OpenTelemetry span current after `layer` entered `id`.
pub(crate) fn entered(layer: LayerKey, id: &Id) {
    let entry = Entered {
        layer,
        span: id.into_u64(),
        otel: current_span_id(),
    };
    let _ = ENTERED.try_with(|e| e.borrow_mut().push(entry));
}

/// Forgets the innermost entry of `id` made by `layer`.
pub(crate) fn exited(layer: LayerKey, id: &Id) {
    let id = id.into_u64();
    let _ = ENTERED.try_with(|e| {
        let mut e = e.borrow_mut();
        if let Some(i) = e.iter().rposition(|x| x.layer == layer && x.span == id) {
            e.remove(i);
        }
    });
}

/// Where an event's span event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Recorded here ([`add`]) onto the span entered on this thread.
    Here,
    /// Nowhere: outside any span, or the span does not record (as tracing-opentelemetry).
    Nowhere,
    /// tracing-opentelemetry's path.
    Sdk,
}

/// Whether the callsite's fields ask for tracing-opentelemetry's special handling.
fn special(meta: &Metadata<'_>) -> bool {
    meta.fields()
        .iter()
        .any(|f| f.name() == "error" || f.name().starts_with("log."))
}

/// Where the span event of `event` goes. `current` is the `tracing` span current on
/// this thread, as the registry of `layer` sees it.
pub(crate) fn route(layer: LayerKey, event: &Event<'_>, current: Option<&Id>) -> Route {
    let meta = event.metadata();
    if !event.is_contextual() || *meta.level() == tracing_core::Level::ERROR || special(meta) {
        return Route::Sdk;
    }
    let Some(current) = current else {
        // Outside any span, tracing-opentelemetry records nothing either.
        return Route::Nowhere;
    };
    // The span this layer entered last must be the current one.
    let expected = ENTERED.try_with(|e| {
        e.borrow()
            .iter()
            .rev()
            .find(|x| x.layer == layer)
            .filter(|x| x.span == current.into_u64())
            .map(|x| x.otel)
    });
    let Ok(Some(expected)) = expected else {
        return Route::Sdk;
    };
    let recording = opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        (span.span_context().span_id() == expected).then(|| span.is_recording())
    });
    match recording {
        None => Route::Sdk,
        Some(false) => Route::Nowhere,
        Some(true) => Route::Here,
    }
}

/// Adds the event of callsite `meta`, routed [`Route::Here`], to the current span:
/// named by its `message` (else the callsite's name), with its field `values` as
/// attributes beside `level` and `target` (and the callsite's location when
/// `location`), moved out of the list unless `keep` (another output still needs them).
/// An event with a `dyn Error` value
/// ([`Fields::has_error`](crate::fields::Fields::has_error)) is not for here: it goes
/// to tracing-opentelemetry, which makes it an exception event.
#[inline(never)]
pub(crate) fn add(
    meta: &'static Metadata<'static>,
    message: Option<&Text>,
    values: &mut FieldList,
    keep: bool,
    location: bool,
) {
    let extra = if location { 3 } else { 0 };
    let mut attributes = Vec::with_capacity(2 + values.len() + extra);
    attributes.push(KeyValue::new(
        Key::from_static_str("level"),
        Value::String(StringValue::from(meta.level().as_str())),
    ));
    attributes.push(KeyValue::new(
        Key::from_static_str("target"),
        Value::String(StringValue::from(meta.target())),
    ));
    if keep {
        for (k, v) in values.iter() {
            attributes.push(KeyValue::new(Key::from_static_str(k), v.to_otel()));
        }
    } else {
        for (k, v) in values.drain(..) {
            attributes.push(KeyValue::new(Key::from_static_str(k), v.into_otel()));
        }
    }
    if location {
        super::native::location(&mut attributes, meta);
    }
    let name: std::borrow::Cow<'static, str> = match message {
        Some(message) => message.as_str().to_owned().into(),
        None => meta.name().into(),
    };
    let time = std::time::SystemTime::now();
    opentelemetry::Context::map_current(|cx| {
        cx.span().add_event_with_timestamp(name, time, attributes);
    });
}
