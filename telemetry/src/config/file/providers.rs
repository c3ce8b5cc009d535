//! `tracer_provider` and `logger_provider`: processors (batch or simple) with their
//! exporter (OTLP over HTTP or gRPC, or the console), the sampler and the limits; and
//! the OTLP exporter settings the meter provider's readers share.
//!
//! This library has one OTLP exporter per signal, beside which the console may show
//! the signal too: the first OTLP processor decides, a console processor adds the
//! console, and a second OTLP processor is unsupported. A file's `otlp_http` endpoint
//! is the full URL (`.../v1/traces`), read as the per-signal endpoint is: as is.

use super::reader::{one_of, Obj, Reader};
use super::yaml::Node;
use crate::config::Config;
use crate::export::otlp::{check_header, normalise_endpoint, OtlpSettings};
use crate::export::otlp::{Compression, Protocol, HEADER_NAME, HEADER_VALUE};
use crate::export::{BatchConfig, ExporterKind};
use crate::metrics::Temporality;
use crate::sampling::{ParentBranches, Sampler};
use crate::signal::Signal;

/// Where one processor or reader sends its signal.
pub(super) enum Exporter {
    Otlp(Box<OtlpSettings>),
    Console,
}

/// Settings only the metric exporters have.
#[derive(Default)]
pub(super) struct MetricExtras {
    pub(super) temporality: Option<Temporality>,
}

const SPAN_EXPORTERS: [&str; 4] = ["otlp_http", "otlp_grpc", "console", "otlp_file/development"];

impl Reader {
    pub(super) fn tracer_provider(&mut self, node: &Node, c: &mut Config) {
        let Some(o) = self.object(
            node,
            "tracer_provider",
            &["processors", "limits", "sampler"],
            &[
                ("id_generator", "trace and span ids are always random"),
                (
                    "tracer_configurator/development",
                    "tracers cannot be configured one by one",
                ),
            ],
        ) else {
            return;
        };
        self.processors(&o, Signal::Traces, c);
        if let Some(limits) = o.get("limits") {
            self.span_limits(limits, &o.at("limits"), c);
        }
        if let Some(sampler) = o.get("sampler") {
            if let Some(s) = self.sampler(sampler, &o.at("sampler"), 0) {
                c.sampler = s;
            }
        }
    }

    pub(super) fn logger_provider(&mut self, node: &Node, c: &mut Config) {
        let Some(o) = self.object(
            node,
            "logger_provider",
            &["processors", "limits"],
            &[(
                "logger_configurator/development",
                "loggers cannot be configured one by one",
            )],
        ) else {
            return;
        };
        self.processors(&o, Signal::Logs, c);
        if let Some(limits) = o.get("limits") {
            let no_limit = "log records keep every attribute, uncut (only null is accepted)";
            let _ = self.object(
                limits,
                &o.at("limits"),
                &[],
                &[
                    ("attribute_value_length_limit", no_limit),
                    ("attribute_count_limit", no_limit),
                ],
            );
        }
    }

    /// The `processors` of a span or log provider.
    fn processors(&mut self, o: &Obj<'_>, signal: Signal, c: &mut Config) {
        let at = o.at("processors");
        let Some(list) = o.get("processors") else {
            return;
        };
        let defaults = match signal {
            Signal::Logs => BatchConfig::LOGS,
            _ => BatchConfig::TRACES,
        };
        let mut chosen: Option<(ExporterKind, BatchConfig)> = None;
        let mut console = false;
        for (i, entry) in self.list(list, &at).iter().enumerate() {
            let here = format!("{at}[{i}]");
            let Some((kind, settings)) = self.plugin(entry, &here, &["batch", "simple"]) else {
                continue;
            };
            let here = format!("{here}.{kind}");
            let (batch, exporter) = match kind {
                "batch" => {
                    let Some(p) = self.object(
                        settings,
                        &here,
                        &[
                            "schedule_delay",
                            "export_timeout",
                            "max_queue_size",
                            "max_export_batch_size",
                            "exporter",
                        ],
                        &[],
                    ) else {
                        continue;
                    };
                    let batch = self.batch(&p, defaults);
                    (
                        batch,
                        self.exporter_of(&p, signal, &mut MetricExtras::default()),
                    )
                }
                "simple" => {
                    let Some(p) = self.object(settings, &here, &["exporter"], &[]) else {
                        continue;
                    };
                    // Exported as each item comes, in the background (this library
                    // never exports on the application's thread).
                    let simple = BatchConfig {
                        max_export_batch_size: 1,
                        ..defaults
                    };
                    (
                        simple,
                        self.exporter_of(&p, signal, &mut MetricExtras::default()),
                    )
                }
                other => {
                    self.unsupported(
                        &here,
                        settings,
                        format!("`{other}` is no processor this library has: `batch` or `simple`"),
                    );
                    continue;
                }
            };
            match exporter {
                Some(Exporter::Console) => {
                    console = true;
                    if chosen.is_none() {
                        chosen = Some((ExporterKind::Console, batch));
                    }
                }
                Some(Exporter::Otlp(settings)) => match chosen {
                    Some((ExporterKind::Otlp, _)) => self.unsupported(
                        &here,
                        entry,
                        "one OTLP exporter per signal (the console may come beside it): this one is ignored",
                    ),
                    _ => {
                        c.otlp_signal[signal.index()] = *settings;
                        chosen = Some((ExporterKind::Otlp, batch));
                    }
                },
                None => {}
            }
        }
        let (kind, batch) = chosen.unwrap_or((ExporterKind::None, defaults));
        c.exporters[signal.index()] = Some(kind);
        c.console_too[signal.index()] = console && kind == ExporterKind::Otlp;
        match signal {
            Signal::Logs => c.logs_batch = batch,
            _ => c.traces_batch = batch,
        }
    }

    fn batch(&mut self, p: &Obj<'_>, defaults: BatchConfig) -> BatchConfig {
        let mut out = defaults;
        if let Some(n) = p.get("schedule_delay") {
            if let Some(d) = self.millis(n, &p.at("schedule_delay")) {
                out.schedule_delay = d;
            }
        }
        if let Some(n) = p.get("export_timeout") {
            if let Some(d) = self.millis(n, &p.at("export_timeout")) {
                out.export_timeout = d;
            }
        }
        if let Some(n) = p.get("max_queue_size") {
            if let Some(q) = self.positive(n, &p.at("max_queue_size")) {
                out.max_queue_size = q;
            }
        }
        if let Some(n) = p.get("max_export_batch_size") {
            if let Some(b) = self.positive(n, &p.at("max_export_batch_size")) {
                out.max_export_batch_size = b;
            }
            if out.max_export_batch_size > out.max_queue_size {
                let expected = format!("at most the queue size ({})", out.max_queue_size);
                self.invalid(&p.at("max_export_batch_size"), n, expected);
                out.max_export_batch_size = out.max_queue_size.min(defaults.max_export_batch_size);
            }
        }
        out
    }

    /// The `exporter` of a processor or reader (required).
    pub(super) fn exporter_of(
        &mut self,
        p: &Obj<'_>,
        signal: Signal,
        extras: &mut MetricExtras,
    ) -> Option<Exporter> {
        let at = p.at("exporter");
        let Some(node) = p.get("exporter") else {
            let here = Node {
                value: super::yaml::Value::Null,
                line: p.line,
                column: 1,
            };
            self.invalid(
                &at,
                &here,
                format!("an exporter (required): {}", one_of(&SPAN_EXPORTERS[..3])),
            );
            return None;
        };
        let (name, settings) = self.plugin(node, &at, &SPAN_EXPORTERS[..3])?;
        let here = format!("{at}.{name}");
        match name {
            "otlp_http" | "otlp_grpc" => self
                .otlp(settings, &here, name == "otlp_grpc", signal, extras)
                .map(|s| Exporter::Otlp(Box::new(s))),
            "console" => {
                let keys: &[&str] = if signal == Signal::Metrics {
                    &["temporality_preference", "default_histogram_aggregation"]
                } else {
                    &[]
                };
                let o = self.object(settings, &here, keys, &[])?;
                self.metric_extras(&o, extras);
                Some(Exporter::Console)
            }
            "otlp_file/development" => {
                self.unsupported(
                    &here,
                    settings,
                    "OTLP files are not written: add a local log output in the `telemetry` section, or use otlp_http",
                );
                None
            }
            other => {
                self.unsupported(
                    &here,
                    settings,
                    format!(
                        "`{other}` is no exporter this library has: {}",
                        one_of(&SPAN_EXPORTERS[..3])
                    ),
                );
                None
            }
        }
    }

    /// An `otlp_http` or `otlp_grpc` exporter.
    fn otlp(
        &mut self,
        node: &Node,
        path: &str,
        grpc: bool,
        signal: Signal,
        extras: &mut MetricExtras,
    ) -> Option<OtlpSettings> {
        let mut keys = vec![
            "endpoint",
            "tls",
            "headers",
            "headers_list",
            "compression",
            "timeout",
            "max_request_size",
        ];
        if !grpc {
            keys.push("encoding");
        }
        if signal == Signal::Metrics {
            keys.extend(["temporality_preference", "default_histogram_aggregation"]);
        }
        let o = self.object(
            node,
            path,
            &keys,
            &[(
                "max_response_size",
                "responses are read up to 4 MiB (OTLP's advice), not configurable",
            )],
        )?;
        let mut s = OtlpSettings {
            protocol: Some(if grpc {
                Protocol::Grpc
            } else {
                Protocol::HttpProtobuf
            }),
            ..OtlpSettings::default()
        };
        if let Some(n) = o.get("encoding") {
            let choices = [
                ("protobuf", Protocol::HttpProtobuf),
                ("json", Protocol::HttpJson),
            ];
            s.protocol = self.word(n, &o.at("encoding"), &choices).or(s.protocol);
        }
        if let Some(tls) = o.get("tls") {
            self.tls(tls, &o.at("tls"), grpc, &mut s);
        }
        if let Some(n) = o.get("endpoint") {
            let at = o.at("endpoint");
            if let Some(ep) = self.string(n, &at) {
                let protocol = s.protocol.unwrap_or(Protocol::HttpProtobuf);
                match normalise_endpoint(&ep, protocol, s.insecure.unwrap_or(false), None) {
                    Ok(_) => s.endpoint = Some(ep),
                    Err(_) => self.invalid(
                        &at,
                        n,
                        if grpc {
                            "an http:// or https:// URL (or host:port), like http://localhost:4317"
                        } else {
                            "an http:// or https:// URL with the signal's path, like http://localhost:4318/v1/traces"
                        },
                    ),
                }
            }
        }
        s.headers = self.headers(&o);
        if let Some(n) = o.get("compression") {
            let choices = [("gzip", Compression::Gzip), ("none", Compression::None)];
            s.compression = self.word(n, &o.at("compression"), &choices);
        }
        if let Some(n) = o.get("timeout") {
            s.timeout = self.millis(n, &o.at("timeout"));
        }
        if let Some(n) = o.get("max_request_size") {
            let at = o.at("max_request_size");
            let limit = crate::export::otlp::OTLP_MAX_REQUEST_SIZE;
            let expected = format!("a number of bytes from 1 to {limit} (OTLP's 64 MiB)");
            if let Some(b) = self.int(n, &at, &expected, |b| b > 0 && b.unsigned_abs() <= limit) {
                let b = b.unsigned_abs();
                self.max_request_size = Some(self.max_request_size.map_or(b, |m: u64| m.min(b)));
            }
        }
        self.metric_extras(&o, extras);
        Some(s)
    }

    fn metric_extras(&mut self, o: &Obj<'_>, extras: &mut MetricExtras) {
        if let Some(n) = o.get("temporality_preference") {
            let choices = [
                ("cumulative", Temporality::Cumulative),
                ("delta", Temporality::Delta),
                ("low_memory", Temporality::LowMemory),
            ];
            extras.temporality = self.word(n, &o.at("temporality_preference"), &choices);
        }
        self.fixed(
            o.get("default_histogram_aggregation"),
            &o.at("default_histogram_aggregation"),
            "explicit_bucket_histogram",
            "histograms have explicit buckets (base2 exponential ones are not built)",
        );
    }

    /// `headers` (name and value pairs) over `headers_list`; values never shown.
    fn headers(&mut self, o: &Obj<'_>) -> Option<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut any = false;
        if let Some(n) = o.get("headers_list") {
            any = true;
            let at = o.at("headers_list");
            if let Some(text) = self.string(n, &at) {
                match crate::config::env::parse_pairs(&text, true) {
                    Ok(pairs) => {
                        for (i, (k, v)) in pairs.into_iter().enumerate() {
                            match check_header(&k, &v) {
                                Ok(()) => out.push((k, v)),
                                Err(_) => self.invalid(
                                    &at,
                                    n,
                                    format!("a list of headers (entry {} is not a header: expected {HEADER_NAME} = {HEADER_VALUE})", i + 1),
                                ),
                            }
                        }
                    }
                    Err(why) => self.invalid(&at, n, why),
                }
            }
        }
        if let Some(list) = o.get("headers") {
            any = true;
            let at = o.at("headers");
            for (i, entry) in self.list(list, &at).iter().enumerate() {
                let here = format!("{at}[{i}]");
                let Some(h) = self.object(entry, &here, &["name", "value"], &[]) else {
                    continue;
                };
                let Some(name) = h.get("name").and_then(|n| self.string(n, &h.at("name"))) else {
                    self.invalid(&h.at("name"), entry, "the header's name (required)");
                    continue;
                };
                // A null value: the entry is ignored, as the schema says.
                let Some(value) = h.get("value").and_then(|n| self.string(n, &h.at("value")))
                else {
                    continue;
                };
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    self.push(
                        crate::error::FileIssueKind::Invalid,
                        &h.at("name"),
                        entry,
                        name.clone(),
                        HEADER_NAME,
                    );
                } else if check_header(&name, &value).is_err() {
                    self.invalid(&h.at("value"), entry, HEADER_VALUE);
                } else {
                    out.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
                    out.push((name, value));
                }
            }
        }
        any.then_some(out)
    }

    /// The `tls` of an OTLP exporter: PEM files, read and checked now.
    fn tls(&mut self, node: &Node, path: &str, grpc: bool, s: &mut OtlpSettings) {
        let keys: &[&str] = if grpc {
            &["ca_file", "cert_file", "key_file", "insecure"]
        } else {
            &["ca_file", "cert_file", "key_file"]
        };
        let Some(o) = self.object(node, path, keys, &[]) else {
            return;
        };
        if let Some(n) = o.get("insecure") {
            s.insecure = self.bool(n, &o.at("insecure"));
        }
        let file = |r: &mut Reader, key: &str| {
            o.get(key)
                .and_then(|n| r.string(n, &o.at(key)).map(|p| (p, n)))
        };
        let ca = file(self, "ca_file");
        let cert = file(self, "cert_file");
        let key = file(self, "key_file");
        super::providers_tls::check(self, &o, ca, cert, key, s);
    }

    fn span_limits(&mut self, node: &Node, path: &str, c: &mut Config) {
        let Some(o) = self.object(
            node,
            path,
            &[
                "attribute_count_limit",
                "event_count_limit",
                "link_count_limit",
                "event_attribute_count_limit",
                "link_attribute_count_limit",
            ],
            &[(
                "attribute_value_length_limit",
                "attribute values are never cut (only null, no limit, is accepted)",
            )],
        ) else {
            return;
        };
        let get = |r: &mut Reader, key: &str| o.get(key).and_then(|n| r.limit(n, &o.at(key)));
        self.span_attribute_limit = get(self, "attribute_count_limit");
        let l = &mut c.span_limits;
        l.events = get(self, "event_count_limit").unwrap_or(l.events);
        l.links = get(self, "link_count_limit").unwrap_or(l.links);
        l.event_attributes = get(self, "event_attribute_count_limit").unwrap_or(l.event_attributes);
        l.link_attributes = get(self, "link_attribute_count_limit").unwrap_or(l.link_attributes);
    }

    /// A sampler; `depth` bounds nested parent-based samplers.
    fn sampler(&mut self, node: &Node, path: &str, depth: usize) -> Option<Sampler> {
        const NAMES: [&str; 4] = [
            "always_on",
            "always_off",
            "trace_id_ratio_based",
            "parent_based",
        ];
        let (name, settings) = self.plugin(node, path, &NAMES)?;
        let here = format!("{path}.{name}");
        match name {
            "always_on" => self
                .object(settings, &here, &[], &[])
                .map(|_| Sampler::AlwaysOn),
            "always_off" => self
                .object(settings, &here, &[], &[])
                .map(|_| Sampler::AlwaysOff),
            "trace_id_ratio_based" => {
                let o = self.object(settings, &here, &["ratio"], &[])?;
                let ratio = match o.get("ratio") {
                    Some(n) => {
                        let at = o.at("ratio");
                        let r = self.number(n, &at, "a number between 0 and 1")?;
                        if !(0.0..=1.0).contains(&r) {
                            self.invalid(&at, n, "a number between 0 and 1");
                            return None;
                        }
                        r
                    }
                    None => 1.0,
                };
                Some(Sampler::TraceIdRatio(ratio))
            }
            "parent_based" if depth < 4 => {
                const BRANCHES: [&str; 5] = [
                    "root",
                    "remote_parent_sampled",
                    "remote_parent_not_sampled",
                    "local_parent_sampled",
                    "local_parent_not_sampled",
                ];
                let o = self.object(settings, &here, &BRANCHES, &[])?;
                let mut b = ParentBranches::new(Sampler::AlwaysOn);
                for (key, slot) in BRANCHES.iter().zip([
                    &mut b.root,
                    &mut b.remote_parent_sampled,
                    &mut b.remote_parent_not_sampled,
                    &mut b.local_parent_sampled,
                    &mut b.local_parent_not_sampled,
                ]) {
                    if let Some(n) = o.get(key) {
                        if let Some(s) = self.sampler(n, &o.at(key), depth + 1) {
                            *slot = s;
                        }
                    }
                }
                Some(b.simplest())
            }
            "parent_based" => {
                self.invalid(
                    &here,
                    settings,
                    "parent-based samplers nested at most 4 deep",
                );
                None
            }
            other => {
                self.unsupported(
                    &here,
                    settings,
                    format!(
                        "`{other}` is no sampler this library has: {}",
                        one_of(&NAMES)
                    ),
                );
                None
            }
        }
    }
}
