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

/// A `u64` for a wire with signed integers only (OpenTelemetry's): the `i64` when it
/// fits, else its decimal text.
#[inline]
pub(crate) fn signed_or_text(v: u64) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| v.to_string())
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
            FieldValue::U64(v) => match signed_or_text(v) {
                Ok(i) => opentelemetry::Value::I64(i),
                Err(text) => opentelemetry::Value::String(text.into()),
            },
            FieldValue::F64(v) => opentelemetry::Value::F64(v),
            FieldValue::Bool(v) => opentelemetry::Value::Bool(v),
        }
    }

    /// As an OpenTelemetry value (see [`into_otel`](Self::into_otel)), copying a string.
    pub(crate) fn to_otel(&self) -> opentelemetry::Value {
        self.clone().into_otel()
    }

    /// As a JSON value: numbers stay numbers (a non-finite `F64` becomes its text).
    /// (JSON lines are written through this type's `Serialize`; tests compare the two.)
    #[cfg(test)]
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
#[derive(Debug, Clone)]
pub(crate) struct All;

impl Select for All {
    const TEXT: Option<&'static [&'static str]> = None;
}

/// The field visitor: collects the fields of an event or span (those `S` selects), the
/// `message` apart, the rest in order.
#[derive(Debug, Clone)]
pub(crate) struct Fields<S = All> {
    /// The `message` field, as text.
    pub message: Option<Text>,
    /// The other fields, in order.
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

impl Default for Fields {
    fn default() -> Fields {
        Fields::new()
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

    /// Empties the visitor for another visit (the field list keeps its room).
    pub(crate) fn clear(&mut self) {
        self.message = None;
        self.values.clear();
        self.has_error = false;
    }

    #[inline(always)]
    fn push(&mut self, field: &Field, value: FieldValue) {
        if field.name() == "message" {
            let _ = write!(self.message.insert(Text::default()), "{value}");
        } else {
            self.values.push((field.name(), value));
        }
    }
}

impl<S: Select> Fields<S> {
    /// A value of a type of its own: as that type, or as text when `S` says so.
    #[inline(always)]
    fn typed(&mut self, field: &Field, debug: &dyn fmt::Debug, value: impl FnOnce() -> FieldValue) {
        if S::TEXT.is_some() {
            return self.text(field, Err(debug));
        }
        let value = value();
        self.push(field, value);
    }

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
        self.typed(field, &value, || FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.typed(field, &value, || FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.typed(field, &value, || FieldValue::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.typed(field, &value, || FieldValue::from_i128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.typed(field, &value, || FieldValue::from_u128(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.typed(field, &value, || FieldValue::Bool(value));
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
            // Written in place: no copy of the text once formatted.
            let _ = write!(self.message.insert(Text::default()), "{value:?}");
        } else {
            self.push(field, FieldValue::Str(format!("{value:?}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::Layer;

    use super::*;

    /// Reads the fields of every event with a visitor of `S`.
    struct Reader<S>(Arc<Mutex<Vec<Fields<S>>>>);

    impl<S: Select + Send + Sync + 'static, C: tracing_core::Subscriber> Layer<C> for Reader<S> {
        fn on_event(&self, event: &tracing_core::Event<'_>, _: Context<'_, C>) {
            let mut fields = Fields::<S>::selecting();
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields);
        }
    }

    fn read<S: Select + Send + Sync + 'static>(emit: impl FnOnce()) -> Fields<S> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Reader::<S>(seen.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        let mut seen = seen.lock().unwrap();
        seen.pop().unwrap()
    }

    #[derive(Debug)]
    struct Failed(std::io::Error);

    impl fmt::Display for Failed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("request failed")
        }
    }

    impl std::error::Error for Failed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn every_field_is_read_as_its_type_with_the_message_apart() {
        let err = Failed(std::io::Error::other("refused"));
        let fields = read::<All>(|| {
            tracing::info!(
                n = 7_u64,
                big = u128::MAX,
                ok = true,
                who = "bob",
                err = &err as &dyn std::error::Error,
                "hello {}",
                1
            );
        });
        assert_eq!(fields.message.as_ref().map(Text::as_str), Some("hello 1"));
        assert!(fields.has_error);
        let values: Vec<_> = fields.values.into_iter().collect();
        assert_eq!(
            values,
            vec![
                ("n", FieldValue::U64(7)),
                ("big", FieldValue::Str(u128::MAX.to_string())),
                ("ok", FieldValue::Bool(true)),
                ("who", FieldValue::Str("bob".into())),
                ("err", FieldValue::Str("request failed: refused".into())),
            ]
        );
    }

    struct Named;

    impl Select for Named {
        const TEXT: Option<&'static [&'static str]> = Some(&["error.type", "code"]);
    }

    #[test]
    fn selected_fields_are_read_as_text_and_the_others_skipped() {
        let fields = read::<Named>(|| {
            tracing::info!(error.type = ?"timeout", code = 1.0_f64, other = "x", "message");
        });
        assert!(fields.message.is_none());
        let values: Vec<_> = fields.values.into_iter().collect();
        assert_eq!(
            values,
            vec![
                ("error.type", FieldValue::Str("timeout".into())),
                ("code", FieldValue::Str("1.0".into())),
            ]
        );
    }

    #[test]
    fn numbers_convert_the_same_way_everywhere() {
        assert_eq!(FieldValue::I64(-1).as_u64(), None);
        assert_eq!(FieldValue::I64(3).as_u64(), Some(3));
        assert_eq!(FieldValue::U64(u64::MAX).as_i64(), Some(i64::MAX));
        assert_eq!(FieldValue::U64(3).as_f64(), None);
        assert_eq!(FieldValue::U64(3).into_otel(), opentelemetry::Value::I64(3));
        assert_eq!(
            FieldValue::U64(u64::MAX).to_otel(),
            opentelemetry::Value::String(u64::MAX.to_string().into())
        );
        assert_eq!(FieldValue::from_i128(-5), FieldValue::I64(-5));
        assert_eq!(FieldValue::from_u128(5), FieldValue::U64(5));
    }
}
