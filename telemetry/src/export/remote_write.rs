//! Prometheus remote write 1.0: each collection (cumulative) becomes a protobuf
//! `WriteRequest` of time series, snappy-compressed (block format), POSTed with the
//! headers the specification requires. Names, units and labels follow OpenTelemetry's
//! rules for Prometheus (as `/metrics` does): a counter `jobs.done` is
//! `jobs_done_total`, a histogram in seconds `span_duration_seconds_{bucket,sum,count}`;
//! `job` and `instance` come from `service.namespace`/`service.name` and
//! `service.instance.id`. As the specification says, 5xx and 429 are retried, other
//! 4xx are not.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

use super::retry::Verdict;
use super::transport::{BoxFuture, Delivered, Encoded, Transport};
use super::{any_text, point_value, reason_of, ExportError};
use crate::metrics::prometheus_names::{label_name, metric_name};

/// Where and how to remote-write.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWriteConfig {
    /// The receiver's URL, e.g. `http://prometheus:9090/api/v1/write`.
    pub url: String,
    /// Extra request headers (e.g. `Authorization`); their values are never printed.
    pub headers: Vec<(String, String)>,
    /// Timeout of one request. Default: 10 s.
    pub timeout: Duration,
}

impl RemoteWriteConfig {
    /// Remote write to `url`, with no extra headers and a 10 s timeout.
    pub fn new(url: impl Into<String>) -> RemoteWriteConfig {
        RemoteWriteConfig {
            url: url.into(),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn validate(&self) -> Result<(), crate::ConfigError> {
        let uri = self.url.parse::<http::Uri>().ok();
        let scheme = uri.as_ref().and_then(|u| u.scheme_str());
        let https_ok = cfg!(feature = "tls") || scheme != Some("https");
        if !matches!(scheme, Some("http" | "https"))
            || uri
                .as_ref()
                .and_then(|u| u.host())
                .is_none_or(str::is_empty)
            || !https_ok
        {
            return Err(crate::ConfigError::InvalidSetting {
                setting: "remote write url",
                value: self.url.clone(),
                expected: if https_ok {
                    "an http:// or https:// URL, like http://127.0.0.1:9090/api/v1/write".into()
                } else {
                    "an http:// URL: this build has no TLS (turn on the `tls` feature)".into()
                },
            });
        }
        for (k, v) in &self.headers {
            crate::export::otlp::check_header(k, v)?;
        }
        if self.timeout.is_zero() {
            return Err(crate::ConfigError::InvalidSetting {
                setting: "remote write timeout",
                value: "0s".into(),
                expected: "a positive duration".into(),
            });
        }
        Ok(())
    }
}

// The messages of prometheus/prompb `remote.proto` and `types.proto` (1.0).
#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

/// The series of one collection.
fn series(request: &ExportMetricsServiceRequest) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    for rm in &request.resource_metrics {
        let resource: BTreeMap<&str, String> = rm
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .map(|kv| (kv.key.as_str(), any_text(&kv.value)))
            .collect();
        let job = match (
            resource.get("service.namespace"),
            resource.get("service.name"),
        ) {
            (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
            (None, Some(name)) => Some(name.clone()),
            _ => None,
        };
        let instance = resource.get("service.instance.id").cloned();
        let push = |out: &mut Vec<TimeSeries>,
                    name: String,
                    attrs: &[KeyValue],
                    extra: Option<(&str, String)>,
                    value: f64,
                    time_nanos: u64| {
            let mut labels: BTreeMap<String, String> = attrs
                .iter()
                .map(|kv| (label_name(&kv.key), any_text(&kv.value)))
                .collect();
            if let Some(job) = &job {
                labels.insert("job".into(), job.clone());
            }
            if let Some(instance) = &instance {
                labels.insert("instance".into(), instance.clone());
            }
            if let Some((k, v)) = extra {
                labels.insert(k.into(), v);
            }
            labels.insert("__name__".into(), name);
            out.push(TimeSeries {
                // Sorted by name, as the specification requires (BTreeMap order).
                labels: labels
                    .into_iter()
                    .map(|(name, value)| Label { name, value })
                    .collect(),
                samples: vec![Sample {
                    value,
                    timestamp: (time_nanos / 1_000_000) as i64,
                }],
            });
        };
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                match &m.data {
                    // A sum and a gauge: one series per point.
                    Some(Data::Sum(_) | Data::Gauge(_)) => {
                        let (name, points) = match &m.data {
                            Some(Data::Sum(sum)) => {
                                let mut name = metric_name(&m.name, &m.unit, false);
                                if sum.is_monotonic && !name.ends_with("_total") {
                                    name.push_str("_total");
                                }
                                (name, &sum.data_points)
                            }
                            Some(Data::Gauge(g)) => {
                                (metric_name(&m.name, &m.unit, true), &g.data_points)
                            }
                            _ => continue,
                        };
                        for p in points {
                            if let Some(v) = point_value(p) {
                                let t = p.time_unix_nano;
                                push(&mut out, name.clone(), &p.attributes, None, v, t);
                            }
                        }
                    }
                    Some(Data::Histogram(h)) => {
                        let name = metric_name(&m.name, &m.unit, false);
                        for p in &h.data_points {
                            let t = p.time_unix_nano;
                            let mut cumulative = 0u64;
                            for (i, c) in p.bucket_counts.iter().enumerate() {
                                cumulative += c;
                                let le = match p.explicit_bounds.get(i) {
                                    Some(b) => crate::metrics::prometheus_names::float(*b),
                                    None => "+Inf".to_string(),
                                };
                                push(
                                    &mut out,
                                    format!("{name}_bucket"),
                                    &p.attributes,
                                    Some(("le", le)),
                                    cumulative as f64,
                                    t,
                                );
                            }
                            push(
                                &mut out,
                                format!("{name}_sum"),
                                &p.attributes,
                                None,
                                p.sum.unwrap_or(0.0),
                                t,
                            );
                            push(
                                &mut out,
                                format!("{name}_count"),
                                &p.attributes,
                                None,
                                p.count as f64,
                                t,
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// The body of a request: the `WriteRequest`, snappy-compressed.
fn body(batch: &[ExportMetricsServiceRequest]) -> Result<Vec<u8>, ExportError> {
    let request = WriteRequest {
        timeseries: batch.iter().flat_map(series).collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .map_err(|e| ExportError::Encode(format!("snappy: {e}")))
}

type Plain = Client<HttpConnector, Full<Bytes>>;
#[cfg(feature = "tls")]
type Secure = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The remote-write transport.
pub(crate) struct RemoteWriteTransport {
    config: Arc<RemoteWriteConfig>,
    target: String,
    plain: Option<Plain>,
    #[cfg(feature = "tls")]
    secure: Option<Secure>,
}

impl RemoteWriteTransport {
    pub(crate) fn new(config: RemoteWriteConfig) -> Self {
        RemoteWriteTransport {
            target: format!("remote write {}", config.url),
            config: Arc::new(config),
            plain: None,
            #[cfg(feature = "tls")]
            secure: None,
        }
    }
}

impl Transport<ExportMetricsServiceRequest> for RemoteWriteTransport {
    type Payload = Bytes;

    fn encode(
        &mut self,
        batch: Vec<ExportMetricsServiceRequest>,
    ) -> Result<Encoded<Bytes>, ExportError> {
        let items = batch.len() as u64;
        Ok(Encoded::one(Bytes::from(body(&batch)?), items))
    }

    fn size(&self, payload: &Bytes) -> u64 {
        payload.len() as u64
    }

    fn send(&mut self, payload: &Bytes) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        let config = self.config.clone();
        let url = config.url.clone();
        let mut request = http::Request::post(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .header(http::header::CONTENT_ENCODING, "snappy")
            .header(
                http::header::USER_AGENT,
                concat!("telemetry-rust/", env!("CARGO_PKG_VERSION")),
            )
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        for (k, v) in &config.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = match request.body(Full::new(payload.clone())) {
            Ok(r) => r,
            Err(_) => {
                return Box::pin(async {
                    Err(ExportError::Encode("the request cannot be made".into()))
                })
            }
        };
        let connect_error = {
            let url = url.clone();
            move |e: hyper_util::client::legacy::Error| ExportError::Connect {
                endpoint: url.clone(),
                reason: reason_of(&e),
            }
        };
        let sent: BoxFuture<'static, Result<http::Response<hyper::body::Incoming>, ExportError>> =
            if url.starts_with("https://") {
                #[cfg(feature = "tls")]
                {
                    let client = match &self.secure {
                        Some(c) => c.clone(),
                        None => {
                            let tls =
                                crate::export::otlp::tls::ClientTls::load(&Default::default());
                            let connector = tls.map_err(|e| e.to_string()).and_then(|t| {
                                t.connector(HttpConnector::new(), false)
                                    .map_err(|e| e.to_string())
                            });
                            match connector {
                                Ok(c) => {
                                    let client = Client::builder(TokioExecutor::new()).build(c);
                                    self.secure = Some(client.clone());
                                    client
                                }
                                Err(reason) => {
                                    return Box::pin(async move {
                                        Err(ExportError::Tls {
                                            endpoint: url,
                                            reason,
                                        })
                                    })
                                }
                            }
                        }
                    };
                    Box::pin(async move { client.request(request).await.map_err(connect_error) })
                }
                #[cfg(not(feature = "tls"))]
                {
                    let _ = (request, connect_error);
                    Box::pin(async move {
                        Err(ExportError::Encode("https needs the `tls` feature".into()))
                    })
                }
            } else {
                let client = self
                    .plain
                    .get_or_insert_with(|| {
                        let mut http = HttpConnector::new();
                        http.set_nodelay(true);
                        Client::builder(TokioExecutor::new()).build(http)
                    })
                    .clone();
                Box::pin(async move { client.request(request).await.map_err(connect_error) })
            };
        let timeout = config.timeout;
        Box::pin(async move {
            let response = match tokio::time::timeout(timeout, sent).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(ExportError::Timeout {
                        endpoint: url,
                        timeout,
                    })
                }
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
                .unwrap_or_default();
            if status.is_success() {
                Ok(Delivered::default())
            } else {
                Err(ExportError::Http {
                    endpoint: url,
                    status: status.as_u16(),
                    retry_after,
                    message: (!text.is_empty()).then_some(text),
                })
            }
        })
    }

    /// The remote write specification's rules: 5xx and 429 are retried, other 4xx
    /// are not.
    fn classify(&self, error: &ExportError) -> Verdict {
        match error {
            ExportError::Http {
                status,
                retry_after,
                ..
            } if *status == 429 || (500..600).contains(status) => Verdict::Retry {
                after: *retry_after,
            },
            ExportError::Http { .. } => Verdict::Permanent,
            other => super::retry::classify(other),
        }
    }

    fn target(&self) -> &str {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    use opentelemetry_proto::tonic::metrics::v1::{
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_counter_becomes_a_total_series_with_sorted_labels_and_job() {
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "checkout")],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "jobs.done".into(),
                        data: Some(Data::Sum(Sum {
                            is_monotonic: true,
                            data_points: vec![NumberDataPoint {
                                attributes: vec![kv("queue", "mail")],
                                value: Some(Value::AsInt(3)),
                                time_unix_nano: 2_000_000_000,
                                ..Default::default()
                            }],
                            ..Default::default()
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let s = series(&request);
        assert_eq!(s.len(), 1);
        let labels: Vec<(&str, &str)> = s[0]
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("__name__", "jobs_done_total"),
                ("job", "checkout"),
                ("queue", "mail")
            ]
        );
        assert_eq!(
            s[0].samples,
            [Sample {
                value: 3.0,
                timestamp: 2000
            }]
        );
        // Snappy's block format round-trips.
        let compressed = body(&[request]).unwrap();
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&compressed)
            .unwrap();
        assert_eq!(
            WriteRequest::decode(raw.as_slice())
                .unwrap()
                .timeseries
                .len(),
            1
        );
    }
}
