//! OTLP transports: [`OtlpTransport`] encodes each batch once ([`encode`]: spans,
//! metrics, logs), cuts it to the request size limit, and sends the bytes over gRPC
//! (`grpc.rs`, tonic, behind the `grpc` feature) or HTTP (`http.rs`, hyper, protobuf
//! or JSON bodies, optional gzip). The encoded bytes are what a retry sends again.
//!
//! What both paths share lives here: the [`Encoding`] of a signal, the wire format
//! of a message (protobuf or JSON), and the reading of a failed connection.

use std::io::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use prost::Message as _;

use super::reason_of;
use super::transport::{BoxFuture, Delivered, Encoded, Transport};
use super::ExportError;

mod encode;
#[cfg(feature = "grpc")]
mod grpc;
mod http;
mod settings;
mod status;
#[cfg(test)]
mod tests;
#[cfg(feature = "tls")]
pub(crate) mod tls;

/// Without the `tls` feature an `https://` endpoint is refused when the exporter is
/// built, so no transport ever holds TLS.
#[cfg(not(feature = "tls"))]
pub(crate) mod tls {
    /// Never made.
    #[derive(Clone)]
    pub(crate) enum ClientTls {}

    impl ClientTls {
        pub(crate) fn load(_: &super::TlsFiles) -> Result<ClientTls, crate::ConfigError> {
            Err(crate::ConfigError::InvalidSetting {
                setting: "endpoint",
                value: "https://".into(),
                expected: "an http:// endpoint: this build has no TLS".into(),
            })
        }

        pub(crate) fn explain(&self, _: &(dyn std::error::Error + 'static)) -> Option<String> {
            match *self {}
        }
    }
}

pub(crate) use encode::{log_to_proto, Logs, Metrics, Traces};
pub(crate) use settings::{
    check_header, normalise_endpoint, OtlpSettings, OtlpVars, DEFAULT_MAX_REQUEST_SIZE,
    HEADER_NAME, HEADER_VALUE, OTLP_MAX_REQUEST_SIZE,
};
pub use settings::{Compression, OtlpTarget, Protocol, TlsFiles};
pub use settings::{
    OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TIMEOUT,
};

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

/// The OTLP transport of one signal: encodes each batch once, sends it as many times
/// as the retry [`Engine`](super::engine::Engine) asks.
pub(crate) struct OtlpTransport<E: Encoding> {
    target: Arc<OtlpTarget>,
    /// What an `https://` endpoint is verified against, and the client certificate.
    tls: Option<tls::ClientTls>,
    resource: ResourceAttributesWithSchema,
    /// Encoded (uncompressed) bytes a request may hold at most.
    max_request_size: u64,
    client: Option<Client>,
    _encoding: PhantomData<E>,
}

/// The client of one wire path, made once and cloned for each request.
#[derive(Clone)]
enum Client {
    #[cfg(feature = "grpc")]
    Grpc(grpc::GrpcClient),
    Http(http::HttpClient),
}

impl<E: Encoding> OtlpTransport<E> {
    /// A transport for `target`. An `https://` endpoint's TLS files are read here, so
    /// that a bad one fails the build.
    pub(crate) fn new(
        target: OtlpTarget,
        resource: &opentelemetry_sdk::Resource,
        max_request_size: u64,
    ) -> Result<Self, crate::ConfigError> {
        let tls = if target.endpoint.starts_with("https://") {
            Some(tls::ClientTls::load(&target.tls)?)
        } else {
            None
        };
        Ok(OtlpTransport {
            tls,
            target: Arc::new(target),
            resource: resource.into(),
            max_request_size,
            client: None,
            _encoding: PhantomData,
        })
    }

    /// Made lazily, on the export thread, where the runtime lives.
    fn client(&mut self) -> Result<Client, ExportError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let client = match self.target.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => Client::Grpc(grpc::connect(&self.target, self.tls.as_ref())?),
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => {
                return Err(ExportError::Encode(
                    "OTLP over gRPC needs the `grpc` feature of the telemetry crate".into(),
                ))
            }
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Client::Http(http::connect(&self.target, self.tls.as_ref())?)
            }
        };
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Whether we gzip request bodies ourselves: over HTTP when asked (gRPC
    /// compresses its frames itself).
    fn gzips_bodies(&self) -> bool {
        self.target.compression == Compression::Gzip && self.target.protocol != Protocol::Grpc
    }

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
        let body = if self.gzips_bodies() {
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
        let body = if self.gzips_bodies() {
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
        from_wire(&body, self.target.protocol == Protocol::HttpJson)
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
        let tls = self.tls.clone();
        let payload = payload.clone();
        match self.client() {
            #[cfg(feature = "grpc")]
            Ok(Client::Grpc(client)) => Box::pin(grpc::send::<E>(client, target, tls, payload)),
            Ok(Client::Http(client)) => Box::pin(http::send::<E>(client, target, tls, payload)),
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

/// A message read from the wire, as JSON or protobuf: a request being split, or a
/// collector's response.
fn from_wire<M>(bytes: &[u8], json: bool) -> Option<M>
where
    M: prost::Message + Default + serde::de::DeserializeOwned,
{
    if json {
        serde_json::from_slice(bytes).ok()
    } else {
        M::decode(bytes).ok()
    }
}

fn gzip_bytes(body: &[u8]) -> Result<Vec<u8>, ExportError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| ExportError::Encode(format!("gzip: {e}")))
}

/// A request that found no collector: the connection failed or broke, or the TLS
/// handshake failed.
fn connect_error(
    target: &OtlpTarget,
    tls: Option<&tls::ClientTls>,
    e: &(dyn std::error::Error + 'static),
) -> ExportError {
    if let Some(reason) = tls.and_then(|tls| tls.explain(e)) {
        return ExportError::Tls {
            endpoint: target.endpoint.clone(),
            reason,
        };
    }
    ExportError::Connect {
        endpoint: target.endpoint.clone(),
        reason: reason_of(e),
    }
}

/// A TLS configuration rustls refuses (the files were checked at build time, so
/// this is rare: an application-installed crypto provider that lacks what they need).
#[cfg(feature = "tls")]
fn unusable_tls(target: &OtlpTarget, e: &rustls::Error) -> ExportError {
    ExportError::Tls {
        endpoint: target.endpoint.clone(),
        reason: format!("the TLS configuration cannot be used: {e}"),
    }
}
