//! The span settings: which optional attributes spans carry ([`SpanDetails`]) and how
//! many attributes, events and links a span keeps ([`SpanLimits`], the
//! `OTEL_SPAN_*_COUNT_LIMIT` variables).

/// `OTEL_ATTRIBUTE_COUNT_LIMIT`: the default limit of attributes per item.
pub const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
/// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`: attributes per span.
pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// `OTEL_SPAN_EVENT_COUNT_LIMIT`: events per span.
pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// `OTEL_SPAN_LINK_COUNT_LIMIT`: links per span.
pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";

/// Optional span attributes, each with a cost per span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanDetails {
    /// `code.file.path`, `code.line.number`, `code.module.name` from the callsite.
    /// Default: on.
    pub location: bool,
    /// `thread.id` and `thread.name`. Default: off.
    pub threads: bool,
    /// `busy_ns` and `idle_ns`: time entered and not, measured at every enter and exit.
    /// Default: off.
    pub inactivity: bool,
}

impl Default for SpanDetails {
    fn default() -> Self {
        SpanDetails {
            location: true,
            threads: false,
            inactivity: false,
        }
    }
}

/// The variable that chooses the [`SpanRecorder`] (`opentelemetry` or `native`); not
/// one of OpenTelemetry's. The builder's
/// [`span_recorder`](crate::TelemetryBuilder::span_recorder) wins over it.
pub const TELEMETRY_SPAN_RECORDER: &str = "TELEMETRY_SPAN_RECORDER";

/// Which code records spans.
///
/// - `OpenTelemetry` (the default): tracing-opentelemetry's layer over the SDK tracer.
///   Third-party crates that read span contexts through
///   `tracing_opentelemetry::OpenTelemetrySpanExt` (reqwest-tracing,
///   axum-tracing-opentelemetry, ...) need it: only its own layer answers them.
/// - `Native`: the layer records spans itself, straight into the export pipeline
///   (cheaper on the application thread, and `u64` fields stay integers). This
///   crate's [`TelemetrySpanExt`](crate::TelemetrySpanExt) and
///   `opentelemetry::Context::current()` work with it; tracing-opentelemetry's trait
///   does not. A finished span reaches the export thread as its recording, in a queue
///   of its own with the traces batch's `max_queue_size` (beside the one for spans
///   started through the OpenTelemetry API); the OTLP exporter encodes it from the
///   recording, and the other exporters get a `SpanData` made from it on the export
///   thread. Emptied recordings are kept for new spans to reuse, at most two traces
///   batches' worth per [`Telemetry`](crate::Telemetry) (1,024 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpanRecorder {
    /// tracing-opentelemetry over the SDK tracer.
    #[default]
    OpenTelemetry,
    /// The layer's own span recorder.
    Native,
}

impl SpanRecorder {
    /// Reads `opentelemetry` or `native`.
    pub fn parse(s: &str) -> Option<SpanRecorder> {
        match s.trim().to_ascii_lowercase().as_str() {
            "opentelemetry" | "tracing-opentelemetry" => Some(SpanRecorder::OpenTelemetry),
            "native" => Some(SpanRecorder::Native),
            _ => None,
        }
    }
}

/// Attributes, events and links kept per span, and attributes per event and per link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanLimits {
    pub(crate) attributes: u32,
    pub(crate) events: u32,
    pub(crate) links: u32,
    /// Attributes per span event (the configuration file's
    /// `event_attribute_count_limit`).
    pub(crate) event_attributes: u32,
    /// Attributes per link (`link_attribute_count_limit`).
    pub(crate) link_attributes: u32,
}

impl SpanLimits {
    /// The specification's default of each limit.
    pub(crate) const DEFAULT_LIMIT: u32 = 128;
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            attributes: Self::DEFAULT_LIMIT,
            events: Self::DEFAULT_LIMIT,
            links: Self::DEFAULT_LIMIT,
            event_attributes: Self::DEFAULT_LIMIT,
            link_attributes: Self::DEFAULT_LIMIT,
        }
    }
}
