//! The line formats of local outputs: pretty lines and JSON lines.

use std::fmt::Write as _;

use super::{severity, LogRecord};
use crate::fields::FieldValue;
use crate::health::rfc3339;

/// `2026-11-21T19:31:02.123Z  INFO checkout: processing order=42  trace_id=… span_id=…`
pub(crate) fn pretty_line(r: &LogRecord, out: &mut String) {
    let _ = write!(
        out,
        "{} {:>5} {}: {}",
        rfc3339(r.time),
        severity(r.level()).1,
        r.target(),
        r.message
    );
    for span in &r.spans {
        for (k, v) in &span.fields {
            let _ = write!(out, " {}.{k}={}", span.name, quoted(v));
        }
    }
    for (k, v) in &r.fields {
        let _ = write!(out, " {k}={}", quoted(v));
    }
    if let (Some(t), Some(s)) = (r.trace_id, r.span_id) {
        let _ = write!(out, " trace_id={t} span_id={s}");
    }
    out.push('\n');
}

fn quoted(v: &FieldValue) -> String {
    match v {
        FieldValue::Str(s) if crate::export::needs_quotes(s) => {
            format!("{s:?}")
        }
        other => other.to_string(),
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
