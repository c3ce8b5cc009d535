//! B3 propagation: the single `b3` header and the multi-header `X-B3-*` form.

use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;

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

pub(super) fn remote(trace_id: TraceId, span_id: SpanId, sampled: bool) -> SpanContext {
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
