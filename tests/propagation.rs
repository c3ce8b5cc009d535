//! Propagation: the W3C trace-context rejection table (SPEC-NOTES section 4), baggage
//! limits, B3 forms, round trips through every format, the configured composite, and
//! the inject/extract helpers.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue};
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use telemetry::propagation::{
    B3Propagator, HeaderExtractor, HeaderInjector, Propagator, Propagators, TraceContextPropagator,
};
use telemetry::testing::InMemorySpans;
use telemetry::{OpenTelemetrySpanExt as _, Telemetry};
use tracing_subscriber::prelude::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn extract_w3c(pairs: &[(&str, &str)]) -> SpanContext {
    TraceContextPropagator::new()
        .extract_with_context(&Context::new(), &HeaderExtractor(&headers(pairs)))
        .span()
        .span_context()
        .clone()
}

fn parent(tp: &str) -> SpanContext {
    extract_w3c(&[("traceparent", tp)])
}

#[test]
fn valid_traceparents_are_accepted() {
    let accepted: &[(&str, &str, u8)] = &[
        (
            "plain sampled",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            0x01,
        ),
        (
            "not sampled",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            0x00,
        ),
        (
            "random flag kept",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
            0x02,
        ),
        (
            "unknown flags dropped",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
            0x03,
        ),
        (
            "surrounding spaces and tabs",
            " \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t ",
            0x01,
        ),
        (
            "higher version with more data",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            0x01,
        ),
        (
            "higher version, exact length",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            0x01,
        ),
    ];
    for (why, tp, flags) in accepted {
        let sc = parent(tp);
        assert!(sc.is_valid(), "{why}: {tp}");
        assert!(sc.is_remote(), "{why}");
        assert_eq!(sc.trace_id().to_string(), TRACE, "{why}");
        assert_eq!(sc.span_id().to_string(), SPAN, "{why}");
        assert_eq!(sc.trace_flags().to_u8(), *flags, "{why}");
    }
}

#[test]
fn invalid_traceparents_are_ignored() {
    let rejected: &[(&str, &str)] = &[
        (
            "uppercase trace id",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ),
        (
            "uppercase span id",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        ),
        (
            "uppercase version",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        (
            "uppercase flags",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        ),
        (
            "31-digit trace id",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ),
        (
            "33-digit trace id",
            "00-4bf92f3577b34da6a3ce929d0e0e47360-00f067aa0ba902b7-01",
        ),
        (
            "15-digit span id",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        ),
        (
            "17-digit span id",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b70-01",
        ),
        (
            "zero trace id",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ),
        (
            "zero span id",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ),
        (
            "version ff",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        (
            "version 00 with extra data",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ),
        (
            "version 00 with a trailing dash",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        ),
        (
            "higher version without a dash",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ),
        (
            "one-digit version",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        (
            "one-digit flags",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ),
        (
            "missing flags",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ),
        (
            "non-hex trace id",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ),
        (
            "plus sign",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        (
            "wrong separator",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        ),
        ("empty", ""),
        (
            "inner spaces",
            "00 -4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    ];
    for (why, tp) in rejected {
        assert!(!parent(tp).is_valid(), "{why} should be rejected: {tp}");
    }
}

#[test]
fn a_repeated_traceparent_is_invalid() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert!(extract_w3c(&[("traceparent", tp)]).is_valid());
    assert!(!extract_w3c(&[("traceparent", tp), ("traceparent", tp)]).is_valid());
}

#[test]
fn tracestate_rules() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let state = |ts: &[&str]| {
        let mut pairs = vec![("traceparent", tp)];
        pairs.extend(ts.iter().map(|v| ("tracestate", *v)));
        let sc = extract_w3c(&pairs);
        assert!(
            sc.is_valid(),
            "a bad tracestate never voids the traceparent"
        );
        sc.trace_state().header()
    };
    assert_eq!(state(&["foo=1,bar=2"]), "foo=1,bar=2");
    assert_eq!(
        state(&[" foo=1 ,\tbar=2 "]),
        "foo=1,bar=2",
        "OWS around members"
    );
    assert_eq!(
        state(&["foo=1", "bar=2"]),
        "foo=1,bar=2",
        "two headers are joined"
    );
    assert_eq!(
        state(&["foo=1,,bar=2"]),
        "foo=1,bar=2",
        "empty members are skipped"
    );
    assert_eq!(state(&["tenant@vendor=x"]), "tenant@vendor=x");
    assert_eq!(state(&["FOO=1"]), "", "uppercase key");
    assert_eq!(state(&["foo.bar=1"]), "", "dot in key");
    assert_eq!(state(&["foo=1,foo=2"]), "", "duplicated key");
    assert_eq!(state(&["foo"]), "", "no value");
    assert_eq!(state(&["foo="]), "", "empty value");
    assert_eq!(state(&["foo=a=b"]), "", "= in value");
    let key = "k".repeat(257);
    assert_eq!(state(&[&format!("{key}=1")]), "", "key over 256");
    let value = "v".repeat(257);
    assert_eq!(state(&[&format!("k={value}")]), "", "value over 256");

    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let thirty_two = state(&[&members(32)]);
    assert_eq!(thirty_two.split(',').count(), 32);
    assert_eq!(state(&[&members(33)]), "", "33 members: dropped whole");

    // Without a valid traceparent the tracestate means nothing.
    let sc = extract_w3c(&[("tracestate", "foo=1")]);
    assert!(!sc.is_valid());
    let sc = extract_w3c(&[
        (
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ),
        ("tracestate", "foo=1"),
    ]);
    assert!(!sc.is_valid() && sc.trace_state().header().is_empty());
}

#[test]
fn a_failed_extract_leaves_the_context_unchanged() {
    let base = Context::new().with_baggage([KeyValue::new("tenant", "acme")]);
    let p = Propagators::new(&[
        Propagator::TraceContext,
        Propagator::B3,
        Propagator::B3Multi,
    ]);
    let bad = headers(&[
        (
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("b3", "nonsense"),
        ("x-b3-traceid", "xyz"),
    ]);
    let cx = p.extract_with_context(&base, &HeaderExtractor(&bad));
    assert!(!cx.span().span_context().is_valid());
    assert_eq!(
        cx.baggage().get("tenant").map(|v| v.as_str().to_string()),
        Some("acme".to_string())
    );
}

#[test]
fn non_ascii_header_values_read_as_absent() {
    let mut map = HeaderMap::new();
    map.insert(
        "traceparent",
        HeaderValue::from_bytes(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\xff")
            .unwrap(),
    );
    let cx =
        TraceContextPropagator::new().extract_with_context(&Context::new(), &HeaderExtractor(&map));
    assert!(!cx.span().span_context().is_valid());
}

#[test]
fn baggage_keeps_up_to_64_members() {
    let p = Propagators::new(&[Propagator::Baggage]);
    let value = (0..65)
        .map(|i| format!("k{i}=v{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let cx = p.extract_with_context(
        &Context::new(),
        &HeaderExtractor(&headers(&[("baggage", &value)])),
    );
    assert_eq!(cx.baggage().len(), 64);
    let cx = p.extract_with_context(
        &Context::new(),
        &HeaderExtractor(&headers(&[("baggage", "user=alice%20b;ttl=60,plan=pro")])),
    );
    assert_eq!(
        cx.baggage().get("user").map(|v| v.to_string()),
        Some("alice b".into())
    );
    assert_eq!(
        cx.baggage().get("plan").map(|v| v.to_string()),
        Some("pro".into())
    );
}

#[test]
fn b3_forms() {
    let extract = |p: &B3Propagator, pairs: &[(&str, &str)]| {
        p.extract_with_context(&Context::new(), &HeaderExtractor(&headers(pairs)))
            .span()
            .span_context()
            .clone()
    };
    let single = B3Propagator::single();
    let sc = extract(&single, &[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-1")]);
    assert_eq!(
        sc.trace_id().to_string(),
        "0000000000000000a3ce929d0e0e4736"
    );
    assert!(sc.is_sampled());
    let sc = extract(&single, &[("b3", &format!("{TRACE}-{SPAN}-d"))]);
    assert!(sc.is_sampled(), "debug means sampled");
    let sc = extract(&single, &[("b3", &format!("{TRACE}-{SPAN}-0-{SPAN}"))]);
    assert!(sc.is_valid() && !sc.is_sampled());
    assert!(!extract(&single, &[("b3", "0")]).is_valid());
    let sc = extract(
        &single,
        &[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-flags", "1"),
        ],
    );
    assert!(
        sc.is_valid() && sc.is_sampled(),
        "multi read too; flags 1 = debug"
    );
    let sc = extract(
        &B3Propagator::multi(),
        &[
            ("b3", &format!("{TRACE}-{SPAN}-1")),
            ("x-b3-traceid", "11111111111111111111111111111111"),
            ("x-b3-spanid", "2222222222222222"),
        ],
    );
    assert_eq!(sc.trace_id().to_string(), TRACE, "single wins over multi");
}

fn remote_parent(flags: TraceFlags, state: &str) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex(SPAN).unwrap(),
        flags,
        true,
        state.parse::<TraceState>().unwrap(),
    ))
}

#[test]
fn every_format_round_trips() {
    for formats in [
        vec![Propagator::TraceContext],
        vec![Propagator::B3],
        vec![Propagator::B3Multi],
        vec![Propagator::TraceContext, Propagator::Baggage],
        vec![Propagator::B3Multi, Propagator::Baggage],
    ] {
        let p = Propagators::new(&formats);
        for flags in [TraceFlags::SAMPLED, TraceFlags::default()] {
            let cx = remote_parent(flags, "").with_baggage([KeyValue::new("user", "alice b")]);
            let mut carrier: HashMap<String, String> = HashMap::new();
            p.inject_context(&cx, &mut carrier);
            let back = p.extract_with_context(&Context::new(), &carrier);
            let sc = back.span().span_context().clone();
            assert_eq!(sc.trace_id().to_string(), TRACE, "{formats:?}");
            assert_eq!(sc.span_id().to_string(), SPAN, "{formats:?}");
            assert_eq!(sc.is_sampled(), flags.is_sampled(), "{formats:?}");
            assert!(sc.is_remote());
            if formats.contains(&Propagator::Baggage) {
                assert_eq!(
                    back.baggage().get("user").map(|v| v.to_string()),
                    Some("alice b".into())
                );
            }
            if formats.contains(&Propagator::B3Multi) {
                assert!(!carrier.contains_key("x-b3-parentspanid"));
            }
        }
    }
    // W3C keeps the tracestate and the random flag.
    let p = Propagators::new(&[Propagator::TraceContext]);
    let cx = remote_parent(
        TraceFlags::new(0x03),
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    );
    let mut map = HeaderMap::new();
    p.inject_context(&cx, &mut HeaderInjector(&mut map));
    assert_eq!(
        map["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
    );
    assert_eq!(map["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    // No tracestate header when there is none to send.
    let mut map = HeaderMap::new();
    p.inject_context(
        &remote_parent(TraceFlags::SAMPLED, ""),
        &mut HeaderInjector(&mut map),
    );
    assert!(!map.contains_key("tracestate"));
}

#[test]
fn telemetry_uses_the_configured_propagators() {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .vars([("OTEL_PROPAGATORS", "b3multi,baggage")])
        .install_globals(false) // the global propagator stays W3C for the test below
        .in_memory(&spans)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        let outgoing = tracing::info_span!("call").entered();
        let mut map = HeaderMap::new();
        telemetry.inject_current(&mut map);
        assert!(!map.contains_key("traceparent"), "{map:?}");
        let trace_id = outgoing.context().span().span_context().trace_id();
        assert_eq!(map["x-b3-traceid"], trace_id.to_string().as_str());
        assert_eq!(map["x-b3-sampled"], "1");
        drop(outgoing);

        // The receiving side: the extracted context becomes the parent.
        let incoming = headers(&[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-sampled", "1"),
        ]);
        let server = tracing::info_span!("handle");
        server.set_parent(telemetry.extract(&incoming)).unwrap();
        server.in_scope(|| tracing::info_span!("child").in_scope(|| {}));
    });
    let handle = spans.span("handle").unwrap();
    assert_eq!(handle.span_context.trace_id().to_string(), TRACE);
    assert_eq!(handle.parent_span_id.to_string(), SPAN);
    assert!(handle.parent_span_is_remote);
    let child = spans.span("child").unwrap();
    assert_eq!(child.span_context.trace_id().to_string(), TRACE);
    assert_eq!(child.parent_span_id, handle.span_context.span_id());
}

#[test]
fn the_free_helpers_use_the_global_propagator() {
    let telemetry = Telemetry::builder()
        .traces_exporter(telemetry::export::ExporterKind::None)
        .build()
        .unwrap();
    telemetry.set_globals();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("outgoing").entered();
        let mut map = HeaderMap::new();
        telemetry::propagation::inject_current(&mut map);
        let sc = span.context().span().span_context().clone();
        // Sampled, and a trace id made here at random (W3C level 2's random flag).
        assert_eq!(
            map["traceparent"],
            format!("00-{}-{}-03", sc.trace_id(), sc.span_id()).as_str()
        );
        let back = telemetry::propagation::extract(&map);
        assert_eq!(back.span().span_context().trace_id(), sc.trace_id());
        // Any carrier.
        let mut carrier: HashMap<String, String> = HashMap::new();
        telemetry::propagation::inject_current_into(&mut carrier);
        let back = telemetry::propagation::extract_from(&carrier);
        assert_eq!(back.span().span_context().span_id(), sc.span_id());
    });
}
