//! Two axum services on loopback, one trace across both: a request to the `frontend`
//! (`GET /orders/{id}`) calls the `inventory` (`GET /items/{id}`) over HTTP.
//!
//! ```text
//! cargo run --example axum_service            # sends three requests, prints the trace ids, exits
//! cargo run --example axum_service -- --serve # keeps both up and prints their addresses
//! ```
//!
//! Each service wraps its router in `telemetry::http::ServerLayer` (server spans named
//! after the route template, the remote parent taken from `traceparent`,
//! `http.server.request.duration`); the frontend calls the inventory with reqwest's
//! `send_traced()` (a client span whose context goes into the request headers,
//! `http.client.request.duration`). The inventory echoes the trace id it saw, so the
//! example can show that one id crossed the boundary.
//!
//! With no collector configured, traces and metrics print to the console; set
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318` to send them over OTLP.

use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::TraceContextExt as _;
use telemetry::http::{RequestBuilderExt as _, ServerLayer};
use telemetry::TelemetrySpanExt as _;
use tracing::{info, info_span, Instrument as _};

/// The id of the trace the current span belongs to, as 32 hex digits.
fn current_trace_id() -> String {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

/// The trace id a response's server saw, from its `x-trace-id` header.
fn seen_trace_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The inventory: answers with the item and, in `x-trace-id`, the trace id it saw.
async fn item(Path(id): Path<u32>) -> ([(&'static str, String); 1], String) {
    info_span!("inventory.lookup", item.id = id).in_scope(|| info!(item.id = id, "found"));
    ([("x-trace-id", current_trace_id())], format!("item {id}"))
}

/// The frontend: asks the inventory, passing the trace on.
async fn order(
    State(inventory): State<SocketAddr>,
    Path(id): Path<u32>,
) -> Result<([(&'static str, String); 1], String), StatusCode> {
    let response = reqwest::Client::new()
        .get(format!("http://{inventory}/items/{id}"))
        .send_traced()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let seen = seen_trace_id(&response);
    let item = response.text().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(([("x-trace-id", seen)], format!("order {id}: {item}")))
}

async fn start(name: &str, app: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let name = name.to_string();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("{name} stopped: {e}");
        }
    });
    Ok(addr)
}

/// Sends one request to the frontend as a client would; returns (the client's trace
/// id, the id the inventory saw, the body).
async fn call(frontend: SocketAddr, id: u32) -> Result<(String, String, String), reqwest::Error> {
    async {
        let response = reqwest::Client::new()
            .get(format!("http://{frontend}/orders/{id}"))
            .send_traced()
            .await?
            .error_for_status()?;
        let seen = seen_trace_id(&response);
        let body = response.text().await?;
        Ok((current_trace_id(), seen, body))
    }
    .instrument(info_span!("client.checkout", order.id = id))
    .await
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().skip(1).any(|a| a == "--serve");
    // Reads OTEL_* variables, installs the subscriber and the global propagator and
    // meter provider that the HTTP layers use; flushes on drop at the end of `main`.
    let _guard = telemetry::Telemetry::from_env_lossy()
        .default_service_name("axum-service-example")
        .init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let all_joined = runtime.block_on(async {
        // Layers are made after `init`, so they record into its meter provider.
        let inventory = start(
            "inventory",
            Router::new()
                .route("/items/{id}", get(item))
                .layer(ServerLayer::new()),
        )
        .await?;
        let frontend = start(
            "frontend",
            Router::new()
                .route("/orders/{id}", get(order))
                .with_state(inventory)
                .layer(ServerLayer::new()),
        )
        .await?;

        if serve {
            println!("inventory listening on http://{inventory}  (GET /items/{{id}})");
            println!("frontend  listening on http://{frontend}  (GET /orders/{{id}})");
            println!("try: curl -i http://{frontend}/orders/7   (Ctrl-C to stop)");
            let _ = tokio::signal::ctrl_c().await;
            return Ok::<bool, Box<dyn std::error::Error>>(true);
        }

        let mut all_joined = true;
        for id in [7, 8, 9] {
            let (trace_id, seen, body) = call(frontend, id).await?;
            let joined = trace_id == seen;
            all_joined &= joined;
            println!(
                "trace {trace_id}: client -> frontend -> inventory ({body}; inventory saw {})",
                if joined {
                    "the same trace id"
                } else {
                    "another trace id!"
                }
            );
        }
        Ok(all_joined)
    })?;
    drop(runtime);
    if !all_joined {
        return Err("a trace id did not cross the service boundary".into());
    }
    Ok(())
}
