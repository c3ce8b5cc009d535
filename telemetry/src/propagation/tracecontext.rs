//! W3C trace context: `traceparent` and `tracestate`, parsed strictly (an invalid
//! header is ignored, never half-used).

use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// The trace flags this crate understands: sampled (bit 0) and random (bit 1).
const KNOWN_FLAGS: u8 = 0b11;
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// W3C Trace Context (`traceparent`, `tracestate`), parsed strictly as the
/// specification's processing model says. A `traceparent` is rejected, and the
/// `tracestate` with it, when:
///
/// - it is not `VV-<32 hex>-<16 hex>-<2 hex>` in **lowercase** hex after trimming
///   spaces and tabs (ids of 31 or 33 digits, uppercase, other separators);
/// - the version is `ff`, or version `00` has anything after the flags (a higher
///   version may carry more, after a `-`);
/// - the trace id or the parent id is all zeros;
/// - the header appears twice.
///
/// Flags keep the sampled and random bits and drop unknown ones. The random bit (W3C
/// level 2) of an extracted parent passes to every span the telemetry layer starts
/// under it, sampled or not, and so to what is injected from them; traces the layer
/// starts itself carry it, their trace ids being random. A `tracestate` with
/// more than 32 members, a duplicated key, or a member that is not a valid
/// `key=value` is dropped whole; the `traceparent` still counts.
#[derive(Debug, Clone, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// The propagator.
    pub fn new() -> TraceContextPropagator {
        TraceContextPropagator { _private: () }
    }
}

fn fields_trace_context() -> &'static [String; 2] {
    static FIELDS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.to_string(), TRACESTATE.to_string()])
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Lowercase hex digits to a number; `None` on anything else.
fn parse_hex(digits: &[u8]) -> Option<u128> {
    if digits.is_empty() || digits.len() > 32 {
        return None;
    }
    digits.iter().try_fold(0u128, |acc, &b| {
        Some((acc << 4) | u128::from(hex_value(b)?))
    })
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parses a `traceparent` value into ids and flags.
pub(crate) fn parse_traceparent(raw: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = raw.trim_matches(is_ows).as_bytes();
    if b.len() < 55 {
        return None;
    }
    let version = parse_hex(b.get(0..2)?)?;
    if version == 0xff {
        return None;
    }
    if version == 0 && b.len() != 55 {
        return None;
    }
    if b.len() > 55 && b.get(55) != Some(&b'-') {
        return None;
    }
    if b.get(2) != Some(&b'-') || b.get(35) != Some(&b'-') || b.get(52) != Some(&b'-') {
        return None;
    }
    let trace_id = parse_hex(b.get(3..35)?)?;
    let span_id = u64::try_from(parse_hex(b.get(36..52)?)?).ok()?;
    let flags = u8::try_from(parse_hex(b.get(53..55)?)?).ok()?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some((
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::new(flags & KNOWN_FLAGS),
    ))
}

fn valid_tracestate_key(key: &str) -> bool {
    let b = key.as_bytes();
    let Some(first) = b.first() else {
        return false;
    };
    b.len() <= 256
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-*/@".contains(c))
}

fn valid_tracestate_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b.last() != Some(&b' ')
}

/// Parses the `tracestate` header(s): members joined with commas, in order.
pub(crate) fn parse_tracestate(values: &[&str]) -> Option<TraceState> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for value in values {
        for member in value.split(',') {
            let member = member.trim_matches(is_ows);
            if member.is_empty() {
                continue;
            }
            let (key, value) = member.split_once('=')?;
            if !valid_tracestate_key(key)
                || !valid_tracestate_value(value)
                || members.iter().any(|(k, _)| *k == key)
            {
                return None;
            }
            members.push((key, value));
            if members.len() > MAX_TRACESTATE_MEMBERS {
                return None;
            }
        }
    }
    TraceState::from_key_value(members).ok()
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let flags = sc.trace_flags().to_u8() & KNOWN_FLAGS;
        injector.set(
            TRACEPARENT,
            format!("00-{}-{}-{flags:02x}", sc.trace_id(), sc.span_id()),
        );
        let state = sc.trace_state().header();
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let parents = extractor.get_all(TRACEPARENT).unwrap_or_default();
        let [raw] = parents.as_slice() else {
            // Absent, or repeated: both mean "no parent".
            return cx.clone();
        };
        let Some((trace_id, span_id, flags)) = parse_traceparent(raw) else {
            return cx.clone();
        };
        let state = extractor
            .get_all(TRACESTATE)
            .and_then(|values| parse_tracestate(&values))
            .unwrap_or_default();
        cx.with_remote_span_context(SpanContext::new(trace_id, span_id, flags, true, state))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields_trace_context())
    }
}
