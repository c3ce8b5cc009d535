//! An ended native span on its way out ([`Ended`]): encoded to OTLP straight from its
//! recording, or made into the SDK's `SpanData` for what takes one (the console, the
//! flight recorder, custom exporters, SDK span processors). Either way, once it is
//! encoded, made or dropped, its recording goes back to the spares.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::{
    span as proto_span, status as proto_status, Span as ProtoSpan, SpanFlags, Status as ProtoStatus,
};
use opentelemetry_proto::transform::common::tonic::Attributes;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::Recording;

/// The recording of an ended, sampled span. Dropped, it hands the recording back to
/// the spares; `None` only once it has been made into a `SpanData`.
#[derive(Debug)]
pub(crate) struct Ended(Option<Box<Recording>>);

impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(recording) = self.0.take() {
            recording.discard();
        }
    }
}

/// What a span that never started would carry (none ends: only a started span does).
const NOT_STARTED: (SpanContext, SpanId, bool) = (SpanContext::NONE, SpanId::INVALID, false);

/// Nanoseconds since the Unix epoch (0 before it), as OTLP counts time.
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// OTLP's span flags: the W3C trace flags, and whether the parent is remote.
fn flags(trace_flags: u8, parent_is_remote: bool) -> u32 {
    let mut flags = u32::from(trace_flags) | SpanFlags::ContextHasIsRemoteMask as u32;
    if parent_is_remote {
        flags |= SpanFlags::ContextIsRemoteMask as u32;
    }
    flags
}

impl Ended {
    pub(super) fn new(recording: Box<Recording>) -> Ended {
        Ended(Some(recording))
    }

    /// The span's instrumentation scope (the same for every native span of a
    /// `Telemetry`).
    pub(crate) fn scope(&self) -> Option<&InstrumentationScope> {
        Some(&self.0.as_ref()?.native.as_ref()?.scope)
    }

    /// The span as OTLP's, its values taken out of the recording (which keeps its
    /// lists' room for the next span). The same span as the SDK's `SpanData` would
    /// encode to (tested).
    pub(crate) fn take_proto(&mut self) -> ProtoSpan {
        let Some(r) = self.0.as_deref_mut() else {
            return ProtoSpan::default();
        };
        // The end first (see `clock::span_nanos`), then the events' times in `settle`.
        let (start, end) = super::clock::span_nanos(r.start, r.end);
        r.settle();
        // Always set: only a started span ends.
        let (sc, parent, remote) = r.started.take().unwrap_or(NOT_STARTED);
        let status = std::mem::replace(&mut r.status, Status::Unset);
        ProtoSpan {
            trace_id: sc.trace_id().to_bytes().to_vec(),
            span_id: sc.span_id().to_bytes().to_vec(),
            trace_state: sc.trace_state().header(),
            parent_span_id: if parent == SpanId::INVALID {
                Vec::new()
            } else {
                parent.to_bytes().to_vec()
            },
            flags: flags(sc.trace_flags().to_u8(), remote),
            name: std::mem::replace(&mut r.name, Cow::Borrowed("")).into_owned(),
            kind: proto_span::SpanKind::from(std::mem::replace(&mut r.kind, SpanKind::Internal))
                as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: Attributes::from(r.attributes.drain(..)).0,
            dropped_attributes_count: 0,
            events: r
                .events
                .drain(..)
                .map(|e| proto_span::Event {
                    time_unix_nano: nanos(e.timestamp),
                    name: e.name.into_owned(),
                    attributes: Attributes::from(e.attributes).0,
                    dropped_attributes_count: e.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: 0,
            links: r.links.drain(..).map(Into::into).collect(),
            dropped_links_count: 0,
            status: Some(ProtoStatus {
                code: proto_status::StatusCode::from(&status) as i32,
                message: match status {
                    Status::Error { description } => description.into_owned(),
                    _ => String::new(),
                },
            }),
        }
    }

    /// The SDK's `SpanData` of the span, its values taken out; the recording goes to
    /// the spares.
    pub(crate) fn into_sdk(mut self) -> SpanData {
        let Some(mut r) = self.0.take() else {
            return data(Parts::default(), InstrumentationScope::default());
        };
        // The end first (see `clock::span_nanos`), then the events' times in `settle`.
        let (start, end) = super::clock::span_wall(r.start, r.end);
        r.settle();
        let scope = r
            .native
            .as_ref()
            .map(|n| n.scope.clone())
            .unwrap_or_default();
        let parts = Parts {
            started: r.started.take(),
            kind: std::mem::replace(&mut r.kind, SpanKind::Internal),
            name: std::mem::replace(&mut r.name, Cow::Borrowed("")),
            start,
            end,
            // The list goes with the data; the spare gets one as roomy.
            attributes: std::mem::take(&mut r.attributes),
            events: std::mem::take(&mut r.events),
            links: std::mem::take(&mut r.links),
            status: std::mem::replace(&mut r.status, Status::Unset),
        };
        let room = parts.attributes.capacity();
        r.recycle(room);
        data(parts, scope)
    }

    /// A copy of the span as the SDK's `SpanData`, the recording left as it is (for
    /// the flight recorder, which keeps spans as it sees them go by).
    pub(crate) fn to_sdk(&self) -> SpanData {
        match self.0.as_deref() {
            Some(r) => Ended::new(Box::new(r.clone())).into_sdk(),
            None => data(Parts::default(), InstrumentationScope::default()),
        }
    }
}

/// What a `SpanData` is made of.
struct Parts {
    started: Option<(SpanContext, SpanId, bool)>,
    kind: SpanKind,
    name: Cow<'static, str>,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<opentelemetry::KeyValue>,
    events: Vec<opentelemetry::trace::Event>,
    links: Vec<opentelemetry::trace::Link>,
    status: Status,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            started: None,
            kind: SpanKind::Internal,
            name: Cow::Borrowed(""),
            start: SystemTime::UNIX_EPOCH,
            end: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
        }
    }
}

fn data(parts: Parts, scope: InstrumentationScope) -> SpanData {
    // Always set: only a started span ends.
    let (span_context, parent_span_id, parent_span_is_remote) =
        parts.started.unwrap_or(NOT_STARTED);
    let mut events = SpanEvents::default();
    events.events = parts.events;
    let mut links = SpanLinks::default();
    links.links = parts.links;
    SpanData {
        span_context,
        parent_span_id,
        parent_span_is_remote,
        span_kind: parts.kind,
        name: parts.name,
        start_time: parts.start,
        end_time: parts.end,
        attributes: parts.attributes,
        dropped_attributes_count: 0,
        events,
        links,
        status: parts.status,
        instrumentation_scope: scope,
    }
}
