//! A transport that shows each batch to a tap (the flight recorder) before the
//! transport it wraps encodes it: on the export thread, never the application's.

use std::sync::Arc;

use super::retry::Verdict;
use super::transport::{BoxFuture, Delivered, Encoded, Transport};
use super::ExportError;

/// What sees each batch.
pub(crate) type Tap<T> = Arc<dyn Fn(&[T]) + Send + Sync>;

/// `inner`, with `tap` shown every batch first.
pub(crate) struct Tapped<X, T> {
    pub(crate) inner: X,
    pub(crate) tap: Tap<T>,
}

impl<T: Send + 'static, X: Transport<T>> Transport<T> for Tapped<X, T> {
    type Payload = X::Payload;

    fn encode(&mut self, batch: Vec<T>) -> Result<Encoded<X::Payload>, ExportError> {
        (self.tap)(&batch);
        self.inner.encode(batch)
    }

    fn split(&mut self, payload: &X::Payload) -> Option<[(X::Payload, u64); 2]> {
        self.inner.split(payload)
    }

    fn size(&self, payload: &X::Payload) -> u64 {
        self.inner.size(payload)
    }

    fn send(&mut self, payload: &X::Payload) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        self.inner.send(payload)
    }

    fn target(&self) -> &str {
        self.inner.target()
    }

    fn classify(&self, error: &ExportError) -> Verdict {
        self.inner.classify(error)
    }

    fn shutdown(&mut self) {
        self.inner.shutdown();
    }
}
