//! Spans kept from tracing-opentelemetry under a sampler that samples nothing, whatever
//! the parent (`always_off`, `traceidratio` 0): no parent can change that decision, so
//! such a span costs only its metrics and logs. Here: their state ([`Skipped`]), the
//! non-recording context each gets, and the per-thread stack of the contexts attached
//! while they are entered.

use std::cell::RefCell;

use opentelemetry::trace::TraceContextExt as _;
use tracing_core::span::{Attributes, Id};
use tracing_opentelemetry::SetParentError;

use super::native::Recording;
use super::LayerKey;

/// A span kept from tracing-opentelemetry because the sampler samples nothing. It still
/// has a non-recording context of its own, as the SDK gives a dropped span (the
/// parent's trace, a span id of its own, "not sampled"): logs keep a trace id, outgoing
/// requests say "not sampled", and [`TelemetrySpanExt`](super::TelemetrySpanExt)
/// reads and re-parents it like any other span.
///
/// On the native span path every span is one of these, with a [`Recording`] of what it
/// is: the sampler decides when the span starts, and a sampled span's recording is
/// exported when it ends.
#[derive(Debug)]
pub(crate) struct Skipped {
    state: State,
    /// What the span records, on the native path, while it may still be exported.
    pub(crate) recording: Option<Box<Recording>>,
}

#[derive(Debug)]
enum State {
    /// Not started yet, with what tracing-opentelemetry would take as the parent: the
    /// explicit parent's context, else the context current when the span was created;
    /// replaced by `set_parent` until the span starts.
    Pending(opentelemetry::Context),
    /// Started (first entered, or first asked for its context), with its own context.
    Started(opentelemetry::Context),
}

impl Skipped {
    /// A new skipped span, its parent chosen as tracing-opentelemetry chooses it:
    /// `explicit`, the own context of its explicit parent when that parent is skipped
    /// too; for a contextual span, OpenTelemetry's current context (the entered span's,
    /// or one attached by hand); else none.
    pub(crate) fn new(
        attrs: &Attributes<'_>,
        explicit: Option<opentelemetry::Context>,
        recording: Option<Box<Recording>>,
    ) -> Self {
        let parent = explicit.unwrap_or_else(|| {
            if attrs.is_contextual() {
                opentelemetry::Context::current()
            } else {
                opentelemetry::Context::new()
            }
        });
        Skipped {
            state: State::Pending(parent),
            recording,
        }
    }

    /// Makes `cx` the parent, unless the span has started (as tracing-opentelemetry).
    pub(crate) fn set_parent(&mut self, cx: opentelemetry::Context) -> Result<(), SetParentError> {
        match &mut self.state {
            State::Pending(parent) => {
                *parent = cx;
                Ok(())
            }
            State::Started(_) => Err(SetParentError::AlreadyStarted),
        }
    }

    /// The span's own context, starting the span if it has not started: with a
    /// recording, as the sampler decides (a span it does not sample lets go of its
    /// recording); without, not sampled.
    pub(crate) fn context(&mut self) -> &opentelemetry::Context {
        if let State::Pending(parent) = &self.state {
            let own = match self.recording.as_mut() {
                Some(recording) => {
                    let (own, keep) = recording.start(parent);
                    if !keep {
                        if let Some(dropped) = self.recording.take() {
                            dropped.discard();
                        }
                    }
                    own
                }
                None => own_context(parent),
            };
            self.state = State::Started(own);
        }
        match &self.state {
            State::Started(own) | State::Pending(own) => own,
        }
    }

    /// The recording of a span that has started and is sampled, or has not started yet.
    pub(crate) fn recording(&mut self) -> Option<&mut Recording> {
        self.recording.as_deref_mut()
    }

    /// Ends the span at `end`: a recorded span is exported (started now if it never
    /// was).
    pub(crate) fn end(mut self, native: &super::NativeSpans, end: std::time::Instant) {
        let _ = self.context();
        if let Some(recording) = self.recording.take() {
            recording.end(native, end);
        }
    }
}

/// The context of a span that is not sampled, under `parent`: the parent's trace and
/// trace state (a new trace without a valid parent), a new span id, not sampled.
fn own_context(parent: &opentelemetry::Context) -> opentelemetry::Context {
    let of_parent = parent
        .has_active_span()
        .then(|| parent.span().span_context().clone())
        .filter(opentelemetry::trace::SpanContext::is_valid);
    // W3C level 2: the parent's random flag is kept; a trace id made here is random.
    let (trace_id, state, flags) = match of_parent {
        Some(sc) => (
            sc.trace_id(),
            sc.trace_state().clone(),
            sc.trace_flags() & crate::propagation::RANDOM,
        ),
        None => (
            crate::ids::new_trace_id(),
            opentelemetry::trace::TraceState::default(),
            crate::propagation::RANDOM,
        ),
    };
    let sc = opentelemetry::trace::SpanContext::new(
        trace_id,
        crate::ids::new_span_id(),
        flags,
        false,
        state,
    );
    parent.with_remote_span_context(sc)
}

/// A skipped span entered on this thread, with the guard of the context attached for
/// it.
struct Attached {
    layer: LayerKey,
    span: u64,
    /// Dropped when the span exits. Not `Send`, hence a thread-local stack rather than
    /// state kept in the span.
    _guard: opentelemetry::ContextGuard,
}

thread_local! {
    /// Skipped spans entered on this thread, innermost last, by every telemetry layer.
    static ATTACHED: RefCell<Vec<Attached>> = const { RefCell::new(Vec::new()) };
}

/// Makes `cx`, the own context of the skipped span `id` that `layer` enters, the
/// current one until the span exits.
#[inline]
pub(crate) fn attach(layer: LayerKey, id: &Id, cx: opentelemetry::Context) {
    let attached = Attached {
        layer,
        span: id.into_u64(),
        _guard: cx.attach(),
    };
    let _ = ATTACHED.try_with(|a| a.borrow_mut().push(attached));
}

/// Detaches the context attached when `layer` entered `id`; false when `id` is no
/// skipped span entered on this thread.
#[inline]
pub(crate) fn detach(layer: LayerKey, id: &Id) -> bool {
    let span = id.into_u64();
    let detached = ATTACHED.try_with(|a| {
        let mut a = a.borrow_mut();
        let ours = |x: &Attached| x.layer == layer && x.span == span;
        // Usually the innermost one.
        if a.last().is_some_and(ours) {
            return a.pop();
        }
        a.iter().rposition(ours).map(|i| a.remove(i))
    });
    // OpenTelemetry's context stack allows guards to drop out of order. Dropped here,
    // with the stack no longer borrowed.
    match detached {
        Ok(Some(attached)) => {
            drop(attached);
            true
        }
        _ => false,
    }
}
