//! The file's top level: `log_level`, `attribute_limits`, `resource` and `propagator`.

use super::reader::{one_of, Reader};
use super::yaml::{Node, Value};
use super::OUR_SECTION;
use crate::config::Config;
use crate::propagation::Propagator;

/// Every top-level key of the schema, and ours.
pub(super) const TOP_LEVEL: &[&str] = &[
    "file_format",
    "disabled",
    "log_level",
    "attribute_limits",
    "logger_provider",
    "meter_provider",
    "propagator",
    "tracer_provider",
    "resource",
    "instrumentation/development",
    "distribution",
    OUR_SECTION,
];

/// The top-level key `key` was probably meant to be: one or two letters away.
pub(super) fn near_miss(key: &str) -> Option<&'static str> {
    TOP_LEVEL
        .iter()
        .copied()
        .find(|known| edits(key, known) <= 2 && key.len() > 3)
}

/// Levenshtein distance, for short keys.
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The severities `log_level` accepts.
const LEVELS: &[&str] = &[
    "trace", "trace2", "trace3", "trace4", "debug", "debug2", "debug3", "debug4", "info", "info2",
    "info3", "info4", "warn", "warn2", "warn3", "warn4", "error", "error2", "error3", "error4",
    "fatal", "fatal2", "fatal3", "fatal4",
];

impl Reader {
    /// The SDK's own log level. This library's diagnostics are warnings about the
    /// configuration and the pipelines, always printed: every level up to `warn`
    /// shows them, which is what it does; `error` and `fatal` would hide them.
    pub(super) fn log_level(&mut self, node: &Node) {
        let Some(level) = self.string(node, "log_level") else {
            return;
        };
        if !LEVELS.contains(&level.as_str()) {
            self.invalid(
                "log_level",
                node,
                "a severity: trace, debug, info, warn, error or fatal",
            );
        } else if level.starts_with("error") || level.starts_with("fatal") {
            self.unsupported(
                "log_level",
                node,
                "this library's diagnostics are warnings and are always shown (levels up to warn)",
            );
        }
    }

    /// `attribute_limits`: the general attribute count limit (spans use it unless
    /// `tracer_provider.limits` says otherwise).
    pub(super) fn attribute_limits(&mut self, node: &Node) -> Option<u32> {
        let o = self.object(
            node,
            "attribute_limits",
            &["attribute_count_limit"],
            &[(
                "attribute_value_length_limit",
                "attribute values are never cut (only a null value, no limit, is accepted)",
            )],
        )?;
        let at = o.at("attribute_count_limit");
        o.get("attribute_count_limit")
            .and_then(|n| self.limit(n, &at))
    }

    /// `resource`: attributes (typed), `attributes_list` (the
    /// `OTEL_RESOURCE_ATTRIBUTES` form, beaten by `attributes`) and detection.
    pub(super) fn resource(&mut self, node: &Node, c: &mut Config) {
        let Some(o) = self.object(
            node,
            "resource",
            &["attributes", "attributes_list", "detection/development"],
            &[("schema_url", "the resource carries no schema URL")],
        ) else {
            return;
        };
        if let Some(list) = o.get("attributes_list") {
            let at = o.at("attributes_list");
            if let Some(text) = self.string(list, &at) {
                match crate::config::env::parse_pairs(&text, false) {
                    Ok(pairs) => {
                        for (k, v) in pairs {
                            set_string(c, k, v);
                        }
                    }
                    Err(why) => self.invalid(&at, list, why),
                }
            }
        }
        if let Some(attrs) = o.get("attributes") {
            let at = o.at("attributes");
            for (i, entry) in self.list(attrs, &at).iter().enumerate() {
                self.resource_attribute(entry, &format!("{at}[{i}]"), c);
            }
        }
        if let Some(detection) = o.get("detection/development") {
            self.detection(detection, &o.at("detection/development"));
        }
    }

    fn resource_attribute(&mut self, node: &Node, path: &str, c: &mut Config) {
        use opentelemetry::{Array, StringValue, Value as Attr};
        let Some(o) = self.object(node, path, &["name", "value", "type"], &[]) else {
            return;
        };
        let Some(name) = o.get("name").and_then(|n| self.string(n, &o.at("name"))) else {
            self.invalid(&o.at("name"), node, "the attribute's name (required)");
            return;
        };
        let Some(value) = o.get("value") else {
            return;
        };
        let vat = o.at("value");
        let kind = match o.get("type") {
            Some(t) => self.word(
                t,
                &o.at("type"),
                &[
                    ("string", 0),
                    ("bool", 1),
                    ("int", 2),
                    ("double", 3),
                    ("string_array", 4),
                    ("bool_array", 5),
                    ("int_array", 6),
                    ("double_array", 7),
                ],
            ),
            None => Some(0),
        };
        let Some(kind) = kind else { return };
        let items = |r: &mut Reader| -> Vec<Node> {
            match &value.value {
                Value::Seq(items) => items.clone(),
                _ => {
                    r.invalid(&vat, value, "a list (the type is an array)");
                    Vec::new()
                }
            }
        };
        let typed = match kind {
            0 => {
                if let Some(s) = self.string(value, &vat) {
                    set_string(c, name, s);
                }
                return;
            }
            1 => self.bool(value, &vat).map(Attr::Bool),
            2 => self.int(value, &vat, "an integer", |_| true).map(Attr::I64),
            3 => self.number(value, &vat, "a number").map(Attr::F64),
            4 => {
                let v: Option<Vec<StringValue>> = items(self)
                    .iter()
                    .map(|n| self.string(n, &vat).map(StringValue::from))
                    .collect();
                v.map(|v| Attr::Array(Array::String(v)))
            }
            5 => {
                let v: Option<Vec<bool>> = items(self).iter().map(|n| self.bool(n, &vat)).collect();
                v.map(|v| Attr::Array(Array::Bool(v)))
            }
            6 => {
                let v: Option<Vec<i64>> = items(self)
                    .iter()
                    .map(|n| self.int(n, &vat, "an integer", |_| true))
                    .collect();
                v.map(|v| Attr::Array(Array::I64(v)))
            }
            _ => {
                let v: Option<Vec<f64>> = items(self)
                    .iter()
                    .map(|n| self.number(n, &vat, "a number"))
                    .collect();
                v.map(|v| Attr::Array(Array::F64(v)))
            }
        };
        if let Some(typed) = typed {
            c.resource.attributes.retain(|(k, _)| *k != name);
            c.resource.typed_attributes.retain(|(k, _)| *k != name);
            c.resource.typed_attributes.push((name, typed));
        }
    }

    /// `detection/development`: the detectors this library runs are always on
    /// (service, host, os, process); others are unsupported.
    fn detection(&mut self, node: &Node, path: &str) {
        let Some(o) = self.object(
            node,
            path,
            &["detectors"],
            &[(
                "attributes",
                "every detected attribute is kept (no include or exclude patterns)",
            )],
        ) else {
            return;
        };
        let Some(list) = o.get("detectors") else {
            return;
        };
        let at = o.at("detectors");
        for (i, entry) in self.list(list, &at).iter().enumerate() {
            let here = format!("{at}[{i}]");
            let name = match &entry.value {
                Value::Map(m) if m.len() == 1 => m[0].0.clone(),
                _ => entry.text().unwrap_or_default(),
            };
            match name.as_str() {
                "service" | "host" | "os" | "process" => {}
                "container" => self.unsupported(&here, entry, "there is no container detector"),
                _ => self.unsupported(
                    &here,
                    entry,
                    "a detector this library does not have (it has service, host, os, process)",
                ),
            }
        }
    }

    /// `propagator`: `composite` entries first, then `composite_list`, without
    /// repeats. An absent section means no propagation, as the specification says.
    pub(super) fn propagator(&mut self, node: &Node, c: &mut Config) {
        let Some(o) = self.object(node, "propagator", &["composite", "composite_list"], &[]) else {
            return;
        };
        let mut names: Vec<(String, String, &Node)> = Vec::new();
        if let Some(list) = o.get("composite") {
            let at = o.at("composite");
            for (i, entry) in self.list(list, &at).iter().enumerate() {
                let here = format!("{at}[{i}]");
                if let Some((name, settings)) = self.plugin(entry, &here, &NAMES) {
                    let here = format!("{here}.{name}");
                    // Each entry takes no settings.
                    let _ = self.object(settings, &here, &[], &[]);
                    names.push((name.to_string(), here, entry));
                }
            }
        }
        if let Some(list) = o.get("composite_list") {
            let at = o.at("composite_list");
            if let Some(text) = self.string(list, &at) {
                for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    names.push((part.to_string(), at.clone(), list));
                }
            }
        }
        for (name, path, node) in names {
            let p = match name.as_str() {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                "none" => continue,
                "jaeger" | "ottrace" | "xray" | "b3/development" => {
                    self.unsupported(
                        &path,
                        node,
                        format!(
                            "the `{name}` propagator is not built in (expected {})",
                            one_of(&NAMES)
                        ),
                    );
                    continue;
                }
                _ => {
                    self.unsupported(
                        &path,
                        node,
                        format!(
                            "`{name}` is no propagator this library has: {}",
                            one_of(&NAMES)
                        ),
                    );
                    continue;
                }
            };
            if !c.propagators.contains(&p) {
                c.propagators.push(p);
            }
        }
    }
}

const NAMES: [&str; 5] = ["tracecontext", "baggage", "b3", "b3multi", "none"];

/// A string resource attribute, as `OTEL_RESOURCE_ATTRIBUTES` sets one.
fn set_string(c: &mut Config, key: String, value: String) {
    match key.as_str() {
        "service.name" => c.resource.service_name = Some(value),
        "service.version" => c.resource.service_version = Some(value),
        "deployment.environment.name" => c.resource.deployment_environment = Some(value),
        _ => {
            c.resource.attributes.retain(|(k, _)| *k != key);
            c.resource.typed_attributes.retain(|(k, _)| *k != key);
            c.resource.attributes.push((key, value));
        }
    }
}
