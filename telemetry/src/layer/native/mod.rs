//! The native span path ([`SpanRecorder::Native`](super::SpanRecorder::Native)): spans
//! recorded by the layer itself, without tracing-opentelemetry or the SDK's span
//! object.
//!
//! Every span gets the state the layer already keeps for spans it holds back from
//! tracing-opentelemetry ([`Skipped`](super::skip::Skipped): a context of its own,
//! attached while the span is entered, re-parented by `set_parent` until it starts),
//! and, beside it, a [`Recording`]: name, kind, start, attributes by callsite field
//! (integers stay integers), events, links and status. The configured SDK sampler
//! decides once, when the span starts (first entered, or first asked for its
//! context), with the same inputs tracing-opentelemetry gives it; a span it drops
//! lets go of its recording then. At the close a sampled span's recording goes onto the
//! span pipelines as it is ([`Ended`]): the OTLP exporter encodes it, the console, the
//! recorder and custom exporters get a `SpanData` made from it, on the export thread;
//! everything else there is shared with the default path. What can wait for the export
//! thread does ([`late`]), and an emptied recording is reused ([`Spares`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags,
};
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
use tracing_core::span::{Attributes, Record};
use tracing_core::Metadata;

use crate::export::{Deferred, Pipeline, Span};
use crate::fields::Fields;

mod clock;
mod ended;
mod late;
mod sampling;
mod visit;

pub(crate) use self::ended::Ended;
pub(crate) use self::late::code as location;
pub(crate) use self::sampling::Shortcut;
pub(crate) use self::visit::ErrorChains;
use self::visit::{chain_value, SpanFields};

/// What every native span shares: the sampler, the pipelines and the scope.
pub(crate) struct NativeSpans {
    pub(crate) sampler: Box<dyn ShouldSample>,
    /// The sampler's decisions without calling it, when it has a [`Shortcut`].
    pub(crate) shortcut: Shortcut,
    pub(crate) pipelines: Vec<Arc<Pipeline<Span>>>,
    /// The SDK span processors added in code, shown each ended span.
    pub(crate) processors: Vec<Arc<dyn opentelemetry_sdk::trace::SpanProcessor>>,
    pub(crate) scope: InstrumentationScope,
    /// `code.*` attributes from the callsite.
    pub(crate) location: bool,
    /// `thread.id` and `thread.name`.
    pub(crate) threads: bool,
    /// The sampler samples nothing, whatever the parent: no span needs a recording.
    pub(crate) samples_nothing: bool,
    pub(crate) limits: super::SpanLimits,
    /// Recordings of ended spans, emptied, for new spans to reuse.
    pub(crate) spares: Spares,
}

/// Emptied recordings, handed back by the export thread (or by the sampler's "no") for
/// the next spans: a new span takes one instead of allocating its recording and its
/// attribute list on the application thread, whose allocations the export thread would
/// free. Bounded (see [`Pool::for_batches`](crate::pool::Pool::for_batches)): beyond
/// that, ended recordings are freed as usual.
pub(crate) type Spares = crate::pool::Pool<Recording>;

impl std::fmt::Debug for NativeSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeSpans")
            .field("pipelines", &self.pipelines.len())
            .finish()
    }
}

/// What a native span records until it ends.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    /// What the span shares with the others; `None` only while the recording waits
    /// among the [`Spares`] (a spare holds nothing that holds the spares).
    native: Option<Arc<NativeSpans>>,
    limits: super::SpanLimits,
    name: Cow<'static, str>,
    kind: SpanKind,
    /// When the span was made, on the monotonic clock (its wall-clock time is worked out
    /// when it is encoded: [`clock`]).
    start: Instant,
    /// Set when the span ends.
    end: Instant,
    attributes: Vec<KeyValue>,
    events: Vec<Event>,
    links: Vec<Link>,
    status: Status,
    /// Set when the span starts: its context and its parent's span id (and whether the
    /// parent is remote).
    started: Option<(SpanContext, SpanId, bool)>,
    /// The span's callsite, until its own attributes are added ([`late`]).
    site: Option<&'static Metadata<'static>>,
    /// The thread that made the span, when spans say so.
    thread: Option<late::Thread>,
    /// How many attributes are still to be added from the callsite and thread (counted
    /// against the limit).
    late: usize,
    /// What each event written inside the span leaves to the export thread
    /// ([`late`]), in order.
    pending_events: Vec<late::PendingEvent>,
    /// Those events' attributes, one event's after another's, until then: a list kept
    /// with its room for the next span, rather than one allocated per event that the
    /// export thread would free.
    event_attributes: Vec<KeyValue>,
    /// Where the string values among them are in `text`, by their place in
    /// `event_attributes`.
    event_texts: Vec<(usize, std::ops::Range<usize>)>,
    /// The span's string field values, one after another, until the span is encoded
    /// ([`late`]): copied here rather than each into an allocation of its own, which the
    /// export thread would free (this buffer is kept, with its room, for the next span).
    text: String,
    /// Where each of them is in `text`, by key; its attribute holds an empty string
    /// until then.
    texts: Vec<(&'static str, std::ops::Range<usize>)>,
}

impl Recording {
    /// The recording of a new span made at `start`: a spare one when there is one.
    pub(crate) fn new(
        native: &Arc<NativeSpans>,
        attrs: &Attributes<'_>,
        start: Instant,
    ) -> Box<Recording> {
        let meta = attrs.metadata();
        let thread = native.threads.then(late::this_thread);
        let late = late::count(meta, native.location, thread.as_ref());
        // Room for every field and those added later: no growth.
        let room = meta.fields().len() + late;
        let mut recording = match native.spares.take() {
            Some(mut spare) => {
                // Emptied when it was handed back (see `empty`): only the span's own
                // values are set.
                spare.native = Some(native.clone());
                spare.limits = native.limits;
                spare.name = Cow::Borrowed(meta.name());
                spare.start = start;
                spare.end = start;
                spare.attributes.reserve(room);
                spare.site = Some(meta);
                spare.thread = thread;
                spare.late = late;
                spare
            }
            None => Box::new(Recording {
                native: Some(native.clone()),
                limits: native.limits,
                name: Cow::Borrowed(meta.name()),
                kind: SpanKind::Internal,
                start,
                end: start,
                attributes: Vec::with_capacity(room),
                events: Vec::new(),
                links: Vec::new(),
                status: Status::Unset,
                started: None,
                site: Some(meta),
                thread,
                late,
                pending_events: Vec::new(),
                event_attributes: Vec::new(),
                event_texts: Vec::new(),
                text: String::new(),
                texts: Vec::new(),
            }),
        };
        attrs.record(&mut SpanFields {
            recording: &mut recording,
            replace: false,
        });
        recording
    }

    /// Takes values recorded on the span after its creation (a value recorded again
    /// replaces the earlier one).
    pub(crate) fn record(&mut self, values: &Record<'_>) {
        values.record(&mut SpanFields {
            recording: self,
            replace: true,
        });
    }

    /// Adds an attribute within the limit (replacing one of the same key if `replace`).
    #[inline]
    fn push(&mut self, key: &'static str, value: opentelemetry::Value, replace: bool) {
        if replace {
            self.unset(key);
        }
        if self.attributes.len() + self.late < self.limits.attributes as usize {
            self.attributes
                .push(KeyValue::new(Key::from_static_str(key), value));
        }
    }

    /// Removes the attribute `key` (before a new value replaces it).
    #[inline(never)]
    fn unset(&mut self, key: &str) {
        self.replacing(key);
        self.attributes.retain(|kv| kv.key.as_str() != key);
        self.texts.retain(|(k, _)| *k != key);
    }

    /// Adds a string attribute within the limit, its value copied into `text` (see
    /// there); a value recorded later replaces one of the same key.
    #[inline]
    fn push_text(&mut self, key: &'static str, value: &str, replace: bool) {
        if replace {
            // Recorded after the span's creation (perhaps over and over in a long
            // span): an allocation of its own, as the buffer only grows.
            return self.push(key, value.to_owned().into(), true);
        }
        if self.attributes.len() + self.late < self.limits.attributes as usize {
            let start = self.text.len();
            self.text.push_str(value);
            self.texts.push((key, start..self.text.len()));
            self.attributes
                .push(KeyValue::new(Key::from_static_str(key), late::pending()));
        }
    }

    /// Starts the span under `parent`: the sampler decides; returns the span's own
    /// context and whether it records.
    pub(crate) fn start(&mut self, parent: &Context) -> (Context, bool) {
        let Some(native) = self.native.as_deref() else {
            // A spare is never started (it belongs to no span).
            return (parent.clone(), false);
        };
        let of_parent = parent
            .has_active_span()
            .then(|| parent.span().span_context().clone())
            .filter(SpanContext::is_valid);
        let (trace_id, parent_id, remote, random) = match &of_parent {
            Some(sc) => (
                sc.trace_id(),
                sc.span_id(),
                sc.is_remote(),
                sc.trace_flags() & crate::propagation::RANDOM,
            ),
            None => (
                crate::ids::new_trace_id(),
                SpanId::INVALID,
                false,
                crate::propagation::RANDOM,
            ),
        };
        let (sampled, trace_state) =
            match native.shortcut.decide(parent, of_parent.as_ref(), trace_id) {
                Some(decided) => decided,
                None => {
                    let result = native.sampler.should_sample(
                        Some(parent),
                        trace_id,
                        &self.name,
                        &self.kind,
                        &self.attributes,
                        &self.links,
                    );
                    self.attributes.extend(result.attributes);
                    // Only a sampled span is exported (`RecordOnly` records for nobody here).
                    (
                        result.decision == SamplingDecision::RecordAndSample,
                        result.trace_state,
                    )
                }
            };
        let flags = if sampled {
            TraceFlags::SAMPLED | random
        } else {
            random
        };
        let sc = SpanContext::new(
            trace_id,
            crate::ids::new_span_id(),
            flags,
            false,
            trace_state,
        );
        self.started = Some((sc.clone(), parent_id, remote));
        (parent.with_remote_span_context(sc), sampled)
    }

    /// Adds an event written inside the span. `errors` are its `dyn Error` values
    /// ([`ErrorChains`]): as tracing-opentelemetry records them, each is its message
    /// and `<field>.chain` (its sources), the last also `exception.message` and
    /// `exception.stacktrace` on the event and on the span.
    pub(crate) fn event(
        &mut self,
        meta: &'static Metadata<'static>,
        fields: &Fields,
        errors: &ErrorChains,
    ) {
        if *meta.level() == tracing_core::Level::ERROR
            && !matches!(self.status, Status::Error { .. })
        {
            self.status = Status::error("");
        }
        if let Some((_, message, chain)) = errors.0.last() {
            self.set_attribute(KeyValue::new("exception.message", message.clone()));
            self.set_attribute(KeyValue::new("exception.stacktrace", chain_value(chain)));
        }
        if self.events.len() >= self.limits.events as usize {
            return;
        }
        // Its attributes wait in `event_attributes`; `level`, `target` and the location
        // are added on the export thread ([`late`]).
        let before = self.event_attributes.len();
        let attributes = &mut self.event_attributes;
        for (k, v) in fields.values.iter() {
            match errors.0.iter().find(|(name, _, _)| name == k) {
                Some((_, message, chain)) => {
                    attributes.push(KeyValue::new(Key::from_static_str(k), message.clone()));
                    attributes.push(KeyValue::new(format!("{k}.chain"), chain_value(chain)));
                }
                // A string waits in `text`, as the span's own do.
                None => match v {
                    crate::fields::FieldValue::Str(s) => {
                        let start = self.text.len();
                        self.text.push_str(s);
                        self.event_texts
                            .push((attributes.len(), start..self.text.len()));
                        attributes.push(KeyValue::new(Key::from_static_str(k), late::pending()));
                    }
                    other => {
                        attributes.push(KeyValue::new(Key::from_static_str(k), other.to_otel()))
                    }
                },
            }
        }
        if let Some((_, message, chain)) = errors.0.last() {
            attributes.push(KeyValue::new("exception.message", message.clone()));
            attributes.push(KeyValue::new("exception.stacktrace", chain_value(chain)));
        }
        let own = self.event_attributes.len() - before;
        let (name, message) = match &fields.message {
            Some(m) => {
                let start = self.text.len();
                self.text.push_str(m.as_str());
                (Cow::Borrowed(""), Some(start..self.text.len()))
            }
            None => (Cow::Borrowed(meta.name()), None),
        };
        self.pending_events.push(late::PendingEvent {
            index: self.events.len(),
            site: meta,
            attributes: own,
            message,
            at: Instant::now(),
        });
        // Its time too is given on the export thread, from `at`.
        self.events
            .push(Event::new(name, SystemTime::UNIX_EPOCH, Vec::new(), 0));
    }

    /// A link to the span of `to`.
    pub(crate) fn link(&mut self, to: SpanContext, attributes: Vec<KeyValue>) {
        if self.links.len() < self.limits.links as usize {
            self.links.push(Link::new(to, attributes, 0));
        }
    }

    /// Sets an attribute from code (a `tracing` field recorded later still wins).
    pub(crate) fn set_attribute(&mut self, kv: KeyValue) {
        self.unset(kv.key.as_str());
        self.attributes.push(kv);
    }

    /// Sets the status from code.
    pub(crate) fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Adds an event from code.
    pub(crate) fn add_event(
        &mut self,
        name: Cow<'static, str>,
        time: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        if self.events.len() < self.limits.events as usize {
            self.events.push(Event::new(name, time, attributes, 0));
        }
    }

    /// Ends the span: a started span goes to the span pipelines. With one pipeline
    /// and no SDK span processor (the usual case), the recording goes as it is
    /// ([`Deferred`]): the application thread moves a pointer rather than building and
    /// copying the span, and the export thread encodes it ([`Ended`]).
    pub(crate) fn end(mut self: Box<Self>, native: &NativeSpans, end: Instant) {
        if self.started.is_none() {
            return;
        }
        self.end = end;
        if let ([only], []) = (native.pipelines.as_slice(), native.processors.as_slice()) {
            return only.push_deferred(self);
        }
        let data = Ended::new(self).into_sdk();
        for p in &native.processors {
            p.on_end(data.clone());
        }
        match native.pipelines.as_slice() {
            [] => {}
            [only] => only.push(Span::Sdk(data)),
            [first, rest @ ..] => {
                for p in rest {
                    p.push(Span::Sdk(data.clone()));
                }
                first.push(Span::Sdk(data));
            }
        }
    }

    /// Lets go of a recording that will not be exported (the sampler dropped its span,
    /// a queue refused it, or it was exported): emptied, it goes to the spares.
    pub(crate) fn discard(self: Box<Self>) {
        self.recycle(0);
    }

    /// Hands the recording to the spares, with room for `room` attributes.
    fn recycle(mut self: Box<Self>, room: usize) {
        if let Some(native) = self.native.take() {
            // No new list for a recording the full spares would free.
            if self.attributes.capacity() < room && !native.spares.is_full() {
                self.attributes = Vec::with_capacity(room);
            }
            native.spares.keep(self);
        }
    }
}

impl crate::pool::Reuse for Recording {
    /// Empties the recording of its span's values, keeping its attribute list's room.
    fn empty(&mut self) {
        self.kind = SpanKind::Internal;
        self.name = Cow::Borrowed("");
        self.attributes.clear();
        self.events.clear();
        self.links.clear();
        self.status = Status::Unset;
        self.started = None;
        self.site = None;
        self.thread = None;
        self.late = 0;
        self.pending_events.clear();
        self.event_attributes.clear();
        self.event_texts.clear();
        self.text.clear();
        self.texts.clear();
    }
}

impl Deferred<Span> for Recording {
    fn finish(self: Box<Self>) -> Span {
        Span::Native(Ended::new(self))
    }

    fn discard(self: Box<Self>) {
        Recording::discard(self);
    }
}

#[cfg(test)]
mod spares_tests;
