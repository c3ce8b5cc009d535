//! `telemetry.statsd` and `telemetry.remote_write`: metrics pushed to StatsD
//! (DogStatsD) or to a Prometheus remote-write receiver, which the standard has no
//! exporter for. Either one replaces the meter provider's push exporter.
//!
//! ```yaml
//! telemetry:
//!   statsd: { address: "127.0.0.1:8125", prefix: checkout, flavor: dogstatsd,
//!             tags: true, histogram: distribution, max_packet_size: 1432,
//!             flush_interval: 10000 }
//!   # or
//!   remote_write: { url: "http://prometheus:9090/api/v1/write", timeout: 10000,
//!                   headers: [{ name: authorization, value: "Bearer ${TOKEN}" }] }
//! ```

use super::reader::{Obj, Reader};
use super::yaml::Node;
use crate::config::Config;
use crate::export::{ExporterKind, RemoteWriteConfig, StatsdConfig, StatsdFlavor, StatsdHistogram};
use crate::signal::Signal;

impl Reader {
    pub(super) fn statsd(&mut self, node: &Node, path: &str, c: &mut Config) {
        let keys = [
            "address",
            "prefix",
            "flavor",
            "tags",
            "histogram",
            "max_packet_size",
            "flush_interval",
        ];
        let Some(o) = self.object(node, path, &keys, &[]) else {
            return;
        };
        let flavor = match o.get("flavor") {
            Some(n) => self.word(
                n,
                &o.at("flavor"),
                &[
                    ("etsy", StatsdFlavor::Etsy),
                    ("dogstatsd", StatsdFlavor::DogStatsd),
                ],
            ),
            None => Some(StatsdFlavor::Etsy),
        };
        let Some(flavor) = flavor else { return };
        let mut config = StatsdConfig {
            flavor,
            ..StatsdConfig::default()
        };
        let text = |r: &mut Reader, o: &Obj<'_>, key: &str| {
            o.get(key).and_then(|n| r.string(n, &o.at(key)))
        };
        if let Some(a) = text(self, &o, "address") {
            config.address = a;
        }
        config.prefix = text(self, &o, "prefix");
        if let Some(on) = o.get("tags").and_then(|n| self.bool(n, &o.at("tags"))) {
            config.tags = on;
        }
        if let Some(n) = o.get("histogram") {
            config.histogram = self.word(
                n,
                &o.at("histogram"),
                &[
                    ("timer", StatsdHistogram::Timer),
                    ("histogram", StatsdHistogram::Histogram),
                    ("distribution", StatsdHistogram::Distribution),
                ],
            );
        }
        if let Some(n) = o.get("max_packet_size") {
            if let Some(size) = self.positive(n, &o.at("max_packet_size")) {
                config.max_packet_size = size;
            }
        }
        if let Some(n) = o.get("flush_interval") {
            config.flush_interval = self.millis(n, &o.at("flush_interval"));
        }
        match config.validate() {
            Ok(()) => {
                c.statsd = config;
                c.exporters[Signal::Metrics.index()] = Some(ExporterKind::Statsd);
            }
            Err(e) => self.invalid(path, node, e.to_string()),
        }
    }

    pub(super) fn remote_write(&mut self, node: &Node, path: &str, c: &mut Config) {
        let Some(o) = self.object(node, path, &["url", "headers", "timeout"], &[]) else {
            return;
        };
        let Some(url) = o.get("url").and_then(|n| self.string(n, &o.at("url"))) else {
            self.invalid(&o.at("url"), node, "the receiver's URL (required)");
            return;
        };
        let mut config = RemoteWriteConfig::new(url);
        if let Some(list) = o.get("headers") {
            let at = o.at("headers");
            for (i, h) in self.list(list, &at).iter().enumerate() {
                let here = format!("{at}[{i}]");
                let Some(h) = self.object(h, &here, &["name", "value"], &[]) else {
                    continue;
                };
                let k = h.get("name").and_then(|n| self.string(n, &h.at("name")));
                let v = h.get("value").and_then(|n| self.string(n, &h.at("value")));
                if let (Some(k), Some(v)) = (k, v) {
                    config = config.header(k, v);
                }
            }
        }
        if let Some(d) = o
            .get("timeout")
            .and_then(|n| self.millis(n, &o.at("timeout")))
        {
            config.timeout = d;
        }
        match config.validate() {
            Ok(()) => {
                c.remote_write = Some(config);
                c.exporters[Signal::Metrics.index()] = Some(ExporterKind::RemoteWrite);
            }
            Err(e) => self.invalid(path, node, e.to_string()),
        }
    }
}
