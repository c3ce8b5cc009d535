//! A recorded trace as the console prints one: an indented tree, children in order of
//! start, each span with its kind, duration, status and attributes, and its events.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::{RecordedSpan, RecordedTrace};
use crate::export::{human, Style};

impl RecordedTrace {
    /// The trace as the console prints it: `trace <id>`, then one line per span.
    pub fn render(&self) -> String {
        let mut out = format!("trace {}\n", self.trace_id);
        let ids: Vec<&str> = self.spans.iter().map(|s| s.span_id.as_str()).collect();
        let mut children: HashMap<&str, Vec<&RecordedSpan>> = HashMap::new();
        let mut roots = Vec::new();
        for s in &self.spans {
            match s.parent_span_id.as_deref() {
                Some(p) if ids.contains(&p) => children.entry(p).or_default().push(s),
                _ => roots.push(s),
            }
        }
        let order = |a: &&RecordedSpan, b: &&RecordedSpan| {
            a.start_unix_nano
                .cmp(&b.start_unix_nano)
                .then_with(|| a.name.cmp(&b.name))
        };
        roots.sort_by(order);
        for list in children.values_mut() {
            list.sort_by(order);
        }
        let n = roots.len();
        for (i, root) in roots.into_iter().enumerate() {
            span(&mut out, root, &children, "", i + 1 == n);
        }
        out
    }
}

fn span(
    out: &mut String,
    s: &RecordedSpan,
    children: &HashMap<&str, Vec<&RecordedSpan>>,
    prefix: &str,
    last: bool,
) {
    let _ = write!(
        out,
        "{prefix}{}{}",
        if last { "└─ " } else { "├─ " },
        s.name
    );
    if s.kind != "internal" {
        let _ = write!(out, " [{}]", s.kind);
    }
    let _ = write!(out, " {}", human(Duration::from_nanos(s.duration_ns)));
    match (s.status, s.status_message.as_deref()) {
        ("ok", _) => out.push_str(" OK"),
        ("error", None | Some("")) => out.push_str(" ERROR"),
        ("error", Some(why)) => {
            let _ = write!(out, " ERROR: {why}");
        }
        _ => {}
    }
    for (k, v) in s.attributes.iter().filter(|(k, _)| Style::CONSOLE.shows(k)) {
        let _ = write!(out, " {k}={v}");
    }
    out.push('\n');
    let inner = format!("{prefix}{}", if last { "   " } else { "│  " });
    let kids = children
        .get(s.span_id.as_str())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let total = s.events.len() + kids.len();
    for (i, e) in s.events.iter().enumerate() {
        let offset = e.time_unix_nano.saturating_sub(s.start_unix_nano);
        let _ = write!(
            out,
            "{inner}{}+{} {}",
            if i + 1 == total { "└• " } else { "├• " },
            human(Duration::from_nanos(offset)),
            e.name
        );
        for (k, v) in e.attributes.iter().filter(|(k, _)| Style::CONSOLE.shows(k)) {
            let _ = write!(out, " {k}={v}");
        }
        out.push('\n');
    }
    for (i, child) in kids.iter().enumerate() {
        span(
            out,
            child,
            children,
            &inner,
            s.events.len() + i + 1 == total,
        );
    }
}
