//! The one field visitor: it reads the fields of `tracing` spans and events into one
//! owned field list, which spans, span events, logs and event metrics all use. This
//! module imports nothing of the crate.

use std::fmt::{self, Write as _};

use smallvec::SmallVec;
use tracing_core::field::{Field, Visit};

/// An owned field value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

impl FieldValue {
    pub(crate) fn to_otel(&self) -> opentelemetry::Value {
        match self {
            FieldValue::Str(s) => opentelemetry::Value::String(s.clone().into()),
            FieldValue::I64(v) => opentelemetry::Value::I64(*v),
            FieldValue::U64(v) => i64::try_from(*v)
                .map(opentelemetry::Value::I64)
                .unwrap_or_else(|_| opentelemetry::Value::String(v.to_string().into())),
            FieldValue::F64(v) => opentelemetry::Value::F64(*v),
            FieldValue::Bool(v) => opentelemetry::Value::Bool(*v),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Str(s) => serde_json::Value::String(s.clone()),
            FieldValue::I64(v) => (*v).into(),
            FieldValue::U64(v) => (*v).into(),
            FieldValue::F64(v) => serde_json::Number::from_f64(*v)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| serde_json::Value::String(v.to_string())),
            FieldValue::Bool(v) => (*v).into(),
        }
    }
}

/// An event's fields, inline up to four: most events need no allocation for them.
pub(crate) type FieldList = SmallVec<[(&'static str, FieldValue); 4]>;

/// Text kept inline up to 64 bytes (a log message): written through `fmt::Write`, so a
/// short message costs no allocation on the hot path.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(SmallVec<[u8; 64]>);

impl Text {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only whole `str`s are ever written, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Formats a `Debug` value (a message's `format_args!` most often).
    pub(crate) fn debug(value: &dyn fmt::Debug) -> Text {
        let mut t = Text::default();
        let _ = write!(t, "{value:?}");
        t
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(SmallVec::from_slice(s.as_bytes()))
    }
}

/// Collects every field of an event or span: the `message` apart, the rest in order.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub message: Option<Text>,
    pub values: FieldList,
}

impl Fields {
    fn push(&mut self, field: &Field, value: FieldValue) {
        if field.name() == "message" {
            let mut t = Text::default();
            let _ = write!(t, "{value}");
            self.message = Some(t);
        } else {
            self.values.push((field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, FieldValue::I64(v)),
            Err(_) => self.push(field, FieldValue::Str(value.to_string())),
        }
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.push(field, FieldValue::U64(v)),
            Err(_) => self.push(field, FieldValue::Str(value.to_string())),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(Text::from(value));
        } else {
            self.push(field, FieldValue::Str(value.to_string()));
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.push(field, FieldValue::Str(text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(Text::debug(value));
        } else {
            self.push(field, FieldValue::Str(format!("{value:?}")));
        }
    }
}
