//! Reading a declarative configuration file (`OTEL_CONFIG_FILE`, OpenTelemetry's
//! configuration schema, `file_format` 1.0 and 1.1) into a [`Config`].
//!
//! The file is parsed into a tree with positions ([`yaml`]), every scalar value
//! substituted from the variables ([`substitute`]) before its type is read; then each
//! section maps onto the settings the rooms own: [`general`] (top level, resource,
//! propagators), [`providers`] (span and log processors, OTLP exporters, sampler,
//! limits), [`meter`] (readers, Prometheus, views) and [`ours`] (the `telemetry`
//! section: what the standard has no words for). Each value not accepted, each key of
//! the schema this library cannot honour and each key not of the schema is one
//! [`FileIssue`]; a file that cannot be read, is not YAML, has an invalid `${...}` or
//! no usable `file_format` is an error of its own, and nothing of it is used.

use std::collections::BTreeMap;
use std::path::Path;

use super::Config;
use crate::error::{ConfigError, FileIssue};
use crate::export::ExporterKind;

mod general;
mod health;
mod meter;
mod ours;
mod providers;
mod providers_tls;
mod push;
mod reader;
mod substitute;
mod yaml;

use reader::Reader;
use yaml::{Node, Value, YamlError};

/// The name of this library's own top-level section.
pub(crate) const OUR_SECTION: &str = "telemetry";

/// The `file_format` versions read, and the major version.
const FORMATS: &str = "\"1.0\" or \"1.1\"";

/// Reads the file at `path`, substituting from `vars`.
pub(crate) fn read_path(
    path: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(Config, Vec<FileIssue>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::FileUnreadable {
        file: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    read_str(&text, path, vars)
}

/// Reads `text`, the content of `file`, substituting from `vars`.
pub(crate) fn read_str(
    text: &str,
    file: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(Config, Vec<FileIssue>), ConfigError> {
    let root = yaml::parse(text, vars).map_err(|e| match e {
        YamlError::Syntax {
            line,
            column,
            message,
        } => ConfigError::FileSyntax {
            file: file.to_path_buf(),
            line,
            column,
            message,
        },
        YamlError::Substitution {
            line,
            column,
            reference,
        } => ConfigError::FileSubstitution {
            file: file.to_path_buf(),
            line,
            column,
            reference,
        },
    })?;
    let shape = |node: &Node, message: String| ConfigError::FileSyntax {
        file: file.to_path_buf(),
        line: node.line,
        column: node.column,
        message,
    };
    let Value::Map(entries) = &root.value else {
        return Err(shape(
            &root,
            format!(
                "expected a mapping with at least `file_format: \"1.1\"`, found {}",
                {
                    if root.value == Value::Null {
                        "nothing".to_string()
                    } else {
                        root.shown()
                    }
                }
            ),
        ));
    };
    let Some((_, format)) = entries.iter().find(|(k, _)| k == "file_format") else {
        return Err(shape(
            &root,
            format!("no `file_format`: every configuration file starts with one, {FORMATS}"),
        ));
    };
    check_format(format).map_err(|m| shape(format, m))?;
    let mut reader = Reader::default();
    let config = reader.top(entries);
    let mut issues = reader.issues;
    issues.sort_by_key(|i| i.line);
    Ok((config, issues))
}

/// `1.0`, `1.1`, and later minor versions of the first major one (their new keys are
/// reported where they stand); another major version is refused.
fn check_format(node: &Node) -> Result<(), String> {
    let text = node.text().unwrap_or_default();
    let (major, minor) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let minor = minor.split(['-', '+']).next().unwrap_or("");
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if major == "1" && digits(minor) {
        Ok(())
    } else {
        Err(format!(
            "file_format {:?} is not a version this library reads: expected {FORMATS}",
            node.shown()
        ))
    }
}

impl Reader {
    /// The whole file: the configuration it describes. Signals whose provider is
    /// absent export nothing, as the specification says (unlike the environment,
    /// where no variable means OTLP or the console).
    fn top(&mut self, entries: &[(String, Node)]) -> Config {
        let mut c = Config {
            exporters: [Some(ExporterKind::None); 3],
            // No `propagator` section: no propagation, as the specification says.
            propagators: Vec::new(),
            ..Config::default()
        };
        let get = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .filter(|v| v.value != Value::Null)
        };
        if let Some(node) = get("disabled") {
            if let Some(disabled) = self.bool(node, "disabled") {
                c.enabled = !disabled;
            }
        }
        if let Some(node) = get("log_level") {
            self.log_level(node);
        }
        // Before the tracer provider: its own limits beat these.
        let generic_count = get("attribute_limits").and_then(|n| self.attribute_limits(n));
        if let Some(node) = get("resource") {
            self.resource(node, &mut c);
        }
        if let Some(node) = get("propagator") {
            self.propagator(node, &mut c);
        }
        if let Some(node) = get("tracer_provider") {
            self.tracer_provider(node, &mut c);
        }
        c.span_limits.attributes = self
            .span_attribute_limit
            .take()
            .or(generic_count)
            .unwrap_or(crate::layer::SpanLimits::DEFAULT_LIMIT);
        if let Some(node) = get("meter_provider") {
            self.meter_provider(node, &mut c);
        }
        if let Some(node) = get("logger_provider") {
            self.logger_provider(node, &mut c);
        }
        if let Some(node) = get("instrumentation/development") {
            self.unsupported(
                "instrumentation/development",
                node,
                "instrumentation libraries are configured in code in Rust",
            );
        }
        if let Some(max) = self.max_request_size {
            c.max_request_size = max;
        }
        if let Some(node) = get(OUR_SECTION) {
            self.ours(node, &mut c);
        }
        for (key, node) in entries {
            if !general::TOP_LEVEL.contains(&key.as_str()) {
                // The schema allows other top-level keys; one a letter or two away from
                // a known one is most likely a typo that would switch a signal off.
                if let Some(near) = general::near_miss(key) {
                    self.push(
                        crate::error::FileIssueKind::Unknown,
                        key,
                        node,
                        String::new(),
                        format!("`{near}` (other top-level keys are ignored)"),
                    );
                }
            }
        }
        c
    }
}

#[cfg(test)]
mod tests;
