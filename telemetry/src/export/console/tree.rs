//! The span-tree renderer: one indented tree per trace, children and events in order
//! of time. The console exporter prints it; `crate::testing` snapshots it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// What a rendering shows.
pub(crate) struct Style {
    /// Trace ids, durations and event offsets (off for snapshots).
    pub timing: bool,
    /// Attribute keys never shown.
    pub hidden: &'static [&'static str],
    /// Attribute key prefixes never shown.
    pub hidden_prefixes: &'static [&'static str],
}

impl Style {
    pub(crate) const CONSOLE: Style = Style {
        timing: true,
        hidden: &[
            "busy_ns",
            "idle_ns",
            "target",
            "level",
            "thread.id",
            "thread.name",
        ],
        hidden_prefixes: &["code."],
    };
    /// Deterministic: no ids, times, thread or source-line attributes.
    #[cfg(feature = "testing")]
    pub(crate) const SNAPSHOT: Style = Style {
        timing: false,
        hidden: &[
            "busy_ns",
            "idle_ns",
            "thread.id",
            "thread.name",
            "code.line.number",
            "code.file.path",
            "code.lineno",
            "code.filepath",
            "code.column.number",
            "code.module.name",
            "target",
        ],
        hidden_prefixes: &[],
    };

    /// Whether an attribute is shown.
    pub(crate) fn shows(&self, key: &str) -> bool {
        !self.hidden.contains(&key) && !self.hidden_prefixes.iter().any(|p| key.starts_with(p))
    }
}

/// Renders spans as one tree per trace, traces in order of their first span's start,
/// children in order of start time.
pub(crate) fn render(spans: &[SpanData], style: &Style) -> String {
    let mut traces: BTreeMap<(SystemTime, u128), Vec<&SpanData>> = BTreeMap::new();
    let mut by_trace: HashMap<TraceId, Vec<&SpanData>> = HashMap::new();
    for span in spans {
        by_trace
            .entry(span.span_context.trace_id())
            .or_default()
            .push(span);
    }
    for (trace, members) in by_trace {
        let first = members
            .iter()
            .map(|s| s.start_time)
            .min()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        traces.insert((first, u128::from_be_bytes(trace.to_bytes())), members);
    }
    let mut out = String::new();
    for ((_, trace), members) in traces {
        if style.timing {
            let _ = writeln!(out, "trace {}", TraceId::from_bytes(trace.to_be_bytes()));
        } else {
            out.push_str("trace\n");
        }
        let ids: HashSet<SpanId> = members.iter().map(|s| s.span_context.span_id()).collect();
        let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
        let mut roots = Vec::new();
        for span in &members {
            if span.parent_span_id != SpanId::INVALID && ids.contains(&span.parent_span_id) {
                children.entry(span.parent_span_id).or_default().push(span);
            } else {
                roots.push(*span);
            }
        }
        let order = |a: &&SpanData, b: &&SpanData| {
            a.start_time
                .cmp(&b.start_time)
                .then_with(|| a.name.cmp(&b.name))
        };
        roots.sort_by(order);
        for list in children.values_mut() {
            list.sort_by(order);
        }
        let count = roots.len();
        for (i, root) in roots.into_iter().enumerate() {
            write_span(&mut out, root, &children, "", i + 1 == count, style);
        }
    }
    out
}

fn write_span(
    out: &mut String,
    span: &SpanData,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    prefix: &str,
    last: bool,
    style: &Style,
) {
    let branch = if last { "└─ " } else { "├─ " };
    let _ = write!(out, "{prefix}{branch}{}", span.name);
    match span.span_kind {
        SpanKind::Internal => {}
        SpanKind::Server => out.push_str(" [server]"),
        SpanKind::Client => out.push_str(" [client]"),
        SpanKind::Producer => out.push_str(" [producer]"),
        SpanKind::Consumer => out.push_str(" [consumer]"),
    }
    if style.timing {
        let _ = write!(out, " {}", human_between(span.start_time, span.end_time));
    }
    match &span.status {
        Status::Unset => {}
        Status::Ok => out.push_str(" OK"),
        Status::Error { description } if description.is_empty() => out.push_str(" ERROR"),
        Status::Error { description } => {
            let _ = write!(out, " ERROR: {description}");
        }
    }
    let mut attrs: Vec<&KeyValue> = span
        .attributes
        .iter()
        .filter(|kv| style.shows(kv.key.as_str()))
        .collect();
    if !style.timing {
        attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    }
    write_attrs(out, attrs);
    out.push('\n');

    let inner = format!("{prefix}{}", if last { "   " } else { "│  " });
    // Events and child spans interleaved by time, so the tree reads as a timeline.
    enum Item<'a> {
        Event(&'a opentelemetry::trace::Event),
        Child(&'a SpanData),
    }
    let mut items: Vec<(SystemTime, Item<'_>)> = span
        .events
        .iter()
        .map(|e| (e.timestamp, Item::Event(e)))
        .collect();
    if let Some(kids) = children.get(&span.span_context.span_id()) {
        items.extend(kids.iter().map(|k| (k.start_time, Item::Child(k))));
    }
    items.sort_by_key(|(t, _)| *t);
    for link in span.links.iter() {
        let _ = write!(out, "{inner}├→ link");
        if style.timing {
            let _ = write!(
                out,
                " {}:{}",
                link.span_context.trace_id(),
                link.span_context.span_id()
            );
        }
        out.push('\n');
    }
    if span.events.dropped_count > 0 {
        let _ = writeln!(
            out,
            "{inner}├• ({} more events dropped)",
            span.events.dropped_count
        );
    }
    let n = items.len();
    for (i, (_, item)) in items.into_iter().enumerate() {
        let last_item = i + 1 == n;
        match item {
            Item::Child(kid) => write_span(out, kid, children, &inner, last_item, style),
            Item::Event(event) => write_event(out, span, event, &inner, last_item, style),
        }
    }
}

fn write_event(
    out: &mut String,
    span: &SpanData,
    event: &opentelemetry::trace::Event,
    prefix: &str,
    last: bool,
    style: &Style,
) {
    let _ = write!(out, "{prefix}{}", if last { "└• " } else { "├• " });
    if style.timing {
        let _ = write!(out, "+{} ", human_between(span.start_time, event.timestamp));
    }
    if let Some(level) = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "level")
    {
        let _ = write!(out, "{} ", level.value);
    }
    out.push_str(&event.name);
    let mut attrs: Vec<&KeyValue> = event
        .attributes
        .iter()
        .filter(|kv| !matches!(kv.key.as_str(), "level" | "target") && style.shows(kv.key.as_str()))
        .filter(|kv| !kv.key.as_str().starts_with("code."))
        .collect();
    if !style.timing {
        attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    }
    write_attrs(out, attrs);
    out.push('\n');
}

fn write_attrs(out: &mut String, attrs: Vec<&KeyValue>) {
    let shown = attrs.into_iter().filter(|kv| match &kv.value {
        // Empty lists (an error's empty `exception.stacktrace`) say nothing.
        Value::Array(a) => !a
            .to_string()
            .trim_matches(|c| c == '[' || c == ']')
            .is_empty(),
        _ => true,
    });
    for (i, kv) in shown.enumerate() {
        out.push_str(if i == 0 { "  " } else { " " });
        let _ = write!(out, "{}=", kv.key);
        match &kv.value {
            Value::String(s) => {
                let s = s.as_str();
                if needs_quotes(s) {
                    let _ = write!(out, "{s:?}");
                } else {
                    out.push_str(s);
                }
            }
            other => {
                let _ = write!(out, "{other}");
            }
        }
    }
}

/// Whether a value must be quoted to read back unambiguously in `key=value` text.
pub(crate) fn needs_quotes(s: &str) -> bool {
    s.is_empty() || s.contains(char::is_whitespace) || s.contains('"')
}

/// The time from `start` to `end` (zero if `end` is earlier), read as by [`human`].
fn human_between(start: SystemTime, end: SystemTime) -> String {
    human(end.duration_since(start).unwrap_or_default())
}

/// `850ns`, `12.3µs`, `4.56ms`, `1.20s`.
pub(crate) fn human(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 1_000_000 {
        format!("{:.1}µs", nanos as f64 / 1e3)
    } else if nanos < 1_000_000_000 {
        format!("{:.2}ms", nanos as f64 / 1e6)
    } else {
        format!("{:.2}s", nanos as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::human;
    use std::time::Duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_nanos(850)), "850ns");
        assert_eq!(human(Duration::from_nanos(12_340)), "12.3µs");
        assert_eq!(human(Duration::from_micros(4_560)), "4.56ms");
        assert_eq!(human(Duration::from_millis(1_200)), "1.20s");
    }
}
