//! Context propagation: W3C trace context and baggage, B3 single and multi header,
//! composed from [`Propagator`] settings; carriers for
//! `http::HeaderMap`; helpers that inject the current span's context and extract a
//! remote one; and [`InContextExt`] for spawned tasks.
//!
//! Extraction never fails loudly: a header that is not valid (see
//! [`TraceContextPropagator`] for the rules) is ignored and the context is left as it
//! was, so the request simply starts a new trace.
//!
//! # Which propagators
//!
//! The free functions ([`inject_current`], [`extract`], ...) use OpenTelemetry's
//! **global** propagator, which [`Telemetry::init`](crate::Telemetry::init) and
//! [`Telemetry::set_globals`](crate::Telemetry::set_globals) set to the configured
//! formats (`OTEL_PROPAGATORS`; before that it is a no-op). The methods of the same
//! names on [`Telemetry`](crate::Telemetry) always use that instance's configured
//! propagators, globals or not.

use std::fmt;
use std::future::Future;

use crate::OpenTelemetrySpanExt as _;
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapCompositePropagator,
    TextMapPropagator,
};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::BaggagePropagator;

/// `OTEL_PROPAGATORS`: comma-separated `tracecontext`, `baggage`, `b3`, `b3multi`, `none`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// A context propagation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// B3 single header (`b3`).
    B3,
    /// B3 multiple headers (`X-B3-TraceId`, ...).
    B3Multi,
}

impl Propagator {
    /// `tracecontext,baggage`, the specification's default.
    pub(crate) const DEFAULT: [Propagator; 2] = [Propagator::TraceContext, Propagator::Baggage];
}

mod random_flag;
pub(crate) use random_flag::{Tracer as RandomFlagTracer, RANDOM};

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

/// Reads from an `http::HeaderMap`. A value that is not visible ASCII reads as absent
/// through `get`, and as an empty string through `get_all`, so that repeated headers
/// are still counted (two `traceparent` headers are invalid even if one is garbage).
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
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

// ---- helpers ---------------------------------------------------------------------

/// The context to propagate from here: the OpenTelemetry context of the current
/// `tracing` span when a telemetry layer records it (this starts the span, so its
/// sampling decision is made), else OpenTelemetry's current context (which may carry
/// a remote parent or baggage attached by hand).
pub fn current_context() -> Context {
    let cx = tracing::Span::current().context();
    if cx.has_active_span() {
        cx
    } else {
        Context::current()
    }
}

/// Injects the [`current_context`] into an HTTP header map with the global propagator.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let telemetry = telemetry::Telemetry::builder()
///     .traces_exporter(telemetry::export::ExporterKind::None)
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("call inventory").entered();
///     let mut headers = http::HeaderMap::new();
///     telemetry.inject_current(&mut headers); // the configured propagators
///     assert!(headers.contains_key("traceparent"));
/// });
/// # Ok::<(), telemetry::Error>(())
/// ```
pub fn inject_current(headers: &mut http::HeaderMap) {
    inject_context(&current_context(), &mut HeaderInjector(headers));
}

/// Injects the [`current_context`] into any carrier with the global propagator.
pub fn inject_current_into(injector: &mut dyn Injector) {
    inject_context(&current_context(), injector);
}

/// Injects `cx` into any carrier with the global propagator.
pub fn inject_context(cx: &Context, injector: &mut dyn Injector) {
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, injector));
}

/// Extracts a remote context from HTTP headers with the global propagator, on top of
/// OpenTelemetry's current context. Invalid headers are ignored.
///
/// Make it the parent of a span with
/// [`OpenTelemetrySpanExt::set_parent`](crate::OpenTelemetrySpanExt::set_parent) before
/// the span is first entered.
pub fn extract(headers: &http::HeaderMap) -> Context {
    extract_from(&HeaderExtractor(headers))
}

/// Extracts a remote context from any carrier with the global propagator, on top of
/// OpenTelemetry's current context. Invalid values are ignored.
pub fn extract_from(extractor: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(extractor))
}

mod sealed {
    pub trait Sealed {}
    impl<F: std::future::Future> Sealed for F {}
}

/// Keeps the trace across `tokio::spawn` (and any executor): the spawned future runs
/// inside the current `tracing` span and with the current OpenTelemetry context
/// (remote parent, baggage), so spans it opens are children of the spawning span.
///
/// A plain `tokio::spawn(fut)` loses both: the task starts with no current span and its
/// spans become new root spans of new traces.
///
/// ```
/// use telemetry::propagation::InContextExt as _;
/// # use tracing_subscriber::prelude::*;
/// # let telemetry = telemetry::Telemetry::builder().traces_exporter(telemetry::export::ExporterKind::None).build()?;
/// # let _default = tracing_subscriber::registry().with(telemetry.layer()).set_default();
/// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// # rt.block_on(async {
/// let _request = tracing::info_span!("request").entered();
/// let task = tokio::spawn(
///     async { tracing::info_span!("background work").in_scope(|| {}) }.in_current_context(),
/// );
/// # task.await.unwrap();
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait InContextExt: Future + sealed::Sealed + Sized {
    /// Wraps the future so that every poll runs inside the `tracing` span current now
    /// and with the OpenTelemetry context current now.
    fn in_current_context(self) -> InCurrentContext<Self> {
        use opentelemetry::context::FutureExt as _;
        use tracing::Instrument as _;
        self.with_context(Context::current())
            .instrument(tracing::Span::current())
    }
}

impl<F: Future> InContextExt for F {}

/// The future returned by [`InContextExt::in_current_context`].
pub type InCurrentContext<F> =
    tracing::instrument::Instrumented<opentelemetry::context::WithContext<F>>;

// ---- W3C trace context -------------------------------------------------------------

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

// ---- B3 ----------------------------------------------------------------------------
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
