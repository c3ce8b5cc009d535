//! OTLP/HTTP (hyper): one POST per request, with a protobuf or JSON body (gzipped
//! when asked), and what the response says: a partial success, or the status with
//! its `Retry-After` and the message of its `google.rpc.Status` body.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message as _;

use super::status::RpcStatus;
use super::{connect_error, from_wire, Compression, Encoding, OtlpTarget, Protocol};
use crate::export::transport::Delivered;
use crate::export::ExportError;

/// OTLP's limit on a response body; a larger one is a permanent error.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

const USER_AGENT: &str = concat!("telemetry-rust/", env!("CARGO_PKG_VERSION"));

/// The HTTP client of one signal's transport: plain, or TLS for `https://`.
#[derive(Clone)]
pub(crate) enum HttpClient {
    Plain(hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>),
    #[cfg(feature = "tls")]
    Tls(
        hyper_util::client::legacy::Client<
            hyper_rustls::HttpsConnector<HttpConnector>,
            Full<Bytes>,
        >,
    ),
}

impl HttpClient {
    async fn request(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        match self {
            HttpClient::Plain(c) => c.request(request).await,
            #[cfg(feature = "tls")]
            HttpClient::Tls(c) => c.request(request).await,
        }
    }
}

/// A client for `target`; it connects on its first request.
pub(crate) fn connect(
    target: &OtlpTarget,
    tls: Option<&super::tls::ClientTls>,
) -> Result<HttpClient, ExportError> {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(target.timeout);
    connector.set_nodelay(true);
    let builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        let https = tls
            .connector(connector, false)
            .map_err(|e| super::unusable_tls(target, &e))?;
        return Ok(HttpClient::Tls(builder.build(https)));
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    Ok(HttpClient::Plain(builder.build(connector)))
}

/// Sends one encoded request and reads the collector's answer.
pub(crate) async fn send<E: Encoding>(
    client: HttpClient,
    target: Arc<OtlpTarget>,
    tls: Option<super::tls::ClientTls>,
    body: Bytes,
) -> Result<Delivered, ExportError> {
    let endpoint = target.endpoint.as_str();
    let json = target.protocol == Protocol::HttpJson;
    let mut request = http::Request::post(endpoint)
        .header(
            http::header::CONTENT_TYPE,
            if json {
                "application/json"
            } else {
                "application/x-protobuf"
            },
        )
        .header(http::header::USER_AGENT, USER_AGENT);
    if target.compression == Compression::Gzip {
        request = request.header(http::header::CONTENT_ENCODING, "gzip");
    }
    for (k, v) in &target.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| ExportError::Encode(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| connect_error(&target, tls.as_ref(), &e))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let is_json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let body = match Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            if status.is_success() {
                // OTLP: an oversized response is a permanent error.
                return Err(ExportError::Http {
                    endpoint: endpoint.to_string(),
                    status: status.as_u16(),
                    retry_after: None,
                    message: Some(format!("unreadable response body: {e}")),
                });
            }
            Bytes::new()
        }
    };
    if status.is_success() {
        let decoded = from_wire::<E::Response>(&body, is_json);
        Ok(decoded.map(|r| E::partial(&r)).unwrap_or_default())
    } else {
        Err(ExportError::Http {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            retry_after,
            message: status_message(&body, is_json),
        })
    }
}

/// Parses `Retry-After` as seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The message of an error response's body: a JSON object's `message`, or a
/// protobuf `google.rpc.Status`'s.
fn status_message(body: &[u8], json: bool) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let message = if json {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
    } else {
        RpcStatus::decode(body).ok().map(|s| s.message)
    };
    message.filter(|m| !m.is_empty())
}
