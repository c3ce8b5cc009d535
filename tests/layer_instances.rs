//! Layer instances keep to themselves, and a span the layer does not hand to
//! tracing-opentelemetry still honours `set_parent` and has a context:
//! - two `Telemetry` instances on two subscribers, used from the same threads, each
//!   export exactly their own trees, with the right parents and events;
//! - a span given a remote parent before it is first entered is sampled by that parent;
//! - a context attached by hand decides as the span's parent only where
//!   tracing-opentelemetry takes it as the parent;
//! - `OpenTelemetrySpanExt::context()` is never empty for a span the layer records.

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;
use telemetry::export::ExporterKind;
use telemetry::otel::tracing_opentelemetry::SetParentError;
use telemetry::sampling::Sampler;
use telemetry::testing::InMemorySpans;
use telemetry::{OpenTelemetrySpanExt as _, Telemetry};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

/// One instance: its telemetry (kept alive), what it exported, its subscriber.
struct Instance {
    _telemetry: Telemetry,
    spans: InMemorySpans,
    dispatch: Dispatch,
}

fn instance(name: &str, sampler: Sampler) -> Instance {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .service_name(name)
        .install_globals(false)
        .sampler(sampler)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .in_memory(&spans)
        .build()
        .unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    Instance {
        _telemetry: telemetry,
        spans,
        dispatch,
    }
}

const REMOTE_TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const REMOTE_SPAN: u64 = 0x00f0_67aa_0ba9_02b7;

/// A remote parent, as extracted from a request or a message.
fn remote(sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(REMOTE_TRACE),
        SpanId::from(REMOTE_SPAN),
        flags,
        true,
        TraceState::default(),
    ))
}

fn in_scope<T>(i: &Instance, f: impl FnOnce() -> T) -> T {
    tracing::dispatcher::with_default(&i.dispatch, f)
}

/// Spans of two subscribers entered one inside the other: each event goes to the span
/// of its own subscriber, although both registries gave their span the same id.
fn events_interleaved(a: &Instance, b: &Instance) {
    let b_root = in_scope(b, || tracing::info_span!("b.root"));
    let a_root = in_scope(a, || tracing::info_span!("a.root"));
    let _b = b_root.enter();
    let _a = a_root.enter();
    in_scope(b, || tracing::info!(n = 1_i64, "b.event"));
    in_scope(a, || tracing::info!(n = 2_i64, "a.event"));
}

#[test]
fn two_instances_on_the_same_threads_record_each_event_on_its_own_span() {
    let a = instance("a", Sampler::default());
    let b = instance("b", Sampler::default());
    events_interleaved(&a, &b);
    std::thread::scope(|s| {
        s.spawn(|| events_interleaved(&a, &b));
    });
    for (i, name, event, other) in [
        (&a, "a.root", "a.event", "b.event"),
        (&b, "b.root", "b.event", "a.event"),
    ] {
        let spans = i.spans.spans();
        assert_eq!(spans.len(), 2, "{name}: once per thread");
        for span in spans {
            assert_eq!(span.name, name);
            assert_eq!(span.parent_span_id, SpanId::INVALID, "{name} is a root");
            let events: Vec<_> = span.events.iter().map(|e| e.name.to_string()).collect();
            assert_eq!(events, [event], "{name} has its own event, not {other}");
        }
    }
}

/// While a span of one subscriber is entered (a span tracing-opentelemetry does not
/// record, under an unsampled remote parent), a span of the other subscriber with the
/// same id enters and exits: its context must leave with it.
fn contexts_interleaved(a: &Instance, b: &Instance) {
    let b_second = in_scope(b, || {
        let _first = tracing::info_span!("b.first");
        tracing::info_span!("b.second")
    });
    in_scope(a, || {
        let quiet = tracing::info_span!("a.quiet");
        quiet.set_parent(remote(false)).unwrap();
        let _quiet = quiet.enter();
        let inner = tracing::info_span!("a.inner");
        let _inner = inner.enter();
        b_second.in_scope(|| {});
    });
    drop(b_second);
    in_scope(b, || tracing::info_span!("b.after").in_scope(|| {}));
    in_scope(a, || {
        tracing::info_span!("a.sampled").in_scope(|| tracing::info_span!("a.child").in_scope(|| {}))
    });
}

#[test]
fn two_instances_on_the_same_threads_keep_their_contexts_apart() {
    // Ratio 1 samples every root, yet may leave spans unsampled under an unsampled
    // remote parent.
    let ratio = || Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(1.0)));
    let a = instance("a", ratio());
    let b = instance("b", ratio());
    contexts_interleaved(&a, &b);
    std::thread::scope(|s| {
        s.spawn(|| contexts_interleaved(&a, &b));
    });
    let b_spans = b.spans.spans();
    for name in ["b.second", "b.after"] {
        let of_name: Vec<_> = b_spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(of_name.len(), 2, "{name}: once per thread");
        for s in of_name {
            assert_eq!(s.parent_span_id, SpanId::INVALID, "{name} is a root");
        }
    }
    let a_spans = a.spans.spans();
    let names: Vec<_> = a_spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names,
        ["a.child", "a.sampled", "a.child", "a.sampled"],
        "the unsampled trace is not exported, the sampled one is whole"
    );
    for pair in a_spans.chunks(2) {
        assert_eq!(pair[0].parent_span_id, pair[1].span_context.span_id());
        assert_eq!(pair[1].parent_span_id, SpanId::INVALID);
    }
}

#[test]
fn a_child_of_an_unsampled_span_given_a_sampled_remote_parent_is_sampled_by_it() {
    // Roots are never sampled here; children follow their parent.
    let i = instance(
        "consumer",
        Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.0))),
    );
    in_scope(&i, || {
        let consumer = tracing::info_span!("consumer loop");
        let _consumer = consumer.enter();
        let local = tracing::info_span!("local child");
        assert!(
            local.context().span().span_context().is_valid(),
            "a child of an unsampled span has a context"
        );
        let message = tracing::info_span!("process message", message.id = 7_i64);
        message.set_parent(remote(true)).unwrap();
        message.in_scope(|| {
            tracing::info!("handled");
            tracing::info_span!("store").in_scope(|| {});
        });
        let sc = message.context().span().span_context().clone();
        assert_eq!(sc.trace_id(), TraceId::from(REMOTE_TRACE));
        assert!(sc.is_sampled());
    });
    insta::assert_snapshot!(i.spans.render(), @r"
    trace
    └─ process message  message.id=7
       ├• INFO handled
       └─ store
    ");
    let message = i
        .spans
        .span("process message")
        .expect("sampled by its parent");
    assert_eq!(message.span_context.trace_id(), TraceId::from(REMOTE_TRACE));
    assert_eq!(message.parent_span_id, SpanId::from(REMOTE_SPAN));
    let store = i.spans.span("store").unwrap();
    assert_eq!(store.parent_span_id, message.span_context.span_id());
}

#[test]
fn under_a_sampler_that_samples_nothing_every_span_has_a_context_and_takes_a_parent() {
    let i = instance("never", Sampler::AlwaysOff);
    in_scope(&i, || {
        let root = tracing::info_span!("root");
        let sc = root.context().span().span_context().clone();
        assert!(sc.is_valid(), "a context of its own");
        assert!(!sc.is_sampled());
        root.in_scope(|| {
            let current = Context::current().span().span_context().clone();
            assert_eq!(current, sc, "entered, its context is the current one");
            let child = tracing::info_span!("child");
            let child_sc = child.context().span().span_context().clone();
            assert_eq!(child_sc.trace_id(), sc.trace_id(), "in the parent's trace");
            assert_ne!(child_sc.span_id(), sc.span_id(), "with an id of its own");
        });
        assert!(matches!(
            root.set_parent(remote(true)),
            Err(SetParentError::AlreadyStarted)
        ));

        let message = tracing::info_span!("process message");
        message.set_parent(remote(true)).unwrap();
        message.in_scope(|| {
            let current = Context::current().span().span_context().clone();
            assert_eq!(current.trace_id(), TraceId::from(REMOTE_TRACE));
            assert!(!current.is_sampled(), "the sampler still says no");
            let inner = tracing::info_span!("inner").context();
            assert_eq!(
                inner.span().span_context().trace_id(),
                TraceId::from(REMOTE_TRACE)
            );
        });
        let explicit = tracing::info_span!(parent: &message, "explicit child");
        assert_eq!(
            explicit.context().span().span_context().trace_id(),
            TraceId::from(REMOTE_TRACE),
            "an explicit parent's trace"
        );
    });
    assert!(i.spans.spans().is_empty());
}

#[test]
fn a_context_attached_by_hand_does_not_stand_in_for_an_explicit_parent() {
    let i = instance("explicit", Sampler::default());
    in_scope(&i, || {
        let root = tracing::info_span!("root");
        let _root = root.enter();
        let _unsampled = remote(false).attach();
        tracing::info_span!(parent: &root, "explicit child").in_scope(|| {});
    });
    let root = i.spans.span("root").unwrap();
    let child = i
        .spans
        .span("explicit child")
        .expect("its parent, the sampled root, decides");
    assert_eq!(child.parent_span_id, root.span_context.span_id());
}

#[test]
fn a_context_attached_by_hand_inside_an_unsampled_span_parents_new_spans() {
    let i = instance(
        "attached",
        Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
    );
    in_scope(&i, || {
        let root = tracing::info_span!("unsampled root");
        let _root = root.enter();
        let inner = tracing::info_span!("unsampled inner");
        let _inner = inner.enter();
        let _remote = remote(true).attach();
        tracing::info_span!("under the remote").in_scope(|| {});
    });
    let names: Vec<_> = i.spans.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["under the remote"]);
    let span = i.spans.span("under the remote").unwrap();
    assert_eq!(span.span_context.trace_id(), TraceId::from(REMOTE_TRACE));
    assert_eq!(span.parent_span_id, SpanId::from(REMOTE_SPAN));
}
