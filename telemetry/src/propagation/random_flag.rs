//! The W3C trace-context level 2 `random` flag (bit 1 of the trace flags) on every span
//! the layer starts.
//!
//! The SDK's tracer keeps a parent's flags on a sampled or recorded child, but gives a
//! dropped child (a `parentbased` decision on an unsampled parent) flags `00`, and a
//! root only the sampled bit, though its trace id comes from the random id generator.
//! [`Tracer`] wraps it and fixes the context of each span it starts: the random flag
//! of the parent is kept, whatever the sampling decision; a root, whose trace id this
//! library generated at random, gets it. Children take their flags from that context,
//! and injection writes it, so the flag survives extract, child spans and inject.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, Status, TraceContextExt as _, TraceFlags,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Span as SdkSpan, Tracer as SdkTracer};

/// The random flag, `0x02` (opentelemetry 0.33 names only `SAMPLED`).
pub(crate) const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// Whether `flags` has the random bit.
fn is_random(flags: TraceFlags) -> bool {
    flags.to_u8() & RANDOM.to_u8() != 0
}

/// The SDK tracer, starting spans whose contexts carry the random flag where it is due.
#[derive(Debug, Clone)]
pub(crate) struct Tracer(SdkTracer);

impl Tracer {
    pub(crate) fn new(inner: SdkTracer) -> Tracer {
        Tracer(inner)
    }
}

impl opentelemetry::trace::Tracer for Tracer {
    type Span = Span;

    #[inline]
    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Span {
        let parent = parent_cx.span();
        let parent = parent.span_context();
        // A valid parent passes its flag on; without one the SDK made a new random id.
        let random = if parent.is_valid() {
            is_random(parent.trace_flags())
        } else {
            true
        };
        let inner = self.0.build_with_context(builder, parent_cx);
        let sc = inner.span_context();
        let context = (random && sc.is_valid() && !is_random(sc.trace_flags())).then(|| {
            SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags() | RANDOM,
                sc.is_remote(),
                sc.trace_state().clone(),
            )
        });
        Span { inner, context }
    }
}

/// An SDK span whose context may carry the random flag the SDK left out. Everything
/// but [`span_context`](opentelemetry::trace::Span::span_context) goes to the SDK span.
#[derive(Debug)]
pub(crate) struct Span {
    inner: SdkSpan,
    /// The corrected context, when it differs from the SDK span's.
    context: Option<SpanContext>,
}

impl opentelemetry::trace::Span for Span {
    #[inline]
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        self.inner
            .add_event_with_timestamp(name, timestamp, attributes);
    }

    #[inline]
    fn span_context(&self) -> &SpanContext {
        self.context
            .as_ref()
            .unwrap_or_else(|| self.inner.span_context())
    }

    #[inline]
    fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    #[inline]
    fn set_attribute(&mut self, attribute: KeyValue) {
        self.inner.set_attribute(attribute);
    }

    #[inline]
    fn set_status(&mut self, status: Status) {
        self.inner.set_status(status);
    }

    #[inline]
    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.inner.update_name(new_name);
    }

    #[inline]
    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.inner.add_link(span_context, attributes);
    }

    #[inline]
    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.end_with_timestamp(timestamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceId, TraceState, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

    fn tracer(sampler: Sampler) -> Tracer {
        let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
        Tracer::new(provider.tracer("test"))
    }

    fn remote(flags: u8) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x1234_u128),
            SpanId::from(0x99_u64),
            TraceFlags::new(flags),
            true,
            TraceState::default(),
        ))
    }

    fn flags(tracer: &Tracer, parent: &Context) -> u8 {
        let span = tracer.build_with_context(SpanBuilder::from_name("s"), parent);
        span.span_context().trace_flags().to_u8()
    }

    #[test]
    fn the_parents_random_flag_is_kept_whatever_the_decision() {
        let parent_based = tracer(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        assert_eq!(flags(&parent_based, &remote(0x03)), 0x03);
        // Dropped by the parent-based sampler: the SDK alone would give 00.
        assert_eq!(flags(&parent_based, &remote(0x02)), 0x02);
        assert_eq!(flags(&tracer(Sampler::AlwaysOff), &remote(0x03)), 0x02);
        // A parent without the flag: none is invented.
        assert_eq!(flags(&parent_based, &remote(0x01)), 0x01);
        assert_eq!(flags(&parent_based, &remote(0x00)), 0x00);
    }

    #[test]
    fn roots_get_the_random_flag() {
        let root = Context::new();
        assert_eq!(flags(&tracer(Sampler::AlwaysOn), &root), 0x03);
        assert_eq!(flags(&tracer(Sampler::AlwaysOff), &root), 0x02);
    }

    #[test]
    fn children_of_a_local_root_inherit_it() {
        let tracer = tracer(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let root = tracer.build_with_context(SpanBuilder::from_name("root"), &Context::new());
        let cx = Context::new().with_span(root);
        assert_eq!(flags(&tracer, &cx), 0x03);
    }
}
