//! The admin endpoint (feature `prometheus`): one small HTTP server on its own thread
//! that serves `/metrics` in the Prometheus text format (or OpenMetrics when asked
//! for), and `/livez`, `/readyz`, `/readyz/<check>` and `/health` in the
//! `application/health+json` format (see `checks/render.rs`).
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

/// What `/metrics` finds.
pub(crate) enum Pulled {
    Metrics(ResourceMetrics),
    /// Metrics are not exported to Prometheus.
    Elsewhere,
    /// The meter provider is shut down.
    ShutDown,
}

/// What the endpoint serves.
pub(crate) trait Source: Send + Sync + 'static {
    fn metrics(&self) -> Pulled;
    /// The telemetry's report and whether the checks' thread runs; `None` once the
    /// telemetry is gone.
    fn health(&self) -> Option<(crate::HealthReport, Result<(), String>)>;
}

fn respond<B>(req: &http::Request<B>, source: &dyn Source) -> http::Response<Full<Bytes>> {
    let reply = |status: u16, content_type: &str, body: String| {
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != http::Method::GET {
        return reply(405, TEXT, "only GET is served\n".into());
    }
    let path = req.uri().path();
    match path {
        "/metrics" => {
            let openmetrics = req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("application/openmetrics-text"));
            let rm = match source.metrics() {
                Pulled::Metrics(rm) => rm,
                Pulled::Elsewhere => {
                    return reply(
                        404,
                        TEXT,
                        "metrics are not exported here: set OTEL_METRICS_EXPORTER=prometheus\n"
                            .into(),
                    )
                }
                Pulled::ShutDown => return reply(503, TEXT, "metrics are shut down\n".into()),
            };
            let body = prometheus::encode(&rm, openmetrics);
            let ct = if openmetrics {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            reply(200, ct, body)
        }
        "/livez" | "/readyz" | "/health" => health(source, path, None, req.uri().query(), &reply),
        _ if path.starts_with("/readyz/") && path.len() > "/readyz/".len() => health(
            source,
            "/readyz",
            Some(&path["/readyz/".len()..]),
            req.uri().query(),
            &reply,
        ),
        _ => reply(
            404,
            TEXT,
            "try /metrics, /livez, /readyz, /readyz/<check> or /health\n".into(),
        ),
    }
}

/// Makes a response from a status, a content type and a body.
type Reply<'a> = &'a dyn Fn(u16, &str, String) -> http::Response<Full<Bytes>>;

fn health(
    source: &dyn Source,
    path: &str,
    only: Option<&str>,
    query: Option<&str>,
    reply: Reply<'_>,
) -> http::Response<Full<Bytes>> {
    use crate::checks::render::{answer, Endpoint, Query};
    let Some((report, runner)) = source.health() else {
        return reply(
            503,
            "text/plain; charset=utf-8",
            "telemetry is shut down\n".into(),
        );
    };
    let endpoint = match path {
        "/livez" => Endpoint::Live,
        "/readyz" => Endpoint::Ready,
        _ => Endpoint::Health,
    };
    match answer(endpoint, only, &Query::parse(query), &report, &runner) {
        Some(a) => reply(a.status, a.content_type, a.body),
        None => reply(
            404,
            "text/plain; charset=utf-8",
            format!("no health check named {:?}\n", only.unwrap_or_default()),
        ),
    }
}
