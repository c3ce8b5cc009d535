//! The line formats of local outputs: pretty lines and JSON lines.

use std::fmt::Write as _;

use super::{severity, LogRecord};
use crate::fields::FieldValue;
use crate::health::Rfc3339;

/// A pretty line, in the form `tracing-subscriber`'s `fmt` users know:
///
/// ```text
/// 2026-11-21T19:31:02.123Z  INFO checkout::api: handle{order=42}:charge{card="visa 4242"}: card declined attempt=2 trace_id=4bf92f3577b34da6a3ce929d0e0e4736
/// ```
///
/// - the time (RFC 3339, UTC, milliseconds), the level right-aligned in five columns,
///   the event's target and a colon;
/// - the spans the event was written in, outermost first, each as `name{fields}`
///   (`name` alone when it shows no field), joined by `:` and followed by a colon; a
///   span shows its own fields, not the library's (`otel.*`, `code.*`, `thread.*`,
///   `busy_ns`, `idle_ns`), at most [`MAX_SPAN_FIELDS`] of them;
/// - the message, then the event's fields as `key=value`;
/// - `trace_id=` and the 32 hex digits, when the event was written in a trace.
///
/// Text values with spaces, quotes or nothing in them are quoted; any value longer
/// than [`MAX_VALUE`] characters is cut, with `…`. The JSON format keeps everything.
pub(crate) fn pretty_line(r: &LogRecord, out: &mut String) {
    line(r, out, false);
}

/// The console's line of an event, printed as it happens: a pretty line whose trace is
/// named by the first eight hex digits of its id (`trace=4bf92f35`), the prefix of the
/// id the trace's tree is printed under when it ends.
pub(crate) fn console_line(r: &LogRecord, out: &mut String) {
    line(r, out, true);
}

fn line(r: &LogRecord, out: &mut String, short_trace: bool) {
    let _ = write!(
        out,
        "{} {:>5} {}:",
        Rfc3339::of(r.time).as_str(),
        severity(r.level()).1,
        r.target(),
    );
    if !r.spans.is_empty() {
        out.push(' ');
        for (n, span) in r.spans.iter().enumerate() {
            if n > 0 {
                out.push(':');
            }
            out.push_str(span.name);
            let mut shown = span.fields.iter().filter(|(k, _)| !library_field(k));
            if let Some((k, v)) = shown.next() {
                let _ = write!(out, "{{{k}=");
                write_value(out, v);
                for (k, v) in shown.by_ref().take(MAX_SPAN_FIELDS - 1) {
                    let _ = write!(out, " {k}=");
                    write_value(out, v);
                }
                if shown.next().is_some() {
                    out.push_str(" …");
                }
                out.push('}');
            }
        }
        out.push(':');
    }
    let _ = write!(out, " {}", r.message());
    for (k, v) in &r.read.values {
        let _ = write!(out, " {k}=");
        write_value(out, v);
    }
    if let Some(t) = r.trace_id {
        if short_trace {
            out.push_str(" trace=");
            for b in &t.to_bytes()[..4] {
                let _ = write!(out, "{b:02x}");
            }
        } else {
            let _ = write!(out, " trace_id={t}");
        }
    }
    out.push('\n');
}

/// The most fields one span shows on a pretty line.
pub(crate) const MAX_SPAN_FIELDS: usize = 3;
/// The most characters of one value on a pretty line.
pub(crate) const MAX_VALUE: usize = 40;

/// Fields the library and the OpenTelemetry conventions set on spans for the backend,
/// which a person reading a log line does not need.
fn library_field(key: &str) -> bool {
    key.starts_with("otel.")
        || key.starts_with("code.")
        || key.starts_with("thread.")
        || key == "busy_ns"
        || key == "idle_ns"
}

/// Writes `v` as a pretty line shows it: text cut at [`MAX_VALUE`] characters (with
/// `…`), quoted when it has spaces or quotes or is empty.
fn write_value(out: &mut String, v: &FieldValue) {
    let FieldValue::Str(s) = v else {
        let _ = write!(out, "{v}");
        return;
    };
    let (text, cut) = match s.char_indices().nth(MAX_VALUE) {
        Some((at, _)) => (&s[..at], true),
        None => (s.as_str(), false),
    };
    if crate::export::needs_quotes(text) {
        // `Debug` quotes and escapes; a cut value keeps its `…` inside the quotes.
        let quoted = format!("{text:?}");
        out.push_str(&quoted[..quoted.len() - 1]);
        if cut {
            out.push('…');
        }
        out.push('"');
    } else {
        out.push_str(text);
        if cut {
            out.push('…');
        }
    }
}

/// One JSON object per line: RFC 3339 timestamp, level, target, message, fields, the
/// span stack's fields, trace_id, span_id, and the code location. Written straight out
/// by serde_json's serializer (no tree of values in between), keys in sorted order at
/// every level; a field written twice keeps its last value.
pub(crate) fn json_line(r: &LogRecord, out: &mut Vec<u8>) {
    use serde::ser::{SerializeMap as _, Serializer as _};
    let mut ser = serde_json::Serializer::new(&mut *out);
    // The keys below are in their sorted order.
    let written = (|| -> Result<(), serde_json::Error> {
        let mut map = ser.serialize_map(None)?;
        if let Some(file) = r.file() {
            map.serialize_entry("code.file.path", file)?;
        }
        if let Some(line) = r.line() {
            map.serialize_entry("code.line.number", &line)?;
        }
        map.serialize_entry("fields", &JsonFields(None, &r.read.values))?;
        map.serialize_entry("level", severity(r.level()).1)?;
        map.serialize_entry("message", r.message())?;
        let ids = r.trace_id.zip(r.span_id);
        let (mut trace_hex, mut span_hex) = ([0u8; 32], [0u8; 16]);
        if let Some((trace, span)) = ids {
            map.serialize_entry("span_id", hex(&span.to_bytes(), &mut span_hex))?;
            hex(&trace.to_bytes(), &mut trace_hex);
        }
        if !r.spans.is_empty() {
            map.serialize_entry("spans", &JsonSpans(&r.spans))?;
        }
        map.serialize_entry("target", r.target())?;
        map.serialize_entry("timestamp", Rfc3339::of(r.time).as_str())?;
        if ids.is_some() {
            map.serialize_entry(
                "trace_id",
                std::str::from_utf8(&trace_hex).unwrap_or_default(),
            )?;
        }
        map.end()
    })();
    if written.is_err() {
        // Writing into memory does not fail; should it, no half line is left.
        out.clear();
        return;
    }
    out.push(b'\n');
}

/// `bytes` as lowercase hex digits in `out` (twice as long), as text.
fn hex<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    // ASCII digits only.
    std::str::from_utf8(out).unwrap_or_default()
}

impl serde::Serialize for FieldValue {
    /// Numbers stay numbers; a non-finite `F64` becomes its text.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Str(v) => s.serialize_str(v),
            FieldValue::I64(v) => s.serialize_i64(*v),
            FieldValue::U64(v) => s.serialize_u64(*v),
            FieldValue::F64(v) if v.is_finite() => s.serialize_f64(*v),
            FieldValue::F64(v) => s.collect_str(v),
            FieldValue::Bool(v) => s.serialize_bool(*v),
        }
    }
}

/// Fields as a JSON object (with the span's `name` first in line, when given): keys
/// sorted, a key given twice keeping its last value.
struct JsonFields<'a>(Option<&'a str>, &'a [(&'static str, FieldValue)]);

impl serde::Serialize for JsonFields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let name = self.0.map(|n| ("name", NameOrField::Name(n)));
        let mut entries: smallvec::SmallVec<[(&str, NameOrField<'_>); 8]> = name
            .into_iter()
            .chain(self.1.iter().map(|(k, v)| (*k, NameOrField::Field(v))))
            .collect();
        // Stable: of equal keys the last given stays last.
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let mut map = s.serialize_map(None)?;
        for (i, (k, v)) in entries.iter().enumerate() {
            if entries.get(i + 1).is_some_and(|next| next.0 == *k) {
                continue;
            }
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

enum NameOrField<'a> {
    Name(&'a str),
    Field(&'a FieldValue),
}

impl serde::Serialize for NameOrField<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NameOrField::Name(n) => s.serialize_str(n),
            NameOrField::Field(v) => v.serialize(s),
        }
    }
}

/// The span stack, outermost first: each span its name and fields.
struct JsonSpans<'a>(&'a [std::sync::Arc<super::SpanFields>]);

impl serde::Serialize for JsonSpans<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .iter()
                .map(|span| JsonFields(Some(span.name), &span.fields)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::SpanFields;
    use opentelemetry::trace::{SpanId, TraceId};

    use crate::health::rfc3339;

    /// The JSON line as a tree of values printed whole: what the streaming writer must
    /// give, byte for byte.
    fn through_a_tree(r: &LogRecord) -> String {
        let mut obj = serde_json::Map::new();
        obj.insert("timestamp".into(), rfc3339(r.time).into());
        obj.insert("level".into(), severity(r.level()).1.into());
        obj.insert("target".into(), r.target().into());
        obj.insert("message".into(), r.message().into());
        let mut fields = serde_json::Map::new();
        for (k, v) in &r.read.values {
            fields.insert((*k).to_string(), v.to_json());
        }
        obj.insert("fields".into(), fields.into());
        if !r.spans.is_empty() {
            let spans: Vec<serde_json::Value> = r
                .spans
                .iter()
                .map(|s| {
                    let mut m = serde_json::Map::new();
                    m.insert("name".into(), s.name.into());
                    for (k, v) in &s.fields {
                        m.insert((*k).to_string(), v.to_json());
                    }
                    m.into()
                })
                .collect();
            obj.insert("spans".into(), spans.into());
        }
        if let (Some(t), Some(s)) = (r.trace_id, r.span_id) {
            obj.insert("trace_id".into(), t.to_string().into());
            obj.insert("span_id".into(), s.to_string().into());
        }
        if let Some(file) = r.file() {
            obj.insert("code.file.path".into(), file.into());
        }
        if let Some(line) = r.line() {
            obj.insert("code.line.number".into(), line.into());
        }
        format!("{}\n", serde_json::Value::Object(obj))
    }

    fn streamed(r: &LogRecord) -> String {
        let mut out = Vec::new();
        json_line(r, &mut out);
        String::from_utf8(out).unwrap()
    }

    static SITE: tracing_core::callsite::DefaultCallsite =
        tracing_core::callsite::DefaultCallsite::new(&META);
    static META: tracing_core::Metadata<'static> = tracing_core::metadata! {
        name: "event",
        target: "checkout::api",
        level: tracing_core::Level::WARN,
        fields: &["message"],
        callsite: &SITE,
        kind: tracing_core::Kind::EVENT,
    };

    fn record(fields: Vec<(&'static str, FieldValue)>, spans: Vec<SpanFields>) -> LogRecord {
        let spans = spans.into_iter().map(std::sync::Arc::new).collect();
        let mut r = LogRecord::blank(&META);
        r.time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_764_612_345_678);
        r.read.message = Some("card \"declined\"\tfor ünïcode \u{1F600}".into());
        r.read.values = fields.into_iter().collect();
        r.trace_id = Some(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
        r.span_id = Some(SpanId::from_hex("00f067aa0ba902b7").unwrap());
        r.sampled = true;
        r.spans = spans;
        r
    }

    #[test]
    fn json_lines_are_written_as_a_sorted_tree_would_print_them() {
        let cases = [
            record(Vec::new(), Vec::new()),
            record(
                vec![
                    ("zeta", FieldValue::U64(u64::MAX)),
                    ("alpha", FieldValue::I64(-3)),
                    ("ratio", FieldValue::F64(0.25)),
                    ("inf", FieldValue::F64(f64::INFINITY)),
                    ("nan", FieldValue::F64(f64::NAN)),
                    ("ok", FieldValue::Bool(false)),
                    (
                        "alpha",
                        FieldValue::Str("given twice: the last wins".into()),
                    ),
                    ("quote\"key", FieldValue::Str("\\ and \u{7} control".into())),
                ],
                vec![
                    SpanFields {
                        name: "handle",
                        fields: vec![
                            ("order", FieldValue::U64(1001)),
                            ("name", FieldValue::Str("a field called name".into())),
                        ],
                    },
                    SpanFields {
                        name: "charge",
                        fields: Vec::new(),
                    },
                ],
            ),
        ];
        for r in &cases {
            assert_eq!(streamed(r), through_a_tree(r));
        }
        let full = streamed(&cases[1]);
        for part in [
            r#"{"code.file.path":""#,
            r#""fields":{"alpha":"given twice: the last wins","inf":"inf","nan":"NaN","#,
            r#""spans":[{"name":"a field called name","order":1001},{"name":"charge"}]"#,
            r#""timestamp":"2025-12-01T18:05:45.678Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
        ] {
            assert!(full.contains(part), "{part} in {full}");
        }
        let mut untraced = record(vec![("a", FieldValue::I64(1))], Vec::new());
        untraced.trace_id = None;
        untraced.span_id = None;
        let line = streamed(&untraced);
        assert_eq!(line, through_a_tree(&untraced));
        assert!(
            !line.contains("trace_id") && line.ends_with("}\n"),
            "{line}"
        );
    }
}
