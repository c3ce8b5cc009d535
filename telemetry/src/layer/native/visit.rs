//! How a native span takes in values: its `tracing` fields (each straight into an
//! attribute of its type, `otel.*` fields into its name, kind and status), the `dyn
//! Error` values of fields and events, and the callsite's and thread's attributes.

use std::borrow::Cow;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::KeyValue;

use super::Recording;
use crate::fields::FieldValue;

/// A field of its own meaning on a span.
pub(super) fn special(recording: &mut Recording, key: &'static str, value: &FieldValue) -> bool {
    let text = || match value {
        FieldValue::Str(s) => s.clone(),
        other => other.to_string(),
    };
    match key {
        "otel.name" => recording.name = Cow::Owned(text()),
        "otel.kind" => {
            recording.kind = match text().to_ascii_lowercase().as_str() {
                "server" => SpanKind::Server,
                "client" => SpanKind::Client,
                "producer" => SpanKind::Producer,
                "consumer" => SpanKind::Consumer,
                _ => SpanKind::Internal,
            }
        }
        "otel.status_code" => match text().to_ascii_lowercase().as_str() {
            "ok" => recording.status = Status::Ok,
            "error" if !matches!(recording.status, Status::Error { .. }) => {
                recording.status = Status::error("");
            }
            _ => {}
        },
        "otel.status_description" => recording.status = Status::error(text()),
        _ => return false,
    }
    true
}

/// The visitor of a span's fields: each straight into an attribute of its type (a
/// `u64` up to `i64::MAX` an integer), `otel.*` fields into the span's name, kind and
/// status, a `dyn Error` as tracing-opentelemetry records one (its message, its
/// `.chain`, and `exception.message` and `exception.stacktrace`).
pub(super) struct SpanFields<'a> {
    pub(super) recording: &'a mut Recording,
    /// Values recorded after the span's creation replace earlier ones.
    pub(super) replace: bool,
}

impl SpanFields<'_> {
    /// A value through [`FieldValue`], for an `otel.*` field (which may mean something
    /// of its own) and the rarer types.
    fn value(&mut self, field: &tracing_core::Field, value: FieldValue) {
        let key = field.name();
        if key.starts_with("otel.") && special(self.recording, key, &value) {
            return;
        }
        self.recording.push(key, value.into_otel(), self.replace);
    }

    /// A value straight into an attribute, unless its field is an `otel.*` one.
    #[inline]
    fn plain(
        &mut self,
        field: &tracing_core::Field,
        value: impl FnOnce() -> opentelemetry::Value,
        or: impl FnOnce() -> FieldValue,
    ) {
        let key = field.name();
        if key.starts_with("otel.") {
            return self.value(field, or());
        }
        self.recording.push(key, value(), self.replace);
    }
}

impl tracing_core::field::Visit for SpanFields<'_> {
    fn record_f64(&mut self, field: &tracing_core::Field, value: f64) {
        self.plain(field, || value.into(), || FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &tracing_core::Field, value: i64) {
        self.plain(field, || value.into(), || FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &tracing_core::Field, value: u64) {
        self.plain(
            field,
            || match crate::fields::signed_or_text(value) {
                Ok(i) => i.into(),
                Err(text) => text.into(),
            },
            || FieldValue::U64(value),
        );
    }
    fn record_i128(&mut self, field: &tracing_core::Field, value: i128) {
        self.value(field, FieldValue::from_i128(value));
    }
    fn record_u128(&mut self, field: &tracing_core::Field, value: u128) {
        self.value(field, FieldValue::from_u128(value));
    }
    fn record_bool(&mut self, field: &tracing_core::Field, value: bool) {
        self.plain(field, || value.into(), || FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &tracing_core::Field, value: &str) {
        let key = field.name();
        if key.starts_with("otel.") {
            return self.value(field, FieldValue::Str(value.to_owned()));
        }
        self.recording.push_text(key, value, self.replace);
    }
    fn record_debug(&mut self, field: &tracing_core::Field, value: &dyn std::fmt::Debug) {
        self.value(field, FieldValue::Str(format!("{value:?}")));
    }
    fn record_error(
        &mut self,
        field: &tracing_core::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        let mut errors = ErrorChains::default();
        errors.record_error(field, value);
        if let Some((name, message, chain)) = errors.0.pop() {
            let replace = self.replace;
            let r = &mut *self.recording;
            r.push("exception.message", message.clone().into(), true);
            r.push("exception.stacktrace", chain_value(&chain), true);
            r.push(name, message.into(), replace);
            let key = format!("{name}.chain");
            r.attributes.retain(|kv| kv.key.as_str() != key);
            if r.attributes.len() < r.limits.attributes as usize {
                r.attributes.push(KeyValue::new(key, chain_value(&chain)));
            }
        }
    }
}

/// The `dyn Error` values of an event: field name, message, and the messages of its
/// sources.
#[derive(Debug, Default)]
pub(crate) struct ErrorChains(pub(super) Vec<(&'static str, String, Vec<String>)>);

impl tracing_core::field::Visit for ErrorChains {
    fn record_error(
        &mut self,
        field: &tracing_core::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        let mut chain = Vec::new();
        let mut next = value.source();
        while let Some(e) = next {
            chain.push(e.to_string());
            next = e.source();
        }
        self.0.push((field.name(), value.to_string(), chain));
    }

    fn record_debug(&mut self, _: &tracing_core::Field, _: &dyn std::fmt::Debug) {}
}

pub(super) fn chain_value(chain: &[String]) -> opentelemetry::Value {
    opentelemetry::Value::Array(opentelemetry::Array::String(
        chain.iter().map(|s| s.clone().into()).collect(),
    ))
}
