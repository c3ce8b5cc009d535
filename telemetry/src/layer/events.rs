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
//! instance that made it, and a layer only ever reads and removes its own entries. Errors (`ERROR` events, `error` fields,
//! `dyn Error` values) and events bridged from the `log` crate always take that path:
//! they set the span status and become exception events there.

use std::cell::RefCell;
use std::fmt;

use opentelemetry::trace::{SpanId, TraceContextExt as _};
use opentelemetry::{Key, KeyValue, StringValue, Value};
use tracing_core::field::{Field, Visit};
use tracing_core::span::Id;
use tracing_core::{Event, Metadata};

/// One span entered on this thread.
#[derive(Debug)]
struct Entered {
    /// The layer instance that entered it (see [`super::LayerKey`]).
    layer: super::LayerKey,
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
pub(crate) fn entered(layer: super::LayerKey, id: &Id) {
    let entry = Entered {
        layer,
        span: id.into_u64(),
        otel: current_span_id(),
    };
    let _ = ENTERED.try_with(|e| e.borrow_mut().push(entry));
}

/// Forgets the innermost entry of `id` made by `layer`.
pub(crate) fn exited(layer: super::LayerKey, id: &Id) {
    let id = id.into_u64();
    let _ = ENTERED.try_with(|e| {
        let mut e = e.borrow_mut();
        if let Some(i) = e.iter().rposition(|x| x.layer == layer && x.span == id) {
            e.remove(i);
        }
    });
}

/// How an event was handled.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Recorded on the span (or dropped because the span does not record).
    Done,
    /// Not a case for this path: hand it to tracing-opentelemetry.
    Fallback,
}

/// Whether the callsite's fields ask for tracing-opentelemetry's special handling.
fn special(meta: &Metadata<'_>) -> bool {
    meta.fields()
        .iter()
        .any(|f| f.name() == "error" || f.name().starts_with("log."))
}

/// Records `event` as an event of the current span. `current` is the `tracing` span
/// current on this thread, as the registry of `layer` sees it.
pub(crate) fn record(
    layer: super::LayerKey,
    event: &Event<'_>,
    current: Option<&Id>,
    location: bool,
) -> Outcome {
    let meta = event.metadata();
    if !event.is_contextual() || *meta.level() == tracing_core::Level::ERROR || special(meta) {
        return Outcome::Fallback;
    }
    let Some(current) = current else {
        // Outside any span, tracing-opentelemetry records nothing either.
        return Outcome::Done;
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
        return Outcome::Fallback;
    };
    let recording = opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        (span.span_context().span_id() == expected).then(|| span.is_recording())
    });
    match recording {
        None => return Outcome::Fallback,
        Some(false) => return Outcome::Done,
        Some(true) => {}
    }
    let extra = if location { 3 } else { 0 };
    let mut visitor = EventVisitor {
        name: None,
        attributes: Vec::with_capacity(2 + meta.fields().len() + extra),
        fallback: false,
    };
    visitor.attributes.push(KeyValue::new(
        Key::from_static_str("level"),
        Value::String(StringValue::from(meta.level().as_str())),
    ));
    visitor.attributes.push(KeyValue::new(
        Key::from_static_str("target"),
        Value::String(StringValue::from(meta.target())),
    ));
    event.record(&mut visitor);
    if visitor.fallback {
        return Outcome::Fallback;
    }
    if location {
        if let Some(file) = meta.file() {
            visitor
                .attributes
                .push(KeyValue::new("code.file.path", file));
        }
        if let Some(module) = meta.module_path() {
            visitor
                .attributes
                .push(KeyValue::new("code.module.name", module));
        }
        if let Some(line) = meta.line() {
            visitor
                .attributes
                .push(KeyValue::new("code.line.number", i64::from(line)));
        }
    }
    let name: std::borrow::Cow<'static, str> = match visitor.name {
        Some(name) => name.into(),
        None => meta.name().into(),
    };
    let attributes = visitor.attributes;
    let time = std::time::SystemTime::now();
    opentelemetry::Context::map_current(|cx| {
        cx.span().add_event_with_timestamp(name, time, attributes);
    });
    Outcome::Done
}

/// Reads an event's fields into span-event attributes.
struct EventVisitor {
    name: Option<String>,
    attributes: Vec<KeyValue>,
    /// A field that needs tracing-opentelemetry's error handling.
    fallback: bool,
}

impl EventVisitor {
    fn push(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

impl Visit for EventVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, Value::I64(v)),
            Err(_) => self.push(field, Value::String(value.to_string().into())),
        }
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, Value::I64(v)),
            Err(_) => self.push(field, Value::String(value.to_string().into())),
        }
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, Value::I64(v)),
            Err(_) => self.push(field, Value::String(value.to_string().into())),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.name = Some(value.to_string());
        } else {
            self.push(field, Value::String(value.to_string().into()));
        }
    }
    fn record_error(&mut self, _field: &Field, _value: &(dyn std::error::Error + 'static)) {
        self.fallback = true;
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.name = Some(format!("{value:?}"));
        } else {
            self.push(field, Value::String(format!("{value:?}").into()));
        }
    }
}
