//! The HTTP layers record `http.server.request.duration` and
//! `http.client.request.duration`: unit `s`, the advised buckets, the semconv
//! attributes, `error.type` on errors only, and also for requests whose trace is not
//! sampled. Without a telemetry layer they go to the global meter provider; with one,
//! to its instance (see also `metrics_routing.rs`).
//!
//! This binary installs a global meter provider, so it holds only these tests.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::OnceLock;

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use telemetry::http::{ClientLayer, ServerLayer};
use telemetry::metrics::DURATION_BUCKETS;
use telemetry::sampling::Sampler;
use telemetry::testing::InMemorySpans;
use telemetry::Telemetry;
use tower::{Layer as _, ServiceExt as _};
use tracing_subscriber::prelude::*;

struct Metrics {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

/// The global meter provider, installed once before any layer is made.
fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        opentelemetry::global::set_meter_provider(provider.clone());
        Metrics { provider, exporter }
    })
}

#[derive(Debug, Clone, PartialEq)]
struct Point {
    unit: String,
    attributes: BTreeMap<String, String>,
    count: u64,
    bounds: Vec<f64>,
}

/// The data points of histogram `name` whose attributes include `filter`.
fn points(name: &str, filter: (&str, &str)) -> Vec<Point> {
    // Tests run in parallel: one collection at a time, and only its own result.
    static COLLECT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = COLLECT.lock().unwrap_or_else(|e| e.into_inner());
    let m = metrics();
    m.exporter.reset();
    m.provider.force_flush().unwrap();
    let mut out = Vec::new();
    // Temporality is cumulative: the last export holds every point so far.
    if let Some(rm) = m.exporter.get_finished_metrics().unwrap().last() {
        for sm in rm.scope_metrics() {
            for metric in sm.metrics().filter(|metric| metric.name() == name) {
                if name.starts_with("http.") {
                    assert_eq!(sm.scope().name(), "telemetry", "{name}");
                }
                let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
                    panic!("{name} is not an f64 histogram");
                };
                for dp in h.data_points() {
                    let attributes: BTreeMap<String, String> = dp
                        .attributes()
                        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect();
                    if attributes.get(filter.0).map(String::as_str) == Some(filter.1) {
                        out.push(Point {
                            unit: metric.unit().to_string(),
                            attributes,
                            count: dp.count(),
                            bounds: dp.bounds().collect(),
                        });
                    }
                }
            }
        }
    }
    out
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn serve(
    layer: ServerLayer,
    request: http::Request<String>,
    status: u16,
) -> http::Response<String> {
    let service = tower::service_fn(move |_req: http::Request<String>| async move {
        Ok::<_, Infallible>(
            http::Response::builder()
                .status(status)
                .body(String::new())
                .unwrap(),
        )
    });
    layer.layer(service).oneshot(request).await.unwrap()
}

fn request(method: &str, uri: &str) -> http::Request<String> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "shop.test:8080")
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn server_duration_has_buckets_attributes_and_error_type() {
    metrics();
    let layer = ServerLayer::new();
    serve(layer.clone(), request("GET", "/m/ok"), 200).await;
    serve(layer.clone(), request("GET", "/m/ok"), 200).await;
    serve(layer.clone(), request("GET", "/m/ok"), 503).await;
    serve(layer.clone(), request("PURGE", "/m/ok"), 404).await;

    let mut got = points("http.server.request.duration", ("url.scheme", "http"));
    got.retain(|p| p.attributes.get("http.request.method").map(String::as_str) != Some("POST"));
    got.sort_by(|a, b| a.attributes.cmp(&b.attributes));
    let expected = vec![
        Point {
            unit: "s".into(),
            attributes: attrs(&[
                ("http.request.method", "GET"),
                ("http.response.status_code", "200"),
                ("url.scheme", "http"),
            ]),
            count: 2,
            bounds: DURATION_BUCKETS.to_vec(),
        },
        Point {
            unit: "s".into(),
            attributes: attrs(&[
                ("error.type", "503"),
                ("http.request.method", "GET"),
                ("http.response.status_code", "503"),
                ("url.scheme", "http"),
            ]),
            count: 1,
            bounds: DURATION_BUCKETS.to_vec(),
        },
        Point {
            unit: "s".into(),
            attributes: attrs(&[
                ("http.request.method", "_OTHER"),
                ("http.response.status_code", "404"),
                ("url.scheme", "http"),
            ]),
            count: 1,
            bounds: DURATION_BUCKETS.to_vec(),
        },
    ];
    let mut expected = expected;
    expected.sort_by(|a, b| a.attributes.cmp(&b.attributes));
    assert_eq!(got, expected);
}

#[tokio::test]
async fn unsampled_requests_are_still_measured() {
    metrics();
    let spans = InMemorySpans::default();
    let instance_metrics = telemetry::testing::InMemoryMetrics::default();
    let telemetry = Telemetry::builder()
        .sampler(Sampler::AlwaysOff)
        .in_memory(&spans)
        .in_memory_metrics(&instance_metrics)
        .install_globals(false) // keep this binary's meter provider
        .metrics_exporter(telemetry::export::ExporterKind::None)
        .logs_exporter(telemetry::export::ExporterKind::None)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let _default = subscriber.set_default();
    let layer = ServerLayer::new().propagators_from(&telemetry);
    for _ in 0..3 {
        serve(layer.clone(), request("POST", "/m/unsampled"), 201).await;
    }
    assert!(spans.spans().is_empty(), "no span is exported");
    // The instance records the request's span: its metric is the instance's.
    let got: Vec<Point> = instance_metrics
        .collect()
        .into_iter()
        .filter(|p| p.name == "http.server.request.duration")
        .filter(|p| p.attribute("http.request.method").as_deref() == Some("POST"))
        .map(|p| match p.value {
            telemetry::testing::PointValue::Histogram { count, bounds, .. } => Point {
                unit: p.unit.clone(),
                attributes: p.attributes.iter().cloned().collect(),
                count,
                bounds,
            },
            other => panic!("not a histogram: {other:?}"),
        })
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].count, 3);
    assert_eq!(
        got[0]
            .attributes
            .get("http.response.status_code")
            .map(String::as_str),
        Some("201")
    );
}

#[tokio::test]
async fn client_duration_has_server_address_and_error_type() {
    metrics();
    let layer = ClientLayer::new();
    for status in [200, 200, 404] {
        let service = tower::service_fn(move |req: http::Request<String>| async move {
            assert!(req
                .uri()
                .to_string()
                .starts_with("http://inventory.test:9000/"));
            Ok::<_, Infallible>(
                http::Response::builder()
                    .status(status)
                    .body(String::new())
                    .unwrap(),
            )
        });
        let req = http::Request::builder()
            .method("PUT")
            .uri("http://inventory.test:9000/items/1")
            .body(String::new())
            .unwrap();
        layer.layer(service).oneshot(req).await.unwrap();
    }
    // A call that fails without a response.
    let failing = tower::service_fn(|_req: http::Request<String>| async {
        Err::<http::Response<String>, _>(std::io::Error::other("connection reset"))
    });
    let req = http::Request::builder()
        .method("PUT")
        .uri("http://inventory.test:9000/items/2")
        .body(String::new())
        .unwrap();
    assert!(layer.layer(failing).oneshot(req).await.is_err());

    let mut got = points(
        "http.client.request.duration",
        ("server.address", "inventory.test"),
    );
    got.sort_by(|a, b| a.attributes.cmp(&b.attributes));
    let base = [
        ("http.request.method", "PUT"),
        ("server.address", "inventory.test"),
        ("server.port", "9000"),
        ("url.scheme", "http"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut a: Vec<(&str, &str)> = base.to_vec();
        a.extend_from_slice(extra);
        attrs(&a)
    };
    let summary: Vec<(BTreeMap<String, String>, u64)> = got
        .iter()
        .map(|p| (p.attributes.clone(), p.count))
        .collect();
    let mut expected = vec![
        (with(&[("http.response.status_code", "200")]), 2),
        (
            with(&[("http.response.status_code", "404"), ("error.type", "404")]),
            1,
        ),
        (with(&[("error.type", "_OTHER")]), 1),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(summary, expected);
    assert!(got
        .iter()
        .all(|p| p.unit == "s" && p.bounds == DURATION_BUCKETS));
}
