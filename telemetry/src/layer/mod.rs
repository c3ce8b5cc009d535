//! [`TelemetryLayer`]: the one layer that turns `tracing` data into telemetry.

use std::any::TypeId;
use std::fmt;

use opentelemetry_sdk::trace::Tracer as SdkTracer;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The `tracing` layer made by [`Telemetry::layer`](crate::Telemetry::layer).
///
/// Spans become OpenTelemetry spans (parent/child from the span stack, fields as
/// attributes, events as span events, `otel.name`, `otel.kind`, `otel.status_code`,
/// `otel.status_description` honoured, error fields as exception events). It composes
/// with other layers and per-layer filters, and
/// [`OpenTelemetrySpanExt`](crate::OpenTelemetrySpanExt) works through it.
///
/// When telemetry is disabled the layer does nothing at all: every callback returns at
/// once and no span costs an allocation.
pub struct TelemetryLayer<S> {
    spans: Option<OpenTelemetryLayer<S, SdkTracer>>,
}

impl<S> TelemetryLayer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    pub(crate) fn new(tracer: Option<SdkTracer>) -> Self {
        let spans = tracer.map(|tracer| {
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(true)
                .with_threads(true)
                .with_tracked_inactivity(true)
                .with_error_fields_to_exceptions(true)
                .with_error_events_to_exceptions(true)
                .with_error_events_to_status(true)
                .with_error_records_to_exceptions(true)
        });
        TelemetryLayer { spans }
    }

    /// Whether this layer records anything (false when telemetry is disabled).
    pub fn is_enabled(&self) -> bool {
        self.spans.is_some()
    }
}

impl<S> fmt::Debug for TelemetryLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryLayer")
            .field("enabled", &self.spans.is_some())
            .finish()
    }
}

impl<S> Layer<S> for TelemetryLayer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_register_dispatch(&self, subscriber: &tracing_core::Dispatch) {
        if let Some(spans) = &self.spans {
            spans.on_register_dispatch(subscriber);
        }
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        if let Some(spans) = &mut self.spans {
            spans.on_layer(subscriber);
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_record(span, values, ctx);
        }
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_follows_from(span, follows, ctx);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_event(event, ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_enter(id, ctx);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_exit(id, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_close(id, ctx);
        }
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        if let Some(spans) = &self.spans {
            spans.on_id_change(old, new, ctx);
        }
    }

    // SAFETY: forwards to the inner layer, which returns pointers to itself only for
    // the type ids it recognises (this is how `OpenTelemetrySpanExt` finds it).
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        match &self.spans {
            // SAFETY: the caller's contract is passed on unchanged.
            Some(spans) => unsafe { spans.downcast_raw(id) },
            None => None,
        }
    }
}
