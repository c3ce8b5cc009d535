//! StatsD and DogStatsD: metrics pushed over UDP, through the same pipeline (queue,
//! retry, circuit breaker, accounting) as OTLP. Each collection (delta temporality)
//! becomes lines `name:value|type[|@rate][|#tags]`, joined by `\n` into packets of at
//! most `max_packet_size` bytes:
//!
//! - a counter's delta: `c`; a gauge or up-down counter: `g` (a negative value is sent
//!   as `0` then the value, as StatsD reads `-n` as a decrement);
//! - a histogram: one line per non-empty bucket, with the bucket's count as the sample
//!   rate (`@0.25` for 4 values), as `ms` (seconds become milliseconds), `h` or `d`
//!   (DogStatsD distributions). StatsD's counts are then exact; the values are those
//!   of the buckets (their mean when all values fall in one bucket);
//! - attributes: DogStatsD tags (`|#k:v`) in DogStatsD mode or when asked, else their
//!   values appended to the name (`span.duration.ok.charge`).
//!
//! Facts from etsy/statsd's `docs/metric_types.md` and DogStatsD's datagram format.

use std::fmt::Write as _;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint;

use super::transport::{BoxFuture, Delivered, Encoded, Transport};
use super::{any_text, point_value, ExportError};

/// `DD_AGENT_HOST`: where the Datadog Agent listens, as Datadog's clients read it.
pub const DD_AGENT_HOST: &str = "DD_AGENT_HOST";
/// `DD_DOGSTATSD_PORT`: the Agent's DogStatsD port (8125).
pub const DD_DOGSTATSD_PORT: &str = "DD_DOGSTATSD_PORT";

/// Which dialect is spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsdFlavor {
    /// etsy/statsd: histograms as timers (`ms`), attributes in the name.
    #[default]
    Etsy,
    /// DogStatsD: histograms as distributions (`d`), attributes as tags.
    DogStatsd,
}

/// How histograms are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsdHistogram {
    /// Timers, `ms` (values in seconds are sent in milliseconds).
    Timer,
    /// DogStatsD histograms, `h`.
    Histogram,
    /// DogStatsD distributions, `d`.
    Distribution,
}

/// The settings of the StatsD exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsdConfig {
    /// `host:port` of the daemon. Default: `127.0.0.1:8125`.
    pub address: String,
    /// Put before every name, with a `.`. Default: none.
    pub prefix: Option<String>,
    /// The dialect. Default: etsy.
    pub flavor: StatsdFlavor,
    /// Attributes as DogStatsD tags even in etsy mode. Default: false.
    pub tags: bool,
    /// How histograms are sent. Default: timers for etsy, distributions for DogStatsD.
    pub histogram: Option<StatsdHistogram>,
    /// The largest packet, in bytes. Default: 1432 (fits a 1500-byte MTU).
    pub max_packet_size: usize,
    /// How often metrics are flushed. Default: the metric export interval.
    pub flush_interval: Option<Duration>,
}

impl Default for StatsdConfig {
    fn default() -> Self {
        StatsdConfig {
            address: "127.0.0.1:8125".into(),
            prefix: None,
            flavor: StatsdFlavor::Etsy,
            tags: false,
            histogram: None,
            max_packet_size: 1432,
            flush_interval: None,
        }
    }
}

impl StatsdConfig {
    /// DogStatsD, sending to `DD_AGENT_HOST:DD_DOGSTATSD_PORT` as read from `vars`
    /// (default `127.0.0.1:8125`).
    pub fn dogstatsd_from(vars: impl Fn(&str) -> Option<String>) -> StatsdConfig {
        let host = vars(DD_AGENT_HOST)
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| "127.0.0.1".into());
        let port = vars(DD_DOGSTATSD_PORT)
            .and_then(|p| p.trim().parse::<u16>().ok())
            .unwrap_or(8125);
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        StatsdConfig {
            address: format!("{host}:{port}"),
            flavor: StatsdFlavor::DogStatsd,
            ..StatsdConfig::default()
        }
    }

    fn histogram_type(&self) -> StatsdHistogram {
        self.histogram.unwrap_or(match self.flavor {
            StatsdFlavor::Etsy => StatsdHistogram::Timer,
            StatsdFlavor::DogStatsd => StatsdHistogram::Distribution,
        })
    }

    fn uses_tags(&self) -> bool {
        self.tags || self.flavor == StatsdFlavor::DogStatsd
    }

    pub(crate) fn validate(&self) -> Result<(), crate::ConfigError> {
        let port_ok = self
            .address
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if !port_ok {
            return Err(crate::ConfigError::InvalidSetting {
                setting: "statsd address",
                value: self.address.clone(),
                expected: "host:port, like 127.0.0.1:8125".into(),
            });
        }
        if self.max_packet_size < 64 || self.max_packet_size > 65_507 {
            return Err(crate::ConfigError::InvalidSetting {
                setting: "statsd max_packet_size",
                value: self.max_packet_size.to_string(),
                expected: "from 64 to 65507 bytes (a UDP datagram)".into(),
            });
        }
        Ok(())
    }
}

/// A name or tag part StatsD can carry: no `:`, `|`, `@`, `#`, `,` or whitespace.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The lines of one collection.
pub(crate) fn lines(request: &ExportMetricsServiceRequest, config: &StatsdConfig) -> Vec<String> {
    let mut out = Vec::new();
    for rm in &request.resource_metrics {
        let service = rm.resource.as_ref().and_then(|r| {
            r.attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .map(|kv| any_text(&kv.value))
        });
        for sm in &rm.scope_metrics {
            for metric in &sm.metrics {
                let base = match &config.prefix {
                    Some(p) => format!("{}.{}", clean(p), clean(&metric.name)),
                    None => clean(&metric.name),
                };
                let series = |attrs: &[KeyValue]| -> (String, String) {
                    let mut attrs: Vec<(&str, String)> = attrs
                        .iter()
                        .map(|kv| (kv.key.as_str(), any_text(&kv.value)))
                        .collect();
                    attrs.sort();
                    if config.uses_tags() {
                        let mut tags: Vec<String> = attrs
                            .iter()
                            .map(|(k, v)| format!("{}:{}", clean(k), clean(v)))
                            .collect();
                        if config.flavor == StatsdFlavor::DogStatsd {
                            if let Some(s) = &service {
                                tags.push(format!("service:{}", clean(s)));
                            }
                        }
                        let tags = if tags.is_empty() {
                            String::new()
                        } else {
                            format!("|#{}", tags.join(","))
                        };
                        (base.clone(), tags)
                    } else {
                        let mut name = base.clone();
                        for (_, v) in &attrs {
                            name.push('.');
                            name.push_str(&clean(v));
                        }
                        (name, String::new())
                    }
                };
                match &metric.data {
                    Some(Data::Sum(sum)) => {
                        for p in &sum.data_points {
                            let Some(v) = point_value(p) else { continue };
                            let (name, tags) = series(&p.attributes);
                            if sum.is_monotonic {
                                if v != 0.0 {
                                    out.push(format!("{name}:{}|c{tags}", number(v)));
                                }
                            } else {
                                gauge(&mut out, &name, v, &tags);
                            }
                        }
                    }
                    Some(Data::Gauge(g)) => {
                        for p in &g.data_points {
                            let Some(v) = point_value(p) else { continue };
                            let (name, tags) = series(&p.attributes);
                            gauge(&mut out, &name, v, &tags);
                        }
                    }
                    Some(Data::Histogram(h)) => {
                        let kind = config.histogram_type();
                        let scale = if kind == StatsdHistogram::Timer && metric.unit == "s" {
                            1000.0
                        } else {
                            1.0
                        };
                        let suffix = match kind {
                            StatsdHistogram::Timer => "ms",
                            StatsdHistogram::Histogram => "h",
                            StatsdHistogram::Distribution => "d",
                        };
                        for p in &h.data_points {
                            let (name, tags) = series(&p.attributes);
                            for (value, count) in samples(p) {
                                let rate = if count > 1 {
                                    format!("|@{}", number(1.0 / count as f64))
                                } else {
                                    String::new()
                                };
                                out.push(format!(
                                    "{name}:{}|{suffix}{rate}{tags}",
                                    number(value * scale)
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

fn gauge(out: &mut Vec<String>, name: &str, v: f64, tags: &str) {
    if v < 0.0 {
        // `-n` alone would be a decrement.
        out.push(format!("{name}:0|g{tags}"));
    }
    out.push(format!("{name}:{}|g{tags}", number(v)));
}

/// A value standing for each non-empty bucket, with its count.
fn samples(p: &HistogramDataPoint) -> Vec<(f64, u64)> {
    if p.count == 0 {
        return Vec::new();
    }
    let mean = p.sum.unwrap_or(0.0) / p.count as f64;
    let filled = p.bucket_counts.iter().filter(|c| **c > 0).count();
    if filled <= 1 {
        return vec![(mean, p.count)];
    }
    let bounds = &p.explicit_bounds;
    let mut out = Vec::new();
    for (i, &count) in p.bucket_counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let lower = if i == 0 {
            p.min
                .unwrap_or(0.0)
                .min(bounds.first().copied().unwrap_or(0.0))
        } else {
            bounds[i - 1]
        };
        let upper = match bounds.get(i) {
            Some(&b) => b,
            None => p.max.unwrap_or(lower).max(lower),
        };
        // Within what was seen.
        let lower = lower.max(p.min.unwrap_or(lower));
        let upper = upper.min(p.max.unwrap_or(upper));
        out.push(((lower + upper) / 2.0, count));
    }
    out
}

/// Lines joined by `\n` into packets of at most `max` bytes (a longer line goes alone).
pub(crate) fn packets(lines: &[String], max: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut packet = String::new();
    for line in lines {
        if !packet.is_empty() && packet.len() + 1 + line.len() > max {
            out.push(Bytes::from(std::mem::take(&mut packet)));
        }
        if !packet.is_empty() {
            packet.push('\n');
        }
        let _ = write!(packet, "{line}");
    }
    if !packet.is_empty() {
        out.push(Bytes::from(packet));
    }
    out
}

/// The StatsD transport: encodes each batch of collections into packets and sends them.
pub(crate) struct StatsdTransport {
    config: StatsdConfig,
    socket: Option<Arc<UdpSocket>>,
    target: String,
}

impl StatsdTransport {
    pub(crate) fn new(config: StatsdConfig) -> Self {
        let target = format!("statsd {}", config.address);
        StatsdTransport {
            config,
            socket: None,
            target,
        }
    }

    fn socket(&mut self) -> Result<Arc<UdpSocket>, ExportError> {
        if let Some(s) = &self.socket {
            return Ok(s.clone());
        }
        let fail = |e: std::io::Error| ExportError::Connect {
            endpoint: self.config.address.clone(),
            reason: e.kind().to_string(),
        };
        use std::net::ToSocketAddrs as _;
        let addr = self
            .config
            .address
            .to_socket_addrs()
            .map_err(fail)?
            .next()
            .ok_or_else(|| fail(std::io::ErrorKind::NotFound.into()))?;
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).map_err(fail)?;
        socket.connect(addr).map_err(fail)?;
        let socket = Arc::new(socket);
        self.socket = Some(socket.clone());
        Ok(socket)
    }
}

impl Transport<ExportMetricsServiceRequest> for StatsdTransport {
    type Payload = Arc<Vec<Bytes>>;

    fn encode(
        &mut self,
        batch: Vec<ExportMetricsServiceRequest>,
    ) -> Result<Encoded<Self::Payload>, ExportError> {
        let items = batch.len() as u64;
        let lines: Vec<String> = batch.iter().flat_map(|r| lines(r, &self.config)).collect();
        Ok(Encoded::one(
            Arc::new(packets(&lines, self.config.max_packet_size)),
            items,
        ))
    }

    fn size(&self, payload: &Self::Payload) -> u64 {
        payload.iter().map(|p| p.len() as u64).sum()
    }

    fn send(
        &mut self,
        payload: &Self::Payload,
    ) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        let socket = self.socket();
        let payload = payload.clone();
        let endpoint = self.config.address.clone();
        if socket.is_err() {
            // A new socket next time (the address may resolve later).
            self.socket = None;
        }
        Box::pin(async move {
            let socket = socket?;
            for packet in payload.iter() {
                socket.send(packet).map_err(|e| ExportError::Connect {
                    endpoint: endpoint.clone(),
                    reason: e.kind().to_string(),
                })?;
            }
            Ok(Delivered::default())
        })
    }

    fn target(&self) -> &str {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_stay_under_the_size_and_keep_every_line() {
        let lines: Vec<String> = (0..100).map(|i| format!("app.metric_{i}:1|c")).collect();
        let packets = packets(&lines, 200);
        assert!(packets.iter().all(|p| p.len() <= 200), "{packets:?}");
        let joined: Vec<String> = packets
            .iter()
            .flat_map(|p| {
                std::str::from_utf8(p)
                    .unwrap()
                    .split('\n')
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(joined, lines);
    }

    #[test]
    fn histogram_buckets_become_samples_with_their_counts() {
        let p = HistogramDataPoint {
            count: 5,
            sum: Some(1.1),
            bucket_counts: vec![0, 4, 1, 0],
            explicit_bounds: vec![0.1, 0.2, 0.5],
            min: Some(0.15),
            max: Some(0.3),
            ..Default::default()
        };
        assert_eq!(samples(&p), vec![(0.175, 4), (0.25, 1)]);
        let one = HistogramDataPoint {
            count: 4,
            sum: Some(0.8),
            bucket_counts: vec![0, 4, 0, 0],
            explicit_bounds: vec![0.1, 0.25, 0.5],
            ..Default::default()
        };
        assert_eq!(samples(&one), vec![(0.2, 4)]);
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(3.0), "3");
    }

    #[test]
    fn dogstatsd_reads_the_agent_variables() {
        let c = StatsdConfig::dogstatsd_from(|k| match k {
            DD_AGENT_HOST => Some("agent.local".into()),
            DD_DOGSTATSD_PORT => Some("9125".into()),
            _ => None,
        });
        assert_eq!(c.address, "agent.local:9125");
        assert_eq!(c.flavor, StatsdFlavor::DogStatsd);
        assert_eq!(
            StatsdConfig::dogstatsd_from(|_| None).address,
            "127.0.0.1:8125"
        );
    }
}
