//! Header extraction on arbitrary bytes: the input is split at `0xff` bytes into header
//! values, each going to one of the propagation headers (chosen by its first byte).
//! Extraction must never panic, and whatever it accepts must round-trip.
#![no_main]

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use telemetry::{HeaderExtractor, HeaderInjector, Propagator, Propagators};

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

fuzz_target!(|data: &[u8]| {
    let p = Propagators::new(&[
        Propagator::TraceContext,
        Propagator::Baggage,
        Propagator::B3,
        Propagator::B3Multi,
    ]);
    let mut map = HeaderMap::new();
    let mut strings: HashMap<String, String> = HashMap::new();
    for part in data.split(|&b| b == 0xff) {
        let Some((&selector, value)) = part.split_first() else {
            continue;
        };
        let name = HEADERS[usize::from(selector) % HEADERS.len()];
        if let Ok(v) = HeaderValue::from_bytes(value) {
            map.append(HeaderName::from_static(name), v);
        }
        strings.insert(
            name.to_string(),
            String::from_utf8_lossy(value).into_owned(),
        );
    }
    for cx in [
        p.extract_with_context(&Context::new(), &HeaderExtractor(&map)),
        p.extract_with_context(&Context::new(), &strings),
    ] {
        let sc = cx.span().span_context().clone();
        let mut out = HeaderMap::new();
        p.inject_context(&cx, &mut HeaderInjector(&mut out));
        let back = p.extract_with_context(&Context::new(), &HeaderExtractor(&out));
        let again = back.span().span_context().clone();
        assert_eq!(sc.is_valid(), again.is_valid());
        if sc.is_valid() {
            assert_eq!(sc.trace_id(), again.trace_id());
            assert_eq!(sc.span_id(), again.span_id());
            assert_eq!(sc.is_sampled(), again.is_sampled());
        }
    }
});
