//! The one field visitor and the one field list: [`Fields`] reads the fields of
//! `tracing` spans and events into an owned [`FieldList`], which spans (their outcome
//! fields and the fields local log outputs show), span events, logs and event metrics
//! all use. Also the one set of number conversions ([`FieldValue`]'s `as_*`, `into_otel`
//! and `from_*128`), so that a value converts the same way wherever it goes. This module
//! imports nothing of the crate.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;

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
    /// An `i128`: an `I64` when it fits, else its decimal text.
    pub(crate) fn from_i128(v: i128) -> FieldValue {
        match i64::try_from(v) {
            Ok(v) => FieldValue::I64(v),
            Err(_) => FieldValue::Str(v.to_string()),
        }
    }

    /// A `u128`: a `U64` when it fits, else its decimal text.
    pub(crate) fn from_u128(v: u128) -> FieldValue {
        match u64::try_from(v) {
            Ok(v) => FieldValue::U64(v),
            Err(_) => FieldValue::Str(v.to_string()),
        }
    }

    /// As an unsigned number (a counter's or histogram's): a `U64`, or an `I64` that is
    /// not negative.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match *self {
            FieldValue::U64(v) => Some(v),
            FieldValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// As a signed number (an up-down counter's): an `I64`, or a `U64` saturated at
    /// `i64::MAX`.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match *self {
            FieldValue::I64(v) => Some(v),
            FieldValue::U64(v) => Some(i64::try_from(v).unwrap_or(i64::MAX)),
            _ => None,
        }
    }

    /// As a floating-point number: an `F64` only.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::F64(v) => Some(v),
            _ => None,
        }
    }

    /// As an OpenTelemetry value, the string moved, not copied. OpenTelemetry has no
    /// unsigned integers: a `U64` becomes an `I64` when it fits, else its decimal text.
    #[inline]
    pub(crate) fn into_otel(self) -> opentelemetry::Value {
        match self {
            FieldValue::Str(s) => opentelemetry::Value::String(s.into()),
            FieldValue::I64(v) => opentelemetry::Value::I64(v),
            FieldValue::U64(v) => i64::try_from(v)
                .map(opentelemetry::Value::I64)
                .unwrap_or_else(|_| opentelemetry::Value::String(v.to_string().into())),
            FieldValue::F64(v) => opentelemetry::Value::F64(v),
            FieldValue::Bool(v) => opentelemetry::Value::Bool(v),
        }
    }

    /// As an OpenTelemetry value (see [`into_otel`](Self::into_otel)), copying a string.
    pub(crate) fn to_otel(&self) -> opentelemetry::Value {
        self.clone().into_otel()
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

/// The fields of one event or span, in order, inline up to four: most need no
/// allocation for the list.
pub(crate) type FieldList = SmallVec<[(&'static str, FieldValue); 4]>;

/// Text kept inline up to 64 bytes (a log message): written through `fmt::Write`, so a
/// short message costs no allocation on the hot path.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(SmallVec<[u8; 64]>);

impl Text {
    /// The text.
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        // Only whole `str`s are ever written, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Formats a `Debug` value (a message's `format_args!` most often).
    #[inline]
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

/// Which fields a visit of [`Fields`] reads, and how. A type, not a value, so that the
/// choice costs nothing while recording.
pub(crate) trait Select {
    /// `None`: every field, each value as its type, the `message` apart as text.
    /// `Some(names)`: only the fields named, each value as text (a `Debug` value as
    /// `Debug` writes it, without the quotes around a string; an error as `Display`
    /// writes it): how the few fields that decide a span's outcome are read, with
    /// nothing allocated for the others.
    const TEXT: Option<&'static [&'static str]>;
}

/// Every field, each value as its type (see [`Select`]).
#[derive(Debug)]
pub(crate) struct All;

impl Select for All {
    const TEXT: Option<&'static [&'static str]> = None;
}

/// The field visitor: collects the fields of an event or span (those `S` selects), the
/// `message` apart, the rest in order.
#[derive(Debug)]
pub(crate) struct Fields<S = All> {
    pub message: Option<Text>,
    pub values: FieldList,
    /// Whether a value was a `dyn Error` (recorded as its text with its sources).
    pub has_error: bool,
    select: PhantomData<S>,
}

impl Fields {
    /// A visitor of every field.
    #[inline]
    pub(crate) fn new() -> Fields {
        Fields::selecting()
    }
}

impl<S> Fields<S> {
    /// A visitor of the fields `S` selects.
    #[inline]
    pub(crate) fn selecting() -> Fields<S> {
        Fields {
            message: None,
            values: FieldList::new(),
            has_error: false,
            select: PhantomData,
        }
    }

    #[inline(always)]
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

impl<S: Select> Fields<S> {
    /// A value read as text ([`Select::TEXT`]), if `field` is named: a string as it is,
    /// anything else as `Debug` writes it, without the quotes around a string.
    #[cold]
    fn text(&mut self, field: &Field, value: Result<&str, &dyn fmt::Debug>) {
        if !S::TEXT.is_some_and(|names| names.contains(&field.name())) {
            return;
        }
        let text = match value {
            Ok(s) => s.to_string(),
            Err(debug) => {
                let text = format!("{debug:?}");
                match text.trim_matches('"') {
                    trimmed if trimmed.len() == text.len() => text,
                    trimmed => trimmed.to_string(),
                }
            }
        };
        self.values.push((field.name(), FieldValue::Str(text)));
    }
}

impl<S: Select> Visit for Fields<S> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if S::TEXT.is_some() {
            return self.text(field, Err(&value));
        }
        self.push(field, FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if S::TEXT.is_some() {
            return self.text(field, Err(&value));
        }
        self.push(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if S::TEXT.is_some() {
            return self.text(field, Err(&value));
        }
        self.push(field, FieldValue::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        if S::TEXT.is_some() {
            return self.text(field, Err(&value));
        }
        self.push(field, FieldValue::from_i128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        if S::TEXT.is_some() {
            return self.text(field, Err(&value));
        }
        self.push(field, FieldValue::from_u128(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if S::TEXT.is_some() {
            return self.text(field, Err(&value));
        }
        self.push(field, FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if S::TEXT.is_some() {
            return self.text(field, Ok(value));
        }
        if field.name() == "message" {
            self.message = Some(Text::from(value));
        } else {
            self.push(field, FieldValue::Str(value.to_string()));
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if S::TEXT.is_some() {
            return self.text(field, Err(&tracing_core::field::display(value)));
        }
        self.has_error = true;
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.push(field, FieldValue::Str(text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if S::TEXT.is_some() {
            return self.text(field, Err(value));
        }
        if field.name() == "message" {
            self.message = Some(Text::debug(value));
        } else {
            self.push(field, FieldValue::Str(format!("{value:?}")));
        }
    }
}
