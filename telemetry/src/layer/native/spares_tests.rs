//! The spares of the native path: a recording handed back is emptied, reused by the
//! next span with nothing of the last one, holds nothing that holds the spares, and
//! their number is bounded.

use std::sync::Arc;
use std::time::Instant;

use opentelemetry::trace::{SpanContext, Status};
use opentelemetry::{Context, KeyValue, Value};
use tracing_core::callsite::DefaultCallsite;
use tracing_core::span::Attributes;
use tracing_core::{Kind, Level, Metadata};

use super::{Ended, NativeSpans, Recording, Spares};

static FIRST_SITE: DefaultCallsite = DefaultCallsite::new(&FIRST);
static FIRST: Metadata<'static> = tracing_core::metadata! {
    name: "first",
    target: "spares",
    level: Level::INFO,
    fields: &["a", "b", "c", "otel.status_code"],
    callsite: &FIRST_SITE,
    kind: Kind::SPAN,
};

static SECOND_SITE: DefaultCallsite = DefaultCallsite::new(&SECOND);
static SECOND: Metadata<'static> = tracing_core::metadata! {
    name: "second",
    target: "spares",
    level: Level::INFO,
    fields: &["d"],
    callsite: &SECOND_SITE,
    kind: Kind::SPAN,
};

fn native() -> Arc<NativeSpans> {
    Arc::new(NativeSpans {
        sampler: Box::new(opentelemetry_sdk::trace::Sampler::AlwaysOn),
        shortcut: super::Shortcut::None,
        pipelines: Vec::new(),
        processors: Vec::new(),
        scope: crate::metrics::scope(),
        location: false,
        threads: false,
        samples_nothing: false,
        limits: Default::default(),
        spares: Spares::for_batches(100),
    })
}

/// A started recording of `first`, with three fields, an error status, an event and a
/// link.
fn first(native: &Arc<NativeSpans>) -> Box<Recording> {
    let fields = FIRST.fields();
    let (a, b, c, status) = (
        fields.field("a").unwrap(),
        fields.field("b").unwrap(),
        fields.field("c").unwrap(),
        fields.field("otel.status_code").unwrap(),
    );
    let values = [
        (&a, Some(&1_u64 as &dyn tracing_core::field::Value)),
        (&b, Some(&"two" as &dyn tracing_core::field::Value)),
        (&c, Some(&true as &dyn tracing_core::field::Value)),
        (&status, Some(&"error" as &dyn tracing_core::field::Value)),
    ];
    let values = fields.value_set(&values);
    let mut recording = Recording::new(native, &Attributes::new(&FIRST, &values), Instant::now());
    recording.add_event("happened".into(), std::time::SystemTime::now(), Vec::new());
    recording.link(SpanContext::empty_context(), vec![KeyValue::new("l", 1)]);
    let (_, sampled) = recording.start(&Context::new());
    assert!(sampled);
    recording
}

fn second(native: &Arc<NativeSpans>) -> Box<Recording> {
    let fields = SECOND.fields();
    let d = fields.field("d").unwrap();
    let values = [(&d, Some(&4_i64 as &dyn tracing_core::field::Value))];
    let values = fields.value_set(&values);
    Recording::new(native, &Attributes::new(&SECOND, &values), Instant::now())
}

fn keys(attributes: &[KeyValue]) -> Vec<&str> {
    attributes.iter().map(|kv| kv.key.as_str()).collect()
}

#[test]
fn an_ended_recording_is_its_span_and_then_a_spare_holding_nothing() {
    let native = native();
    let data = Ended::new(first(&native)).into_sdk();
    assert_eq!(data.name, "first");
    assert_eq!(keys(&data.attributes), ["target", "a", "b", "c"]);
    assert_eq!(data.attributes[2].value, Value::from("two"));
    assert!(matches!(data.status, Status::Error { .. }));
    assert_eq!(data.events.events.len(), 1);
    assert_eq!(data.links.links.len(), 1);
    assert!(data.span_context.is_valid());
    assert_eq!(native.spares.len(), 1);
    // The spare holds no reference to what holds the spares: no cycle.
    assert_eq!(Arc::strong_count(&native), 1);
    let spare = native.spares.take().unwrap();
    assert!(spare.native.is_none());
    assert!(spare.attributes.is_empty());
    assert!(spare.attributes.capacity() >= 4, "the room is kept");
    assert!(spare.events.is_empty() && spare.links.is_empty());
    assert!(spare.started.is_none());
    assert_eq!(spare.status, Status::Unset);
}

#[test]
fn the_next_span_takes_the_spare_with_nothing_of_the_last_one() {
    let native = native();
    let _ = Ended::new(first(&native)).into_sdk();
    assert_eq!(native.spares.len(), 1);
    let mut next = second(&native);
    assert_eq!(native.spares.len(), 0, "the spare was taken");
    assert_eq!(
        Arc::strong_count(&native),
        2,
        "the span holds what it shares"
    );
    assert_eq!(next.name, "second");
    // `target` is added on the export thread.
    assert_eq!(keys(&next.attributes), ["d"]);
    assert_eq!(next.late, 1);
    assert!(next.events.is_empty() && next.links.is_empty());
    assert_eq!(next.status, Status::Unset);
    assert!(next.started.is_none());
    let (_, sampled) = next.start(&Context::new());
    assert!(sampled);
    next.end = Instant::now();
    let data = Ended::new(next).into_sdk();
    assert_eq!(data.name, "second");
    assert_eq!(keys(&data.attributes), ["target", "d"]);
    assert_eq!(data.span_kind, opentelemetry::trace::SpanKind::Internal);
    assert_eq!(data.status, Status::Unset);
    assert!(data.events.events.is_empty() && data.links.links.is_empty());
    assert!(data.parent_span_id == opentelemetry::trace::SpanId::INVALID);
    assert!(data.start_time <= data.end_time);
}

#[test]
fn a_discarded_recording_is_emptied_into_the_spares() {
    let native = native();
    let recording = first(&native);
    recording.discard();
    assert_eq!(Arc::strong_count(&native), 1);
    let spare = native.spares.take().unwrap();
    assert!(spare.native.is_none() && spare.attributes.is_empty());
    assert!(spare.attributes.capacity() >= 4);
    assert!(spare.started.is_none() && spare.events.is_empty());
    assert_eq!(spare.name, "");
}

#[test]
fn spares_hold_two_batches() {
    assert_eq!(Spares::for_batches(512).capacity(), 1024);
    assert_eq!(Spares::for_batches(1).capacity(), 64);
    assert_eq!(Spares::for_batches(usize::MAX).capacity(), 8192);
}

#[test]
fn spares_are_bounded() {
    let native = native();
    for _ in 0..native.spares.capacity() + 10 {
        second(&native).discard();
    }
    // Each new span took the one spare back: only one was ever kept.
    assert_eq!(native.spares.len(), 1);
    let many: Vec<_> = (0..native.spares.capacity() + 10)
        .map(|_| second(&native))
        .collect();
    for recording in many {
        recording.discard();
    }
    assert_eq!(native.spares.len(), 200);
    assert_eq!(Arc::strong_count(&native), 1);
}

#[test]
fn a_recording_dropped_as_it_is_lets_go_of_what_it_shares() {
    let native = native();
    drop(first(&native));
    assert_eq!(Arc::strong_count(&native), 1);
    assert_eq!(native.spares.len(), 0);
}

/// Two started recordings of `first` with the same ids, times and trace state, the
/// parent remote.
fn twins(native: &Arc<NativeSpans>) -> (Box<Recording>, Box<Recording>) {
    let (mut one, mut two) = (first(native), first(native));
    let (sc, _, _) = one.started.clone().unwrap();
    let state = opentelemetry::trace::TraceState::from_key_value([("k", "v")]).unwrap();
    let sc = SpanContext::new(sc.trace_id(), sc.span_id(), sc.trace_flags(), false, state);
    let parent = opentelemetry::trace::SpanId::from_bytes(7_u64.to_be_bytes());
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_234_567);
    let start = Instant::now();
    for r in [&mut one, &mut two] {
        r.started = Some((sc.clone(), parent, true));
        r.start = start;
        r.end = start + std::time::Duration::from_millis(3);
        r.events[0].timestamp = t;
        r.status = Status::error("it failed");
    }
    (one, two)
}

#[test]
fn an_ended_recording_encodes_as_its_sdk_span_would() {
    use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
    let native = native();
    let (one, two) = twins(&native);
    let mut ended = Ended::new(one);
    let direct = ended.take_proto();
    let through_sdk = ProtoSpan::from(Ended::new(two).into_sdk());
    assert_eq!(direct, through_sdk);
    assert_eq!(direct.trace_state, "k=v");
    // Read on the monotonic clock: the duration is exactly the instants' distance.
    assert_eq!(
        direct.end_time_unix_nano - direct.start_time_unix_nano,
        3_000_000
    );
    assert_eq!(direct.parent_span_id, 7_u64.to_be_bytes());
    assert_eq!(direct.attributes.len(), 4);
    assert_eq!(direct.status.as_ref().unwrap().message, "it failed");
    // Encoded, the recording keeps its lists' room and, dropped, becomes a spare.
    drop(ended);
    assert_eq!(native.spares.len(), 2);
    let spare = native.spares.take().unwrap();
    assert!(spare.attributes.is_empty() && spare.attributes.capacity() >= 4);
    assert!(spare.native.is_none() && spare.started.is_none());
}

#[test]
fn a_copy_for_the_recorder_leaves_the_recording_as_it_is() {
    let native = native();
    let (one, two) = twins(&native);
    let ended = Ended::new(one);
    let copy = ended.to_sdk();
    let made = Ended::new(two).into_sdk();
    assert_eq!(format!("{copy:?}"), format!("{made:?}"));
    let mut ended = ended;
    let proto = ended.take_proto();
    assert_eq!(proto.name, "first");
    assert_eq!(proto.events.len(), 1);
}

/// `first` with `code.*` and `thread.*` attributes on, and an event from a callsite.
fn located(limit: u32) -> (Arc<NativeSpans>, Box<Recording>) {
    let mut native = native();
    let n = Arc::get_mut(&mut native).unwrap();
    n.location = true;
    n.threads = true;
    n.limits.attributes = limit;
    let mut recording = first(&native);
    let mut fields = crate::fields::Fields::new();
    fields.values.push(("x", crate::fields::FieldValue::U64(1)));
    recording.event(&FIRST, &fields, &super::ErrorChains::default());
    (native, recording)
}

#[test]
fn callsite_and_thread_attributes_come_first_when_the_span_is_encoded() {
    let (_native, recording) = located(128);
    assert_eq!(keys(&recording.attributes), ["a", "b", "c"]);
    let data = Ended::new(recording).into_sdk();
    assert_eq!(
        keys(&data.attributes),
        [
            "code.file.path",
            "code.module.name",
            "code.line.number",
            "thread.id",
            "thread.name",
            "target",
            "a",
            "b",
            "c"
        ]
    );
    let thread = std::thread::current();
    let name = data
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "thread.name")
        .map(|kv| kv.value.to_string());
    assert_eq!(name.as_deref(), thread.name());
    // The span's own event (the one from code carries nothing more).
    let event = data
        .events
        .events
        .iter()
        .find(|e| e.name == "first")
        .unwrap();
    assert_eq!(
        keys(&event.attributes),
        [
            "level",
            "target",
            "x",
            "code.file.path",
            "code.module.name",
            "code.line.number"
        ]
    );
}

#[test]
fn attributes_added_later_count_against_the_limit_and_are_replaced_not_doubled() {
    // Limit 6: the location, the thread and `target` leave no room for a field.
    let (_native, mut recording) = located(6);
    assert!(recording.attributes.is_empty(), "no room for fields");
    recording.set_attribute(KeyValue::new("target", "mine"));
    let data = Ended::new(recording).into_sdk();
    let targets: Vec<String> = data
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str() == "target")
        .map(|kv| kv.value.to_string())
        .collect();
    assert_eq!(targets, ["mine"]);
}

#[test]
fn string_values_wait_in_one_buffer_and_are_replaced_like_any_other() {
    let native = native();
    let mut recording = first(&native);
    assert_eq!(recording.text, "two", "copied into the span's buffer");
    let fields = FIRST.fields();
    let b = fields.field("b").unwrap();
    let values = [(&b, Some(&"three" as &dyn tracing_core::field::Value))];
    let values = fields.value_set(&values);
    recording.record(&tracing_core::span::Record::new(&values));
    for _ in 0..100 {
        recording.record(&tracing_core::span::Record::new(&values));
    }
    assert_eq!(
        recording.text, "two",
        "values recorded later do not grow the buffer"
    );
    recording.set_attribute(KeyValue::new("a", "from code"));
    let data = Ended::new(recording).into_sdk();
    let of = |key: &str| -> Vec<String> {
        data.attributes
            .iter()
            .filter(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
            .collect()
    };
    assert_eq!(of("b"), ["three"]);
    assert_eq!(of("a"), ["from code"]);
    assert_eq!(of("c"), ["true"]);
    let spare = native.spares.take().unwrap();
    assert!(spare.text.is_empty() && spare.texts.is_empty());
    assert!(
        spare.text.capacity() >= "twothree".len(),
        "the room is kept"
    );
}

#[test]
fn an_event_message_waits_in_the_buffer_and_names_its_event() {
    let native = native();
    let mut recording = first(&native);
    let mut fields = crate::fields::Fields::new();
    fields.message = Some("it happened".into());
    fields
        .values
        .push(("who", crate::fields::FieldValue::Str("bob".into())));
    fields.values.push(("n", crate::fields::FieldValue::U64(3)));
    recording.event(&FIRST, &fields, &super::ErrorChains::default());
    let mut second = crate::fields::Fields::new();
    second
        .values
        .push(("who", crate::fields::FieldValue::Str("alice".into())));
    recording.event(&FIRST, &second, &super::ErrorChains::default());
    assert!(recording.text.ends_with("bobit happenedalice"));
    let data = Ended::new(recording).into_sdk();
    let names: Vec<&str> = data.events.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["happened", "it happened", "first"]);
    let values = |i: usize| -> Vec<(String, String)> {
        data.events.events[i]
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        values(1),
        [
            pair("level", "INFO"),
            pair("target", "spares"),
            pair("who", "bob"),
            pair("n", "3")
        ]
    );
    assert_eq!(
        values(2),
        [
            pair("level", "INFO"),
            pair("target", "spares"),
            pair("who", "alice")
        ]
    );
}

#[test]
fn an_event_takes_its_time_from_the_span_s_clock_and_falls_within_the_span() {
    let native = native();
    let mut recording = first(&native);
    let start = Instant::now();
    recording.start = start;
    let fields = crate::fields::Fields::new();
    recording.event(&FIRST, &fields, &super::ErrorChains::default());
    let pending = recording.pending_events.last_mut().unwrap();
    assert!(
        pending.at >= start,
        "read on the span's clock when it happened"
    );
    // Set apart from the span's start and end, where no wall-clock reading would land
    // to the nanosecond.
    pending.at = start + std::time::Duration::from_millis(5);
    recording.end = start + std::time::Duration::from_millis(9);
    let proto = Ended::new(recording).take_proto();
    let event = proto.events.iter().find(|e| e.name == "first").unwrap();
    assert_eq!(event.time_unix_nano - proto.start_time_unix_nano, 5_000_000);
    assert_eq!(proto.end_time_unix_nano - event.time_unix_nano, 4_000_000);
}

#[test]
fn a_batch_of_native_and_sdk_spans_encodes_each_under_its_scope() {
    use crate::export::otlp::{Encoding as _, Traces};
    use crate::export::Span;
    let native = native();
    let (one, two) = twins(&native);
    let same_scope = Ended::new(two).into_sdk();
    let mut other_scope = same_scope.clone();
    other_scope.instrumentation_scope =
        opentelemetry::InstrumentationScope::builder("other").build();
    let batch = vec![
        Span::Native(Ended::new(one)),
        Span::Sdk(same_scope),
        Span::Sdk(other_scope),
        Span::Native(Ended::new(first(&native))),
    ];
    let resource = (&opentelemetry_sdk::Resource::builder_empty().build()).into();
    let request = Traces::request(batch, &resource);
    assert_eq!(request.resource_spans.len(), 1);
    let scopes: Vec<(String, usize)> = request.resource_spans[0]
        .scope_spans
        .iter()
        .map(|s| (s.scope.as_ref().unwrap().name.clone(), s.spans.len()))
        .collect();
    let ours = crate::metrics::scope().name().to_string();
    assert_eq!(scopes.len(), 2, "{scopes:?}");
    assert!(scopes.contains(&(ours, 3)), "{scopes:?}");
    assert!(scopes.contains(&("other".to_string(), 1)), "{scopes:?}");
    // Encoded, both native recordings went back to the spares (the one `two` left
    // there was taken by the last span).
    assert_eq!(native.spares.len(), 2);
}
