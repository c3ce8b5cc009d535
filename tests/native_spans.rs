//! The native span path (`SpanRecorder::Native`): spans the layer records itself reach
//! the collector as the default path sends them, and `u64` fields stay integers.
//! (The rest of the span tests run against this path too: `.ci/run` runs them again
//! with `TELEMETRY_SPAN_RECORDER=native`.)

mod common;

use std::time::Duration;

use common::{attr, FakeCollector, Wire};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use telemetry::export::{BatchConfig, Protocol};
use telemetry::{SpanRecorder, Telemetry, TelemetrySpanExt as _};
use tracing_subscriber::prelude::*;

fn by_name<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:?}"))
}

/// The context of a caller in another process, sampled or not.
fn remote(sampled: bool) -> opentelemetry::trace::SpanContext {
    let (trace, span, flags) = if sampled {
        (
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            opentelemetry::trace::TraceFlags::SAMPLED,
        )
    } else {
        (
            "5bf92f3577b34da6a3ce929d0e0e4736",
            "10f067aa0ba902b7",
            opentelemetry::trace::TraceFlags::default(),
        )
    };
    opentelemetry::trace::SpanContext::new(
        opentelemetry::trace::TraceId::from_hex(trace).unwrap(),
        opentelemetry::trace::SpanId::from_hex(span).unwrap(),
        flags,
        true,
        Default::default(),
    )
}

fn native(collector: &FakeCollector) -> Telemetry {
    Telemetry::builder()
        .service_name("native")
        .endpoint(collector.endpoint())
        .protocol(Protocol::HttpProtobuf)
        .span_recorder(SpanRecorder::Native)
        .traces_batch(BatchConfig {
            schedule_delay: Duration::from_millis(50),
            ..BatchConfig::TRACES
        })
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[test]
fn native_spans_reach_the_collector_with_integers_as_integers() {
    let collector = FakeCollector::start(Wire::Http);
    let t = native(&collector);
    let subscriber = tracing_subscriber::registry().with(t.layer());
    let (trace_in_root, trace_in_child) = tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!(
            "handle",
            otel.name = "GET /orders/{id}",
            otel.kind = "server",
            order = 1001_u64,
            huge = u64::MAX,
            delta = -3_i64,
            ok = true,
        );
        let _root = root.enter();
        let in_root = opentelemetry::Context::current()
            .span()
            .span_context()
            .clone();
        let in_child = tracing::info_span!("charge", otel.kind = "client").in_scope(|| {
            tracing::error!(code = 51_u64, "card declined");
            opentelemetry::Context::current()
                .span()
                .span_context()
                .clone()
        });
        root.record("order", 1002_u64);
        root.set_attribute("from.code", 7_i64);
        (in_root, in_child)
    });
    t.shutdown().unwrap();
    let spans = collector.spans();
    assert_eq!(spans.len(), 2, "{spans:?}");
    let root = by_name(&spans, "GET /orders/{id}");
    let child = by_name(&spans, "charge");
    assert_eq!(root.kind, SpanKind::Server as i32);
    assert_eq!(child.kind, SpanKind::Client as i32);
    assert_eq!(
        attr(&root.attributes, "order"),
        Some(&Value::IntValue(1002))
    );
    assert_eq!(
        attr(&root.attributes, "huge"),
        Some(&Value::StringValue(u64::MAX.to_string())),
        "above i64::MAX a u64 is text, as OTLP has no unsigned integers"
    );
    assert_eq!(attr(&root.attributes, "delta"), Some(&Value::IntValue(-3)));
    assert_eq!(attr(&root.attributes, "ok"), Some(&Value::BoolValue(true)));
    assert_eq!(
        attr(&root.attributes, "from.code"),
        Some(&Value::IntValue(7))
    );
    // One trace, the child under the root; the context current while entered is theirs.
    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(child.parent_span_id, root.span_id);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(trace_in_root.trace_id().to_bytes().to_vec(), root.trace_id);
    assert_eq!(trace_in_root.span_id().to_bytes().to_vec(), root.span_id);
    assert_eq!(trace_in_child.span_id().to_bytes().to_vec(), child.span_id);
    assert!(trace_in_root.is_sampled());
    // The error event: status error, and the event with its integer field.
    assert_eq!(
        child.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    let event = &child.events[0];
    assert_eq!(event.name, "card declined");
    assert_eq!(attr(&event.attributes, "code"), Some(&Value::IntValue(51)));
    assert!(root.end_time_unix_nano >= child.end_time_unix_nano);
    assert!(child.start_time_unix_nano >= root.start_time_unix_nano);
}

#[test]
fn the_sampler_decides_at_the_root_and_a_remote_parent_counts() {
    let collector = FakeCollector::start(Wire::Http);
    let t = Telemetry::builder()
        .service_name("native")
        .endpoint(collector.endpoint())
        .protocol(Protocol::HttpProtobuf)
        .span_recorder(SpanRecorder::Native)
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    let remote_sampled = remote(true);
    let remote_unsampled = remote(false);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("from a sampled caller");
        span.set_parent(
            opentelemetry::Context::new().with_remote_span_context(remote_sampled.clone()),
        )
        .unwrap();
        span.in_scope(|| tracing::info_span!("inner").in_scope(|| {}));
        let span = tracing::info_span!("from an unsampled caller");
        span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote_unsampled))
            .unwrap();
        let cx = span.in_scope(|| {
            tracing::info_span!("inner too").in_scope(opentelemetry::Context::current)
        });
        assert!(!cx.span().span_context().is_sampled());
        assert!(cx.span().span_context().is_valid());
    });
    t.shutdown().unwrap();
    let spans = collector.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(spans.len(), 2, "only the sampled caller's trace: {names:?}");
    let outer = by_name(&spans, "from a sampled caller");
    assert_eq!(
        outer.trace_id,
        remote_sampled.trace_id().to_bytes().to_vec()
    );
    assert_eq!(
        outer.parent_span_id,
        remote_sampled.span_id().to_bytes().to_vec()
    );
    let inner = by_name(&spans, "inner");
    assert_eq!(inner.parent_span_id, outer.span_id);
}

/// Ended and dropped recordings are emptied and reused by later spans (see `Spares`): no
/// attribute, event, link, status, kind or parent of one span shows on the next.
#[test]
fn reused_recordings_carry_nothing_from_one_span_to_the_next() {
    let collector = FakeCollector::start(Wire::Http);
    let t = native(&collector);
    let subscriber = tracing_subscriber::registry().with(t.layer());
    let remote_unsampled = remote(false);
    tracing::subscriber::with_default(subscriber, || {
        for round in 0..20_u64 {
            let other = tracing::info_span!("linked");
            let full = tracing::info_span!(
                "full",
                otel.kind = "client",
                round,
                wide = "a value",
                flag = true,
                otel.status_code = "error",
            );
            full.follows_from(&other);
            full.set_attribute("from.code", 7_i64);
            full.in_scope(|| tracing::error!(why = "boom", "failed"));
            drop(full);
            drop(other);
            // Dropped by the sampler (its caller did not sample): its recording is
            // emptied at once, for the next span.
            let dropped = tracing::info_span!("dropped", secret = "not for the next");
            dropped
                .set_parent(
                    opentelemetry::Context::new()
                        .with_remote_span_context(remote_unsampled.clone()),
                )
                .unwrap();
            dropped.in_scope(|| {});
            drop(dropped);
            // Let the export thread make the spans and hand their recordings back.
            t.force_flush().unwrap();
            tracing::info_span!("plain", round).in_scope(|| {});
            t.force_flush().unwrap();
        }
    });
    t.shutdown().unwrap();
    let spans = collector.spans();
    assert_eq!(spans.len(), 60, "full, linked and plain, 20 times");
    assert!(spans.iter().all(|s| s.name != "dropped"));
    for plain in spans.iter().filter(|s| s.name == "plain") {
        let mut keys: Vec<&str> = plain.attributes.iter().map(|a| a.key.as_str()).collect();
        keys.sort_unstable();
        assert!(
            !keys
                .iter()
                .any(|k| ["wide", "flag", "from.code", "secret"].contains(k)),
            "{keys:?}"
        );
        assert_eq!(
            keys.iter().filter(|k| **k == "round").count(),
            1,
            "{keys:?}"
        );
        assert_eq!(plain.kind, SpanKind::Internal as i32);
        assert!(plain.events.is_empty(), "{:?}", plain.events);
        assert!(plain.links.is_empty(), "{:?}", plain.links);
        assert_ne!(
            plain.status.as_ref().map_or(0, |s| s.code),
            StatusCode::Error as i32
        );
        assert!(plain.parent_span_id.is_empty());
        assert!(plain.start_time_unix_nano <= plain.end_time_unix_nano);
    }
    for full in spans.iter().filter(|s| s.name == "full") {
        assert_eq!(full.kind, SpanKind::Client as i32);
        assert_eq!(full.links.len(), 1);
        assert_eq!(full.events.len(), 1);
        assert_eq!(
            attr(&full.attributes, "flag"),
            Some(&Value::BoolValue(true))
        );
        assert_eq!(
            full.status.as_ref().map(|s| s.code),
            Some(StatusCode::Error as i32)
        );
    }
    let mut rounds: Vec<i64> = spans
        .iter()
        .filter(|s| s.name == "plain")
        .filter_map(|s| match attr(&s.attributes, "round") {
            Some(Value::IntValue(r)) => Some(*r),
            _ => None,
        })
        .collect();
    rounds.sort_unstable();
    assert_eq!(rounds, (0..20).collect::<Vec<_>>());
}

#[test]
fn the_configuration_file_chooses_the_native_path_and_a_bad_value_is_named() {
    let dir = std::env::temp_dir().join(format!("native-spans-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "file_format: \"1.0\"\ntelemetry:\n  span_recorder: native\n",
    )
    .unwrap();
    let spans = telemetry::testing::InMemorySpans::default();
    let t = Telemetry::from_config_file(&good)
        .in_memory(&spans)
        .install_globals(false)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("job", count = 3_u64).in_scope(|| {});
    });
    let job = spans.span("job").expect("recorded");
    // The native path keeps the integer (tracing-opentelemetry sends "3").
    let count = job.attributes.iter().find(|kv| kv.key.as_str() == "count");
    assert_eq!(
        count.map(|kv| kv.value.clone()),
        Some(opentelemetry::Value::I64(3))
    );
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "file_format: \"1.0\"\ntelemetry:\n  span_recorder: fastest\n",
    )
    .unwrap();
    let err = Telemetry::from_config_file(&bad)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("telemetry.span_recorder"), "{err}");
    assert!(err.contains("opentelemetry or native"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_variable_is_checked_strictly_by_from_env() {
    let err = Telemetry::from_env()
        .vars([("TELEMETRY_SPAN_RECORDER", "fastest")])
        .install_globals(false)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("TELEMETRY_SPAN_RECORDER"), "{err}");
    assert!(err.contains("\"fastest\""), "{err}");
    assert!(err.contains("opentelemetry or native"), "{err}");
    // Code's choice wins over the variable, bad or not.
    assert!(Telemetry::from_env()
        .vars([("TELEMETRY_SPAN_RECORDER", "fastest")])
        .span_recorder(SpanRecorder::OpenTelemetry)
        .install_globals(false)
        .build()
        .is_ok());
}

#[test]
fn code_using_the_opentelemetry_api_directly_nests_under_the_entered_native_span() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    let collector = FakeCollector::start(Wire::Http);
    let t = native(&collector);
    let tracer = t.tracer_provider().expect("a provider").tracer("direct");
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("native parent").in_scope(|| {
            tracer.in_span("sdk child", |_cx| {});
        });
    });
    t.shutdown().unwrap();
    let spans = collector.spans();
    let parent = by_name(&spans, "native parent");
    let child = by_name(&spans, "sdk child");
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, parent.span_id);
}
