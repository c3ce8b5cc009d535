//! The bounded store: finished traces (whole trees) and log records, evicting the
//! oldest first, but keeping, within the bound, a share for traces with errors and for
//! the slowest trace of each root name, so that a rare failure is not pushed out by
//! thousands of healthy requests.
//!
//! It keeps the SDK's span data and the layer's log records as they are (clones:
//! their text is shared or moved, never formatted here); queries make text of what
//! they return.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

use super::RecorderConfig;
use crate::logs::LogRecord;

/// One finished trace: its root and the spans that ended before or after it.
pub(crate) struct StoredTrace {
    pub(crate) root: SpanData,
    pub(crate) children: Vec<SpanData>,
    /// Whether any span has an error status.
    pub(crate) error: bool,
    /// Estimated bytes.
    bytes: usize,
}

impl StoredTrace {
    pub(crate) fn trace_id(&self) -> [u8; 16] {
        self.root.span_context.trace_id().to_bytes()
    }

    /// The root's duration.
    pub(crate) fn duration(&self) -> Duration {
        duration_of(&self.root)
    }

    /// Every span, children first, the root last.
    pub(crate) fn spans(&self) -> impl Iterator<Item = &SpanData> {
        self.children.iter().chain(std::iter::once(&self.root))
    }
}

/// One log record and its sequence number (follow mode reads on from it).
pub(crate) struct StoredLog {
    pub(crate) seq: u64,
    pub(crate) record: LogRecord,
    bytes: usize,
}

/// How long a span took.
pub(crate) fn duration_of(s: &SpanData) -> Duration {
    s.end_time.duration_since(s.start_time).unwrap_or_default()
}

/// Whether a span begins a trace in this process.
pub(crate) fn is_root(s: &SpanData) -> bool {
    s.parent_span_id == SpanId::INVALID || s.parent_span_is_remote
}

fn is_error(s: &SpanData) -> bool {
    matches!(s.status, Status::Error { .. })
}

/// What the allocator takes beyond each allocation's bytes.
const PER_ALLOCATION: usize = 16;

/// Heap bytes of text: counted whether it is owned or shared, so the estimate errs
/// high.
fn text_bytes(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len + PER_ALLOCATION
    }
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => text_bytes(s.as_str().len()),
        Value::Array(_) => 128,
        _ => 0,
    }
}

/// Heap bytes of a list of attributes (the list and what its values hold).
fn pairs_bytes(pairs: &[KeyValue], capacity: usize) -> usize {
    capacity * size_of::<KeyValue>()
        + PER_ALLOCATION
        + pairs
            .iter()
            .map(|kv| text_bytes(kv.key.as_str().len()) + value_bytes(&kv.value))
            .sum::<usize>()
}

/// A span's heap bytes beyond its own `SpanData` (which a list of spans holds inline).
fn span_heap_bytes(s: &SpanData) -> usize {
    text_bytes(s.name.len())
        + pairs_bytes(&s.attributes, s.attributes.capacity())
        + s.events.events.capacity() * size_of::<opentelemetry::trace::Event>()
        + s.events
            .iter()
            .map(|e| text_bytes(e.name.len()) + pairs_bytes(&e.attributes, e.attributes.capacity()))
            .sum::<usize>()
        + s.links.links.capacity() * size_of::<opentelemetry::trace::Link>()
        + s.links
            .iter()
            .map(|l| pairs_bytes(&l.attributes, l.attributes.capacity()))
            .sum::<usize>()
}

/// A span's estimated size in memory, counted generously (the bound is on this).
fn span_bytes(s: &SpanData) -> usize {
    size_of::<SpanData>() + span_heap_bytes(s)
}

fn log_bytes(r: &LogRecord) -> usize {
    let spilled_message = r.message().len().saturating_sub(64);
    let spilled_fields = if r.read.values.spilled() {
        r.read.values.capacity() * size_of::<(&str, crate::fields::FieldValue)>() + PER_ALLOCATION
    } else {
        0
    };
    size_of::<StoredLog>()
        + text_bytes(spilled_message)
        + spilled_fields
        + r.read
            .values
            .iter()
            .map(|(_, v)| match v {
                crate::fields::FieldValue::Str(s) => text_bytes(s.len()),
                _ => 0,
            })
            .sum::<usize>()
}

/// Traces and logs kept, and spans waiting for their root.
pub(crate) struct Store {
    config: RecorderConfig,
    traces: VecDeque<StoredTrace>,
    /// The ids of `traces`, so that a child span finds out in O(1) whether its trace
    /// is already complete (most are not: children end before their root).
    complete: HashSet<[u8; 16]>,
    bytes: usize,
    /// Spans whose root has not ended yet, by trace id.
    open: HashMap<[u8; 16], Vec<SpanData>>,
    /// The order `open` was filled in (with ids since completed, dropped lazily).
    open_order: VecDeque<[u8; 16]>,
    logs: VecDeque<StoredLog>,
    log_bytes: usize,
    /// The sequence number the next log record gets (from 1).
    next_log_seq: u64,
    /// Traces and logs let go to stay within the bound.
    pub(crate) evicted_traces: u64,
    pub(crate) evicted_logs: u64,
}

impl Store {
    pub(crate) fn new(config: RecorderConfig) -> Store {
        Store {
            config,
            traces: VecDeque::new(),
            complete: HashSet::new(),
            bytes: 0,
            open: HashMap::new(),
            open_order: VecDeque::new(),
            logs: VecDeque::new(),
            log_bytes: 0,
            next_log_seq: 1,
            evicted_traces: 0,
            evicted_logs: 0,
        }
    }

    /// Takes a finished span; a root span completes its trace.
    pub(crate) fn span(&mut self, span: SpanData) {
        let id = span.span_context.trace_id().to_bytes();
        if !is_root(&span) {
            // A late child of a trace already complete joins it.
            if self.complete.contains(&id) {
                if let Some(t) = self.traces.iter_mut().rev().find(|t| t.trace_id() == id) {
                    if t.children.len() + 1 < self.config.max_spans_per_trace {
                        let bytes = span_bytes(&span);
                        t.error |= is_error(&span);
                        t.bytes += bytes;
                        self.bytes += bytes;
                        t.children.push(span);
                        self.fit();
                    }
                    return;
                }
            }
            let waiting = self.open.entry(id).or_insert_with(|| {
                self.open_order.push_back(id);
                Vec::new()
            });
            if waiting.len() + 1 < self.config.max_spans_per_trace {
                waiting.push(span);
            }
            // Spans whose root never comes do not pile up.
            while self.open.len() > self.config.max_traces.max(1) {
                match self.open_order.pop_front() {
                    Some(old) => {
                        self.open.remove(&old);
                    }
                    None => break,
                }
            }
            return;
        }
        let children = self.open.remove(&id).unwrap_or_default();
        // Completed ids leave `open_order` in bulk, once they outnumber the open ones.
        if self.open_order.len() > 2 * self.open.len() + 16 {
            let open = &self.open;
            self.open_order.retain(|t| open.contains_key(t));
        }
        let bytes = size_of::<StoredTrace>()
            + span_heap_bytes(&span)
            + children.capacity() * size_of::<SpanData>()
            + PER_ALLOCATION
            + children.iter().map(span_heap_bytes).sum::<usize>();
        let error = is_error(&span) || children.iter().any(is_error);
        self.bytes += bytes;
        self.complete.insert(id);
        self.traces.push_back(StoredTrace {
            root: span,
            children,
            error,
            bytes,
        });
        self.fit();
    }

    /// Takes a log record; returns its sequence number.
    pub(crate) fn log(&mut self, record: LogRecord) -> u64 {
        let seq = self.next_log_seq;
        self.next_log_seq += 1;
        let bytes = log_bytes(&record);
        self.log_bytes += bytes;
        self.logs.push_back(StoredLog { seq, record, bytes });
        while self.logs.len() > self.config.max_logs || self.log_bytes > self.config.max_bytes / 4 {
            match self.logs.pop_front() {
                Some(old) => {
                    self.log_bytes = self.log_bytes.saturating_sub(old.bytes);
                    self.evicted_logs += 1;
                }
                None => break,
            }
        }
        seq
    }

    /// The sequence number of the newest log record taken (0 before the first).
    pub(crate) fn last_log_seq(&self) -> u64 {
        self.next_log_seq - 1
    }

    /// Evicts once over the bound, down to nine tenths of it (so that the work is
    /// spread over many traces): the oldest traces that are not protected first, then
    /// the oldest of all if that is not enough.
    fn fit(&mut self) {
        let byte_bound = self.config.max_bytes - self.config.max_bytes / 4;
        if self.traces.len() <= self.config.max_traces && self.bytes <= byte_bound {
            return;
        }
        let count_goal = self.config.max_traces - self.config.max_traces / 10;
        let byte_goal = byte_bound - byte_bound / 10;
        let protected = self.protected();
        let total = self.traces.len();
        let mut evicted = 0;
        let mut keep = VecDeque::with_capacity(total);
        for (i, t) in std::mem::take(&mut self.traces).into_iter().enumerate() {
            let left = total - evicted;
            if !protected[i] && (left > count_goal || self.bytes > byte_goal) {
                self.forget(&t);
                evicted += 1;
            } else {
                keep.push_back(t);
            }
        }
        self.traces = keep;
        while self.traces.len() > count_goal || self.bytes > byte_goal {
            match self.traces.pop_front() {
                Some(t) => self.forget(&t),
                None => break,
            }
        }
    }

    fn forget(&mut self, t: &StoredTrace) {
        self.complete.remove(&t.trace_id());
        self.bytes = self.bytes.saturating_sub(t.bytes);
        self.evicted_traces += 1;
    }

    /// Which traces stay when others go: the newest error traces within their share,
    /// and the slowest trace of each root name within theirs.
    fn protected(&self) -> Vec<bool> {
        let cap = self.config.max_traces.max(1);
        let error_cap = ((cap as f64) * self.config.error_share).floor() as usize;
        let slow_cap = ((cap as f64) * self.config.slow_share).floor() as usize;
        let mut protected = vec![false; self.traces.len()];
        let mut kept = 0;
        for (i, t) in self.traces.iter().enumerate().rev() {
            if kept >= error_cap {
                break;
            }
            if t.error {
                protected[i] = true;
                kept += 1;
            }
        }
        let mut slowest: HashMap<&str, (usize, Duration)> = HashMap::new();
        for (i, t) in self.traces.iter().enumerate() {
            let d = t.duration();
            let e = slowest.entry(&t.root.name).or_insert((i, d));
            if e.1 < d {
                *e = (i, d);
            }
        }
        let mut slow: Vec<(usize, Duration)> = slowest.into_values().collect();
        slow.sort_by_key(|&(_, d)| std::cmp::Reverse(d));
        for (i, _) in slow.into_iter().take(slow_cap) {
            protected[i] = true;
        }
        protected
    }

    pub(crate) fn traces(&self) -> impl DoubleEndedIterator<Item = &StoredTrace> {
        self.traces.iter()
    }

    pub(crate) fn logs(&self) -> impl DoubleEndedIterator<Item = &StoredLog> {
        self.logs.iter()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes + self.log_bytes
    }
}
