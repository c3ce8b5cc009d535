//! What the engine asks of a transport ([`Transport`]): encode a batch once, send one
//! request, split a request the collector refused for its size. Also what a request
//! returns ([`Delivered`]) and [`Discard`], the transport that sends nothing.

use std::future::Future;
use std::pin::Pin;

use super::ExportError;

/// A boxed, sendable future, as the exporter trait returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a collector accepted from one export request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// Items the collector rejected in a partial success (never resent).
    pub rejected: u64,
    /// The collector's message accompanying a partial success.
    pub message: Option<String>,
}

/// A batch encoded as requests, each within the request size limit.
pub(crate) struct Encoded<P> {
    /// The requests, each with the number of items it carries.
    pub requests: Vec<(P, u64)>,
    /// Items dropped because each alone encodes larger than the limit.
    pub too_large: u64,
}

impl<P> Encoded<P> {
    /// The whole batch as one request.
    pub(crate) fn one(payload: P, items: u64) -> Self {
        Encoded {
            requests: vec![(payload, items)],
            too_large: 0,
        }
    }
}

/// Turns batches into requests and sends them. Never retries by itself.
pub(crate) trait Transport<T>: Send + 'static {
    /// A batch ready to send, kept as is for retries.
    type Payload: Send + Sync + 'static;
    /// Encodes a batch once, as one request or several when it is larger than the
    /// transport's request size limit. The items of the requests and the items too
    /// large to send add up to the batch's. An error drops the batch
    /// (`non_retryable`).
    fn encode(&mut self, batch: Vec<T>) -> Result<Encoded<Self::Payload>, ExportError>;
    /// Splits a request the collector refused for its size into two, each with its
    /// items; `None` when it holds a single item (or cannot be split).
    fn split(&mut self, _payload: &Self::Payload) -> Option<[(Self::Payload, u64); 2]> {
        None
    }
    /// The payload's size in bytes, for the buffer's bound.
    fn size(&self, payload: &Self::Payload) -> u64;
    /// Sends one request. The future owns what it needs, so the loop can keep taking
    /// in new items while it runs.
    fn send(
        &mut self,
        payload: &Self::Payload,
    ) -> BoxFuture<'static, Result<Delivered, ExportError>>;
    /// Where requests go, for messages.
    fn target(&self) -> &str;
    /// What a failure means for the batch. Default: OTLP's rules
    /// ([`classify`](super::retry::classify)).
    fn classify(&self, error: &ExportError) -> super::retry::Verdict {
        super::retry::classify(error)
    }
    /// Called once when the pipeline stops.
    fn shutdown(&mut self) {}
}

/// Counts batches as delivered and sends nothing (see `discard_exports`).
#[derive(Debug, Default)]
pub(crate) struct Discard;

impl<T: Send + 'static> Transport<T> for Discard {
    type Payload = u64;

    fn encode(&mut self, batch: Vec<T>) -> Result<Encoded<u64>, ExportError> {
        let items = batch.len() as u64;
        Ok(Encoded::one(items, items))
    }

    fn size(&self, payload: &u64) -> u64 {
        *payload
    }

    fn send(&mut self, _payload: &u64) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        Box::pin(async { Ok(Delivered::default()) })
    }

    fn target(&self) -> &str {
        "discard"
    }
}
