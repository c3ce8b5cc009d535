//! The admin endpoint (feature `prometheus`): one small HTTP server on its own thread
//! that serves `/metrics` in the Prometheus text format (or OpenMetrics when asked
//! for), and `/livez`, `/readyz`, `/readyz/<check>` and `/health` in the
//! `application/health+json` format (see `checks/render.rs`).
//!
//! - `server.rs`: the listener, connection limits and timeouts, start and stop;
//! - `prometheus.rs`: the exposition of a metric collection, and the pull reader.

use bytes::Bytes;
use http_body_util::{Either, Full};
use opentelemetry_sdk::metrics::data::ResourceMetrics;

mod follow;
mod prometheus;
mod server;

/// A response body: whole, or streamed (`/api/logs?follow`).
type Body = Either<Full<Bytes>, follow::Streamed>;

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
    /// The flight recorder, when it is on.
    fn recorder(&self) -> Option<crate::recorder::Recorder> {
        None
    }
    /// Whether the endpoint may serve the recorder's data (which can hold user data)
    /// to a request with this `Authorization` header: on loopback, or with the token.
    fn serves_private_data(&self, _authorization: Option<&str>) -> bool {
        false
    }
}

fn respond<B>(req: &http::Request<B>, source: &dyn Source) -> http::Response<Body> {
    // Follow mode streams; everything else is answered whole.
    if req.method() == http::Method::GET && req.uri().path() == "/api/logs" {
        let query = req.uri().query().unwrap_or("");
        if crate::recorder::query_follows(query) {
            if let Some(response) = follow_logs(req, source, query) {
                return response;
            }
        }
    }
    respond_whole(req, source).map(Either::Left)
}

/// `/api/logs?follow`, when the recorder is on, the caller may see its data and the
/// query is good; `None` leaves the answer (404, 401 or 400) to [`api`].
fn follow_logs<B>(
    req: &http::Request<B>,
    source: &dyn Source,
    query: &str,
) -> Option<http::Response<Body>> {
    let recorder = source.recorder()?;
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !source.serves_private_data(authorization) {
        return None;
    }
    let q = crate::recorder::LogQuery::parse(query).ok()?;
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/x-ndjson")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Either::Right(follow::start(recorder, q)))
        .ok()
}

fn respond_whole<B>(req: &http::Request<B>, source: &dyn Source) -> http::Response<Full<Bytes>> {
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
        // The page holds no data: it fetches /api/*, which is guarded.
        "/debug/traces" => reply(
            200,
            "text/html; charset=utf-8",
            include_str!("debug.html").to_string(),
        ),
        _ if path.starts_with("/api/") => {
            let authorization = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            api(source, path, req.uri().query(), authorization, &reply)
        }
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
            "try /metrics, /livez, /readyz, /readyz/<check>, /health, /api/traces or /debug/traces\n"
                .into(),
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

/// `/api/traces`, `/api/traces/{id}`, `/api/spans/{id}`, `/api/running`, `/api/logs`,
/// `/api/metrics`, `/api/recorder`:
/// the flight recorder as JSON.
fn api(
    source: &dyn Source,
    path: &str,
    query: Option<&str>,
    authorization: Option<&str>,
    reply: Reply<'_>,
) -> http::Response<Full<Bytes>> {
    use crate::recorder::{LogQuery, TraceQuery};
    const TEXT: &str = "text/plain; charset=utf-8";
    const JSON: &str = "application/json";
    let Some(recorder) = source.recorder() else {
        return reply(
            404,
            TEXT,
            "the flight recorder is off: turn it on with TelemetryBuilder::recorder\n".into(),
        );
    };
    if !source.serves_private_data(authorization) {
        return reply(
            401,
            TEXT,
            "the recorder's data needs `Authorization: Bearer <token>` here (the admin token)\n"
                .into(),
        );
    }
    let json = |value: serde_json::Value| reply(200, JSON, value.to_string());
    let query = query.unwrap_or("");
    let rest = &path["/api/".len()..];
    match rest.split_once('/') {
        None if rest == "traces" => match TraceQuery::parse(query) {
            Ok(q) => json(serde_json::json!({ "traces": recorder.traces(&q) })),
            Err(e) => reply(400, TEXT, format!("{e}\n")),
        },
        None if rest == "logs" => match LogQuery::parse(query) {
            Ok(q) => json(serde_json::json!({ "logs": recorder.logs_matching(&q) })),
            Err(e) => reply(400, TEXT, format!("{e}\n")),
        },
        None if rest == "recorder" => json(serde_json::json!(recorder.stats())),
        None if rest == "running" => match query {
            "" => json(serde_json::json!({ "running": recorder.running() })),
            _ => reply(
                400,
                TEXT,
                format!("/api/running takes no query parameters, got {query:?}\n"),
            ),
        },
        None if rest == "metrics" => {
            let mut prefix = None;
            for (k, v) in crate::recorder::query_pairs(query) {
                match k.as_str() {
                    "name" => prefix = Some(v),
                    _ => {
                        return reply(
                            400,
                            TEXT,
                            format!(
                                "query parameter `{k}` = {v:?} is not accepted: expected name \
                                 (a prefix of metric names)\n"
                            ),
                        )
                    }
                }
            }
            json(serde_json::json!({ "metrics": recorder.metrics(prefix.as_deref()) }))
        }
        Some(("traces", id)) if !id.is_empty() => match recorder.trace(id) {
            // The tree the console prints, for `telemetry traces show`.
            Some(t) if query.split('&').any(|p| p == "format=tree") => reply(200, TEXT, t.render()),
            Some(t) => json(serde_json::json!(t)),
            None => reply(404, TEXT, format!("no recorded trace {id:?}\n")),
        },
        Some(("spans", id)) if !id.is_empty() => match recorder.span(id) {
            Some(s) => json(serde_json::json!(s)),
            None => reply(404, TEXT, format!("no recorded span {id:?}\n")),
        },
        _ => reply(
            404,
            TEXT,
            "try /api/traces, /api/traces/<trace id>, /api/spans/<span id>, /api/running, \
             /api/logs, /api/metrics or /api/recorder\n"
                .into(),
        ),
    }
}
