//! [`TelemetrySpanExt`]: tracing-opentelemetry's extension trait, for every span the
//! layer records.
//!
//! Under a sampler that samples nothing, the layer keeps spans from tracing-opentelemetry
//! (see `Skipped`), whose own trait then finds nothing: an empty `context()`, a
//! `set_parent` that does nothing. This trait asks the layer first and hands every
//! other span to tracing-opentelemetry's trait, so it behaves the same on all of them.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, Status};
use opentelemetry::{Context, Key, KeyValue, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt as Inner;
use tracing_opentelemetry::SetParentError;

use super::native::Recording;
use super::skip::Skipped;
use super::span_state::WithSkipped;

/// Reads and sets the OpenTelemetry side of a `tracing` span: its parent, links,
/// context, attributes, status and events.
///
/// The same methods as
/// [`tracing_opentelemetry::OpenTelemetrySpanExt`], and the same behaviour, for every
/// span the [`TelemetryLayer`](crate::TelemetryLayer) records, including the spans it
/// keeps cheap under a sampler that samples nothing (`always_off`, `traceidratio` 0):
/// those have a non-recording context of their own (their parent's trace, a span id,
/// "not sampled") that `context()` returns and `set_parent` re-parents until the span
/// starts. Attributes, status, links and events set on such a span are dropped with it,
/// as the SDK drops them on any span that is not sampled.
///
/// # Examples
///
/// ```
/// use opentelemetry::trace::TraceContextExt as _;
/// use telemetry::TelemetrySpanExt as _;
/// use tracing_subscriber::prelude::*;
///
/// let telemetry = telemetry::Telemetry::builder()
///     .sampler(telemetry::sampling::Sampler::AlwaysOff)
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("not sampled");
///     let cx = span.context();
///     assert!(cx.span().span_context().is_valid());
///     assert!(!cx.span().span_context().is_sampled());
/// });
/// # Ok::<(), telemetry::Error>(())
/// ```
pub trait TelemetrySpanExt: sealed::Sealed {
    /// Makes `cx` (typically a remote context extracted from a request or a message)
    /// the parent of this span. Call it before the span is first entered: the sampler
    /// decides when the span starts, with this parent.
    ///
    /// # Errors
    ///
    /// [`SetParentError::AlreadyStarted`] once the span has been entered or asked for
    /// its context; [`SetParentError::SpanDisabled`] when the span is disabled;
    /// [`SetParentError::LayerNotFound`] when no layer records it.
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError>;

    /// Links this span to the span of `cx`.
    fn add_link(&self, cx: SpanContext);

    /// Links this span to the span of `cx`, with attributes on the link.
    fn add_link_with_attributes(&self, cx: SpanContext, attributes: Vec<KeyValue>);

    /// The OpenTelemetry context of this span (starting the span if it has not
    /// started), e.g. to inject into an outgoing request. Empty only for a span no
    /// layer records.
    fn context(&self) -> Context;

    /// Sets an attribute directly, beside the span's `tracing` fields (which win on a
    /// conflict).
    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>);

    /// Sets the span's status.
    fn set_status(&self, status: Status);

    /// Adds an event with attributes of any name, timestamped now.
    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>);

    /// Adds an event with attributes of any name at `timestamp`.
    fn add_event_with_timestamp(
        &self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    );
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for tracing::Span {}
}

/// Calls `f` with the span's state if a telemetry layer keeps the span from
/// tracing-opentelemetry; returns whether it does.
fn with_skipped(span: &tracing::Span, f: &mut dyn FnMut(&mut Skipped)) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        dispatch
            .downcast_ref::<WithSkipped>()
            .is_some_and(|with| (with.0)(dispatch, id, f))
    })
    .unwrap_or(false)
}

/// Calls `f` once with the span's native recording, if it has one; returns whether a
/// telemetry layer keeps the span from tracing-opentelemetry (recording or not).
fn with_recording(span: &tracing::Span, f: impl FnOnce(&mut Recording)) -> bool {
    let mut f = Some(f);
    with_skipped(span, &mut |s| {
        if let (Some(r), Some(f)) = (s.recording(), f.take()) {
            f(r);
        }
    })
}

impl TelemetrySpanExt for tracing::Span {
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError> {
        let mut cx = Some(cx);
        let mut result = Ok(());
        let skipped = with_skipped(self, &mut |s| {
            if let Some(cx) = cx.take() {
                result = s.set_parent(cx);
            }
        });
        match cx {
            Some(cx) if !skipped => Inner::set_parent(self, cx),
            _ => result,
        }
    }

    fn add_link(&self, cx: SpanContext) {
        TelemetrySpanExt::add_link_with_attributes(self, cx, Vec::new());
    }

    fn add_link_with_attributes(&self, cx: SpanContext, attributes: Vec<KeyValue>) {
        let mut args = Some((cx, attributes));
        let own = with_recording(self, |r| {
            if let Some((cx, attributes)) = args.take() {
                r.link(cx, attributes);
            }
        });
        if let Some((cx, attributes)) = args.filter(|_| !own) {
            Inner::add_link_with_attributes(self, cx, attributes);
        }
    }

    fn context(&self) -> Context {
        let mut own = None;
        if with_skipped(self, &mut |s| own = Some(s.context().clone())) {
            if let Some(own) = own {
                return own;
            }
        }
        Inner::context(self)
    }

    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        let mut kv = Some(KeyValue::new(key, value));
        let own = with_recording(self, |r| {
            if let Some(kv) = kv.take() {
                r.set_attribute(kv);
            }
        });
        if let Some(kv) = kv.filter(|_| !own) {
            Inner::set_attribute(self, kv.key, kv.value);
        }
    }

    fn set_status(&self, status: Status) {
        let mut status = Some(status);
        let own = with_recording(self, |r| {
            if let Some(s) = status.take() {
                r.set_status(s);
            }
        });
        if let Some(s) = status.filter(|_| !own) {
            Inner::set_status(self, s);
        }
    }

    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        TelemetrySpanExt::add_event_with_timestamp(self, name, SystemTime::now(), attributes);
    }

    fn add_event_with_timestamp(
        &self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        let mut args = Some((name.into(), attributes));
        let own = with_recording(self, |r| {
            if let Some((name, attributes)) = args.take() {
                r.add_event(name, timestamp, attributes);
            }
        });
        if let Some((name, attributes)) = args.filter(|_| !own) {
            Inner::add_event_with_timestamp(self, name, timestamp, attributes);
        }
    }
}
