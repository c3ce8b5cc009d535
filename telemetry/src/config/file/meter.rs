//! `meter_provider`: readers (`periodic` with an OTLP or console exporter, `pull` with
//! `prometheus/development`), their cardinality limits, and views as far as they fit
//! the one histogram this library lets a view change: `span.duration`.
//!
//! As for spans and logs, metrics go to one exporter (OTLP or Prometheus) with the
//! console beside it or alone.

use super::providers::{Exporter, MetricExtras};
use super::reader::{one_of, Obj, Reader};
use super::yaml::Node;
use crate::config::Config;
use crate::export::ExporterKind;
use crate::metrics::SPAN_DURATION;
use crate::signal::Signal;

const METRICS: usize = 1;

impl Reader {
    pub(super) fn meter_provider(&mut self, node: &Node, c: &mut Config) {
        debug_assert_eq!(Signal::Metrics.index(), METRICS);
        let Some(o) = self.object(
            node,
            "meter_provider",
            &["readers", "views"],
            &[
                ("exemplar_filter", "exemplars are not recorded"),
                (
                    "view_matching_mode/development",
                    "views apply to the span duration histogram only, one by one",
                ),
                (
                    "meter_configurator/development",
                    "meters cannot be configured one by one",
                ),
            ],
        ) else {
            return;
        };
        let mut chosen: Option<ExporterKind> = None;
        let mut console = false;
        if let Some(list) = o.get("readers") {
            let at = o.at("readers");
            for (i, entry) in self.list(list, &at).iter().enumerate() {
                let here = format!("{at}[{i}]");
                let Some(kind) = self.reader(entry, &here, c) else {
                    continue;
                };
                match kind {
                    ExporterKind::Console => {
                        console = true;
                        chosen.get_or_insert(ExporterKind::Console);
                    }
                    other => match chosen {
                        Some(ExporterKind::Otlp | ExporterKind::Prometheus) => self.unsupported(
                            &here,
                            entry,
                            "one metric exporter, OTLP or Prometheus (the console may come beside it): this one is ignored",
                        ),
                        _ => chosen = Some(other),
                    },
                }
            }
        }
        let kind = chosen.unwrap_or(ExporterKind::None);
        c.exporters[METRICS] = Some(kind);
        c.console_too[METRICS] =
            console && matches!(kind, ExporterKind::Otlp | ExporterKind::Prometheus);
        if let Some(list) = o.get("views") {
            let at = o.at("views");
            for (i, entry) in self.list(list, &at).iter().enumerate() {
                self.view(entry, &format!("{at}[{i}]"), c);
            }
        }
    }

    /// One reader; what it exports to, when it is usable.
    fn reader(&mut self, node: &Node, path: &str, c: &mut Config) -> Option<ExporterKind> {
        let (name, settings) = self.plugin(node, path, &["periodic", "pull"])?;
        let here = format!("{path}.{name}");
        let producers = ("producers", "no metric producers are built in");
        match name {
            "periodic" => {
                let o = self.object(
                    settings,
                    &here,
                    &["interval", "timeout", "exporter", "cardinality_limits"],
                    &[producers],
                )?;
                if let Some(n) = o.get("interval") {
                    let at = o.at("interval");
                    if let Some(d) = self.millis(n, &at) {
                        if d.is_zero() {
                            self.invalid(&at, n, "a positive number of milliseconds");
                        } else {
                            c.metric_export.interval = d;
                        }
                    }
                }
                if let Some(n) = o.get("timeout") {
                    if let Some(d) = self.millis(n, &o.at("timeout")) {
                        c.metric_export.timeout = d;
                    }
                }
                self.cardinality_limits(&o, c);
                let mut extras = MetricExtras::default();
                let exporter = self.exporter_of(&o, Signal::Metrics, &mut extras)?;
                if let Some(t) = extras.temporality {
                    c.temporality = t;
                }
                Some(match exporter {
                    Exporter::Console => ExporterKind::Console,
                    Exporter::Otlp(settings) => {
                        c.otlp_signal[METRICS] = *settings;
                        ExporterKind::Otlp
                    }
                })
            }
            "pull" => {
                let o = self.object(
                    settings,
                    &here,
                    &["exporter", "cardinality_limits"],
                    &[producers],
                )?;
                self.cardinality_limits(&o, c);
                let at = o.at("exporter");
                let Some(exporter) = o.get("exporter") else {
                    self.invalid(
                        &at,
                        settings,
                        "an exporter (required): `prometheus/development`",
                    );
                    return None;
                };
                let (name, settings) = self.plugin(exporter, &at, &["prometheus/development"])?;
                let here = format!("{at}.{name}");
                if name != "prometheus/development" {
                    self.unsupported(
                        &here,
                        settings,
                        format!("`{name}` is no pull exporter this library has: `prometheus/development`"),
                    );
                    return None;
                }
                self.prometheus(settings, &here, c);
                Some(ExporterKind::Prometheus)
            }
            other => {
                self.unsupported(
                    &here,
                    settings,
                    format!(
                        "`{other}` is no metric reader: {}",
                        one_of(&["periodic", "pull"])
                    ),
                );
                None
            }
        }
    }

    /// `prometheus/development`: the admin endpoint's host and port (`/metrics` and
    /// `/health`); the rest only where it says what this endpoint does anyway.
    fn prometheus(&mut self, node: &Node, path: &str, c: &mut Config) {
        let Some(o) = self.object(
            node,
            path,
            &[
                "host",
                "port",
                "without_scope_info",
                "scope_info_enabled",
                "target_info_enabled/development",
                "translation_strategy",
            ],
            &[
                (
                    "resource_constant_labels",
                    "resource attributes are in `target_info`, not copied onto each series",
                ),
                (
                    "with_resource_constant_labels",
                    "resource attributes are in `target_info`, not copied onto each series",
                ),
            ],
        ) else {
            return;
        };
        if let Some(n) = o.get("host") {
            if let Some(host) = self.string(n, &o.at("host")) {
                c.prometheus.host = host;
            }
        }
        if let Some(n) = o.get("port") {
            let at = o.at("port");
            if let Some(p) = self.int(n, &at, "a port number from 0 to 65535", |p| {
                u16::try_from(p).is_ok()
            }) {
                c.prometheus.port = u16::try_from(p).unwrap_or(c.prometheus.port);
            }
        }
        let scope = "series carry the scope's `otel_scope_name` and `otel_scope_version` labels";
        self.fixed(
            o.get("without_scope_info"),
            &o.at("without_scope_info"),
            "false",
            scope,
        );
        self.fixed(
            o.get("scope_info_enabled"),
            &o.at("scope_info_enabled"),
            "true",
            scope,
        );
        self.fixed(
            o.get("target_info_enabled/development"),
            &o.at("target_info_enabled/development"),
            "true",
            "the `target_info` series is always served",
        );
        self.fixed(
            o.get("translation_strategy"),
            &o.at("translation_strategy"),
            "UnderscoreEscapingWithSuffixes",
            "names are escaped to `_` and carry unit and `_total` suffixes (UnderscoreEscapingWithSuffixes)",
        );
    }

    /// `cardinality_limits`: `default` and `histogram` bound the span duration
    /// histogram, the one instrument whose series this library limits.
    fn cardinality_limits(&mut self, reader: &Obj<'_>, c: &mut Config) {
        let Some(node) = reader.get("cardinality_limits") else {
            return;
        };
        let only = "only the span duration histogram's series are limited (`default`, `histogram`)";
        let Some(o) = self.object(
            node,
            &reader.at("cardinality_limits"),
            &["default", "histogram"],
            &[
                ("counter", only),
                ("gauge", only),
                ("observable_counter", only),
                ("observable_gauge", only),
                ("observable_up_down_counter", only),
                ("up_down_counter", only),
            ],
        ) else {
            return;
        };
        for key in ["default", "histogram"] {
            if let Some(n) = o.get(key) {
                if let Some(limit) = self.positive(n, &o.at(key)) {
                    c.span_metrics.cardinality_limit = limit;
                }
            }
        }
    }

    /// One view: only on `span.duration`, changing its buckets, dropping it, or
    /// bounding its series.
    fn view(&mut self, node: &Node, path: &str, c: &mut Config) {
        let Some(o) = self.object(node, path, &["selector", "stream"], &[]) else {
            return;
        };
        let only = format!("views apply only to this library's `{SPAN_DURATION}` histogram");
        let selector = o.get("selector");
        let Some(sel) = selector.and_then(|n| {
            self.object(
                n,
                &o.at("selector"),
                &["instrument_name", "instrument_type", "unit"],
                &[
                    ("meter_name", only.as_str()),
                    ("meter_version", only.as_str()),
                    ("meter_schema_url", only.as_str()),
                ],
            )
        }) else {
            if selector.is_none() {
                self.invalid(&o.at("selector"), node, "a selector (required)");
            }
            return;
        };
        let name = sel.get("instrument_name").and_then(|n| n.text());
        if name.as_deref() != Some(SPAN_DURATION) {
            let at = sel.at("instrument_name");
            self.unsupported(
                &at,
                sel.get("instrument_name").unwrap_or(node),
                only.clone(),
            );
            return;
        }
        self.fixed(
            sel.get("instrument_type"),
            &sel.at("instrument_type"),
            "histogram",
            &only,
        );
        self.fixed(sel.get("unit"), &sel.at("unit"), "s", &only);
        let Some(stream) = o.get("stream") else {
            return;
        };
        let not_renamed = "the span duration histogram keeps its name, description and attributes";
        let Some(s) = self.object(
            stream,
            &o.at("stream"),
            &["aggregation", "aggregation_cardinality_limit"],
            &[
                ("name", not_renamed),
                ("description", not_renamed),
                ("attribute_keys", not_renamed),
            ],
        ) else {
            return;
        };
        if let Some(n) = s.get("aggregation_cardinality_limit") {
            if let Some(limit) = self.positive(n, &s.at("aggregation_cardinality_limit")) {
                c.span_metrics.cardinality_limit = limit;
            }
        }
        let Some(agg) = s.get("aggregation") else {
            return;
        };
        let at = s.at("aggregation");
        let names = ["default", "drop", "explicit_bucket_histogram"];
        let Some((kind, settings)) = self.plugin(agg, &at, &names) else {
            return;
        };
        let here = format!("{at}.{kind}");
        match kind {
            "default" => {
                let _ = self.object(settings, &here, &[], &[]);
            }
            "drop" => {
                if self.object(settings, &here, &[], &[]).is_some() {
                    c.span_metrics.enabled = false;
                }
            }
            "explicit_bucket_histogram" => {
                let Some(h) = self.object(settings, &here, &["boundaries", "record_min_max"], &[])
                else {
                    return;
                };
                self.fixed(
                    h.get("record_min_max"),
                    &h.at("record_min_max"),
                    "true",
                    "histograms always record their min and max",
                );
                if let Some(list) = h.get("boundaries") {
                    let bat = h.at("boundaries");
                    let items = self.list(list, &bat);
                    let bounds: Option<Vec<f64>> = items
                        .iter()
                        .map(|n| self.number(n, &bat, "a list of increasing numbers of seconds"))
                        .collect();
                    match bounds {
                        Some(b) if b.windows(2).all(|w| w[0] < w[1]) => {
                            c.span_metrics.buckets = Some(b)
                        }
                        Some(_) => {
                            self.invalid(&bat, list, "a list of increasing numbers of seconds")
                        }
                        None => {}
                    }
                }
            }
            other => self.unsupported(
                &here,
                settings,
                format!(
                    "`{other}` aggregation of the span duration histogram: it is {}",
                    one_of(&names)
                ),
            ),
        }
    }
}
