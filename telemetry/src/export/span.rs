//! What the span pipelines carry ([`Span`]): a span the SDK built (the default path,
//! and spans made with the OpenTelemetry API), or one the native span path recorded,
//! which the OTLP encoding reads straight from its recording.

use opentelemetry_sdk::trace::SpanData;

use crate::layer::Ended;

/// One ended span on a span pipeline.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "the SDK's span stays inline in the queue, as before: boxing it would cost the default path an allocation per span; a native span is a pointer"
)]
pub(crate) enum Span {
    /// Built by the SDK.
    Sdk(SpanData),
    /// Recorded by the native span path.
    Native(Ended),
}

impl Span {
    /// The span as the SDK's `SpanData` (a native span's recording goes back to the
    /// spares).
    pub(crate) fn into_sdk(self) -> SpanData {
        match self {
            Span::Sdk(data) => data,
            Span::Native(ended) => ended.into_sdk(),
        }
    }

    /// A copy of the span as the SDK's `SpanData`.
    pub(crate) fn to_sdk(&self) -> SpanData {
        match self {
            Span::Sdk(data) => data.clone(),
            Span::Native(ended) => ended.to_sdk(),
        }
    }
}

impl From<SpanData> for Span {
    fn from(data: SpanData) -> Self {
        Span::Sdk(data)
    }
}
