//! OTLP transports: gRPC (tonic, with a codec that sends pre-encoded bytes) and HTTP
//! (hyper, protobuf or JSON bodies, optional gzip). Each batch is encoded once; the
//! encoded bytes are what a retry would send again.

use std::io::Write as _;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use bytes::{BufMut as _, Bytes};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
use tonic::codec::{BufferSettings, Codec, EncodeBuf, Encoder};

use super::{BoxFuture, Delivered, ExportError, Exporter, GrpcCode};
use crate::config::{Compression, OtlpTarget, Protocol};

/// OTLP's limit on a request body.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;
/// OTLP's limit on a response body; a larger one is a permanent error.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How one signal's batches become OTLP requests and what its responses mean.
pub(crate) trait Encoding: Send + Sync + 'static {
    /// What the pipeline carries.
    type Item: Send + 'static;
    /// The gRPC method path.
    const GRPC_PATH: &'static str;
    /// The gRPC response message.
    type Response: prost::Message + Default + serde::de::DeserializeOwned + Send + Sync + 'static;
    /// Encodes a batch as protobuf or JSON.
    fn encode(
        items: Vec<Self::Item>,
        resource: &ResourceAttributesWithSchema,
        json: bool,
    ) -> Result<Vec<u8>, String>;
    /// The partial-success part of a response.
    fn partial(response: &Self::Response) -> Delivered;
}

/// Spans.
pub(crate) struct Traces;

impl Encoding for Traces {
    type Item = SpanData;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    type Response = ExportTraceServiceResponse;

    fn encode(
        items: Vec<SpanData>,
        resource: &ResourceAttributesWithSchema,
        json: bool,
    ) -> Result<Vec<u8>, String> {
        let request = ExportTraceServiceRequest {
            resource_spans:
                opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
                    items, resource,
                ),
        };
        if json {
            serde_json::to_vec(&request).map_err(|e| e.to_string())
        } else {
            Ok(request.encode_to_vec())
        }
    }

    fn partial(response: &ExportTraceServiceResponse) -> Delivered {
        match &response.partial_success {
            Some(p) if p.rejected_spans > 0 || !p.error_message.is_empty() => Delivered {
                rejected: u64::try_from(p.rejected_spans).unwrap_or(0),
                message: (!p.error_message.is_empty()).then(|| p.error_message.clone()),
            },
            _ => Delivered::default(),
        }
    }
}

/// An OTLP exporter for one signal.
pub(crate) struct OtlpExporter<E: Encoding> {
    target: OtlpTarget,
    resource: ResourceAttributesWithSchema,
    transport: Option<Transport>,
    _encoding: PhantomData<E>,
}

enum Transport {
    Grpc(tonic::client::Grpc<tonic::transport::Channel>),
    Http(Client<HttpConnector, Full<Bytes>>),
}

impl<E: Encoding> OtlpExporter<E> {
    pub(crate) fn new(target: OtlpTarget, resource: &opentelemetry_sdk::Resource) -> Self {
        OtlpExporter {
            target,
            resource: resource.into(),
            transport: None,
            _encoding: PhantomData,
        }
    }

    /// Made lazily, on the export thread, where the runtime lives.
    fn transport(&mut self) -> Result<&mut Transport, ExportError> {
        if self.transport.is_none() {
            let transport = match self.target.protocol {
                Protocol::Grpc => {
                    let mut endpoint =
                        tonic::transport::Endpoint::from_shared(self.target.endpoint.clone())
                            .map_err(|e| ExportError::Connect {
                                endpoint: self.target.endpoint.clone(),
                                reason: e.to_string(),
                            })?;
                    if let Some(t) = self.target.timeout {
                        endpoint = endpoint.connect_timeout(t).timeout(t);
                    }
                    let mut grpc = tonic::client::Grpc::new(endpoint.connect_lazy());
                    if self.target.compression == Compression::Gzip {
                        grpc = grpc
                            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
                            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                    }
                    Transport::Grpc(grpc)
                }
                Protocol::HttpProtobuf | Protocol::HttpJson => {
                    let mut connector = HttpConnector::new();
                    connector.set_connect_timeout(self.target.timeout);
                    connector.set_nodelay(true);
                    Transport::Http(Client::builder(TokioExecutor::new()).build(connector))
                }
            };
            self.transport = Some(transport);
        }
        self.transport.as_mut().ok_or(ExportError::Shutdown)
    }

    async fn send(&mut self, body: Vec<u8>) -> Result<Delivered, ExportError> {
        let endpoint = self.target.endpoint.clone();
        let json = self.target.protocol == Protocol::HttpJson;
        let gzip = self.target.compression == Compression::Gzip;
        let headers = self.target.headers.clone();
        match self.transport()? {
            Transport::Grpc(grpc) => {
                let mut request = tonic::Request::new(Bytes::from(body));
                for (k, v) in &headers {
                    if let (Ok(k), Ok(v)) = (
                        tonic::metadata::MetadataKey::from_str(&k.to_ascii_lowercase()),
                        tonic::metadata::MetadataValue::try_from(v.as_str()),
                    ) {
                        request.metadata_mut().insert(k, v);
                    }
                }
                grpc.ready().await.map_err(|e| ExportError::Connect {
                    endpoint: endpoint.clone(),
                    reason: e.to_string(),
                })?;
                let path = http::uri::PathAndQuery::from_static(E::GRPC_PATH);
                match grpc
                    .unary(request, path, RawCodec::<E::Response>(PhantomData))
                    .await
                {
                    Ok(response) => Ok(E::partial(response.get_ref())),
                    Err(status) => Err(grpc_error(&endpoint, &status)),
                }
            }
            Transport::Http(client) => {
                let body = if gzip { gzip_bytes(&body)? } else { body };
                let mut request = http::Request::post(endpoint.as_str())
                    .header(
                        http::header::CONTENT_TYPE,
                        if json {
                            "application/json"
                        } else {
                            "application/x-protobuf"
                        },
                    )
                    .header(http::header::USER_AGENT, USER_AGENT);
                if gzip {
                    request = request.header(http::header::CONTENT_ENCODING, "gzip");
                }
                for (k, v) in &headers {
                    request = request.header(k.as_str(), v.as_str());
                }
                let request = request
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| ExportError::Encode(e.to_string()))?;
                let response = client
                    .request(request)
                    .await
                    .map_err(|e| ExportError::Connect {
                        endpoint: endpoint.clone(),
                        reason: connect_reason(&e),
                    })?;
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
                                endpoint,
                                status: status.as_u16(),
                                retry_after: None,
                                message: Some(format!("unreadable response body: {e}")),
                            });
                        }
                        Bytes::new()
                    }
                };
                if status.is_success() {
                    let decoded = if is_json {
                        serde_json::from_slice::<E::Response>(&body).ok()
                    } else {
                        E::Response::decode(body.as_ref()).ok()
                    };
                    Ok(decoded.map(|r| E::partial(&r)).unwrap_or_default())
                } else {
                    Err(ExportError::Http {
                        endpoint,
                        status: status.as_u16(),
                        retry_after,
                        message: status_message(&body, is_json),
                    })
                }
            }
        }
    }
}

impl<E: Encoding> Exporter<E::Item> for OtlpExporter<E> {
    fn export(&mut self, batch: Vec<E::Item>) -> BoxFuture<'_, Result<Delivered, ExportError>> {
        Box::pin(async move {
            let json = self.target.protocol == Protocol::HttpJson;
            let body = E::encode(batch, &self.resource, json).map_err(ExportError::Encode)?;
            if body.len() > MAX_REQUEST_BYTES {
                return Err(ExportError::Encode(format!(
                    "the request is {} bytes, over OTLP's limit of {MAX_REQUEST_BYTES}",
                    body.len()
                )));
            }
            self.send(body).await
        })
    }

    fn target(&self) -> &str {
        &self.target.endpoint
    }

    fn shutdown(&mut self) {
        self.transport = None;
    }
}

const USER_AGENT: &str = concat!("telemetry-rust/", env!("CARGO_PKG_VERSION"));

fn gzip_bytes(body: &[u8]) -> Result<Vec<u8>, ExportError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| ExportError::Encode(format!("gzip: {e}")))
}

fn connect_reason(e: &hyper_util::client::legacy::Error) -> String {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    reason
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

fn grpc_error(endpoint: &str, status: &tonic::Status) -> ExportError {
    ExportError::Grpc {
        endpoint: endpoint.to_string(),
        code: GrpcCode(status.code() as i32),
        retry_after: retry_info(status.details()),
        message: status.message().to_string(),
    }
}

/// The delay of a `google.rpc.RetryInfo` inside a serialized `google.rpc.Status`.
pub(crate) fn retry_info(details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(details).ok()?;
    status
        .details
        .iter()
        .find(|any| any.type_url.ends_with("google.rpc.RetryInfo"))
        .and_then(|any| RetryInfo::decode(any.value.as_slice()).ok())
        .and_then(|info| info.retry_delay)
        .map(|d| {
            Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0))
                + Duration::from_nanos(u64::try_from(d.nanos).unwrap_or(0))
        })
}

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

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// Sends pre-encoded protobuf bytes; decodes the response as `U`.
struct RawCodec<U>(PhantomData<U>);

impl<U: prost::Message + Default + Send + 'static> Codec for RawCodec<U> {
    type Encode = Bytes;
    type Decode = U;
    type Encoder = RawEncoder;
    type Decoder = tonic_prost::ProstDecoder<U>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstCodec::<U, U>::raw_decoder(BufferSettings::default())
    }
}

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn retry_info_is_read_from_status_details() {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: 2,
                nanos: 500_000_000,
            }),
        };
        let status = RpcStatus {
            code: 8,
            message: "slow down".into(),
            details: vec![ProtoAny {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                value: info.encode_to_vec(),
            }],
        };
        assert_eq!(
            retry_info(&status.encode_to_vec()),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(retry_info(b"\xff\xff"), None);
    }
}
