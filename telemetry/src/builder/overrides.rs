//! [`Overrides`]: what the builder's setters recorded, as typed fields. Applied over
//! the configuration read from the environment (code beats the environment), and
//! asked which `OTEL_*` variables they make moot, so that a bad value of a variable
//! that code overrides is no warning.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, OTEL_SDK_DISABLED};
use crate::export::otlp::OtlpVars;
use crate::export::{
    BatchConfig, BatchVars, CircuitBreakerConfig, Compression, ExporterKind, Protocol,
    RetryBufferConfig, RetryConfig, OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
};
use crate::fields::FieldValue;
use crate::layer::SpanDetails;
use crate::logs::LogOutput;
use crate::metrics::{
    SpanMetricsConfig, Temporality, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
    OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT, OTEL_METRIC_EXPORT_INTERVAL,
};
use crate::propagation::{Propagator, OTEL_PROPAGATORS};
use crate::sampling::{Sampler, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG};
use crate::signal::Signal;

/// Every setting made in code; `None` (or empty) leaves the environment's value.
#[derive(Default)]
pub(super) struct Overrides {
    pub(super) enabled: Option<bool>,
    pub(super) service_name: Option<String>,
    pub(super) default_service_name: Option<String>,
    pub(super) service_version: Option<String>,
    pub(super) deployment_environment: Option<String>,
    /// Added to the environment's, code winning per key.
    pub(super) resource_attributes: Vec<(String, String)>,
    pub(super) exporters: [Option<ExporterKind>; 3],
    pub(super) protocol: Option<Protocol>,
    pub(super) timeout: Option<Duration>,
    pub(super) compression: Option<Compression>,
    /// The endpoint of every signal: beats every `*_ENDPOINT` variable.
    pub(super) endpoint: Option<String>,
    pub(super) traces_endpoint: Option<String>,
    /// Added to the environment's, code winning per name.
    pub(super) headers: Vec<(String, String)>,
    pub(super) insecure: Option<bool>,
    /// Beats every `*_CERTIFICATE` variable.
    pub(super) certificate: Option<PathBuf>,
    /// The client certificate and key: beat every `*_CLIENT_*` variable.
    pub(super) client_identity: Option<(PathBuf, PathBuf)>,
    pub(super) traces_batch: Option<BatchConfig>,
    pub(super) logs_batch: Option<BatchConfig>,
    pub(super) shutdown_timeout: Option<Duration>,
    pub(super) metric_export_interval: Option<Duration>,
    pub(super) max_request_size: Option<u64>,
    pub(super) retry: Option<RetryConfig>,
    pub(super) circuit: Option<CircuitBreakerConfig>,
    pub(super) retry_buffer: Option<RetryBufferConfig>,
    pub(super) span_metrics: Option<SpanMetricsConfig>,
    pub(super) temporality: Option<Temporality>,
    pub(super) log_outputs: Vec<LogOutput>,
    pub(super) log_static_fields: Vec<(&'static str, String)>,
    pub(super) drop_logs_where: Vec<(String, String)>,
    pub(super) logs_follow_sampling: Option<bool>,
    pub(super) span_events: Option<bool>,
    pub(super) prometheus: Option<SocketAddr>,
    pub(super) install_globals: Option<bool>,
    pub(super) span_details: Option<SpanDetails>,
    pub(super) span_recorder: Option<crate::layer::SpanRecorder>,
    pub(super) sampler: Option<Sampler>,
    pub(super) propagators: Option<Vec<Propagator>>,
    pub(super) self_metrics: Option<bool>,
    pub(super) discard: bool,
    pub(super) statsd: Option<crate::export::StatsdConfig>,
    pub(super) remote_write: Option<crate::export::RemoteWriteConfig>,
    pub(super) recorder: Option<crate::recorder::RecorderConfig>,
    pub(super) admin_token: Option<crate::recorder::AdminToken>,
}

impl Overrides {
    /// Writes every override into `c`.
    pub(super) fn apply(self, c: &mut Config) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        set(&mut c.enabled, self.enabled);
        if let Some(name) = self.service_name {
            c.resource.service_name = Some(name);
        }
        if let Some(name) = self.default_service_name {
            c.resource.service_name.get_or_insert(name);
        }
        if let Some(version) = self.service_version {
            c.resource.service_version = Some(version);
        }
        if let Some(environment) = self.deployment_environment {
            c.resource.deployment_environment = Some(environment);
        }
        for (k, v) in self.resource_attributes {
            c.resource.attributes.retain(|(key, _)| *key != k);
            c.resource.typed_attributes.retain(|(key, _)| *key != k);
            c.resource.attributes.push((k, v));
        }
        for (i, kind) in self.exporters.into_iter().enumerate() {
            if kind.is_some() {
                // Code beats the environment's whole list.
                c.exporters[i] = kind;
                c.console_too[i] = false;
            }
        }
        if let Some(endpoint) = self.endpoint {
            // An endpoint set in code beats the per-signal variables too.
            for signal in Signal::ALL {
                c.otlp_signal[signal.index()].endpoint = None;
            }
            c.otlp_generic.endpoint = Some(endpoint);
        }
        if let Some(endpoint) = self.traces_endpoint {
            c.otlp_signal[Signal::Traces.index()].endpoint = Some(endpoint);
        }
        if self.protocol.is_some() {
            c.otlp_generic.protocol = self.protocol;
        }
        if self.timeout.is_some() {
            c.otlp_generic.timeout = self.timeout;
        }
        if self.compression.is_some() {
            c.otlp_generic.compression = self.compression;
        }
        if self.insecure.is_some() {
            for signal in Signal::ALL {
                c.otlp_signal[signal.index()].insecure = None;
            }
            c.otlp_generic.insecure = self.insecure;
        }
        if let Some(path) = self.certificate {
            for signal in Signal::ALL {
                c.otlp_signal[signal.index()].certificate = None;
            }
            c.otlp_generic.certificate = Some(path);
        }
        if let Some((certificate, key)) = self.client_identity {
            for signal in Signal::ALL {
                c.otlp_signal[signal.index()].client_certificate = None;
                c.otlp_signal[signal.index()].client_key = None;
            }
            c.otlp_generic.client_certificate = Some(certificate);
            c.otlp_generic.client_key = Some(key);
        }
        for (name, value) in self.headers {
            let headers = c.otlp_generic.headers.get_or_insert_with(Vec::new);
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
            headers.push((name, value));
        }
        set(&mut c.traces_batch, self.traces_batch);
        set(&mut c.logs_batch, self.logs_batch);
        set(&mut c.shutdown_timeout, self.shutdown_timeout);
        set(&mut c.metric_export.interval, self.metric_export_interval);
        set(&mut c.max_request_size, self.max_request_size);
        set(&mut c.resilience.retry, self.retry);
        set(&mut c.resilience.circuit, self.circuit);
        set(&mut c.resilience.buffer, self.retry_buffer);
        set(&mut c.span_metrics, self.span_metrics);
        set(&mut c.temporality, self.temporality);
        c.log_outputs.extend(self.log_outputs);
        c.log_processors.static_fields.extend(
            self.log_static_fields
                .into_iter()
                .map(|(k, v)| (k, FieldValue::Str(v))),
        );
        c.log_processors.drop_where.extend(self.drop_logs_where);
        set(&mut c.logs_follow_sampling, self.logs_follow_sampling);
        if self.span_events.is_some() {
            c.span_events = self.span_events;
        }
        if let Some(address) = self.prometheus {
            c.prometheus.host = address.ip().to_string();
            c.prometheus.port = address.port();
        }
        set(&mut c.install_globals, self.install_globals);
        set(&mut c.span_details, self.span_details);
        set(&mut c.span_recorder, self.span_recorder);
        set(&mut c.sampler, self.sampler);
        set(&mut c.propagators, self.propagators);
        set(&mut c.self_metrics, self.self_metrics);
        c.discard |= self.discard;
        set(&mut c.statsd, self.statsd);
        if self.remote_write.is_some() {
            c.remote_write = self.remote_write;
        }
        if self.recorder.is_some() {
            c.recorder = self.recorder;
        }
        if self.admin_token.is_some() {
            c.admin_token = self.admin_token;
        }
    }

    /// Whether a setting made in code replaces what the variable `var` says, so that a
    /// bad value of it does not matter. Headers and resource attributes add up with
    /// the environment's, so code overrides none of their variables.
    pub(super) fn covers(&self, var: &str) -> bool {
        let all_otlp = || {
            [
                None,
                Some(Signal::Traces),
                Some(Signal::Metrics),
                Some(Signal::Logs),
            ]
            .map(OtlpVars::of)
        };
        let names = |set: bool, vars: &[&str]| set && vars.contains(&var);
        let otlp = |set: bool, field: fn(&OtlpVars) -> &'static str| {
            set && all_otlp().iter().any(|v| field(v) == var)
        };
        names(self.enabled.is_some(), &[OTEL_SDK_DISABLED])
            || names(
                self.span_recorder.is_some(),
                &[crate::layer::TELEMETRY_SPAN_RECORDER],
            )
            || names(self.exporters[0].is_some(), &[OTEL_TRACES_EXPORTER])
            || names(self.exporters[1].is_some(), &[OTEL_METRICS_EXPORTER])
            || names(self.exporters[2].is_some(), &[OTEL_LOGS_EXPORTER])
            || otlp(self.endpoint.is_some(), |v| v.endpoint)
            || names(
                self.traces_endpoint.is_some(),
                &[OtlpVars::of(Some(Signal::Traces)).endpoint],
            )
            || otlp(self.protocol.is_some(), |v| v.protocol)
            || otlp(self.timeout.is_some(), |v| v.timeout)
            || otlp(self.compression.is_some(), |v| v.compression)
            || otlp(self.insecure.is_some(), |v| v.insecure)
            || otlp(self.certificate.is_some(), |v| v.certificate)
            || otlp(self.client_identity.is_some(), |v| v.client_certificate)
            || otlp(self.client_identity.is_some(), |v| v.client_key)
            || names(self.traces_batch.is_some(), &BatchVars::TRACES.all())
            || names(self.logs_batch.is_some(), &BatchVars::LOGS.all())
            || names(
                self.metric_export_interval.is_some(),
                &[OTEL_METRIC_EXPORT_INTERVAL],
            )
            || names(
                self.temporality.is_some(),
                &[OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE],
            )
            || names(
                self.prometheus.is_some(),
                &[OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT],
            )
            || names(
                self.sampler.is_some(),
                &[OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG],
            )
            || names(self.propagators.is_some(), &[OTEL_PROPAGATORS])
    }

    /// The names of the settings made, for `Debug` (values stay out: headers carry
    /// tokens).
    fn names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |set: bool, name: &'static str| {
            if set {
                out.push(name);
            }
        };
        add(self.enabled.is_some(), "enabled");
        add(self.service_name.is_some(), "service_name");
        add(self.default_service_name.is_some(), "default_service_name");
        add(self.service_version.is_some(), "service_version");
        add(
            self.deployment_environment.is_some(),
            "deployment_environment",
        );
        add(!self.resource_attributes.is_empty(), "resource_attribute");
        add(self.exporters[0].is_some(), "traces_exporter");
        add(self.exporters[1].is_some(), "metrics_exporter");
        add(self.exporters[2].is_some(), "logs_exporter");
        add(self.protocol.is_some(), "protocol");
        add(self.timeout.is_some(), "timeout");
        add(self.compression.is_some(), "compression");
        add(self.endpoint.is_some(), "endpoint");
        add(self.traces_endpoint.is_some(), "traces_endpoint");
        add(!self.headers.is_empty(), "header");
        add(self.insecure.is_some(), "insecure");
        add(self.certificate.is_some(), "certificate");
        add(self.client_identity.is_some(), "client_certificate");
        add(self.traces_batch.is_some(), "traces_batch");
        add(self.logs_batch.is_some(), "logs_batch");
        add(self.shutdown_timeout.is_some(), "shutdown_timeout");
        add(
            self.metric_export_interval.is_some(),
            "metric_export_interval",
        );
        add(self.max_request_size.is_some(), "max_request_size");
        add(self.retry.is_some(), "retry");
        add(self.circuit.is_some(), "circuit_breaker");
        add(self.retry_buffer.is_some(), "retry_buffer");
        add(self.span_metrics.is_some(), "span_metrics");
        add(self.temporality.is_some(), "metrics_temporality");
        add(!self.log_outputs.is_empty(), "log_output");
        add(!self.log_static_fields.is_empty(), "log_static_field");
        add(!self.drop_logs_where.is_empty(), "drop_logs_where");
        add(self.logs_follow_sampling.is_some(), "logs_follow_sampling");
        add(self.span_events.is_some(), "span_events");
        add(self.prometheus.is_some(), "prometheus_address");
        add(self.install_globals.is_some(), "install_globals");
        add(self.span_details.is_some(), "span_details");
        add(self.span_recorder.is_some(), "span_recorder");
        add(self.sampler.is_some(), "sampler");
        add(self.propagators.is_some(), "propagators");
        add(self.self_metrics.is_some(), "self_metrics");
        add(self.discard, "discard_exports");
        add(self.statsd.is_some(), "statsd");
        add(self.remote_write.is_some(), "prometheus_remote_write");
        add(self.recorder.is_some(), "recorder");
        add(self.admin_token.is_some(), "admin_token");
        out
    }
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
