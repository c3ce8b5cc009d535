//! Context propagation: W3C trace context and baggage, B3 single and multi header,
//! composed from [`Propagator`](crate::Propagator) settings, and carriers for
//! `http::HeaderMap`.

use std::fmt;

use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapCompositePropagator,
    TextMapPropagator,
};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::config::Propagator;

/// The propagators chosen by configuration, applied in order on extraction (a later
/// one wins) and all together on injection.
pub struct Propagators {
    inner: TextMapCompositePropagator,
    fields: Vec<String>,
}

impl fmt::Debug for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Propagators")
            .field("fields", &self.fields)
            .finish()
    }
}

impl Propagators {
    /// Builds the composite for the given formats (duplicates ignored).
    pub fn new(formats: &[Propagator]) -> Propagators {
        let mut seen = Vec::new();
        let mut list: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
        for p in formats {
            if seen.contains(p) {
                continue;
            }
            seen.push(*p);
            list.push(match p {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::B3 => Box::new(B3Propagator::single()),
                Propagator::B3Multi => Box::new(B3Propagator::multi()),
            });
        }
        let inner = TextMapCompositePropagator::new(list);
        let fields = inner.fields().map(str::to_string).collect();
        Propagators { inner, fields }
    }
}

impl TextMapPropagator for Propagators {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.inner.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.inner.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Writes into an `http::HeaderMap`; values that are not valid header values are skipped.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads from an `http::HeaderMap`; non-UTF-8 values read as absent.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

const B3_SINGLE: &str = "b3";
const B3_TRACE_ID: &str = "x-b3-traceid";
const B3_SPAN_ID: &str = "x-b3-spanid";
const B3_SAMPLED: &str = "x-b3-sampled";
const B3_FLAGS: &str = "x-b3-flags";

/// Zipkin's B3 format. Extraction reads both the single and the multi-header form
/// (single wins); injection writes the chosen form. `ParentSpanId` is never injected.
#[derive(Debug)]
pub struct B3Propagator {
    multi: bool,
    fields: Vec<String>,
}

impl B3Propagator {
    /// Injects the single `b3` header.
    pub fn single() -> B3Propagator {
        B3Propagator {
            multi: false,
            fields: vec![B3_SINGLE.to_string()],
        }
    }

    /// Injects `X-B3-TraceId`, `X-B3-SpanId` and `X-B3-Sampled`.
    pub fn multi() -> B3Propagator {
        B3Propagator {
            multi: true,
            fields: [B3_TRACE_ID, B3_SPAN_ID, B3_SAMPLED, B3_FLAGS]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

fn lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A 16- or 32-hex-digit trace id, zero-padded on the left to 128 bits.
fn b3_trace_id(s: &str) -> Option<TraceId> {
    if !(s.len() == 16 || s.len() == 32) || !lower_hex(s) {
        return None;
    }
    let id = TraceId::from_hex(&format!("{s:0>32}")).ok()?;
    (id != TraceId::INVALID).then_some(id)
}

fn b3_span_id(s: &str) -> Option<SpanId> {
    if s.len() != 16 || !lower_hex(s) {
        return None;
    }
    let id = SpanId::from_hex(s).ok()?;
    (id != SpanId::INVALID).then_some(id)
}

fn extract_single(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let trace_id = b3_trace_id(parts.next()?)?;
    let span_id = b3_span_id(parts.next()?)?;
    let sampled = match parts.next() {
        None => false,
        Some("1") | Some("d") => true,
        Some("0") => false,
        Some(_) => return None,
    };
    if let Some(parent) = parts.next() {
        b3_span_id(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(remote(trace_id, span_id, sampled))
}

fn extract_multi(extractor: &dyn Extractor) -> Option<SpanContext> {
    let trace_id = b3_trace_id(extractor.get(B3_TRACE_ID)?.trim())?;
    let span_id = b3_span_id(extractor.get(B3_SPAN_ID)?.trim())?;
    let debug = extractor.get(B3_FLAGS).map(str::trim) == Some("1");
    let sampled = match extractor.get(B3_SAMPLED).map(str::trim) {
        None => false,
        Some("1") | Some("true") => true,
        Some("0") | Some("false") => false,
        Some(_) => return None,
    };
    Some(remote(trace_id, span_id, sampled || debug))
}

fn remote(trace_id: TraceId, span_id: SpanId, sampled: bool) -> SpanContext {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    SpanContext::new(trace_id, span_id, flags, true, TraceState::default())
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let sampled = if sc.is_sampled() { "1" } else { "0" };
        if self.multi {
            injector.set(B3_TRACE_ID, sc.trace_id().to_string());
            injector.set(B3_SPAN_ID, sc.span_id().to_string());
            injector.set(B3_SAMPLED, sampled.to_string());
        } else {
            injector.set(
                B3_SINGLE,
                format!("{}-{}-{sampled}", sc.trace_id(), sc.span_id()),
            );
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let found = extractor
            .get(B3_SINGLE)
            .and_then(extract_single)
            .or_else(|| extract_multi(extractor));
        match found {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
