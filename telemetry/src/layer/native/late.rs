//! What a native span is given on the export thread, when it is encoded
//! ([`Recording::settle`]), rather than on the application's: the attributes it and its
//! events take from their callsite and thread (`target`, `code.*`, `thread.*`, an
//! event's `level`), of which the recording keeps only the callsite and the thread, and
//! which come first (an event's `code.*` last), in the order tracing-opentelemetry gives
//! them; and its string values and event messages, which wait in one buffer of the
//! recording instead of an allocation each.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::KeyValue;
use tracing_core::Metadata;

use super::Recording;

/// The recording thread: its number (counted from 1 in the order threads first record
/// a span, as tracing-opentelemetry numbers them) and its name.
pub(super) type Thread = (i64, Option<Arc<str>>);

/// This thread's [`Thread`], made once per thread.
pub(super) fn this_thread() -> Thread {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(1);
    thread_local! {
        static THIS: Thread = (
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::thread::current().name().map(Arc::from),
        );
    }
    // While the thread's locals are being torn down (a span made in another local's
    // destructor), the thread is numbered 0 and has no name, rather than panicking.
    THIS.try_with(Clone::clone).unwrap_or((0, None))
}

/// How many attributes [`span_attributes`] adds for `meta`.
pub(super) fn count(meta: &Metadata<'_>, location: bool, thread: Option<&Thread>) -> usize {
    let located = if location {
        usize::from(meta.file().is_some())
            + usize::from(meta.module_path().is_some())
            + usize::from(meta.line().is_some())
    } else {
        0
    };
    let threaded = thread.map_or(0, |(_, name)| 1 + usize::from(name.is_some()));
    located + threaded + 1
}

/// Puts the span's own attributes first in `attributes`: its location, its thread,
/// its target.
pub(super) fn span_attributes(
    attributes: &mut Vec<KeyValue>,
    meta: &'static Metadata<'static>,
    location: bool,
    thread: Option<&Thread>,
) {
    let before = attributes.len();
    if location {
        code(attributes, meta);
    }
    if let Some((number, name)) = thread {
        attributes.push(KeyValue::new("thread.id", *number));
        if let Some(name) = name {
            attributes.push(KeyValue::new("thread.name", name.clone()));
        }
    }
    attributes.push(KeyValue::new("target", meta.target()));
    let added = attributes.len() - before;
    attributes.rotate_right(added);
}

/// What an event written inside a span leaves to the export thread.
#[derive(Debug, Clone)]
pub(super) struct PendingEvent {
    /// Its index among the span's events.
    pub(super) index: usize,
    pub(super) site: &'static Metadata<'static>,
    /// How many of the recording's `event_attributes` are its own (they follow those
    /// of the events before it).
    pub(super) attributes: usize,
    /// Where its message, its name, is in the recording's `text`.
    pub(super) message: Option<std::ops::Range<usize>>,
    /// When it happened, on the span's clock ([`super::clock`]).
    pub(super) at: std::time::Instant,
}

/// `code.file.path`, `code.module.name`, `code.line.number` of a callsite.
pub(crate) fn code(attributes: &mut Vec<KeyValue>, meta: &'static Metadata<'static>) {
    if let Some(file) = meta.file() {
        attributes.push(KeyValue::new("code.file.path", file));
    }
    if let Some(module) = meta.module_path() {
        attributes.push(KeyValue::new("code.module.name", module));
    }
    if let Some(line) = meta.line() {
        attributes.push(KeyValue::new("code.line.number", i64::from(line)));
    }
}

/// The value of a string field's attribute until [`Recording::settle`] gives it its
/// text: an empty string.
#[inline]
pub(super) fn pending() -> opentelemetry::Value {
    opentelemetry::Value::String("".into())
}

/// Whether `value` is [`pending`]'s.
fn is_pending(value: &opentelemetry::Value) -> bool {
    matches!(value, opentelemetry::Value::String(s) if s.as_str().is_empty())
}

/// Whether `key` is one of the attributes this module adds to a span.
fn is_late(key: &str) -> bool {
    matches!(
        key,
        "target"
            | "thread.id"
            | "thread.name"
            | "code.file.path"
            | "code.module.name"
            | "code.line.number"
    )
}

impl Recording {
    /// Before an attribute `key` replaces any earlier one: if it is one of this
    /// module's, they are added now, so that it replaces them as it would have.
    pub(super) fn replacing(&mut self, key: &str) {
        if self.site.is_some() && is_late(key) {
            self.settle();
        }
    }

    /// Gives the span what was left to the export thread (this module's): its string
    /// values, its events' messages, and its and its events' own attributes. Before
    /// the span is encoded or made into a `SpanData`, and before code replaces one of
    /// those attributes (so that it replaces them as it would have).
    pub(super) fn settle(&mut self) {
        for (key, range) in self.texts.drain(..) {
            let text = self.text.get(range).unwrap_or_default();
            if let Some(kv) = self
                .attributes
                .iter_mut()
                .find(|kv| kv.key.as_str() == key && is_pending(&kv.value))
            {
                kv.value = opentelemetry::Value::String(text.to_owned().into());
            }
        }
        let location = self.native.as_ref().is_some_and(|n| n.location);
        if let Some(site) = self.site.take() {
            span_attributes(&mut self.attributes, site, location, self.thread.as_ref());
            self.late = 0;
        }
        // Each event's attribute list, made here (as a rule on the export thread, which
        // frees it): `level`, `target`, its own, its location.
        for (place, range) in self.event_texts.drain(..) {
            if let Some(kv) = self.event_attributes.get_mut(place) {
                let text = self.text.get(range).unwrap_or_default();
                kv.value = opentelemetry::Value::String(text.to_owned().into());
            }
        }
        let mut waiting = self.event_attributes.drain(..);
        for p in self.pending_events.drain(..) {
            let Some(event) = self.events.get_mut(p.index) else {
                waiting.by_ref().take(p.attributes).for_each(drop);
                continue;
            };
            let mut attributes =
                Vec::with_capacity(2 + p.attributes + if location { 3 } else { 0 });
            attributes.push(KeyValue::new("level", p.site.level().as_str()));
            attributes.push(KeyValue::new("target", p.site.target()));
            attributes.extend(waiting.by_ref().take(p.attributes));
            if location {
                code(&mut attributes, p.site);
            }
            event.attributes = attributes;
            event.timestamp = super::clock::wall(p.at);
            if let Some(range) = p.message {
                event.name = Cow::Owned(self.text.get(range).unwrap_or_default().to_owned());
            }
        }
    }
}
