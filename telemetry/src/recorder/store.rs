//! The bounded store: finished traces (whole trees) and log records, evicting the
//! oldest first, but keeping, within the bound, a share for traces with errors and for
//! the slowest trace of each root name, so that a rare failure is not pushed out by
//! thousands of healthy requests.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{RecordedLog, RecordedSpan, RecordedTrace, RecorderConfig};

/// Traces and logs kept, and spans waiting for their root.
pub(crate) struct Store {
    config: RecorderConfig,
    traces: VecDeque<RecordedTrace>,
    /// The ids of `traces`, so that a child span finds out in O(1) whether its trace
    /// is already complete (most are not: children end before their root).
    complete: HashSet<[u8; 16]>,
    bytes: usize,
    /// Spans whose root has not ended yet, by trace id.
    open: HashMap<[u8; 16], Vec<RecordedSpan>>,
    open_order: VecDeque<[u8; 16]>,
    logs: VecDeque<RecordedLog>,
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
    pub(crate) fn span(&mut self, span: RecordedSpan, service: &str) {
        let id = span.trace_id_bytes;
        // A late child of a trace already complete joins it.
        if !span.is_root {
            let complete = self.complete.contains(&id);
            if let Some(t) = complete
                .then(|| {
                    self.traces
                        .iter_mut()
                        .rev()
                        .find(|t| t.trace_id_bytes == id)
                })
                .flatten()
            {
                self.bytes += span.bytes();
                t.add(span);
                self.fit();
                return;
            }
            let waiting = self.open.entry(id).or_insert_with(|| {
                self.open_order.push_back(id);
                Vec::new()
            });
            if waiting.len() < self.config.max_spans_per_trace {
                waiting.push(span);
            }
            // Spans whose root never comes do not pile up.
            while self.open_order.len() > self.config.max_traces.max(1) {
                if let Some(old) = self.open_order.pop_front() {
                    self.open.remove(&old);
                }
            }
            return;
        }
        let mut spans = self.open.remove(&id).unwrap_or_default();
        self.open_order.retain(|t| *t != id);
        spans.truncate(self.config.max_spans_per_trace.saturating_sub(1));
        spans.push(span);
        let trace = RecordedTrace::new(spans, service);
        self.bytes += trace.bytes;
        self.complete.insert(trace.trace_id_bytes);
        self.traces.push_back(trace);
        self.fit();
    }

    /// Takes a log record; returns its sequence number.
    pub(crate) fn log(&mut self, mut log: RecordedLog) -> u64 {
        log.seq = self.next_log_seq;
        self.next_log_seq += 1;
        let seq = log.seq;
        self.log_bytes += log.bytes();
        self.logs.push_back(log);
        while self.logs.len() > self.config.max_logs || self.log_bytes > self.config.max_bytes / 4 {
            match self.logs.pop_front() {
                Some(old) => {
                    self.log_bytes = self.log_bytes.saturating_sub(old.bytes());
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
                self.complete.remove(&t.trace_id_bytes);
                self.bytes = self.bytes.saturating_sub(t.bytes);
                evicted += 1;
                self.evicted_traces += 1;
            } else {
                keep.push_back(t);
            }
        }
        self.traces = keep;
        while self.traces.len() > count_goal || self.bytes > byte_goal {
            match self.traces.pop_front() {
                Some(t) => {
                    self.complete.remove(&t.trace_id_bytes);
                    self.bytes = self.bytes.saturating_sub(t.bytes);
                    self.evicted_traces += 1;
                }
                None => break,
            }
        }
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
        let mut slowest: HashMap<&str, usize> = HashMap::new();
        for (i, t) in self.traces.iter().enumerate() {
            let e = slowest.entry(t.name.as_str()).or_insert(i);
            if self.traces[*e].duration_ns < t.duration_ns {
                *e = i;
            }
        }
        let mut slow: Vec<usize> = slowest.into_values().collect();
        slow.sort_by_key(|&i| std::cmp::Reverse(self.traces[i].duration_ns));
        for i in slow.into_iter().take(slow_cap) {
            protected[i] = true;
        }
        protected
    }

    pub(crate) fn traces(&self) -> impl DoubleEndedIterator<Item = &RecordedTrace> {
        self.traces.iter()
    }

    pub(crate) fn logs(&self) -> impl DoubleEndedIterator<Item = &RecordedLog> {
        self.logs.iter()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes + self.log_bytes
    }
}
