//! The admin endpoint (feature `prometheus`): one small HTTP server on its own thread
//! that serves `/metrics` in the Prometheus text format (or OpenMetrics when asked
//! for) and `/health` with the [`HealthReport`](crate::HealthReport) as JSON (200 while
//! exporting works, 503 while a circuit is open).
//!
//! - `server.rs`: the listener, connection limits and timeouts, start and stop;
//! - `prometheus.rs`: the exposition of a metric collection, and the pull reader.

use bytes::Bytes;
use http_body_util::Full;
use opentelemetry_sdk::metrics::data::ResourceMetrics;

mod prometheus;
mod server;

pub(crate) use prometheus::PullReader;
pub(crate) use server::{AdminServer, Limits};

/// What the endpoint serves.
pub(crate) trait Source: Send + Sync + 'static {
    fn metrics(&self) -> Option<ResourceMetrics>;
    fn health(&self) -> (bool, String);
}

fn respond<B>(req: &http::Request<B>, source: &dyn Source) -> http::Response<Full<Bytes>> {
    let reply = |status: u16, content_type: &str, body: String| {
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if req.method() != http::Method::GET {
        return reply(
            405,
            "text/plain; charset=utf-8",
            "only GET is served\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => {
            let openmetrics = req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("application/openmetrics-text"));
            let Some(rm) = source.metrics() else {
                return reply(
                    503,
                    "text/plain; charset=utf-8",
                    "metrics are shut down\n".into(),
                );
            };
            let body = prometheus::encode(&rm, openmetrics);
            let ct = if openmetrics {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            reply(200, ct, body)
        }
        "/health" => {
            let (healthy, json) = source.health();
            reply(if healthy { 200 } else { 503 }, "application/json", json)
        }
        _ => reply(
            404,
            "text/plain; charset=utf-8",
            "try /metrics or /health\n".into(),
        ),
    }
}
