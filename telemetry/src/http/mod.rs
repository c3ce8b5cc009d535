//! HTTP integration (feature `http`): a tower layer for servers (axum or any tower
//! service), a tower layer for clients, and [`RequestBuilderExt::send_traced`] for
//! reqwest.
//!
//! Both sides follow the OpenTelemetry HTTP semantic conventions:
//!
//! | | server ([`ServerLayer`]) | client ([`ClientLayer`], [`RequestBuilderExt`]) |
//! |---|---|---|
//! | context | extracted from the request headers: the span's remote parent | the span's context injected into the request headers |
//! | span | kind `server`, named `GET /users/{id}` (method and route template; the method alone without a route) | kind `client`, named `GET` |
//! | attributes | `http.request.method`, `url.path`, `url.scheme`, `http.route`, `server.address`, `server.port`, `network.protocol.version`, `user_agent.original`, `http.response.status_code` | `http.request.method`, `url.full` (no credentials), `server.address`, `server.port`, `http.response.status_code` |
//! | error | status 5xx, or the service failed: status `ERROR` and `error.type` | status 4xx or 5xx, or no response: status `ERROR` and `error.type` |
//! | metric | `http.server.request.duration` | `http.client.request.duration` |
//!
//! The duration histograms (unit `s`, buckets `0.005` to `10` as the conventions
//! advise) carry `http.request.method`, `url.scheme`, `http.route` (server),
//! `server.address` and `server.port` (client), `http.response.status_code` and, on
//! errors only, `error.type`. They are recorded into the meter provider of the
//! [`Telemetry`] whose layer records the request's span (found through the `tracing`
//! dispatcher, so `install_globals(false)` and several instances work), whether or not
//! the trace is sampled. With no telemetry layer installed they go to OpenTelemetry's
//! global meter provider as it was when the layer was made.
//!
//! # Servers
//!
//! With axum, add the layer with `Router::layer` so it runs after routing and sees the
//! route template (`MatchedPath`); applied around the whole router it only knows the
//! method and the path.
//!
//! ```
//! use axum::{routing::get, Router};
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(telemetry::http::ServerLayer::new());
//! ```
//!
//! # Clients
//!
//! ```no_run
//! use telemetry::http::RequestBuilderExt as _;
//!
//! # async fn f() -> Result<(), reqwest::Error> {
//! let client = reqwest::Client::new();
//! let response = client.get("http://inventory/items/7").send_traced().await?;
//! # Ok(()) }
//! ```
//!
//! Any tower client (hyper-util's, for one) takes [`ClientLayer`].
//!
//! # Propagators
//!
//! By default the layers and `send_traced` use OpenTelemetry's global propagator, set
//! by [`Telemetry::init`](crate::Telemetry::init) or
//! [`Telemetry::set_globals`](crate::Telemetry::set_globals). To use an instance's
//! configured propagators without globals, call `.propagators_from(&telemetry)` on a
//! layer, or [`RequestBuilderExt::send_traced_with`].

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::metrics::Histogram;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use crate::propagation::Propagators;
use crate::Telemetry;

mod client;
mod server;

pub use client::{ClientLayer, ClientResponseFuture, ClientService, RequestBuilderExt};
pub use server::{ServerLayer, ServerResponseFuture, ServerService};

pub(crate) use crate::metrics::ERROR_TYPE_OTHER as OTHER_ERROR;
use crate::metrics::{
    duration_histogram as histogram, CLIENT_DURATION, CLIENT_DURATION_DESCRIPTION, SERVER_DURATION,
    SERVER_DURATION_DESCRIPTION,
};

/// Which propagator a layer uses.
#[derive(Clone)]
pub(crate) enum PropagatorSource {
    Global,
    Configured(Arc<Propagators>),
}

impl PropagatorSource {
    pub(crate) fn of(telemetry: &Telemetry) -> PropagatorSource {
        PropagatorSource::Configured(telemetry.shared_propagators())
    }

    pub(crate) fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        match self {
            PropagatorSource::Global => crate::propagation::inject_context(cx, injector),
            PropagatorSource::Configured(p) => p.inject_context(cx, injector),
        }
    }

    /// Extracts on top of an empty context: a server request must not inherit whatever
    /// happens to be current on the worker thread.
    pub(crate) fn extract(&self, extractor: &dyn Extractor) -> Context {
        let base = Context::new();
        match self {
            PropagatorSource::Global => opentelemetry::global::get_text_map_propagator(|p| {
                p.extract_with_context(&base, extractor)
            }),
            PropagatorSource::Configured(p) => p.extract_with_context(&base, extractor),
        }
    }
}

impl std::fmt::Debug for PropagatorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropagatorSource::Global => f.write_str("Global"),
            PropagatorSource::Configured(p) => f.debug_tuple("Configured").field(p).finish(),
        }
    }
}

/// The method as the conventions spell it: one of the nine standard methods (and
/// `QUERY`), else `_OTHER` (with the original in `http.request.method_original`).
pub(crate) fn method_label(method: &http::Method) -> (&'static str, Option<String>) {
    let known = match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::CONNECT => "CONNECT",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::TRACE => "TRACE",
        http::Method::PATCH => "PATCH",
        _ if method.as_str() == "QUERY" => "QUERY",
        _ => return ("_OTHER", Some(method.as_str().to_string())),
    };
    (known, None)
}

/// `network.protocol.version` of a request.
pub(crate) fn protocol_version(v: http::Version) -> Option<&'static str> {
    match v {
        http::Version::HTTP_09 => Some("0.9"),
        http::Version::HTTP_10 => Some("1.0"),
        http::Version::HTTP_11 => Some("1.1"),
        http::Version::HTTP_2 => Some("2"),
        http::Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// Splits `host[:port]` (or `[v6]:port`) as found in `Host` or an authority.
pub(crate) fn host_and_port(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let parsed: http::uri::Authority = authority.parse().ok()?;
    let host = parsed.host().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), parsed.port_u16()))
}

/// The default port of a scheme.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// The duration histogram `name`, from the global meter provider: for requests that no
/// telemetry layer records.
pub(crate) fn global_histogram(name: &'static str, description: &'static str) -> Histogram<f64> {
    let meter = opentelemetry::global::meter_with_scope(
        InstrumentationScope::builder(crate::metrics::METER_SCOPE).build(),
    );
    histogram(&meter, name, description)
}

/// Polls a request's inner future with its span entered, when it has one.
pub(crate) fn poll_in_span<F: std::future::Future>(
    span: Option<&tracing::Span>,
    inner: std::pin::Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<F::Output> {
    let _entered = span.map(tracing::Span::enter);
    inner.poll(cx)
}

/// The constructors and the tower `Layer` of one of the two HTTP layers, which hold the
/// same two things: the propagators and the histogram of requests no telemetry layer
/// records.
macro_rules! http_layer {
    ($layer:ident, $service:ident, $name:expr, $description:expr) => {
        impl $layer {
            /// A layer using OpenTelemetry's global propagator (set by
            /// [`Telemetry::init`]). Its metric goes to the instance that records the
            /// request's span (see the [module docs](crate::http)).
            pub fn new() -> $layer {
                $layer {
                    propagators: PropagatorSource::Global,
                    fallback: global_histogram($name, $description),
                }
            }

            /// Uses the propagators configured on `telemetry` instead of the global one.
            pub fn propagators_from(mut self, telemetry: &Telemetry) -> $layer {
                self.propagators = PropagatorSource::of(telemetry);
                self
            }
        }

        impl Default for $layer {
            fn default() -> Self {
                $layer::new()
            }
        }

        impl<S> tower_layer::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> $service<S> {
                $service {
                    inner,
                    layer: self.clone(),
                }
            }
        }
    };
}
pub(crate) use http_layer;

/// Which side of a request a duration measures.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Server,
    Client,
}

/// Records a request's duration into the instance that records its `span`, else into
/// `fallback` (made from the global meter provider).
pub(crate) fn record_duration(
    span: &tracing::Span,
    side: Side,
    seconds: f64,
    attributes: &[KeyValue],
    fallback: impl FnOnce() -> Histogram<f64>,
) {
    let routed = crate::metrics::with_instance(Some(span), |m| {
        let http = m.http();
        match side {
            Side::Server => http.server.record(seconds, attributes),
            Side::Client => http.client.record(seconds, attributes),
        }
    });
    if routed.is_none() {
        fallback().record(seconds, attributes);
    }
}

/// Attributes shared by the span end and the metric.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) status: Option<u16>,
    pub(crate) error_type: Option<Cow<'static, str>>,
}

impl Outcome {
    /// Records the outcome on `span` (status code, error type, span status).
    pub(crate) fn record_on(&self, span: &tracing::Span) {
        if let Some(status) = self.status {
            span.record("http.response.status_code", i64::from(status));
        }
        if let Some(error) = &self.error_type {
            span.record("error.type", error.as_ref());
            span.record("otel.status_code", "ERROR");
        }
    }

    pub(crate) fn push_attributes(&self, attributes: &mut Vec<KeyValue>) {
        if let Some(status) = self.status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if let Some(error) = &self.error_type {
            attributes.push(KeyValue::new("error.type", error.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_are_other() {
        assert_eq!(method_label(&http::Method::GET), ("GET", None));
        let custom = http::Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), ("_OTHER", Some("PURGE".to_string())));
    }

    #[test]
    fn hosts_and_ports_are_split() {
        assert_eq!(
            host_and_port("example.com:8080"),
            Some(("example.com".to_string(), Some(8080)))
        );
        assert_eq!(
            host_and_port("[::1]:3000"),
            Some(("::1".to_string(), Some(3000)))
        );
        assert_eq!(
            host_and_port("user:pw@example.com"),
            Some(("example.com".to_string(), None))
        );
        assert_eq!(host_and_port("bad host"), None);
        assert_eq!(host_and_port(""), None);
    }
}
