//! The line formats of local outputs: pretty lines and JSON lines.

use std::fmt::Write as _;

use super::{severity, LogRecord};
use crate::fields::FieldValue;
use crate::health::rfc3339;

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
        rfc3339(r.time),
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
    let _ = write!(out, " {}", r.message);
    for (k, v) in &r.fields {
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
/// span stack's fields, trace_id, span_id.
pub(crate) fn json_line(r: &LogRecord, out: &mut String) {
    let mut obj = serde_json::Map::new();
    obj.insert("timestamp".into(), rfc3339(r.time).into());
    obj.insert("level".into(), severity(r.level()).1.into());
    obj.insert("target".into(), r.target().into());
    obj.insert("message".into(), r.message.as_str().into());
    let mut fields = serde_json::Map::new();
    for (k, v) in &r.fields {
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
    let _ = write!(out, "{}", serde_json::Value::Object(obj));
    out.push('\n');
}
