//! The `telemetry` section: this library's settings that the standard has no words
//! for, in the file's own style (durations in milliseconds, sizes in bytes). The
//! schema allows extra top-level keys, so a file with it stays valid, and other SDKs
//! ignore it.
//!
//! ```yaml
//! telemetry:
//!   log_outputs:
//!     - file: { path: app.log, format: json, max_size: 10485760, max_files: 5, gzip: true }
//!     - stdout: { format: pretty }
//!   retry: { initial_backoff: 100, multiplier: 1.5, max_backoff: 2000, jitter: 0.5,
//!            max_attempts: 5, max_elapsed: 10000 }
//!   circuit_breaker: { failure_threshold: 5, open_duration: 30000 }
//!   retry_buffer: { max_items: 150000, max_bytes: 67108864 }
//!   span_metrics: { enabled: true, buckets: [0.01, 0.1, 1], cardinality_limit: 2000 }
//!   span_events: true
//!   logs_follow_sampling: false
//!   self_metrics: true
//!   span_details: { location: true, threads: false, inactivity: false }
//!   span_recorder: native             # or opentelemetry (the default)
//!   shutdown_timeout: 5000
//!   statsd: { address: "127.0.0.1:8125", prefix: checkout }   # see push.rs
//!   recorder: { max_traces: 1000 }    # the flight recorder on
//!   admin_token: ${ADMIN_TOKEN}       # serves /api/* off loopback
//!   health:          # see health.rs
//!     checks:
//!       - tcp: { name: database, address: "127.0.0.1:5432" }
//! ```
//!
//! The admin endpoint (`/metrics`, `/health`) is the standard's Prometheus pull
//! reader: `meter_provider.readers[].pull.exporter.prometheus/development` with its
//! `host` and `port`.

use super::reader::{Obj, Reader};
use super::yaml::Node;
use super::OUR_SECTION;
use crate::config::Config;
use crate::logs::{LogFormat, LogOutput};

const KEYS: &[&str] = &[
    "log_outputs",
    "retry",
    "circuit_breaker",
    "retry_buffer",
    "span_metrics",
    "span_events",
    "logs_follow_sampling",
    "self_metrics",
    "span_details",
    "span_recorder",
    "shutdown_timeout",
    "health",
    "statsd",
    "remote_write",
    "recorder",
    "admin_token",
];

impl Reader {
    pub(super) fn ours(&mut self, node: &Node, c: &mut Config) {
        let Some(o) = self.object(node, OUR_SECTION, KEYS, &[]) else {
            return;
        };
        if let Some(n) = o.get("health") {
            self.health(n, &o.at("health"), c);
        }
        if let Some(n) = o.get("statsd") {
            self.statsd(n, &o.at("statsd"), c);
        }
        if let Some(n) = o.get("remote_write") {
            self.remote_write(n, &o.at("remote_write"), c);
        }
        if let Some(n) = o.get("recorder") {
            self.recorder(n, &o.at("recorder"), c);
        }
        if let Some(n) = o.get("admin_token") {
            if let Some(t) = self.string(n, &o.at("admin_token")) {
                if t.is_empty() {
                    self.invalid(&o.at("admin_token"), n, "a non-empty token");
                } else {
                    c.admin_token = Some(crate::recorder::AdminToken::new(t));
                }
            }
        }
        if let Some(list) = o.get("log_outputs") {
            let at = o.at("log_outputs");
            for (i, entry) in self.list(list, &at).iter().enumerate() {
                if let Some(output) = self.log_output(entry, &format!("{at}[{i}]")) {
                    c.log_outputs.push(output);
                }
            }
        }
        if let Some(n) = o.get("retry") {
            self.retry(n, &o.at("retry"), c);
        }
        if let Some(n) = o.get("circuit_breaker") {
            if let Some(b) = self.object(
                n,
                &o.at("circuit_breaker"),
                &["failure_threshold", "open_duration"],
                &[],
            ) {
                let circuit = &mut c.resilience.circuit;
                if let Some(v) = b.get("failure_threshold") {
                    let at = b.at("failure_threshold");
                    circuit.failure_threshold = self
                        .int(v, &at, "a positive integer below 2^32", |n| {
                            n > 0 && u32::try_from(n).is_ok()
                        })
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(circuit.failure_threshold);
                }
                if let Some(v) = b.get("open_duration") {
                    circuit.open_duration = self
                        .millis(v, &b.at("open_duration"))
                        .unwrap_or(circuit.open_duration);
                }
            }
        }
        if let Some(n) = o.get("retry_buffer") {
            if let Some(b) = self.object(n, &o.at("retry_buffer"), &["max_items", "max_bytes"], &[])
            {
                let buffer = &mut c.resilience.buffer;
                if let Some(v) = b.get("max_items") {
                    buffer.max_items = self
                        .bytes(v, &b.at("max_items"))
                        .unwrap_or(buffer.max_items);
                }
                if let Some(v) = b.get("max_bytes") {
                    buffer.max_bytes = self
                        .bytes(v, &b.at("max_bytes"))
                        .unwrap_or(buffer.max_bytes);
                }
            }
        }
        if let Some(n) = o.get("span_metrics") {
            self.span_metrics(n, &o.at("span_metrics"), c);
        }
        let flag = |r: &mut Reader, key: &str| o.get(key).and_then(|n| r.bool(n, &o.at(key)));
        if let Some(on) = flag(self, "span_events") {
            c.span_events = Some(on);
        }
        if let Some(on) = flag(self, "logs_follow_sampling") {
            c.logs_follow_sampling = on;
        }
        if let Some(on) = flag(self, "self_metrics") {
            c.self_metrics = on;
        }
        if let Some(n) = o.get("span_details") {
            if let Some(d) = self.object(
                n,
                &o.at("span_details"),
                &["location", "threads", "inactivity"],
                &[],
            ) {
                let details = &mut c.span_details;
                for (key, slot) in [
                    ("location", &mut details.location),
                    ("threads", &mut details.threads),
                    ("inactivity", &mut details.inactivity),
                ] {
                    if let Some(on) = d.get(key).and_then(|v| self.bool(v, &d.at(key))) {
                        *slot = on;
                    }
                }
            }
        }
        if let Some(n) = o.get("span_recorder") {
            let path = o.at("span_recorder");
            if let Some(text) = self.string(n, &path) {
                match crate::layer::SpanRecorder::parse(&text) {
                    Some(r) => c.span_recorder = r,
                    None => self.invalid(&path, n, "opentelemetry or native"),
                }
            }
        }
        if let Some(n) = o.get("shutdown_timeout") {
            if let Some(d) = self.millis(n, &o.at("shutdown_timeout")) {
                c.shutdown_timeout = d;
            }
        }
    }

    /// `telemetry.recorder`: the flight recorder on, with these bounds (`{}` for the
    /// defaults).
    fn recorder(&mut self, node: &Node, path: &str, c: &mut Config) {
        let keys = [
            "max_traces",
            "max_spans_per_trace",
            "max_logs",
            "max_bytes",
            "error_share",
            "slow_share",
            "max_running",
        ];
        let Some(o) = self.object(node, path, &keys, &[]) else {
            return;
        };
        let mut r = crate::recorder::RecorderConfig::default();
        for (key, slot) in [
            ("max_traces", &mut r.max_traces),
            ("max_spans_per_trace", &mut r.max_spans_per_trace),
            ("max_logs", &mut r.max_logs),
            ("max_bytes", &mut r.max_bytes),
            ("max_running", &mut r.max_running),
        ] {
            if let Some(v) = o.get(key).and_then(|n| self.positive(n, &o.at(key))) {
                *slot = v;
            }
        }
        for (key, slot) in [
            ("error_share", &mut r.error_share),
            ("slow_share", &mut r.slow_share),
        ] {
            if let Some(n) = o.get(key) {
                match self.number(n, &o.at(key), "a share from 0 to 0.5") {
                    Some(v) if (0.0..=0.5).contains(&v) => *slot = v,
                    Some(_) => self.invalid(&o.at(key), n, "a share from 0 to 0.5"),
                    None => {}
                }
            }
        }
        c.recorder = Some(r);
    }

    fn log_output(&mut self, node: &Node, path: &str) -> Option<LogOutput> {
        let names = ["stdout", "stderr", "file"];
        let (kind, settings) = self.plugin(node, path, &names)?;
        let here = format!("{path}.{kind}");
        let keys: &[&str] = match kind {
            "file" => &["path", "format", "max_size", "max_files", "gzip", "buffer"],
            "stdout" | "stderr" => &["format", "buffer"],
            other => {
                let expected = format!("`{other}` is no log output: `stdout`, `stderr` or `file`");
                self.push(
                    crate::error::FileIssueKind::Unknown,
                    &here,
                    settings,
                    String::new(),
                    expected,
                );
                return None;
            }
        };
        let o = self.object(settings, &here, keys, &[])?;
        let format = match o.get("format") {
            Some(n) => self.word(
                n,
                &o.at("format"),
                &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)],
            )?,
            None => LogFormat::Pretty,
        };
        let mut output = match kind {
            "stdout" => LogOutput::stdout(format),
            "stderr" => LogOutput::stderr(format),
            _ => {
                let Some(p) = o.get("path").and_then(|n| self.string(n, &o.at("path"))) else {
                    self.invalid(&o.at("path"), settings, "the log file's path (required)");
                    return None;
                };
                let mut out = LogOutput::file(p, format);
                if let Some(n) = o.get("max_size") {
                    if let Some(b) = self.bytes(n, &o.at("max_size")) {
                        out = out.max_size(b);
                    }
                }
                if let Some(n) = o.get("max_files") {
                    let at = o.at("max_files");
                    if let Some(k) = self.int(n, &at, "a non-negative integer", |k| k >= 0) {
                        out = out.max_files(usize::try_from(k).unwrap_or(usize::MAX));
                    }
                }
                if let Some(on) = o.get("gzip").and_then(|n| self.bool(n, &o.at("gzip"))) {
                    out = out.gzip(on);
                }
                out
            }
        };
        if let Some(n) = o.get("buffer") {
            if let Some(lines) = self.positive(n, &o.at("buffer")) {
                output = output.buffer(lines);
            }
        }
        Some(output)
    }

    fn retry(&mut self, node: &Node, path: &str, c: &mut Config) {
        let keys = [
            "initial_backoff",
            "multiplier",
            "max_backoff",
            "jitter",
            "max_attempts",
            "max_elapsed",
        ];
        let Some(o) = self.object(node, path, &keys, &[]) else {
            return;
        };
        let mut retry = c.resilience.retry;
        let ms = |r: &mut Reader, o: &Obj<'_>, key: &str| {
            o.get(key).and_then(|n| r.millis(n, &o.at(key)))
        };
        retry.initial_backoff = ms(self, &o, "initial_backoff").unwrap_or(retry.initial_backoff);
        retry.max_backoff = ms(self, &o, "max_backoff").unwrap_or(retry.max_backoff);
        retry.max_elapsed = ms(self, &o, "max_elapsed").unwrap_or(retry.max_elapsed);
        if let Some(n) = o.get("multiplier") {
            retry.multiplier = self
                .number(n, &o.at("multiplier"), "a number of at least 1")
                .unwrap_or(retry.multiplier);
        }
        if let Some(n) = o.get("jitter") {
            retry.jitter = self
                .number(n, &o.at("jitter"), "a number from 0 to 1")
                .unwrap_or(retry.jitter);
        }
        if let Some(n) = o.get("max_attempts") {
            let at = o.at("max_attempts");
            retry.max_attempts = self
                .int(n, &at, "a positive integer below 2^32", |k| {
                    k > 0 && u32::try_from(k).is_ok()
                })
                .and_then(|k| u32::try_from(k).ok())
                .unwrap_or(retry.max_attempts);
        }
        match retry.validate() {
            Ok(()) => c.resilience.retry = retry,
            Err(crate::error::ConfigError::InvalidSetting {
                value, expected, ..
            }) => {
                self.push(
                    crate::error::FileIssueKind::Invalid,
                    path,
                    node,
                    value,
                    expected,
                );
            }
            Err(other) => self.invalid(path, node, other.to_string()),
        }
    }

    fn span_metrics(&mut self, node: &Node, path: &str, c: &mut Config) {
        let Some(o) = self.object(
            node,
            path,
            &["enabled", "buckets", "cardinality_limit"],
            &[],
        ) else {
            return;
        };
        let m = &mut c.span_metrics;
        if let Some(on) = o
            .get("enabled")
            .and_then(|n| self.bool(n, &o.at("enabled")))
        {
            m.enabled = on;
        }
        if let Some(n) = o.get("cardinality_limit") {
            m.cardinality_limit = self
                .positive(n, &o.at("cardinality_limit"))
                .unwrap_or(m.cardinality_limit);
        }
        if let Some(list) = o.get("buckets") {
            let at = o.at("buckets");
            let expected = "a list of increasing numbers of seconds";
            let bounds: Option<Vec<f64>> = self
                .list(list, &at)
                .iter()
                .map(|n| self.number(n, &at, expected))
                .collect();
            match bounds {
                Some(b) if b.windows(2).all(|w| w[0] < w[1]) => m.buckets = Some(b),
                Some(_) => self.invalid(&at, list, expected),
                None => {}
            }
        }
    }
}
