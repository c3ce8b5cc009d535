//! Client side: [`ClientLayer`] for tower clients and [`RequestBuilderExt`] for
//! reqwest. Each opens a `client` span, injects its context into the request headers
//! and records `http.client.request.duration`.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};
use std::time::Instant;

use crate::TelemetrySpanExt as _;
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;
use tracing::field::Empty;
use tracing::Instrument as _;

use super::{
    default_port, global_histogram, host_and_port, http_layer, method_label, poll_in_span,
    record_duration, Outcome, PropagatorSource, Side, CLIENT_DURATION, CLIENT_DURATION_DESCRIPTION,
    OTHER_ERROR,
};
use crate::propagation::HeaderInjector;
use crate::Telemetry;

/// What a client span and its metric say about the request.
#[derive(Debug)]
struct Target {
    method: &'static str,
    method_original: Option<String>,
    scheme: String,
    host: Option<String>,
    port: Option<u16>,
    url_full: Option<String>,
}

impl Target {
    fn from_uri(method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> Target {
        let (method, method_original) = method_label(method);
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let authority = uri.authority().map(|a| a.as_str()).or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        let (host, port) = match authority.and_then(host_and_port) {
            Some((host, port)) => (Some(host), port.or_else(|| default_port(&scheme))),
            None => (None, None),
        };
        let url_full = host.as_ref().map(|h| {
            let host = if h.contains(':') {
                format!("[{h}]")
            } else {
                h.clone()
            };
            let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{scheme}://{host}{port}{path}")
        });
        Target {
            method,
            method_original,
            scheme,
            host,
            port,
            url_full,
        }
    }

    fn from_url(method: &http::Method, url: &reqwest::Url) -> Target {
        let (method, method_original) = method_label(method);
        let mut redacted = url.clone();
        // Credentials never go into telemetry.
        let _ = redacted.set_username("");
        let _ = redacted.set_password(None);
        Target {
            method,
            method_original,
            scheme: url.scheme().to_string(),
            host: url
                .host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string()),
            port: url.port_or_known_default(),
            url_full: Some(redacted.to_string()),
        }
    }

    fn span(&self) -> tracing::Span {
        let span = tracing::info_span!(
            target: "telemetry::http",
            "HTTP client request",
            otel.name = if self.method == "_OTHER" { "HTTP" } else { self.method },
            otel.kind = "client",
            http.request.method = self.method,
            http.request.method_original = Empty,
            url.full = Empty,
            server.address = Empty,
            server.port = Empty,
            http.response.status_code = Empty,
            error.type = Empty,
            otel.status_code = Empty,
        );
        if let Some(original) = &self.method_original {
            span.record("http.request.method_original", original.as_str());
        }
        if let Some(url) = &self.url_full {
            span.record("url.full", url.as_str());
        }
        if let Some(host) = &self.host {
            span.record("server.address", host.as_str());
        }
        if let Some(port) = self.port {
            span.record("server.port", i64::from(port));
        }
        span
    }

    fn attributes(self) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(7);
        attributes.push(KeyValue::new("http.request.method", self.method));
        attributes.push(KeyValue::new("url.scheme", self.scheme));
        if let Some(host) = self.host {
            attributes.push(KeyValue::new("server.address", host));
        }
        if let Some(port) = self.port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        attributes
    }
}

/// Injects the client span's context (or, when no telemetry layer records the span,
/// the current context) into the request headers.
fn inject(span: &tracing::Span, headers: &mut http::HeaderMap, propagators: &PropagatorSource) {
    let cx = span.context();
    let cx = if cx.has_active_span() {
        cx
    } else {
        crate::propagation::current_context()
    };
    propagators.inject(&cx, &mut HeaderInjector(headers));
}

fn response_outcome(status: u16) -> Outcome {
    Outcome {
        status: Some(status),
        error_type: (status >= 400).then(|| status.to_string().into()),
    }
}

/// Records the outcome on the span and the duration in the metric (into the instance
/// that records the span, else into `fallback`, from the global meter provider).
fn finish(
    span: &tracing::Span,
    start: Instant,
    fallback: impl FnOnce() -> Histogram<f64>,
    mut attributes: Vec<KeyValue>,
    outcome: &Outcome,
) {
    outcome.record_on(span);
    outcome.push_attributes(&mut attributes);
    let seconds = start.elapsed().as_secs_f64();
    record_duration(span, Side::Client, seconds, &attributes, fallback);
}

/// A tower layer for HTTP clients (`http::Request` in, `http::Response` out), such as
/// hyper-util's client: a `client` span per request, its context injected into the
/// request headers, `http.client.request.duration` recorded. Responses 4xx and 5xx and
/// failed calls are errors.
///
/// # Examples
///
/// ```
/// use tower_layer::Layer as _;
///
/// let client = hyper_util::client::legacy::Client::builder(
///     hyper_util::rt::TokioExecutor::new(),
/// )
/// .build_http::<http_body_util::Full<bytes::Bytes>>();
/// let traced = telemetry::http::ClientLayer::new().layer(client);
/// ```
#[derive(Debug, Clone)]
pub struct ClientLayer {
    propagators: PropagatorSource,
    /// For requests that no telemetry layer records.
    fallback: Histogram<f64>,
}

http_layer!(
    ClientLayer,
    ClientService,
    CLIENT_DURATION,
    CLIENT_DURATION_DESCRIPTION
);

/// The service made by [`ClientLayer`].
#[derive(Debug, Clone)]
pub struct ClientService<S> {
    inner: S,
    layer: ClientLayer,
}

#[derive(Debug)]
struct Pending {
    span: tracing::Span,
    start: Instant,
    fallback: Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for ClientService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let target = Target::from_uri(request.method(), request.uri(), request.headers());
        let span = target.span();
        inject(&span, request.headers_mut(), &self.layer.propagators);
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ClientResponseFuture {
            inner,
            pending: Some(Pending {
                span,
                start,
                fallback: self.layer.fallback.clone(),
                attributes: target.attributes(),
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ClientService`].
    #[derive(Debug)]
    pub struct ClientResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, ResBody, E> Future for ClientResponseFuture<F>
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
                Ok(response) => response_outcome(response.status().as_u16()),
                Err(_) => Outcome {
                    status: None,
                    error_type: Some(OTHER_ERROR.into()),
                },
            };
            finish(&p.span, p.start, || p.fallback, p.attributes, &outcome);
        }
        Poll::Ready(result)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for reqwest::RequestBuilder {}
}

/// Traced sending for reqwest: a `client` span, its context in the request headers,
/// `http.client.request.duration` recorded.
///
/// ```no_run
/// use telemetry::http::RequestBuilderExt as _;
///
/// # async fn f() -> Result<(), reqwest::Error> {
/// let response = reqwest::Client::new()
///     .get("http://127.0.0.1:3000/items/7")
///     .send_traced()
///     .await?;
/// # Ok(()) }
/// ```
pub trait RequestBuilderExt: sealed::Sealed {
    /// Like `send()`, traced, with OpenTelemetry's global propagator.
    ///
    /// # Errors
    /// Those of `send()`; a failed request is also recorded on the span and in the
    /// metric with `error.type` (`timeout`, `connect`, `redirect`, `body`, `decode`,
    /// `request` or `_OTHER`).
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;

    /// Like [`send_traced`](Self::send_traced), with the propagators configured on
    /// `telemetry`.
    ///
    /// # Errors
    /// As [`send_traced`](Self::send_traced).
    fn send_traced_with(
        self,
        telemetry: &Telemetry,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl RequestBuilderExt for reqwest::RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        send(self, PropagatorSource::Global)
    }

    fn send_traced_with(
        self,
        telemetry: &Telemetry,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        send(self, PropagatorSource::of(telemetry))
    }
}

fn reqwest_error_type(e: &reqwest::Error) -> Cow<'static, str> {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_redirect() {
        "redirect"
    } else if e.is_body() {
        "body"
    } else if e.is_decode() {
        "decode"
    } else if e.is_request() {
        "request"
    } else {
        OTHER_ERROR
    };
    kind.into()
}

async fn send(
    builder: reqwest::RequestBuilder,
    propagators: PropagatorSource,
) -> reqwest::Result<reqwest::Response> {
    let (client, request) = builder.build_split();
    let mut request = request?;
    let start = Instant::now();
    let target = Target::from_url(request.method(), request.url());
    let span = target.span();
    inject(&span, request.headers_mut(), &propagators);
    let result = client.execute(request).instrument(span.clone()).await;
    let outcome = match &result {
        Ok(response) => response_outcome(response.status().as_u16()),
        Err(e) => Outcome {
            status: e.status().map(|s| s.as_u16()),
            error_type: Some(reqwest_error_type(e)),
        },
    };
    let fallback = || global_histogram(CLIENT_DURATION, CLIENT_DURATION_DESCRIPTION);
    finish(&span, start, fallback, target.attributes(), &outcome);
    result
}
