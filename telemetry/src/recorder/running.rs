//! The spans still running: a fixed table of slots the layer fills when a span opens
//! and clears when it closes, without a lock or an allocation, so that the application
//! thread pays a few dozen instructions per span; the recorder reads it on demand.
//!
//! A span hashes to a run of [`PROBES`] slots and takes the first free one; with every
//! one of them taken it is not listed (and counted as such) but nothing else changes.
//! The trace and span ids are OpenTelemetry's, written when the span is first entered
//! (before that, a root span has none yet).

use std::sync::atomic::{AtomicI64, AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tracing_core::span::Id;
use tracing_core::Metadata;

/// Slots a span may take: its hash and the next ones.
const PROBES: usize = 8;

/// One running span.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunningSpan {
    /// The span's name.
    pub name: &'static str,
    /// Its target (the module that opened it, by default).
    pub target: &'static str,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// How long it has been running, in nanoseconds.
    pub elapsed_ns: u64,
    /// The same, as the console writes it (`1.20s`).
    pub elapsed: String,
    /// 32 hex digits, once the span was entered.
    pub trace_id: Option<String>,
    /// 16 hex digits, once the span was entered.
    pub span_id: Option<String>,
}

#[derive(Default)]
struct Slot {
    /// The tracing span id; 0 when free.
    id: AtomicU64,
    /// The callsite's metadata; null while the slot is being filled or emptied.
    meta: AtomicPtr<Metadata<'static>>,
    /// Nanoseconds since [`anchor`].
    start: AtomicU64,
    trace_hi: AtomicU64,
    trace_lo: AtomicU64,
    span: AtomicU64,
}

/// The table of running spans.
pub(crate) struct Running {
    slots: Box<[Slot]>,
    /// The instant start times count from.
    anchor: Instant,
    /// Spans running now that found no free slot.
    unlisted: AtomicI64,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("slots", &self.slots.len())
            .finish()
    }
}

/// Nanoseconds in `d`, saturating (a run of 584 years).
#[inline]
fn nanos_of(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

impl Running {
    /// A table of `slots` slots (at least [`PROBES`]).
    pub(crate) fn new(slots: usize) -> Running {
        let n = slots.max(PROBES);
        Running {
            slots: (0..n).map(|_| Slot::default()).collect(),
            // Fixed before any span starts, so that every start is after it.
            anchor: Instant::now(),
            unlisted: AtomicI64::new(0),
        }
    }

    /// The slots `id` may take, in order.
    #[inline]
    fn run(&self, id: u64) -> impl Iterator<Item = &Slot> {
        let n = self.slots.len();
        let first = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % n;
        (0..PROBES).map(move |i| &self.slots[(first + i) % n])
    }

    #[inline]
    fn find(&self, id: u64) -> Option<&Slot> {
        self.run(id).find(|s| s.id.load(Ordering::Relaxed) == id)
    }

    /// A span opened.
    #[inline]
    pub(crate) fn opened(
        &self,
        id: &Id,
        meta: &'static Metadata<'static>,
        started: Option<Instant>,
    ) {
        let id = id.into_u64();
        let started = started.unwrap_or_else(Instant::now);
        let start = nanos_of(started.saturating_duration_since(self.anchor));
        for slot in self.run(id) {
            if slot
                .id
                .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                slot.start.store(start, Ordering::Relaxed);
                // The ids are written at the first enter (`entered` looks at `span`).
                slot.span.store(0, Ordering::Relaxed);
                slot.meta.store(
                    meta as *const Metadata<'static> as *mut Metadata<'static>,
                    Ordering::Release,
                );
                return;
            }
        }
        self.unlisted.fetch_add(1, Ordering::Relaxed);
    }

    /// A span was entered: the first time, its OpenTelemetry ids are written down from
    /// the context now current.
    #[inline]
    pub(crate) fn entered(&self, id: &Id) {
        let Some(slot) = self.find(id.into_u64()) else {
            return;
        };
        if slot.span.load(Ordering::Relaxed) != 0 {
            return;
        }
        use opentelemetry::trace::TraceContextExt as _;
        let (trace, span) = opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let sc = span.span_context();
            (sc.trace_id().to_bytes(), sc.span_id().to_bytes())
        });
        let (hi, lo) = trace.split_at(8);
        let word = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        slot.trace_hi.store(word(hi), Ordering::Relaxed);
        slot.trace_lo.store(word(lo), Ordering::Relaxed);
        slot.span.store(u64::from_be_bytes(span), Ordering::Release);
    }

    /// A span closed.
    #[inline]
    pub(crate) fn closed(&self, id: &Id) {
        match self.find(id.into_u64()) {
            Some(slot) => {
                slot.meta.store(std::ptr::null_mut(), Ordering::Relaxed);
                slot.id.store(0, Ordering::Release);
            }
            None => {
                self.unlisted.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// The spans running now, the longest running first.
    pub(crate) fn list(&self) -> Vec<RunningSpan> {
        let now = self.anchor.elapsed();
        let wall = SystemTime::now();
        let mut out = Vec::new();
        for slot in self.slots.iter() {
            let id = slot.id.load(Ordering::Acquire);
            if id == 0 {
                continue;
            }
            let meta = slot.meta.load(Ordering::Acquire);
            let start = slot.start.load(Ordering::Relaxed);
            let span = slot.span.load(Ordering::Acquire);
            let (hi, lo) = (
                slot.trace_hi.load(Ordering::Relaxed),
                slot.trace_lo.load(Ordering::Relaxed),
            );
            // Emptied or refilled while read: skip it.
            if meta.is_null() || slot.id.load(Ordering::Acquire) != id {
                continue;
            }
            // SAFETY: the pointer was made from a `&'static Metadata<'static>` in
            // `opened` and is never freed.
            let meta: &'static Metadata<'static> = unsafe { &*meta };
            let elapsed = now.saturating_sub(Duration::from_nanos(start));
            let started = wall.checked_sub(elapsed).unwrap_or(wall);
            let known = span != 0;
            let mut trace = [0u8; 16];
            trace[..8].copy_from_slice(&hi.to_be_bytes());
            trace[8..].copy_from_slice(&lo.to_be_bytes());
            out.push(RunningSpan {
                name: meta.name(),
                target: meta.target(),
                start_unix_nano: super::records::nanos(started),
                elapsed_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
                elapsed: crate::export::human(elapsed),
                trace_id: known
                    .then(|| opentelemetry::trace::TraceId::from_bytes(trace).to_string()),
                span_id: known.then(|| {
                    opentelemetry::trace::SpanId::from_bytes(span.to_be_bytes()).to_string()
                }),
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.elapsed_ns));
        out
    }

    /// Running spans that found no slot.
    pub(crate) fn unlisted(&self) -> u64 {
        u64::try_from(self.unlisted.load(Ordering::Relaxed)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static CALLSITE: tracing_core::callsite::DefaultCallsite =
        tracing_core::callsite::DefaultCallsite::new(&META);
    static META: Metadata<'static> = tracing_core::metadata!(
        name: "work",
        target: "running_test",
        level: tracing_core::Level::INFO,
        fields: &[],
        callsite: &CALLSITE,
        kind: tracing_core::metadata::Kind::SPAN,
    );

    #[test]
    fn spans_are_listed_while_open_and_gone_once_closed() {
        let table = Running::new(16);
        let ids: Vec<Id> = (1..=3).map(Id::from_u64).collect();
        for id in &ids {
            table.opened(id, &META, None);
        }
        let listed = table.list();
        assert_eq!(listed.len(), 3);
        assert!(listed
            .iter()
            .all(|s| s.name == "work" && s.target == "running_test"));
        assert!(
            listed.iter().all(|s| s.trace_id.is_none()),
            "not entered yet"
        );
        table.closed(&ids[1]);
        assert_eq!(table.list().len(), 2);
        table.closed(&ids[0]);
        table.closed(&ids[2]);
        assert!(table.list().is_empty());
        assert_eq!(table.unlisted(), 0);
    }

    #[test]
    fn a_full_run_leaves_a_span_unlisted_and_counted() {
        // PROBES slots: the ninth span finds none free.
        let table = Running::new(PROBES);
        let ids: Vec<Id> = (1..=PROBES as u64 + 1).map(Id::from_u64).collect();
        for id in &ids {
            table.opened(id, &META, None);
        }
        assert_eq!(table.list().len(), PROBES);
        assert_eq!(table.unlisted(), 1);
        for id in &ids {
            table.closed(id);
        }
        assert_eq!(table.unlisted(), 0);
        assert!(table.list().is_empty());
    }
}
