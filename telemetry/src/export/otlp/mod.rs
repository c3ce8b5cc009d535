//! OTLP transports: gRPC (tonic, with a codec that sends pre-encoded bytes) and HTTP
//! (hyper, protobuf or JSON bodies, optional gzip). Each batch is encoded once; the
//! encoded bytes are what a retry would send again.

use std::io::Write as _;
use std::marker::PhantomData;
#[cfg(feature = "grpc")]
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[cfg(feature = "grpc")]
use bytes::BufMut as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as ProtoLogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
#[cfg(feature = "grpc")]
use tonic::codec::{BufferSettings, Codec, EncodeBuf, Encoder};

use super::resilient::{Encoded, Transport};
#[cfg(feature = "grpc")]
use super::GrpcCode;
use super::{BoxFuture, Delivered, ExportError};

mod settings;

pub(crate) use settings::{
    check_header, normalise_endpoint, OtlpSettings, OtlpVars, DEFAULT_MAX_REQUEST_SIZE,
    HEADER_NAME, HEADER_VALUE, OTLP_MAX_REQUEST_SIZE,
};
pub use settings::{Compression, OtlpTarget, Protocol};
pub use settings::{
    OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TIMEOUT,
};

/// OTLP's limit on a response body; a larger one is a permanent error.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How one signal's batches become OTLP requests and what its responses mean.
pub(crate) trait Encoding: Send + Sync + 'static {
    /// What the pipeline carries.
    type Item: Send + 'static;
    /// The gRPC method path.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    const GRPC_PATH: &'static str;
    /// The request message.
    type Request: prost::Message
        + Default
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Send
        + 'static;
    /// The gRPC response message.
    type Response: prost::Message + Default + serde::de::DeserializeOwned + Send + Sync + 'static;
    /// The request of a batch.
    fn request(items: Vec<Self::Item>, resource: &ResourceAttributesWithSchema) -> Self::Request;
    /// Splits a request in two halves by items, each with its count; gives it back
    /// when it holds a single item or cannot be split.
    fn halve(request: Self::Request) -> Result<[(Self::Request, u64); 2], Self::Request>;
    /// The partial-success part of a response.
    fn partial(response: &Self::Response) -> Delivered;
}

/// Splits a two-level OTLP request (resources, then scopes, then items) into two
/// halves by items, each keeping its resource and scope.
macro_rules! halve {
    ($request:expr, $resources:ident, $scopes:ident, $items:ident) => {{
        let mut request = $request;
        let total: usize = request
            .$resources
            .iter()
            .flat_map(|r| &r.$scopes)
            .map(|s| s.$items.len())
            .sum();
        if total < 2 {
            return Err(request);
        }
        let half = total / 2;
        let mut left = half;
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for mut resource in std::mem::take(&mut request.$resources) {
            let scopes = std::mem::take(&mut resource.$scopes);
            let mut head = resource.clone();
            let mut tail = resource;
            for mut scope in scopes {
                if left == 0 {
                    tail.$scopes.push(scope);
                } else if scope.$items.len() <= left {
                    left -= scope.$items.len();
                    head.$scopes.push(scope);
                } else {
                    let rest = scope.$items.split_off(left);
                    left = 0;
                    let mut rest_scope = scope.clone();
                    rest_scope.$items.clear();
                    rest_scope.$items = rest;
                    head.$scopes.push(scope);
                    tail.$scopes.push(rest_scope);
                }
            }
            if !head.$scopes.is_empty() {
                first.push(head);
            }
            if !tail.$scopes.is_empty() {
                second.push(tail);
            }
        }
        let mut a = request.clone();
        a.$resources = first;
        request.$resources = second;
        Ok([(a, half as u64), (request, (total - half) as u64)])
    }};
}

/// Spans.
pub(crate) struct Traces;

impl Encoding for Traces {
    type Item = SpanData;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;

    fn request(items: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> Self::Request {
        ExportTraceServiceRequest {
            resource_spans:
                opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
                    items, resource,
                ),
        }
    }

    fn halve(request: Self::Request) -> Result<[(Self::Request, u64); 2], Self::Request> {
        halve!(request, resource_spans, scope_spans, spans)
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

/// Metric collections (one request per collection; several are merged).
pub(crate) struct Metrics;

impl Encoding for Metrics {
    type Item = ExportMetricsServiceRequest;
    const GRPC_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;

    fn request(
        items: Vec<ExportMetricsServiceRequest>,
        _resource: &ResourceAttributesWithSchema,
    ) -> Self::Request {
        ExportMetricsServiceRequest {
            resource_metrics: items.into_iter().flat_map(|r| r.resource_metrics).collect(),
        }
    }

    /// A collection is one item: its data points are not split across requests.
    fn halve(request: Self::Request) -> Result<[(Self::Request, u64); 2], Self::Request> {
        Err(request)
    }

    fn partial(response: &ExportMetricsServiceResponse) -> Delivered {
        // Accounting counts collections, not data points: rejected points are
        // reported, not subtracted.
        match &response.partial_success {
            Some(p) if p.rejected_data_points > 0 || !p.error_message.is_empty() => Delivered {
                rejected: 0,
                message: Some(format!(
                    "{} data point(s) rejected: {}",
                    p.rejected_data_points, p.error_message
                )),
            },
            _ => Delivered::default(),
        }
    }
}

/// Log records.
pub(crate) struct Logs;

impl Encoding for Logs {
    type Item = crate::logs::LogRecord;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;

    fn halve(request: Self::Request) -> Result<[(Self::Request, u64); 2], Self::Request> {
        halve!(request, resource_logs, scope_logs, log_records)
    }

    fn request(
        items: Vec<crate::logs::LogRecord>,
        resource: &ResourceAttributesWithSchema,
    ) -> Self::Request {
        let mut scopes: Vec<ScopeLogs> = Vec::new();
        for r in items {
            let proto = log_to_proto(&r);
            let target = r.target();
            match scopes
                .iter_mut()
                .find(|s| s.scope.as_ref().is_some_and(|sc| sc.name == target))
            {
                Some(scope) => scope.log_records.push(proto),
                None => scopes.push(ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: target.to_string(),
                        ..Default::default()
                    }),
                    log_records: vec![proto],
                    schema_url: String::new(),
                }),
            }
        }
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(ProtoResource {
                    attributes: resource.attributes.0.clone(),
                    ..Default::default()
                }),
                scope_logs: scopes,
                schema_url: resource.schema_url.clone().unwrap_or_default(),
            }],
        }
    }

    fn partial(response: &ExportLogsServiceResponse) -> Delivered {
        match &response.partial_success {
            Some(p) if p.rejected_log_records > 0 || !p.error_message.is_empty() => Delivered {
                rejected: u64::try_from(p.rejected_log_records).unwrap_or(0),
                message: (!p.error_message.is_empty()).then(|| p.error_message.clone()),
            },
            _ => Delivered::default(),
        }
    }
}

fn any_string(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

fn log_to_proto(r: &crate::logs::LogRecord) -> ProtoLogRecord {
    use crate::fields::FieldValue;
    let nanos = r
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let (severity_number, severity_text) = crate::logs::severity(r.level());
    let mut attributes: Vec<KeyValue> = r
        .fields
        .iter()
        .map(|(k, v)| KeyValue {
            key: (*k).to_string(),
            value: Some(AnyValue {
                value: Some(match v {
                    FieldValue::Str(s) => any_value::Value::StringValue(s.clone()),
                    FieldValue::I64(i) => any_value::Value::IntValue(*i),
                    FieldValue::U64(u) => match i64::try_from(*u) {
                        Ok(i) => any_value::Value::IntValue(i),
                        Err(_) => any_value::Value::StringValue(u.to_string()),
                    },
                    FieldValue::F64(f) => any_value::Value::DoubleValue(*f),
                    FieldValue::Bool(b) => any_value::Value::BoolValue(*b),
                }),
            }),
            ..Default::default()
        })
        .collect();
    if let Some(file) = r.file() {
        attributes.push(KeyValue {
            key: "code.file.path".into(),
            value: Some(any_string(file.to_string())),
            ..Default::default()
        });
    }
    if let Some(line) = r.line() {
        attributes.push(KeyValue {
            key: "code.line.number".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(i64::from(line))),
            }),
            ..Default::default()
        });
    }
    ProtoLogRecord {
        time_unix_nano: nanos,
        observed_time_unix_nano: nanos,
        severity_number,
        severity_text: severity_text.to_string(),
        body: Some(any_string(r.message.to_string())),
        attributes,
        dropped_attributes_count: 0,
        flags: u32::from(r.sampled),
        trace_id: r
            .trace_id
            .map(|t| t.to_bytes().to_vec())
            .unwrap_or_default(),
        span_id: r.span_id.map(|s| s.to_bytes().to_vec()).unwrap_or_default(),
        event_name: String::new(),
    }
}

/// The OTLP transport of one signal: encodes each batch once, sends it as many times
/// as the [`Resilient`](super::resilient::Resilient) exporter asks.
pub(crate) struct OtlpTransport<E: Encoding> {
    target: Arc<OtlpTarget>,
    resource: ResourceAttributesWithSchema,
    /// Encoded (uncompressed) bytes a request may hold at most.
    max_request_size: u64,
    client: Option<Client>,
    _encoding: PhantomData<E>,
}

#[derive(Clone)]
enum Client {
    #[cfg(feature = "grpc")]
    Grpc(tonic::client::Grpc<tonic::transport::Channel>),
    Http(hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>),
}

impl<E: Encoding> OtlpTransport<E> {
    pub(crate) fn new(
        target: OtlpTarget,
        resource: &opentelemetry_sdk::Resource,
        max_request_size: u64,
    ) -> Self {
        OtlpTransport {
            target: Arc::new(target),
            resource: resource.into(),
            max_request_size,
            client: None,
            _encoding: PhantomData,
        }
    }

    /// Made lazily, on the export thread, where the runtime lives.
    fn client(&mut self) -> Result<Client, ExportError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let client = match self.target.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => {
                let mut endpoint = tonic::transport::Endpoint::from_shared(
                    self.target.endpoint.clone(),
                )
                .map_err(|e| ExportError::Connect {
                    endpoint: self.target.endpoint.clone(),
                    reason: e.to_string(),
                })?;
                if let Some(t) = self.target.timeout {
                    endpoint = endpoint.connect_timeout(t);
                }
                let mut grpc = tonic::client::Grpc::new(endpoint.connect_lazy());
                if self.target.compression == Compression::Gzip {
                    grpc = grpc
                        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                Client::Grpc(grpc)
            }
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => {
                return Err(ExportError::Encode(
                    "OTLP over gRPC needs the `grpc` feature of the telemetry crate".into(),
                ))
            }
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                let mut connector = HttpConnector::new();
                connector.set_connect_timeout(self.target.timeout);
                connector.set_nodelay(true);
                Client::Http(
                    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                        .build(connector),
                )
            }
        };
        self.client = Some(client.clone());
        Ok(client)
    }
}

impl<E: Encoding> OtlpTransport<E> {
    /// The request's body if it is at most `limit` bytes (before compression).
    fn body(&self, request: &E::Request, limit: u64) -> Result<Option<Vec<u8>>, ExportError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let body = if self.target.protocol == Protocol::HttpJson {
            serde_json::to_vec(request).map_err(|e| ExportError::Encode(e.to_string()))?
        } else if request.encoded_len() > limit {
            return Ok(None);
        } else {
            request.encode_to_vec()
        };
        if body.len() > limit {
            return Ok(None);
        }
        let body = if self.target.compression == Compression::Gzip
            && self.target.protocol != Protocol::Grpc
        {
            gzip_bytes(&body)?
        } else {
            body
        };
        Ok(Some(body))
    }

    /// Cuts a request into halves until each fits; a single item that does not fit
    /// on its own is counted as too large.
    fn cut(
        &self,
        request: E::Request,
        items: u64,
        out: &mut Encoded<Bytes>,
    ) -> Result<(), ExportError> {
        if let Some(body) = self.body(&request, self.max_request_size)? {
            out.requests.push((Bytes::from(body), items));
            return Ok(());
        }
        match E::halve(request) {
            Ok([(a, na), (b, nb)]) => {
                self.cut(a, na, out)?;
                self.cut(b, nb, out)
            }
            Err(_) => {
                out.too_large = out.too_large.saturating_add(items);
                Ok(())
            }
        }
    }

    /// The request inside a payload, for splitting it.
    fn decode(&self, payload: &Bytes) -> Option<E::Request> {
        let body = if self.target.compression == Compression::Gzip
            && self.target.protocol != Protocol::Grpc
        {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(payload.as_ref()),
                &mut out,
            )
            .ok()?;
            Bytes::from(out)
        } else {
            payload.clone()
        };
        if self.target.protocol == Protocol::HttpJson {
            serde_json::from_slice(&body).ok()
        } else {
            E::Request::decode(body).ok()
        }
    }
}

impl<E: Encoding> Transport<E::Item> for OtlpTransport<E> {
    type Payload = Bytes;

    fn encode(&mut self, batch: Vec<E::Item>) -> Result<Encoded<Bytes>, ExportError> {
        let items = batch.len() as u64;
        let request = E::request(batch, &self.resource);
        let mut out = Encoded {
            requests: Vec::with_capacity(1),
            too_large: 0,
        };
        self.cut(request, items, &mut out)?;
        Ok(out)
    }

    fn split(&mut self, payload: &Bytes) -> Option<[(Bytes, u64); 2]> {
        let [(a, na), (b, nb)] = E::halve(self.decode(payload)?).ok()?;
        // Each half is smaller than the refused request, so within our own limit.
        let body = |request: &E::Request| -> Option<Bytes> {
            self.body(request, u64::MAX).ok().flatten().map(Bytes::from)
        };
        Some([(body(&a)?, na), (body(&b)?, nb)])
    }

    fn size(&self, payload: &Bytes) -> u64 {
        payload.len() as u64
    }

    fn send(&mut self, payload: &Bytes) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        let target = self.target.clone();
        let payload = payload.clone();
        match self.client() {
            #[cfg(feature = "grpc")]
            Ok(Client::Grpc(grpc)) => Box::pin(send_grpc::<E>(grpc, target, payload)),
            Ok(Client::Http(client)) => Box::pin(send_http::<E>(client, target, payload)),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn target(&self) -> &str {
        &self.target.endpoint
    }

    fn shutdown(&mut self) {
        self.client = None;
    }
}

#[cfg(feature = "grpc")]
async fn send_grpc<E: Encoding>(
    mut grpc: tonic::client::Grpc<tonic::transport::Channel>,
    target: Arc<OtlpTarget>,
    body: Bytes,
) -> Result<Delivered, ExportError> {
    let mut request = tonic::Request::new(body);
    for (k, v) in &target.headers {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_str(&k.to_ascii_lowercase()),
            tonic::metadata::MetadataValue::try_from(v.as_str()),
        ) {
            request.metadata_mut().insert(k, v);
        }
    }
    if let Some(t) = target.timeout {
        request.set_timeout(t);
    }
    grpc.ready().await.map_err(|e| ExportError::Connect {
        endpoint: target.endpoint.clone(),
        reason: reason_of(&e),
    })?;
    let path = http::uri::PathAndQuery::from_static(E::GRPC_PATH);
    match grpc
        .unary(request, path, RawCodec::<E::Response>(PhantomData))
        .await
    {
        Ok(response) => Ok(E::partial(response.get_ref())),
        // The deadline we sent in `grpc-timeout` passed: the same as our own timeout.
        Err(status)
            if target.timeout.is_some()
                && (status.code() == tonic::Code::DeadlineExceeded
                    || (status.code() == tonic::Code::Cancelled
                        && status.message() == "Timeout expired")) =>
        {
            Err(ExportError::Timeout {
                endpoint: target.endpoint.clone(),
                timeout: target.timeout.unwrap_or_default(),
            })
        }
        Err(status) => Err(grpc_error(&target.endpoint, &status)),
    }
}

async fn send_http<E: Encoding>(
    client: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
    target: Arc<OtlpTarget>,
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
        .map_err(|e| ExportError::Connect {
            endpoint: endpoint.to_string(),
            reason: reason_of(&e),
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
        let decoded = if is_json {
            serde_json::from_slice::<E::Response>(&body).ok()
        } else {
            E::Response::decode(body.as_ref()).ok()
        };
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

/// The most useful words of an error chain: the innermost I/O error's kind (e.g.
/// `connection refused`) when there is one, the whole chain otherwise.
fn reason_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain = Vec::new();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind().to_string();
        }
        chain.push(s.to_string());
        source = s.source();
    }
    chain.join(": ")
}

const USER_AGENT: &str = concat!("telemetry-rust/", env!("CARGO_PKG_VERSION"));

fn gzip_bytes(body: &[u8]) -> Result<Vec<u8>, ExportError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| ExportError::Encode(format!("gzip: {e}")))
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

#[cfg(feature = "grpc")]
fn grpc_error(endpoint: &str, status: &tonic::Status) -> ExportError {
    // A failed connection shows as UNAVAILABLE with an I/O error inside.
    if let Some(source) = std::error::Error::source(status) {
        let reason = reason_of(source);
        if status.code() == tonic::Code::Unavailable && !reason.is_empty() {
            return ExportError::Connect {
                endpoint: endpoint.to_string(),
                reason,
            };
        }
    }
    ExportError::Grpc {
        endpoint: endpoint.to_string(),
        code: GrpcCode(status.code() as i32),
        retry_after: retry_info(status.details()),
        message: status.message().to_string(),
    }
}

/// The delay of a `google.rpc.RetryInfo` inside a serialized `google.rpc.Status`.
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
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
#[cfg(feature = "grpc")]
struct RawCodec<U>(PhantomData<U>);

#[cfg(feature = "grpc")]
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

#[cfg(feature = "grpc")]
struct RawEncoder;

#[cfg(feature = "grpc")]
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
