//! Reading the `OTEL_*` variables into a [`Config`]: each bad value becomes an
//! [`EnvIssue`] naming the variable, its value and what is accepted, and the setting
//! keeps its default. The variable names are the constants of the rooms that own the
//! settings.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Config, OTEL_SDK_DISABLED};
use crate::error::{ConfigError, EnvIssue};
use crate::export::otlp::{check_header, OtlpSettings, OtlpVars, HEADER_NAME, HEADER_VALUE};
use crate::export::otlp::{Compression, Protocol};
use crate::export::{BatchConfig, BatchVars};
use crate::export::{OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER};
use crate::layer::{
    SpanLimits, OTEL_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT,
};
use crate::metrics::{
    Temporality, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_EXPORTER_PROMETHEUS_HOST,
    OTEL_EXPORTER_PROMETHEUS_PORT, OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT,
};
use crate::propagation::{Propagator, OTEL_PROPAGATORS};
use crate::resource::{OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME};
use crate::sampling::{Sampler, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG};
use crate::signal::Signal;

pub(crate) use hints::misspelt_variables;
pub(crate) use pairs::parse_pairs;

mod exporters;
mod hints;
mod pairs;
mod tls;

/// Reads `map` (the `OTEL_*` variables) into a configuration and the issues found.
pub(super) fn read(map: BTreeMap<String, String>) -> (Config, Vec<EnvIssue>) {
    let mut env = EnvReader {
        map,
        issues: Vec::new(),
    };
    let config = env.read();
    (config, env.issues)
}

struct EnvReader {
    map: BTreeMap<String, String>,
    issues: Vec<EnvIssue>,
}

const BOOL: &str = "`true` or `false`";
const MILLIS: &str = "a non-negative integer of milliseconds";

impl EnvReader {
    /// The value of `var`, or `None` when unset or empty (empty means unset).
    fn get(&self, var: &str) -> Option<String> {
        self.map
            .get(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn issue(
        &mut self,
        var: &'static str,
        value: &str,
        expected: impl Into<String>,
        setting: &'static str,
    ) {
        // Header values carry tokens: no message, warning or `Debug` output repeats them.
        let value = if EnvIssue::is_secret(var) {
            String::new()
        } else {
            value.to_string()
        };
        self.issues.push(EnvIssue {
            var,
            value,
            expected: expected.into(),
            setting,
            instead: None,
        });
    }

    /// An OTLP/HTTP endpoint without a scheme (`localhost:4318`) has one obvious
    /// reading, `http://localhost:4318`: use it, and say so. (gRPC endpoints may go
    /// without a scheme; the specification says how to read them.)
    fn read_schemeless_http_endpoints(&mut self, c: &mut Config) {
        let protocol = |c: &Config, s: Signal| {
            c.otlp_signal[s.index()]
                .protocol
                .or(c.otlp_generic.protocol)
                .unwrap_or(Protocol::HttpProtobuf)
        };
        let schemeless = |ep: &Option<String>| ep.as_deref().is_some_and(|e| !e.contains("://"));
        for s in Signal::ALL {
            if schemeless(&c.otlp_signal[s.index()].endpoint) && protocol(c, s) != Protocol::Grpc {
                self.read_as_http(c, Some(s));
            }
        }
        let generic_http = Signal::ALL.iter().any(|&s| {
            c.otlp_signal[s.index()].endpoint.is_none() && protocol(c, s) != Protocol::Grpc
        });
        if schemeless(&c.otlp_generic.endpoint) && generic_http {
            self.read_as_http(c, None);
        }
    }

    fn read_as_http(&mut self, c: &mut Config, signal: Option<Signal>) {
        let settings = match signal {
            Some(s) => &mut c.otlp_signal[s.index()],
            None => &mut c.otlp_generic,
        };
        let Some(raw) = settings.endpoint.take() else {
            return;
        };
        let read = format!("http://{raw}");
        settings.endpoint = Some(read.clone());
        self.issues.push(EnvIssue {
            var: OtlpVars::of(signal).endpoint,
            value: raw,
            expected: "an http:// or https:// URL for OTLP/HTTP".into(),
            setting: match signal {
                None => "otlp.endpoint",
                Some(Signal::Traces) => "otlp.endpoint.traces",
                Some(Signal::Metrics) => "otlp.endpoint.metrics",
                Some(Signal::Logs) => "otlp.endpoint.logs",
            },
            instead: Some(read),
        });
    }

    fn bool(&mut self, var: &'static str, setting: &'static str) -> Option<bool> {
        let v = self.get(var)?;
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.issue(var, &v, BOOL, setting);
            None
        }
    }

    /// A number that parses as `T` and passes `ok`; else an issue saying `expected`.
    fn number<T: std::str::FromStr>(
        &mut self,
        var: &'static str,
        setting: &'static str,
        expected: &str,
        ok: impl Fn(&T) -> bool,
    ) -> Option<T> {
        let v = self.get(var)?;
        match v.parse::<T>() {
            Ok(n) if ok(&n) => Some(n),
            _ => {
                self.issue(var, &v, expected, setting);
                None
            }
        }
    }

    fn u64(&mut self, var: &'static str, expected: &str, setting: &'static str) -> Option<u64> {
        self.number(var, setting, expected, |_| true)
    }

    fn millis(&mut self, var: &'static str, setting: &'static str) -> Option<Duration> {
        self.u64(var, MILLIS, setting).map(Duration::from_millis)
    }

    fn positive_count(&mut self, var: &'static str, setting: &'static str) -> Option<usize> {
        self.number(var, setting, "a positive integer", |n| *n > 0)
    }

    fn limit(&mut self, var: &'static str, setting: &'static str) -> Option<u32> {
        self.number(var, setting, "a non-negative integer below 2^32", |_| true)
    }

    /// One of a fixed set of words, matched without regard to case.
    fn one_of<T: Copy>(
        &mut self,
        var: &'static str,
        setting: &'static str,
        choices: &[(&str, T)],
        expected: &str,
    ) -> Option<T> {
        let v = self.get(var)?;
        let found = choices
            .iter()
            .find(|(word, _)| v.eq_ignore_ascii_case(word))
            .map(|(_, value)| *value);
        if found.is_none() {
            self.issue(var, &v, expected, setting);
        }
        found
    }

    fn protocol(&mut self, var: &'static str, setting: &'static str) -> Option<Protocol> {
        let choices = [
            ("grpc", Protocol::Grpc),
            ("http/protobuf", Protocol::HttpProtobuf),
            ("http/json", Protocol::HttpJson),
        ];
        self.one_of(
            var,
            setting,
            &choices,
            "one of grpc, http/protobuf, http/json",
        )
    }

    fn compression(&mut self, var: &'static str, setting: &'static str) -> Option<Compression> {
        let choices = [("gzip", Compression::Gzip), ("none", Compression::None)];
        self.one_of(var, setting, &choices, "gzip or none")
    }

    fn pairs(&mut self, var: &'static str, setting: &'static str) -> Option<Vec<(String, String)>> {
        let v = self.get(var)?;
        match parse_pairs(&v, EnvIssue::is_secret(var)) {
            Ok(pairs) => Some(pairs),
            Err(why) => {
                self.issue(var, &v, why, setting);
                None
            }
        }
    }

    fn endpoint(&mut self, var: &'static str, setting: &'static str) -> Option<String> {
        let v = self.get(var)?;
        let looks_ok = (v.starts_with("http://") || v.starts_with("https://"))
            && v.parse::<http::Uri>()
                .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
        // gRPC also accepts host:port without a scheme.
        let host_port = !v.contains("://") && v.contains(':');
        if looks_ok || host_port {
            Some(v)
        } else {
            self.issue(
                var,
                &v,
                "an http:// or https:// URL, like http://localhost:4318",
                setting,
            );
            None
        }
    }

    fn otlp(&mut self, signal: Option<Signal>) -> OtlpSettings {
        let vars = OtlpVars::of(signal);
        macro_rules! setting {
            ($name:literal) => {
                match signal {
                    None => concat!("otlp.", $name),
                    Some(Signal::Traces) => concat!("otlp.", $name, ".traces"),
                    Some(Signal::Metrics) => concat!("otlp.", $name, ".metrics"),
                    Some(Signal::Logs) => concat!("otlp.", $name, ".logs"),
                }
            };
        }
        let (endpoint_var, endpoint_setting) = (vars.endpoint, setting!("endpoint"));
        let (protocol_var, protocol_setting) = (vars.protocol, setting!("protocol"));
        let (headers_var, headers_setting) = (vars.headers, setting!("headers"));
        let (timeout_var, timeout_setting) = (vars.timeout, setting!("timeout"));
        let (compression_var, compression_setting) = (vars.compression, setting!("compression"));
        let (insecure_var, insecure_setting) = (vars.insecure, setting!("insecure"));
        let headers = self.pairs(headers_var, headers_setting).and_then(|h| {
            let bad = h.iter().enumerate().find_map(|(i, (k, v))| {
                match check_header(k, v) {
                    Ok(()) => None,
                    Err(ConfigError::InvalidSetting { .. }) => Some(format!(
                        "a list of headers (entry {} has no valid header name: expected {HEADER_NAME})",
                        i + 1
                    )),
                    Err(_) => Some(format!(
                        "a list of headers (the value of `{k}` has characters a header cannot carry: expected {HEADER_VALUE})"
                    )),
                }
            });
            match bad {
                Some(why) => {
                    self.issue(headers_var, "", why, headers_setting);
                    None
                }
                None => Some(h),
            }
        });
        OtlpSettings {
            endpoint: self.endpoint(endpoint_var, endpoint_setting),
            protocol: self.protocol(protocol_var, protocol_setting),
            headers,
            timeout: self.millis(timeout_var, timeout_setting),
            compression: self.compression(compression_var, compression_setting),
            insecure: self.bool(insecure_var, insecure_setting),
            certificate: self.get(vars.certificate).map(Into::into),
            client_certificate: self.get(vars.client_certificate).map(Into::into),
            client_key: self.get(vars.client_key).map(Into::into),
        }
    }

    fn sampler(&mut self) -> Sampler {
        let arg = self.get(OTEL_TRACES_SAMPLER_ARG);
        let name = self
            .get(OTEL_TRACES_SAMPLER)
            .map(|s| s.to_ascii_lowercase());
        if let Some(n @ ("ratelimited" | "parentbased_ratelimited")) = name.as_deref() {
            let per_second = match arg.as_deref().map(|raw| (raw, raw.trim().parse::<f64>())) {
                None => 1.0,
                Some((_, Ok(r))) if crate::sampling::check_rate(r).is_ok() => r,
                Some((raw, _)) => {
                    self.issue(
                        OTEL_TRACES_SAMPLER_ARG,
                        raw,
                        "a positive number of traces per second",
                        "sampler",
                    );
                    1.0
                }
            };
            let limited = Sampler::RateLimited { per_second };
            return if n == "ratelimited" {
                limited
            } else {
                Sampler::ParentBased(Box::new(limited))
            };
        }
        let mut ratio = || -> f64 {
            let Some(raw) = arg.clone() else { return 1.0 };
            match raw.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    self.issue(
                        OTEL_TRACES_SAMPLER_ARG,
                        &raw,
                        "a number between 0 and 1",
                        "sampler",
                    );
                    1.0
                }
            }
        };
        match name.as_deref() {
            None | Some("parentbased_always_on") => Sampler::default(),
            Some("always_on") => Sampler::AlwaysOn,
            Some("always_off") => Sampler::AlwaysOff,
            Some("traceidratio") => Sampler::TraceIdRatio(ratio()),
            Some("parentbased_always_off") => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            Some("parentbased_traceidratio") => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(ratio())))
            }
            Some(other) => {
                let other = other.to_string();
                self.issue(
                    OTEL_TRACES_SAMPLER,
                    &other,
                    "one of always_on, always_off, traceidratio, ratelimited, \
                     parentbased_always_on, parentbased_always_off, \
                     parentbased_traceidratio, parentbased_ratelimited",
                    "sampler",
                );
                // Report a bad argument too, not only after the name is fixed: every
                // sampler that takes one takes a non-negative number.
                if let Some(raw) = arg {
                    if !raw.parse::<f64>().is_ok_and(|r| r.is_finite() && r >= 0.0) {
                        self.issue(
                            OTEL_TRACES_SAMPLER_ARG,
                            &raw,
                            "a number (a ratio between 0 and 1, or traces per second)",
                            "sampler",
                        );
                    }
                }
                Sampler::default()
            }
        }
    }

    fn propagators(&mut self) -> Option<Vec<Propagator>> {
        let v = self.get(OTEL_PROPAGATORS)?;
        let mut out = Vec::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = match part.to_ascii_lowercase().as_str() {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                "none" => continue,
                _ => {
                    self.issue(
                        OTEL_PROPAGATORS,
                        &v,
                        format!("a list of tracecontext, baggage, b3, b3multi, none (`{part}` is unknown)"),
                        "propagators",
                    );
                    // Known entries still apply: an unknown one is ignored, not the list.
                    continue;
                }
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Some(out)
    }

    fn batch(
        &mut self,
        vars: BatchVars,
        setting: &'static str,
        defaults: BatchConfig,
    ) -> BatchConfig {
        let (delay, timeout, queue, batch) = (
            vars.schedule_delay,
            vars.export_timeout,
            vars.max_queue_size,
            vars.max_export_batch_size,
        );
        let mut out = defaults;
        if let Some(d) = self.millis(delay, setting) {
            out.schedule_delay = d;
        }
        if let Some(d) = self.millis(timeout, setting) {
            out.export_timeout = d;
        }
        if let Some(n) = self.positive_count(queue, setting) {
            out.max_queue_size = n;
        }
        if let Some(n) = self.positive_count(batch, setting) {
            out.max_export_batch_size = n;
        }
        if out.max_export_batch_size > out.max_queue_size {
            // The specification: the batch must not exceed the queue.
            let raw = self.get(batch).unwrap_or_default();
            self.issue(
                batch,
                &raw,
                format!("at most the queue size ({})", out.max_queue_size),
                setting,
            );
            out.max_export_batch_size = out.max_queue_size.min(defaults.max_export_batch_size);
        }
        out
    }

    fn read(&mut self) -> Config {
        let mut c = Config::default();
        if let Some(disabled) = self.bool(OTEL_SDK_DISABLED, "enabled") {
            c.enabled = !disabled;
        }
        if let Some(v) = self.get(crate::layer::TELEMETRY_SPAN_RECORDER) {
            match crate::layer::SpanRecorder::parse(&v) {
                Some(r) => c.span_recorder = r,
                None => self.issue(
                    crate::layer::TELEMETRY_SPAN_RECORDER,
                    &v,
                    "opentelemetry or native",
                    "span recorder",
                ),
            }
        }
        if let Some(attrs) = self.pairs(OTEL_RESOURCE_ATTRIBUTES, "resource") {
            for (k, v) in attrs {
                match k.as_str() {
                    "service.name" => c.resource.service_name = Some(v),
                    "service.version" => c.resource.service_version = Some(v),
                    "deployment.environment.name" => c.resource.deployment_environment = Some(v),
                    _ => c.resource.attributes.push((k, v)),
                }
            }
        }
        if let Some(name) = self.get(OTEL_SERVICE_NAME) {
            c.resource.service_name = Some(name);
        }
        c.sampler = self.sampler();
        if let Some(p) = self.propagators() {
            c.propagators = p;
        }
        for (signal, var) in [
            (Signal::Traces, OTEL_TRACES_EXPORTER),
            (Signal::Metrics, OTEL_METRICS_EXPORTER),
            (Signal::Logs, OTEL_LOGS_EXPORTER),
        ] {
            if let Some((kind, console)) = self.exporter(var, signal) {
                c.exporters[signal.index()] = Some(kind);
                c.console_too[signal.index()] = console;
            }
            // DogStatsD finds the Agent as Datadog's own clients do.
            let dogstatsd = self
                .get(var)
                .is_some_and(|v| v.to_ascii_lowercase().contains("dogstatsd"));
            if signal == Signal::Metrics && dogstatsd {
                c.statsd = crate::export::StatsdConfig::dogstatsd_from(|k| self.get(k));
            }
        }
        c.otlp_generic = self.otlp(None);
        c.otlp_signal = [
            self.otlp(Some(Signal::Traces)),
            self.otlp(Some(Signal::Metrics)),
            self.otlp(Some(Signal::Logs)),
        ];
        self.read_schemeless_http_endpoints(&mut c);
        self.check_tls_files(&mut c);
        c.traces_batch = self.batch(BatchVars::TRACES, "traces.batch", BatchConfig::TRACES);
        c.logs_batch = self.batch(BatchVars::LOGS, "logs.batch", BatchConfig::LOGS);
        if let Some(d) = self.millis(OTEL_METRIC_EXPORT_INTERVAL, "metrics.interval") {
            if d.is_zero() {
                self.issue(
                    OTEL_METRIC_EXPORT_INTERVAL,
                    "0",
                    "a positive number of milliseconds",
                    "metrics.interval",
                );
            } else {
                c.metric_export.interval = d;
            }
        }
        let temporalities = [
            ("cumulative", Temporality::Cumulative),
            ("delta", Temporality::Delta),
            ("lowmemory", Temporality::LowMemory),
        ];
        if let Some(t) = self.one_of(
            OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
            "metrics.temporality",
            &temporalities,
            "one of cumulative, delta, lowmemory",
        ) {
            c.temporality = t;
        }
        if let Some(d) = self.millis(OTEL_METRIC_EXPORT_TIMEOUT, "metrics.timeout") {
            c.metric_export.timeout = d;
        }
        let generic_limit = self.limit(OTEL_ATTRIBUTE_COUNT_LIMIT, "limits");
        c.span_limits.attributes = self
            .limit(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "limits")
            .or(generic_limit)
            .unwrap_or(SpanLimits::DEFAULT_LIMIT);
        c.span_limits.events = self
            .limit(OTEL_SPAN_EVENT_COUNT_LIMIT, "limits")
            .unwrap_or(SpanLimits::DEFAULT_LIMIT);
        c.span_limits.links = self
            .limit(OTEL_SPAN_LINK_COUNT_LIMIT, "limits")
            .unwrap_or(SpanLimits::DEFAULT_LIMIT);
        if let Some(host) = self.get(OTEL_EXPORTER_PROMETHEUS_HOST) {
            c.prometheus.host = host;
        }
        if let Some(port) = self.number(
            OTEL_EXPORTER_PROMETHEUS_PORT,
            "prometheus",
            "a port number from 0 to 65535",
            |_: &u16| true,
        ) {
            c.prometheus.port = port;
        }
        c
    }
}
