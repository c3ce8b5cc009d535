//! Extraction is fuzzed: arbitrary bytes and near-valid mutations of every header the
//! propagators read. Properties: nothing panics; a `traceparent` is accepted exactly
//! when an independent reading of the W3C rules accepts it; whatever is accepted
//! round-trips through injection unchanged.
//!
//! Bounded so the file runs in a few seconds (`PROPTEST_CASES` raises the count);
//! the cargo-fuzz target (`fuzz/`, see the README, "Fuzzing header extraction") explores further where a nightly
//! toolchain is available.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry::Context;
use proptest::prelude::*;
use telemetry::propagation::{HeaderExtractor, HeaderInjector, Propagator, Propagators};

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const HEADERS: [&str; 8] = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
];

fn all_formats() -> Propagators {
    Propagators::new(&[
        Propagator::TraceContext,
        Propagator::Baggage,
        Propagator::B3,
        Propagator::B3Multi,
    ])
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The W3C rules read independently: `Some((trace, parent, flags))` when valid.
fn oracle(raw: &str) -> Option<(String, String, u8)> {
    let t = raw.trim_matches(|c| c == ' ' || c == '\t').as_bytes();
    let lower_hex = |b: &[u8]| b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if t.len() < 55 || !t[..55].is_ascii() {
        return None;
    }
    let (version, trace, parent, flags) = (&t[0..2], &t[3..35], &t[36..52], &t[53..55]);
    let dashes = t[2] == b'-' && t[35] == b'-' && t[52] == b'-';
    let ok = dashes
        && lower_hex(version)
        && lower_hex(trace)
        && lower_hex(parent)
        && lower_hex(flags)
        && version != b"ff"
        && (t.len() == 55 || (version != b"00" && t[55] == b'-'))
        && trace.iter().any(|&c| c != b'0')
        && parent.iter().any(|&c| c != b'0');
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    ok.then(|| {
        let f = u8::from_str_radix(&text(flags), 16).unwrap_or(0) & 0b11;
        (text(trace), text(parent), f)
    })
}

fn span_context(cx: &Context) -> SpanContext {
    cx.span().span_context().clone()
}

/// Whatever was extracted injects and extracts back to the same thing.
fn assert_round_trip(p: &Propagators, cx: &Context) {
    let sc = span_context(cx);
    let mut carrier: HashMap<String, String> = HashMap::new();
    p.inject_context(cx, &mut carrier);
    let back = p.extract_with_context(&Context::new(), &carrier);
    let again = span_context(&back);
    if sc.is_valid() {
        assert_eq!(again.trace_id(), sc.trace_id());
        assert_eq!(again.span_id(), sc.span_id());
        assert_eq!(again.is_sampled(), sc.is_sampled());
        assert_eq!(again.trace_state(), sc.trace_state());
    } else {
        assert!(!again.is_valid());
    }
    assert_eq!(back.baggage().len(), cx.baggage().len());
}

/// A valid traceparent with a few edits: replaced, inserted or removed characters,
/// biased towards the ones that matter (hex digits of both cases, dashes, spaces).
fn near_valid() -> impl Strategy<Value = String> {
    let interesting = prop_oneof![
        prop::sample::select(
            "0123456789abcdefABCDEF- \t,=x\u{0}\u{e9}"
                .chars()
                .collect::<Vec<_>>()
        ),
        any::<char>(),
    ];
    prop::collection::vec((0usize..64, 0u8..3, interesting), 0..4).prop_map(|edits| {
        let mut chars: Vec<char> = VALID.chars().collect();
        for (at, op, c) in edits {
            let at = at.min(chars.len());
            match op {
                0 if at < chars.len() => chars[at] = c,
                1 => chars.insert(at, c),
                _ if at < chars.len() => {
                    chars.remove(at);
                }
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_header_bytes_never_panic(
        values in prop::collection::vec((0usize..HEADERS.len(), prop::collection::vec(any::<u8>(), 0..80)), 0..8)
    ) {
        let mut map = HeaderMap::new();
        for (name, bytes) in values {
            if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                map.append(HeaderName::from_static(HEADERS[name]), v);
            }
        }
        let p = all_formats();
        let cx = p.extract_with_context(&Context::new(), &HeaderExtractor(&map));
        assert_round_trip(&p, &cx);
        let mut out = HeaderMap::new();
        p.inject_context(&cx, &mut HeaderInjector(&mut out));
    }

    #[test]
    fn arbitrary_strings_never_panic(
        values in prop::collection::hash_map(prop::sample::select(HEADERS.to_vec()), ".{0,120}", 0..8)
    ) {
        let carrier: HashMap<String, String> =
            values.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let p = all_formats();
        let cx = p.extract_with_context(&Context::new(), &carrier);
        assert_round_trip(&p, &cx);
    }

    #[test]
    fn traceparent_is_accepted_exactly_as_the_rules_say(tp in near_valid()) {
        let p = Propagators::new(&[Propagator::TraceContext]);
        let carrier = HashMap::from([("traceparent".to_string(), tp.clone())]);
        let sc = span_context(&p.extract_with_context(&Context::new(), &carrier));
        match oracle(&tp) {
            Some((trace, parent, flags)) => {
                prop_assert!(sc.is_valid(), "{tp:?} should be accepted");
                prop_assert_eq!(sc.trace_id().to_string(), trace);
                prop_assert_eq!(sc.span_id().to_string(), parent);
                prop_assert_eq!(sc.trace_flags().to_u8(), flags);
                prop_assert!(sc.is_remote());
            }
            None => prop_assert!(!sc.is_valid(), "{tp:?} should be rejected"),
        }
    }

    #[test]
    fn random_traceparent_shapes_follow_the_rules(tp in "[0-9a-fA-F \t-]{50,60}") {
        let p = Propagators::new(&[Propagator::TraceContext]);
        let carrier = HashMap::from([("traceparent".to_string(), tp.clone())]);
        let sc = span_context(&p.extract_with_context(&Context::new(), &carrier));
        prop_assert_eq!(sc.is_valid(), oracle(&tp).is_some(), "{:?}", tp);
    }

    #[test]
    fn accepted_tracestate_is_well_formed(
        members in prop::collection::vec(("[a-z0-9A-Z_*/@.-]{0,12}", "[ -~]{0,12}"), 0..40)
    ) {
        let header = members
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let p = Propagators::new(&[Propagator::TraceContext]);
        let carrier = HashMap::from([
            ("traceparent".to_string(), VALID.to_string()),
            ("tracestate".to_string(), header.clone()),
        ]);
        let cx = p.extract_with_context(&Context::new(), &carrier);
        let sc = span_context(&cx);
        prop_assert!(sc.is_valid(), "a tracestate never voids the traceparent");
        let state = sc.trace_state().header();
        if !state.is_empty() {
            let kept: Vec<&str> = state.split(',').collect();
            prop_assert!(kept.len() <= 32);
            for member in kept {
                let (k, v) = member.split_once('=').unwrap();
                prop_assert!(k.bytes().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{header:?}");
                prop_assert!(k.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-*/@".contains(&c)));
                prop_assert!(!v.is_empty() && !v.contains(',') && !v.contains('='));
            }
        }
        assert_round_trip(&p, &cx);
    }

    #[test]
    fn baggage_stays_within_its_limits(header in ".{0,400}", repeat in 1usize..40) {
        let p = Propagators::new(&[Propagator::Baggage]);
        let carrier = HashMap::from([("baggage".to_string(), vec![header; repeat].join(","))]);
        let cx = p.extract_with_context(&Context::new(), &carrier);
        prop_assert!(cx.baggage().len() <= 64);
    }

    #[test]
    fn b3_mutations_never_yield_bad_ids(
        trace in "[0-9a-fA-F]{0,34}",
        span in "[0-9a-fA-F]{0,18}",
        sampled in "[01dx]{0,2}",
    ) {
        let p = Propagators::new(&[Propagator::B3]);
        let single = format!("{trace}-{span}-{sampled}");
        let carrier = HashMap::from([("b3".to_string(), single.clone())]);
        let sc = span_context(&p.extract_with_context(&Context::new(), &carrier));
        if sc.is_valid() {
            prop_assert!(trace.len() == 16 || trace.len() == 32, "{single:?}");
            prop_assert_eq!(span.len(), 16);
            prop_assert!(!trace.bytes().any(|c| c.is_ascii_uppercase()));
            prop_assert!(!span.bytes().any(|c| c.is_ascii_uppercase()));
            prop_assert!(sampled.is_empty() || ["0", "1", "d"].contains(&sampled.as_str()));
            prop_assert_eq!(sc.is_sampled(), sampled == "1" || sampled == "d");
        }
    }
}
