//! The walk over a configuration file's tree: typed reads that record a [`FileIssue`]
//! for each value not accepted (with its path, value and what is accepted), and closed
//! objects that tell unknown keys (not of the schema) from unsupported ones (of the
//! schema, but nothing here does what they ask).

use std::time::Duration;

use super::yaml::{Node, Value};
use crate::error::{FileIssue, FileIssueKind};

pub(super) const MILLIS: &str = "a non-negative integer of milliseconds";

/// Collects the issues of one file.
#[derive(Default)]
pub(super) struct Reader {
    pub(super) issues: Vec<FileIssue>,
    /// `tracer_provider.limits.attribute_count_limit`, which beats
    /// `attribute_limits.attribute_count_limit`.
    pub(super) span_attribute_limit: Option<u32>,
    /// The smallest `max_request_size` of the OTLP exporters.
    pub(super) max_request_size: Option<u64>,
}

/// A mapping of the file whose keys were checked; `get` gives a key's node unless it
/// is absent or `null` (both mean: the default).
pub(super) struct Obj<'n> {
    pub(super) path: String,
    /// The line of the mapping.
    pub(super) line: usize,
    entries: &'n [(String, Node)],
}

impl<'n> Obj<'n> {
    /// The node of `key`, or `None` when it is absent or `null`.
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| v.value != Value::Null)
    }

    /// The path of `key` in this object.
    pub(super) fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
}

/// Joins key names for a message: `a, b or c`.
pub(super) fn one_of(names: &[&str]) -> String {
    match names {
        [] => "no key".into(),
        [one] => format!("`{one}`"),
        [a, b] => format!("`{a}` or `{b}`"),
        [init @ .., last] => format!(
            "one of {} or `{last}`",
            init.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl Reader {
    pub(super) fn push(
        &mut self,
        kind: FileIssueKind,
        path: &str,
        node: &Node,
        value: String,
        expected: impl Into<String>,
    ) {
        let value = if FileIssue::is_secret(path) {
            String::new()
        } else {
            value
        };
        self.issues.push(FileIssue {
            path: path.to_string(),
            value,
            expected: expected.into(),
            kind,
            line: node.line,
        });
    }

    /// `node` at `path` is not what `expected` says.
    pub(super) fn invalid(&mut self, path: &str, node: &Node, expected: impl Into<String>) {
        self.push(FileIssueKind::Invalid, path, node, node.shown(), expected);
    }

    /// `node` at `path` is of the schema, but this library cannot do it: `why`.
    pub(super) fn unsupported(&mut self, path: &str, node: &Node, why: impl Into<String>) {
        let value = match node.value {
            Value::Map(_) | Value::Seq(_) => String::new(),
            _ => node.shown(),
        };
        self.push(FileIssueKind::Unsupported, path, node, value, why);
    }

    /// A mapping whose keys are `keys` (read by the caller) and `unsupported` (of the
    /// schema, each with why it cannot be honoured, reported when set). A `null`
    /// counts as an empty mapping. Any other key is unknown.
    pub(super) fn object<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        keys: &[&str],
        unsupported: &[(&str, &str)],
    ) -> Option<Obj<'n>> {
        const EMPTY: &[(String, Node)] = &[];
        let entries = match &node.value {
            Value::Map(entries) => entries.as_slice(),
            Value::Null => EMPTY,
            _ => {
                self.invalid(path, node, "a mapping");
                return None;
            }
        };
        for (key, value) in entries {
            let at = format!("{path}.{key}");
            if keys.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, why)) = unsupported.iter().find(|(k, _)| k == key) {
                if value.value != Value::Null {
                    self.unsupported(&at, value, *why);
                }
                continue;
            }
            let mut all: Vec<&str> = keys.to_vec();
            all.extend(unsupported.iter().map(|(k, _)| *k));
            self.push(
                FileIssueKind::Unknown,
                &at,
                value,
                String::new(),
                one_of(&all),
            );
        }
        Some(Obj {
            path: path.to_string(),
            line: node.line,
            entries,
        })
    }

    /// A plugin choice: a mapping of exactly one name to its settings (`otlp_http:
    /// {...}`, `always_on:`).
    pub(super) fn plugin<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        names: &[&str],
    ) -> Option<(&'n str, &'n Node)> {
        match &node.value {
            Value::Map(entries) if entries.len() == 1 => {
                let (name, settings) = &entries[0];
                Some((name.as_str(), settings))
            }
            _ => {
                self.invalid(
                    path,
                    node,
                    format!("a mapping with one key, {}", one_of(names)),
                );
                None
            }
        }
    }

    /// A list; `null` counts as empty.
    pub(super) fn list<'n>(&mut self, node: &'n Node, path: &str) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.invalid(path, node, "a list");
                &[]
            }
        }
    }

    pub(super) fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.invalid(path, node, "`true` or `false`");
                None
            }
        }
    }

    /// Any scalar as text (the schema's strings; a plain `1234` is read as written).
    pub(super) fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.value {
            Value::Seq(_) | Value::Map(_) => {
                self.invalid(path, node, "a string");
                None
            }
            _ => node.text(),
        }
    }

    /// An integer that passes `ok`, else an issue saying `expected`.
    pub(super) fn int(
        &mut self,
        node: &Node,
        path: &str,
        expected: &str,
        ok: impl Fn(i64) -> bool,
    ) -> Option<i64> {
        match node.value {
            Value::Int(n) if ok(n) => Some(n),
            _ => {
                self.invalid(path, node, expected);
                None
            }
        }
    }

    pub(super) fn millis(&mut self, node: &Node, path: &str) -> Option<Duration> {
        self.int(node, path, MILLIS, |n| n >= 0)
            .map(|n| Duration::from_millis(n.unsigned_abs()))
    }

    pub(super) fn positive(&mut self, node: &Node, path: &str) -> Option<usize> {
        self.int(node, path, "a positive integer", |n| n > 0)
            .and_then(|n| usize::try_from(n).ok())
    }

    pub(super) fn limit(&mut self, node: &Node, path: &str) -> Option<u32> {
        self.int(node, path, "a non-negative integer below 2^32", |n| {
            u32::try_from(n).is_ok()
        })
        .and_then(|n| u32::try_from(n).ok())
    }

    pub(super) fn bytes(&mut self, node: &Node, path: &str) -> Option<u64> {
        self.int(node, path, "a positive number of bytes", |n| n > 0)
            .map(i64::unsigned_abs)
    }

    /// A number (integer or not).
    pub(super) fn number(&mut self, node: &Node, path: &str, expected: &str) -> Option<f64> {
        match node.value {
            Value::Int(n) => Some(n as f64),
            Value::Float(x) if x.is_finite() => Some(x),
            _ => {
                self.invalid(path, node, expected);
                None
            }
        }
    }

    /// One of a fixed set of words (as the schema spells them).
    pub(super) fn word<T: Copy>(
        &mut self,
        node: &Node,
        path: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let text = self.string(node, path)?;
        let found = choices.iter().find(|(w, _)| *w == text).map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
            self.invalid(path, node, one_of(&names));
        }
        found
    }

    /// A setting this library honours only at one value, the way it always works:
    /// that value is accepted, any other is unsupported with `why`.
    pub(super) fn fixed(&mut self, node: Option<&Node>, path: &str, works: &str, why: &str) {
        if let Some(node) = node {
            if node.text().as_deref() != Some(works) {
                self.unsupported(path, node, why);
            }
        }
    }
}
