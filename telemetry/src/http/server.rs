//! [`ServerLayer`]: a server span per request, its remote parent from the headers,
//! and `http.server.request.duration`.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};
use std::time::Instant;

use crate::TelemetrySpanExt as _;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;
use tracing::field::Empty;

use super::{
    global_histogram, host_and_port, http_layer, method_label, poll_in_span, protocol_version,
    record_duration, Outcome, PropagatorSource, Side, OTHER_ERROR, SERVER_DURATION,
    SERVER_DURATION_DESCRIPTION,
};
use crate::propagation::HeaderExtractor;
use crate::Telemetry;

/// A tower layer that traces and measures every request of the service it wraps.
///
/// Per request it extracts the remote parent from the headers (with the configured
/// propagators), opens a `server` span named after the method and the route template
/// (axum's `MatchedPath`, so add the layer with `Router::layer`), runs the inner service
/// inside that span, and records the status code, marking 5xx responses and service
/// errors as errors. It records `http.server.request.duration` for every request, sampled
/// or not. See the [module docs](crate::http) for every attribute.
///
/// The span ends when the response head is ready (a streamed body is not included).
///
/// # Examples
///
/// ```
/// use axum::{routing::get, Router};
///
/// let telemetry = telemetry::Telemetry::builder()
///     .traces_exporter(telemetry::export::ExporterKind::None)
///     .build()?;
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "hello" }))
///     .layer(telemetry::http::ServerLayer::new().propagators_from(&telemetry));
/// # Ok::<(), telemetry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerLayer {
    propagators: PropagatorSource,
    /// For requests that no telemetry layer records.
    fallback: Histogram<f64>,
}

http_layer!(
    ServerLayer,
    ServerService,
    SERVER_DURATION,
    SERVER_DURATION_DESCRIPTION
);

/// The service made by [`ServerLayer`].
#[derive(Debug, Clone)]
pub struct ServerService<S> {
    inner: S,
    layer: ServerLayer,
}

/// What the response future needs to finish the span and the metric.
#[derive(Debug)]
struct Pending {
    span: tracing::Span,
    start: Instant,
    fallback: Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for ServerService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ServerResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let (method, method_original) = method_label(request.method());
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_string());
        let scheme = request.uri().scheme_str().unwrap_or("http").to_string();
        let name: Cow<'_, str> = match (&route, method) {
            (Some(route), "_OTHER") => format!("HTTP {route}").into(),
            (Some(route), m) => format!("{m} {route}").into(),
            (None, "_OTHER") => "HTTP".into(),
            (None, m) => m.into(),
        };
        let span = tracing::info_span!(
            target: "telemetry::http",
            "HTTP request",
            otel.name = %name,
            otel.kind = "server",
            http.request.method = method,
            http.request.method_original = Empty,
            url.path = request.uri().path(),
            url.scheme = %scheme,
            http.route = Empty,
            server.address = Empty,
            server.port = Empty,
            network.protocol.version = Empty,
            user_agent.original = Empty,
            http.response.status_code = Empty,
            error.type = Empty,
            otel.status_code = Empty,
        );
        if let Some(original) = &method_original {
            span.record("http.request.method_original", original.as_str());
        }
        if let Some(route) = &route {
            span.record("http.route", route.as_str());
        }
        let authority = request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        if let Some((host, port)) = authority.and_then(host_and_port) {
            span.record("server.address", host.as_str());
            if let Some(port) = port {
                span.record("server.port", i64::from(port));
            }
        }
        if let Some(v) = protocol_version(request.version()) {
            span.record("network.protocol.version", v);
        }
        if let Some(agent) = request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
        {
            span.record("user_agent.original", agent);
        }
        let parent = self
            .layer
            .propagators
            .extract(&HeaderExtractor(request.headers()));
        if parent.span().span_context().is_valid() {
            // Fails only when no telemetry layer records the span: nothing to link then.
            let _ = span.set_parent(parent);
        } else if !parent.baggage().is_empty() {
            // Keep the baggage for the handler, under the span's own (local) parent.
            let baggage: opentelemetry::baggage::Baggage = parent
                .baggage()
                .iter()
                .map(|(k, (v, meta))| {
                    opentelemetry::baggage::KeyValueMetadata::new(
                        k.clone(),
                        v.clone(),
                        meta.clone(),
                    )
                })
                .collect();
            let _ = span.set_parent(tracing::Span::current().context().with_baggage(baggage));
        }

        let mut attributes = Vec::with_capacity(6);
        attributes.push(KeyValue::new("http.request.method", method));
        attributes.push(KeyValue::new("url.scheme", scheme));
        if let Some(route) = route {
            attributes.push(KeyValue::new("http.route", route));
        }

        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ServerResponseFuture {
            inner,
            pending: Some(Pending {
                span,
                start,
                fallback: self.layer.fallback.clone(),
                attributes,
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ServerService`].
    #[derive(Debug)]
    pub struct ServerResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, ResBody, E> Future for ServerResponseFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span = this.pending.as_ref().map(|p| &p.span);
        let result = ready!(poll_in_span(span, this.inner, cx));
        if let Some(p) = this.pending.take() {
            let outcome = match &result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    Outcome {
                        status: Some(status),
                        error_type: (status >= 500).then(|| status.to_string().into()),
                    }
                }
                Err(_) => Outcome {
                    status: None,
                    error_type: Some(OTHER_ERROR.into()),
                },
            };
            outcome.record_on(&p.span);
            let mut attributes = p.attributes;
            outcome.push_attributes(&mut attributes);
            record_duration(
                &p.span,
                Side::Server,
                p.start.elapsed().as_secs_f64(),
                &attributes,
                || p.fallback,
            );
        }
        Poll::Ready(result)
    }
}
