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

/// The gRPC client of one signal's transport.
pub(crate) type GrpcClient = tonic::client::Grpc<tonic::transport::Channel>;

/// A client for `target`; it connects on its first request.
pub(crate) fn connect(target: &OtlpTarget) -> Result<GrpcClient, ExportError> {
    let mut endpoint =
        tonic::transport::Endpoint::from_shared(target.endpoint.clone()).map_err(|e| {
            ExportError::Connect {
                endpoint: target.endpoint.clone(),
                reason: e.to_string(),
            }
        })?;
    if let Some(t) = target.timeout {
        endpoint = endpoint.connect_timeout(t);
    }
    let mut grpc = tonic::client::Grpc::new(endpoint.connect_lazy());
    if target.compression == Compression::Gzip {
        grpc = grpc
            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    }
    Ok(grpc)
}

/// Sends one encoded request and reads the collector's answer.
pub(crate) async fn send<E: Encoding>(
    mut grpc: GrpcClient,
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
    grpc.ready().await.map_err(|e| connect_error(&target, &e))?;
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

/// What a gRPC error status means for us.
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
