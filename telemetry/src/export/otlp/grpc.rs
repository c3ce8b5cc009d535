//! OTLP/gRPC (tonic): one unary call per request, sending the pre-encoded protobuf
//! bytes as they are (a codec that does not encode again), and what the status says:
//! a partial success, a timeout, a failed connection, or a gRPC error with the delay
//! of its `google.rpc.RetryInfo`.

use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use bytes::{BufMut as _, Bytes};
use tonic::codec::{BufferSettings, Codec, EncodeBuf, Encoder};

use super::status::retry_info;
use super::{connect_error, reason_of, Compression, Encoding, OtlpTarget};
use crate::export::transport::Delivered;
use crate::export::{ExportError, GrpcCode};

/// The gRPC client of one signal's transport: tonic's channel for `http://`, and for
/// `https://` a hyper client over HTTP/2 on the hyper-rustls connector (one TLS
/// stack for both protocols, whatever TLS features tonic has elsewhere in the build).
#[derive(Clone)]
pub(crate) enum GrpcClient {
    Plain(tonic::client::Grpc<tonic::transport::Channel>),
    #[cfg(feature = "tls")]
    Tls(Box<tonic::client::Grpc<TlsChannel>>),
}

#[cfg(feature = "tls")]
type TlsChannel = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    tonic::body::Body,
>;

/// A client for `target`; it connects on its first request.
pub(crate) fn connect(
    target: &OtlpTarget,
    tls: Option<&super::tls::ClientTls>,
) -> Result<GrpcClient, ExportError> {
    let bad_endpoint = |reason: String| ExportError::Connect {
        endpoint: target.endpoint.clone(),
        reason,
    };
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.set_connect_timeout(target.timeout);
        http.set_nodelay(true);
        let https = tls
            .connector(http, true)
            .map_err(|e| super::unusable_tls(target, &e))?;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .http2_only(true)
                .build(https);
        let origin: http::Uri = target
            .endpoint
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad_endpoint(e.to_string()))?;
        let grpc = tonic::client::Grpc::with_origin(client, origin);
        return Ok(GrpcClient::Tls(Box::new(compressed(grpc, target))));
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    let mut endpoint = tonic::transport::Endpoint::from_shared(target.endpoint.clone())
        .map_err(|e| bad_endpoint(e.to_string()))?;
    if let Some(t) = target.timeout {
        endpoint = endpoint.connect_timeout(t);
    }
    let grpc = tonic::client::Grpc::new(endpoint.connect_lazy());
    Ok(GrpcClient::Plain(compressed(grpc, target)))
}

fn compressed<T>(grpc: tonic::client::Grpc<T>, target: &OtlpTarget) -> tonic::client::Grpc<T> {
    if target.compression == Compression::Gzip {
        grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
    } else {
        grpc
    }
}

/// Sends one encoded request and reads the collector's answer.
pub(crate) async fn send<E: Encoding>(
    client: GrpcClient,
    target: Arc<OtlpTarget>,
    tls: Option<super::tls::ClientTls>,
    body: Bytes,
) -> Result<Delivered, ExportError> {
    match client {
        GrpcClient::Plain(grpc) => call::<E, _>(grpc, &target, tls.as_ref(), body).await,
        // tonic's channel enforces the deadline it sends; a bare hyper client does
        // not, so we do.
        #[cfg(feature = "tls")]
        GrpcClient::Tls(grpc) => match target.timeout {
            Some(timeout) => {
                tokio::time::timeout(timeout, call::<E, _>(*grpc, &target, tls.as_ref(), body))
                    .await
                    .unwrap_or_else(|_| {
                        Err(ExportError::Timeout {
                            endpoint: target.endpoint.clone(),
                            timeout,
                        })
                    })
            }
            None => call::<E, _>(*grpc, &target, tls.as_ref(), body).await,
        },
    }
}

async fn call<E, T>(
    mut grpc: tonic::client::Grpc<T>,
    target: &OtlpTarget,
    tls: Option<&super::tls::ClientTls>,
    body: Bytes,
) -> Result<Delivered, ExportError>
where
    E: Encoding,
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: hyper::body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as hyper::body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
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
    grpc.ready().await.map_err(|e| {
        let e: Box<dyn std::error::Error + Send + Sync> = e.into();
        connect_error(target, tls, &*e)
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
        Err(status) => Err(grpc_error(&target.endpoint, tls, &status)),
    }
}

/// What a gRPC error status means for us.
fn grpc_error(
    endpoint: &str,
    tls: Option<&super::tls::ClientTls>,
    status: &tonic::Status,
) -> ExportError {
    // A failed connection shows as UNAVAILABLE with an I/O error inside; a failed
    // handshake, with a TLS error inside.
    if let Some(source) = std::error::Error::source(status) {
        if let Some(reason) = tls.and_then(|tls| tls.explain(source)) {
            return ExportError::Tls {
                endpoint: endpoint.to_string(),
                reason,
            };
        }
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

/// Writes the bytes as they are.
struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}
