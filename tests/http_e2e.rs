//! End to end over loopback: a reqwest client calls an axum "frontend", which calls an
//! axum "inventory" service. One trace id crosses both hops, each server span's parent
//! is the client span that called it, spans carry the HTTP conventions, 5xx is an error.
//!
//! axum runs connections on spawned tasks, so this binary installs a global subscriber
//! (and the global propagator) once, shared by its tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, TraceId};
use opentelemetry_sdk::trace::SpanData;
use telemetry::export::ExporterKind;
use telemetry::http::{RequestBuilderExt as _, ServerLayer};
use telemetry::propagation::InContextExt as _;
use telemetry::testing::InMemorySpans;
use telemetry::{OpenTelemetrySpanExt as _, Telemetry};
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

fn spans() -> &'static InMemorySpans {
    static SPANS: OnceLock<(InMemorySpans, Telemetry)> = OnceLock::new();
    &SPANS
        .get_or_init(|| {
            let spans = InMemorySpans::default();
            let telemetry = Telemetry::builder()
                .service_name("http-e2e")
                .in_memory(&spans)
                .metrics_exporter(ExporterKind::None)
                .logs_exporter(ExporterKind::None)
                .build()
                .unwrap();
            tracing_subscriber::registry()
                .with(telemetry.layer())
                .init();
            telemetry.set_globals();
            (spans, telemetry)
        })
        .0
}

async fn start(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn current_trace_id() -> String {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

async fn item(Path(id): Path<u32>) -> ([(&'static str, String); 1], String) {
    let seen = current_trace_id();
    tracing::info_span!("load item").in_scope(|| {});
    ([("x-trace-id", seen)], format!("item {id}"))
}

async fn order(
    State(inventory): State<SocketAddr>,
    Path(id): Path<u32>,
) -> Result<String, http::StatusCode> {
    let response = reqwest::Client::new()
        .get(format!("http://{inventory}/items/{id}"))
        .send_traced()
        .await
        .map_err(|_| http::StatusCode::BAD_GATEWAY)?;
    let seen = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response
        .text()
        .await
        .map_err(|_| http::StatusCode::BAD_GATEWAY)?;
    Ok(format!("order {id}: {body} (inventory saw {seen})"))
}

async fn services() -> SocketAddr {
    let inventory = start(
        Router::new()
            .route("/items/{id}", get(item))
            .layer(ServerLayer::new()),
    )
    .await;
    start(
        Router::new()
            .route("/orders/{id}", get(order))
            .with_state(inventory)
            .layer(ServerLayer::new()),
    )
    .await
}

fn trace(id: TraceId) -> Vec<SpanData> {
    spans()
        .spans()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == id)
        .collect()
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_crosses_two_services() {
    spans();
    let frontend = services().await;
    let root = tracing::info_span!("checkout");
    let (trace_id, body) = async {
        let body = reqwest::Client::new()
            .get(format!("http://{frontend}/orders/7"))
            .send_traced()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (current_trace_id(), body)
    }
    .instrument(root.clone())
    .await;
    drop(root);
    assert!(body.starts_with("order 7: item 7"), "{body}");
    assert!(
        body.ends_with(&format!("(inventory saw {trace_id})")),
        "one trace id across both hops: {body} vs {trace_id}"
    );

    let spans = trace(TraceId::from_hex(&trace_id).unwrap());
    let by_name: HashMap<&str, Vec<&SpanData>> = spans.iter().fold(HashMap::new(), |mut m, s| {
        m.entry(s.name.as_ref()).or_default().push(s);
        m
    });
    let one = |name: &str| {
        let found = by_name.get(name).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(found.len(), 1, "{name} in {:?}", by_name.keys());
        found[0]
    };
    let checkout = one("checkout");
    let front = one("GET /orders/{id}");
    let back = one("GET /items/{id}");
    let load = one("load item");
    let clients: Vec<&SpanData> = by_name["GET"].clone();
    assert_eq!(clients.len(), 2);
    let to_front = clients
        .iter()
        .find(|c| c.parent_span_id == checkout.span_context.span_id())
        .expect("the first client span is a child of checkout");
    let to_back = clients
        .iter()
        .find(|c| c.parent_span_id == front.span_context.span_id())
        .expect("the second client span is a child of the frontend's server span");

    // Parent links across the wire.
    assert_eq!(front.parent_span_id, to_front.span_context.span_id());
    assert!(front.parent_span_is_remote);
    assert_eq!(back.parent_span_id, to_back.span_context.span_id());
    assert!(back.parent_span_is_remote);
    assert_eq!(load.parent_span_id, back.span_context.span_id());

    // Kinds and conventions.
    assert_eq!(front.span_kind, SpanKind::Server);
    assert_eq!(to_front.span_kind, SpanKind::Client);
    assert_eq!(attr(front, "http.route").as_deref(), Some("/orders/{id}"));
    assert_eq!(attr(front, "url.path").as_deref(), Some("/orders/7"));
    assert_eq!(attr(front, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        attr(front, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attr(front, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        attr(front, "server.port"),
        Some(frontend.port().to_string())
    );
    assert_eq!(attr(front, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        attr(to_front, "url.full"),
        Some(format!("http://{frontend}/orders/7"))
    );
    assert_eq!(
        attr(to_front, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(to_back, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(front.status, Status::Unset);
    assert_eq!(attr(front, "error.type"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_mark_the_span() {
    spans();
    let frontend = services().await;
    let inventory = start(
        Router::new()
            .route(
                "/broken",
                get(|| async { http::StatusCode::SERVICE_UNAVAILABLE }),
            )
            .route("/missing", get(|| async { http::StatusCode::NOT_FOUND }))
            .layer(ServerLayer::new()),
    )
    .await;
    let root = tracing::info_span!("errors");
    let trace_id = async {
        let client = reqwest::Client::new();
        let r = client
            .get(format!("http://{inventory}/broken"))
            .send_traced()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        let r = client
            .get(format!("http://{inventory}/missing"))
            .send_traced()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        // No such route: the server span has no route and is named after the method.
        let r = client
            .post(format!("http://{frontend}/nowhere"))
            .send_traced()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        current_trace_id()
    }
    .instrument(root.clone())
    .await;
    drop(root);
    let spans = trace(TraceId::from_hex(&trace_id).unwrap());
    let broken = spans
        .iter()
        .find(|s| s.name == "GET /broken")
        .expect("server span");
    assert_eq!(broken.status, Status::error(""));
    assert_eq!(attr(broken, "error.type").as_deref(), Some("503"));
    let missing = spans
        .iter()
        .find(|s| s.name == "GET /missing")
        .expect("server span");
    assert_eq!(missing.status, Status::Unset, "4xx is not a server error");
    let client_404 = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Client
                && attr(s, "http.response.status_code").as_deref() == Some("404")
                && attr(s, "url.full").is_some_and(|u| u.ends_with("/missing"))
        })
        .expect("client span of the 404");
    assert_eq!(
        client_404.status,
        Status::error(""),
        "4xx is a client error"
    );
    assert_eq!(attr(client_404, "error.type").as_deref(), Some("404"));
    let unrouted = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server && attr(s, "url.path").as_deref() == Some("/nowhere")
        })
        .expect("server span without a route");
    assert_eq!(unrouted.name, "POST");
    assert_eq!(attr(unrouted, "http.route"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_keep_the_trace() {
    spans();
    let root = tracing::info_span!("spawner");
    let (trace_id, lost) = async {
        let kept = tokio::spawn(
            async { tracing::info_span!("background").in_scope(current_trace_id) }
                .in_current_context(),
        )
        .await
        .unwrap();
        let lost = tokio::spawn(async { tracing::info_span!("orphan").in_scope(current_trace_id) })
            .await
            .unwrap();
        assert_eq!(kept, current_trace_id());
        (kept, lost)
    }
    .instrument(root.clone())
    .await;
    drop(root);
    assert_ne!(lost, trace_id, "a plain spawn starts a new trace");
    let spans = trace(TraceId::from_hex(&trace_id).unwrap());
    let spawner = spans.iter().find(|s| s.name == "spawner").unwrap();
    let background = spans.iter().find(|s| s.name == "background").unwrap();
    assert_eq!(background.parent_span_id, spawner.span_context.span_id());
    assert!(spans.iter().all(|s| s.name != "orphan"));
}
