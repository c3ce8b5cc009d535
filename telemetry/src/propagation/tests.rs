use super::*;
use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use std::collections::HashMap;

fn extract(p: &impl TextMapPropagator, headers: &[(&str, &str)]) -> SpanContext {
    let map: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.to_string()))
        .collect();
    p.extract_with_context(&Context::new(), &map)
        .span()
        .span_context()
        .clone()
}

#[test]
fn b3_single_pads_short_trace_ids_and_reads_debug() {
    let sc = extract(
        &B3Propagator::single(),
        &[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-d")],
    );
    assert_eq!(
        sc.trace_id().to_string(),
        "0000000000000000a3ce929d0e0e4736"
    );
    assert!(sc.is_sampled() && sc.is_remote());
}

#[test]
fn b3_single_wins_over_multi_and_bad_values_change_nothing() {
    let sc = extract(
        &B3Propagator::multi(),
        &[
            ("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"),
            ("X-B3-TraceId", "11111111111111111111111111111111"),
            ("X-B3-SpanId", "2222222222222222"),
            ("X-B3-Sampled", "1"),
        ],
    );
    assert_eq!(
        sc.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert!(!sc.is_sampled());
    for bad in [
        "0",
        "4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-1",
        "4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-1",
        "00000000000000000000000000000000-00f067aa0ba902b7-1",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-x",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-00f067aa0ba902b7-extra",
    ] {
        assert!(
            !extract(&B3Propagator::single(), &[("b3", bad)]).is_valid(),
            "{bad}"
        );
    }
}

#[test]
fn b3_injects_without_parent_span_id() {
    let sc = remote(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        true,
    );
    let cx = Context::new().with_remote_span_context(sc);
    let mut single = HashMap::new();
    B3Propagator::single().inject_context(&cx, &mut single);
    assert_eq!(
        single.get("b3").map(String::as_str),
        Some("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1")
    );
    let mut multi = HashMap::new();
    B3Propagator::multi().inject_context(&cx, &mut multi);
    assert_eq!(multi.len(), 3);
    assert!(!multi.contains_key("x-b3-parentspanid"));
}

#[test]
fn composite_reads_traceparent_and_ignores_duplicates() {
    let p = Propagators::new(&[
        Propagator::TraceContext,
        Propagator::TraceContext,
        Propagator::Baggage,
    ]);
    let mut fields: Vec<&str> = p.fields().collect();
    fields.sort_unstable();
    assert_eq!(fields, ["baggage", "traceparent", "tracestate"]);
    let sc = extract(
        &p,
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    );
    assert!(sc.is_valid() && sc.is_sampled());
    let sc = extract(
        &p,
        &[(
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    );
    assert!(!sc.is_valid());
}
