//! Queries over the recorder, from code or from the admin endpoint's query string
//! (`service=api&name=GET%20/orders&min_duration=100ms&errors=true&limit=20`). A bad
//! parameter is a [`QueryError`] naming it and what it accepts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::StoredTrace;
use crate::logs::LogRecord;

/// Which traces: every filter set must match. Newest first, at most `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceQuery {
    /// `service.name` equals this.
    pub service: Option<String>,
    /// The root span's name contains this.
    pub name: Option<String>,
    /// The root lasted at least this long.
    pub min_duration: Option<Duration>,
    /// The root lasted at most this long.
    pub max_duration: Option<Duration>,
    /// Only traces with an error.
    pub errors_only: bool,
    /// Some span has this attribute with this value.
    pub attribute: Option<(String, String)>,
    /// Started at or after this.
    pub since: Option<SystemTime>,
    /// Started before this.
    pub until: Option<SystemTime>,
    /// At most this many. Default: 50.
    pub limit: usize,
}

impl Default for TraceQuery {
    fn default() -> Self {
        TraceQuery {
            service: None,
            name: None,
            min_duration: None,
            max_duration: None,
            errors_only: false,
            attribute: None,
            since: None,
            until: None,
            limit: 50,
        }
    }
}

/// Which log records: every filter set must match. Newest first, at most `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    /// At least this level (`warn` keeps warnings and errors).
    pub min_level: Option<tracing_core::Level>,
    /// The target starts with this.
    pub target: Option<String>,
    /// The message contains this.
    pub contains: Option<String>,
    /// Written in this trace.
    pub trace_id: Option<String>,
    /// Written at or after this.
    pub since: Option<SystemTime>,
    /// At most this many. Default: 100.
    pub limit: usize,
}

impl Default for LogQuery {
    fn default() -> Self {
        LogQuery {
            min_level: None,
            target: None,
            contains: None,
            trace_id: None,
            since: None,
            limit: 100,
        }
    }
}

/// A query parameter that is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{parameter}` = {value:?} is not accepted: expected {expected}")]
pub struct QueryError {
    /// The parameter.
    pub parameter: String,
    /// Its value.
    pub value: String,
    /// What it accepts.
    pub expected: &'static str,
}

impl TraceQuery {
    /// Whether a kept trace matches (the service is the recorder's, checked once).
    pub(crate) fn matches(&self, t: &StoredTrace) -> bool {
        let start = t.root.start_time;
        self.name
            .as_ref()
            .is_none_or(|n| t.root.name.contains(n.as_str()))
            && self.min_duration.is_none_or(|d| t.duration() >= d)
            && self.max_duration.is_none_or(|d| t.duration() <= d)
            && (!self.errors_only || t.error)
            && self.attribute.as_ref().is_none_or(|(k, v)| {
                t.spans().any(|s| {
                    s.attributes
                        .iter()
                        .any(|kv| kv.key.as_str() == k && kv.value.as_str() == v.as_str())
                })
            })
            && self.since.is_none_or(|s| start >= s)
            && self.until.is_none_or(|u| start < u)
    }

    /// Reads a query string: `service`, `name`, `min_duration`, `max_duration` (`100ms`,
    /// `2s`), `errors` (`true`/`false`), `attribute` (`key=value`), `since`, `until`
    /// (Unix milliseconds), `limit`.
    pub fn parse(query: &str) -> Result<TraceQuery, QueryError> {
        let mut q = TraceQuery::default();
        for (k, v) in pairs(query) {
            match k.as_str() {
                "service" => q.service = Some(v),
                "name" => q.name = Some(v),
                "min_duration" => q.min_duration = Some(duration(&k, &v)?),
                "max_duration" => q.max_duration = Some(duration(&k, &v)?),
                "errors" => q.errors_only = boolean(&k, &v)?,
                "attribute" => {
                    let (a, b) = v.split_once('=').ok_or_else(|| QueryError {
                        parameter: k.clone(),
                        value: v.clone(),
                        expected: "key=value",
                    })?;
                    q.attribute = Some((a.to_string(), b.to_string()));
                }
                "since" => q.since = Some(millis(&k, &v)?),
                "until" => q.until = Some(millis(&k, &v)?),
                "limit" => q.limit = limit(&k, &v)?,
                _ => {
                    return Err(QueryError {
                        parameter: k,
                        value: v,
                        expected: "one of service, name, min_duration, max_duration, errors, \
                                   attribute, since, until, limit",
                    })
                }
            }
        }
        Ok(q)
    }
}

fn level_rank(level: &str) -> u8 {
    match level {
        "TRACE" => 0,
        "DEBUG" => 1,
        "INFO" => 2,
        "WARN" => 3,
        _ => 4,
    }
}

/// A [`LogQuery`] ready to test records.
pub(crate) struct LogMatcher<'a> {
    query: &'a LogQuery,
    /// The trace id asked for, read (`Some(None)`: one that is no trace id).
    trace_id: Option<Option<opentelemetry::trace::TraceId>>,
}

impl LogMatcher<'_> {
    /// Whether a kept record matches.
    pub(crate) fn matches(&self, r: &LogRecord) -> bool {
        let q = self.query;
        q.min_level
            .is_none_or(|m| level_rank(r.level().as_str()) >= level_rank(m.as_str()))
            && q.target
                .as_ref()
                .is_none_or(|t| r.target().starts_with(t.as_str()))
            && q.contains
                .as_ref()
                .is_none_or(|c| r.message().contains(c.as_str()))
            && self.trace_id.is_none_or(|t| t.is_some() && r.trace_id == t)
            && q.since.is_none_or(|s| r.time >= s)
    }
}

impl LogQuery {
    /// The query, ready to test many records (the trace id read once).
    pub(crate) fn matcher(&self) -> LogMatcher<'_> {
        LogMatcher {
            query: self,
            trace_id: self
                .trace_id
                .as_deref()
                .map(|t| opentelemetry::trace::TraceId::from_hex(t).ok()),
        }
    }

    /// Reads a query string: `level` (`trace`, `debug`, `info`, `warn`, `error`),
    /// `target`, `contains`, `trace_id`, `since` (Unix milliseconds), `limit`. `follow`
    /// is the endpoint's and is left to it.
    pub fn parse(query: &str) -> Result<LogQuery, QueryError> {
        let mut q = LogQuery::default();
        for (k, v) in pairs(query) {
            match k.as_str() {
                "level" => {
                    q.min_level = Some(match v.to_ascii_lowercase().as_str() {
                        "trace" => tracing_core::Level::TRACE,
                        "debug" => tracing_core::Level::DEBUG,
                        "info" => tracing_core::Level::INFO,
                        "warn" => tracing_core::Level::WARN,
                        "error" => tracing_core::Level::ERROR,
                        _ => {
                            return Err(QueryError {
                                parameter: k,
                                value: v,
                                expected: "trace, debug, info, warn or error",
                            })
                        }
                    })
                }
                "target" => q.target = Some(v),
                "contains" => q.contains = Some(v),
                "trace_id" => q.trace_id = Some(v.to_ascii_lowercase()),
                "since" => q.since = Some(millis(&k, &v)?),
                "limit" => q.limit = limit(&k, &v)?,
                "follow" => {}
                _ => {
                    return Err(QueryError {
                        parameter: k,
                        value: v,
                        expected: "one of level, target, contains, trace_id, since, limit, follow",
                    })
                }
            }
        }
        Ok(q)
    }
}

/// The decoded `key=value` pairs of a query string.
pub(crate) fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn duration(k: &str, v: &str) -> Result<Duration, QueryError> {
    let bad = || QueryError {
        parameter: k.to_string(),
        value: v.to_string(),
        expected: "a duration like 250ms, 1.5s or 2m",
    };
    let t = v.trim();
    let (n, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, 0.000_001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(bad());
    };
    let n: f64 = n.trim().parse().map_err(|_| bad())?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(bad());
    }
    Duration::try_from_secs_f64(n * scale).map_err(|_| bad())
}

fn boolean(k: &str, v: &str) -> Result<bool, QueryError> {
    match v {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(QueryError {
            parameter: k.to_string(),
            value: v.to_string(),
            expected: "true or false",
        }),
    }
}

fn millis(k: &str, v: &str) -> Result<SystemTime, QueryError> {
    v.trim()
        .parse::<u64>()
        .ok()
        .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
        .ok_or_else(|| QueryError {
            parameter: k.to_string(),
            value: v.to_string(),
            expected: "a time in milliseconds since the Unix epoch",
        })
}

fn limit(k: &str, v: &str) -> Result<usize, QueryError> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| QueryError {
            parameter: k.to_string(),
            value: v.to_string(),
            expected: "a number from 1 to 10000",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_read_and_bad_parameters_named() {
        let q = TraceQuery::parse(
            "service=api&name=GET%20%2Forders&min_duration=100ms&errors=true&limit=5",
        )
        .unwrap();
        assert_eq!(q.service.as_deref(), Some("api"));
        assert_eq!(q.name.as_deref(), Some("GET /orders"));
        assert_eq!(q.min_duration, Some(Duration::from_millis(100)));
        assert!(q.errors_only);
        assert_eq!(q.limit, 5);
        let e = TraceQuery::parse("min_duration=fast").unwrap_err();
        assert_eq!(
            e.to_string(),
            "query parameter `min_duration` = \"fast\" is not accepted: expected a duration like \
             250ms, 1.5s or 2m"
        );
        assert_eq!(
            TraceQuery::parse("colour=red").unwrap_err().parameter,
            "colour"
        );
        let l = LogQuery::parse("level=warn&contains=card&follow=true").unwrap();
        assert_eq!(l.min_level, Some(tracing_core::Level::WARN));
        assert_eq!(
            LogQuery::parse("level=loud").unwrap_err().parameter,
            "level"
        );
    }
}
