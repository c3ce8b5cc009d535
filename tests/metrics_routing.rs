//! The macros' metrics (`function.duration`, `function.errors`) and the HTTP layers'
//! (`http.server.request.duration`, `http.client.request.duration`) go to the instance
//! whose layer records the call, as the layer's own metrics do: with
//! `install_globals(false)`, and with two instances side by side, each gets exactly its
//! own. No global meter provider is ever installed in this binary.

use std::convert::Infallible;

use telemetry::http::{ClientLayer, ServerLayer};
use telemetry::prelude::*;
use telemetry::testing::{InMemoryMetrics, Point, PointValue};
use telemetry::Telemetry;
use tower::{Layer as _, ServiceExt as _};
use tracing_subscriber::prelude::*;

/// An instance that installs no globals, its metrics captured in memory, and a
/// subscriber with its layer.
fn instance() -> (Telemetry, InMemoryMetrics, tracing::Dispatch) {
    let metrics = InMemoryMetrics::default();
    let telemetry = Telemetry::builder()
        .service_name("metrics-routing")
        .install_globals(false)
        .traces_exporter(telemetry::export::ExporterKind::None)
        .metrics_exporter(telemetry::export::ExporterKind::None)
        .logs_exporter(telemetry::export::ExporterKind::None)
        .in_memory_metrics(&metrics)
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    (telemetry, metrics, dispatch)
}

fn points(metrics: &InMemoryMetrics, name: &str, function: &str) -> Vec<Point> {
    let mut points: Vec<Point> = metrics
        .collect()
        .into_iter()
        .filter(|p| p.name == name)
        .filter(|p| {
            function.is_empty() || p.attribute("code.function.name").as_deref() == Some(function)
        })
        .collect();
    points.sort_by(|a, b| a.attributes.cmp(&b.attributes));
    points
}

fn count(point: &Point) -> u64 {
    match point.value {
        PointValue::Histogram { count, .. } => count,
        PointValue::Sum(v) => v as u64,
        PointValue::Gauge(_) => 1,
    }
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

#[traced]
#[track_errors]
#[measure_performance]
fn charge(fail: bool) -> Result<u8, Refused> {
    if fail {
        Err(Refused)
    } else {
        Ok(1)
    }
}

#[measure_performance]
fn unspanned(n: u8) -> u8 {
    n
}

#[test]
fn macro_metrics_arrive_without_globals() {
    let (_telemetry, metrics, dispatch) = instance();
    tracing::dispatcher::with_default(&dispatch, || {
        charge(false).unwrap();
        charge(false).unwrap();
        charge(true).unwrap_err();
        unspanned(1);
    });
    let function = "metrics_routing::charge";
    let durations = points(&metrics, "function.duration", function);
    let summary: Vec<(Option<String>, u64)> = durations
        .iter()
        .map(|p| (p.attribute("outcome"), count(p)))
        .collect();
    assert_eq!(
        summary,
        [(Some("error".into()), 1), (Some("ok".into()), 2)],
        "{durations:?}"
    );
    let errors = points(&metrics, "function.errors", function);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(count(&errors[0]), 1);
    assert_eq!(
        errors[0].attribute("error.type").as_deref(),
        Some("metrics_routing::Refused")
    );
    // Without a span of its own, the current dispatcher's instance.
    let unspanned = points(&metrics, "function.duration", "metrics_routing::unspanned");
    assert_eq!(unspanned.iter().map(count).sum::<u64>(), 1, "{unspanned:?}");
}

#[traced]
#[measure_performance]
fn shared(n: u8) -> u8 {
    n
}

#[test]
fn two_instances_each_get_their_own_calls() {
    let (_a, metrics_a, dispatch_a) = instance();
    let (_b, metrics_b, dispatch_b) = instance();
    // Interleaved on one thread, one callsite: 3 calls under A, 2 under B.
    for round in 0..5 {
        let dispatch = if round % 2 == 0 {
            &dispatch_a
        } else {
            &dispatch_b
        };
        tracing::dispatcher::with_default(dispatch, || shared(round));
    }
    let a = points(&metrics_a, "function.duration", "metrics_routing::shared");
    let b = points(&metrics_b, "function.duration", "metrics_routing::shared");
    assert_eq!(a.iter().map(count).sum::<u64>(), 3, "{a:?}");
    assert_eq!(b.iter().map(count).sum::<u64>(), 2, "{b:?}");
}

fn respond(status: u16) -> http::Response<String> {
    http::Response::builder()
        .status(status)
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn http_metrics_arrive_without_globals() {
    let (_telemetry, metrics, dispatch) = instance();
    let _default = tracing::dispatcher::set_default(&dispatch);
    // The layers are made before anything could be global, as in most programs.
    let server = ServerLayer::new();
    let client = ClientLayer::new();
    for status in [200, 500] {
        let service = tower::service_fn(move |_req: http::Request<String>| async move {
            Ok::<_, Infallible>(respond(status))
        });
        let request = http::Request::builder()
            .uri("/orders")
            .header("host", "shop.test:8080")
            .body(String::new())
            .unwrap();
        server.layer(service).oneshot(request).await.unwrap();
    }
    let service = tower::service_fn(|_req: http::Request<String>| async {
        Ok::<_, Infallible>(respond(204))
    });
    let request = http::Request::builder()
        .uri("http://inventory.test:9000/items/1")
        .body(String::new())
        .unwrap();
    client.layer(service).oneshot(request).await.unwrap();

    let server_points = points(&metrics, "http.server.request.duration", "");
    let mut summary: Vec<(Option<String>, Option<String>, u64)> = server_points
        .iter()
        .map(|p| {
            (
                p.attribute("http.response.status_code"),
                p.attribute("error.type"),
                count(p),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        [
            (Some("200".into()), None, 1),
            (Some("500".into()), Some("500".into()), 1)
        ],
        "{server_points:?}"
    );
    let client_points = points(&metrics, "http.client.request.duration", "");
    assert_eq!(client_points.len(), 1, "{client_points:?}");
    assert_eq!(
        client_points[0].attribute("server.address").as_deref(),
        Some("inventory.test")
    );
    assert_eq!(count(&client_points[0]), 1);
}
