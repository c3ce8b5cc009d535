//! Metrics from the layer: each closed span's duration into a histogram (request rate,
//! errors and duration per operation, sampled or not), and metrics from event fields
//! named with the `monotonic_counter.`, `counter.`, `histogram.` and `gauge.` prefixes.
//!
//! Attribute sets are cached per callsite, so recording a span's duration allocates
//! nothing once its callsite has been seen.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use opentelemetry::metrics::{BoundHistogram, Counter, Gauge, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use tracing_core::Metadata;

use crate::fields::{FieldValue, Fields};
use crate::metrics::{metric_of, MetricKind};
use crate::metrics::{SpanFilter, SpanMetricsConfig, DURATION_BUCKETS, SPAN_DURATION};

/// A hasher for maps keyed by a callsite's address: one multiplication, where the
/// default SipHash costs a few hundred instructions per lookup on the hot path.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing: spreads aligned addresses over the high bits.
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// A map keyed by callsite address.
pub(crate) type ByCallsite<V> = HashMap<usize, V, std::hash::BuildHasherDefault<AddressHasher>>;

/// A callsite's address, the key of every per-callsite map.
fn key(meta: &'static Metadata<'static>) -> usize {
    meta as *const Metadata<'static> as usize
}

/// Tells the instances of a per-callsite cache apart in the per-thread copies.
fn next_instance() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A per-thread copy of per-callsite values, for every instance of a cache: each entry
/// is (instance, value). Reading it touches no memory shared with other threads (a
/// shared lock's counter would bounce between cores on every span).
type Local<V> = std::cell::RefCell<ByCallsite<smallvec::SmallVec<[(u64, V); 1]>>>;

/// Past this many instances at one callsite, a thread's copy forgets the others.
const LOCAL_INSTANCES: usize = 4;

fn local_get<V, R>(
    local: &'static std::thread::LocalKey<Local<V>>,
    instance: u64,
    key: usize,
    f: impl FnOnce(&V) -> R,
) -> Option<R> {
    local
        .try_with(|m| {
            let m = m.try_borrow().ok()?;
            let (_, v) = m.get(&key)?.iter().find(|(i, _)| *i == instance)?;
            Some(f(v))
        })
        .ok()
        .flatten()
}

fn local_put<V>(local: &'static std::thread::LocalKey<Local<V>>, instance: u64, key: usize, v: V) {
    let _ = local.try_with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            let entries = m.entry(key).or_default();
            if entries.len() >= LOCAL_INSTANCES {
                entries.clear();
            }
            entries.push((instance, v));
        }
    });
}

thread_local! {
    static SPAN_SITES: Local<Arc<CallsiteAttrs>> = Local::default();
    static EVENT_SITES: Local<bool> = Local::default();
}

/// Per-span state kept in the span's extensions.
#[derive(Debug)]
pub(crate) struct SpanTiming {
    pub start: Instant,
    pub error_type: Option<String>,
    pub error: bool,
    /// Whether the callsite's series were already bound at the span's start.
    pub known: bool,
    /// `code.function.name`, read only when the callsite is new.
    pub function: Option<String>,
}

/// A callsite's two series, bound once: recording is a lock-free add, with no
/// attribute hashing.
#[derive(Debug)]
pub(crate) struct CallsiteAttrs {
    ok: BoundHistogram<f64>,
    /// Bound on the first error only, so that spans that never fail have no empty
    /// error series.
    error: std::sync::OnceLock<BoundHistogram<f64>>,
    error_attrs: Vec<KeyValue>,
    /// Whether the callsite has fields that decide the outcome (`otel.status_code`,
    /// `error.type`): spans of other callsites need no field visit at all.
    pub(crate) reads_fields: bool,
}

/// Span duration metrics.
pub(crate) struct SpanMetrics {
    instance: u64,
    config: SpanMetricsConfig,
    histogram: Histogram<f64>,
    cache: RwLock<ByCallsite<Arc<CallsiteAttrs>>>,
    series: RwLock<HashSet<Vec<KeyValue>>>,
    pub(crate) overflow: Arc<AtomicU64>,
    overflow_attrs: Arc<[KeyValue]>,
}

impl SpanMetrics {
    pub(crate) fn new(
        meter: &Meter,
        config: SpanMetricsConfig,
        overflow: Arc<AtomicU64>,
    ) -> SpanMetrics {
        let histogram = meter
            .f64_histogram(SPAN_DURATION)
            .with_unit("s")
            .with_description("Duration of spans, by span name, function and outcome")
            .with_boundaries(
                config
                    .buckets
                    .clone()
                    .unwrap_or_else(|| DURATION_BUCKETS.to_vec()),
            )
            .build();
        SpanMetrics {
            instance: next_instance(),
            config,
            histogram,
            cache: RwLock::new(ByCallsite::default()),
            series: RwLock::new(HashSet::new()),
            overflow,
            overflow_attrs: Arc::from(vec![KeyValue::new("otel.metric.overflow", true)]),
        }
    }

    /// Whether spans of this callsite are measured.
    pub(crate) fn wants(&self, meta: &Metadata<'_>) -> bool {
        // HTTP spans have their own duration histograms (`http.server.request.duration`,
        // `http.client.request.duration`) with the route and status.
        if meta.target().starts_with("telemetry::http") {
            return false;
        }
        match &self.config.filter {
            SpanFilter::All => true,
            SpanFilter::MinLevel(level) => meta.level() <= level,
            SpanFilter::Targets(prefixes) => prefixes
                .iter()
                .any(|p| meta.target().starts_with(p.as_str())),
            SpanFilter::Instrumented => meta.fields().field("code.function.name").is_some(),
        }
    }

    /// Runs `f` with the bound series of a callsite seen before: from this thread's
    /// copy, else from the shared map (copied to this thread for next time).
    fn with_callsite<R>(
        &self,
        meta: &'static Metadata<'static>,
        f: impl FnOnce(&CallsiteAttrs) -> R,
    ) -> Option<R> {
        let key = key(meta);
        let mut f = Some(f);
        if let Some(r) = local_get(&SPAN_SITES, self.instance, key, |a| f.take().map(|f| f(a))) {
            return r;
        }
        let shared = self.cache.read().ok().and_then(|c| c.get(&key).cloned())?;
        let r = f.take().map(|f| f(&shared));
        local_put(&SPAN_SITES, self.instance, key, shared);
        r
    }

    /// For a callsite seen before: whether its spans' fields must be read (they
    /// decide the outcome). `None` for a new callsite.
    pub(crate) fn known(&self, meta: &'static Metadata<'static>) -> Option<bool> {
        self.with_callsite(meta, |a| a.reads_fields)
    }

    pub(crate) fn record(&self, meta: &'static Metadata<'static>, timing: &SpanTiming) {
        let seconds = timing.start.elapsed().as_secs_f64();
        if self
            .with_callsite(meta, |attrs| self.record_into(attrs, timing, seconds))
            .is_some()
        {
            return;
        }
        // The first span of this callsite (or a race with another one).
        let attrs = Arc::new(self.callsite_attrs(meta, timing.function.as_deref()));
        let attrs = match self.cache.write() {
            Ok(mut c) => c.entry(key(meta)).or_insert(attrs).clone(),
            Err(_) => attrs,
        };
        self.record_into(&attrs, timing, seconds);
    }

    fn record_into(&self, attrs: &CallsiteAttrs, timing: &SpanTiming, seconds: f64) {
        match (&timing.error_type, timing.error) {
            (None, false) => attrs.ok.record(seconds),
            (None, true) => attrs
                .error
                .get_or_init(|| self.histogram.bind(&self.admit(attrs.error_attrs.clone())))
                .record(seconds),
            (Some(kind), _) => {
                // A specific error type: a rarer, dynamic series.
                let mut set: Vec<KeyValue> = attrs
                    .error_attrs
                    .iter()
                    .filter(|kv| kv.key.as_str() != "error.type")
                    .cloned()
                    .collect();
                set.push(KeyValue::new("error.type", kind.clone()));
                let set = self.admit(set);
                self.histogram.record(seconds, &set);
            }
        }
    }

    fn callsite_attrs(&self, meta: &Metadata<'_>, function: Option<&str>) -> CallsiteAttrs {
        let mut base = vec![KeyValue::new("span.name", meta.name())];
        if let Some(f) = function {
            base.push(KeyValue::new("code.function.name", f.to_string()));
        }
        let mut ok = base.clone();
        ok.push(KeyValue::new("outcome", "ok"));
        let mut error = base;
        error.push(KeyValue::new("outcome", "error"));
        error.push(KeyValue::new("error.type", "_OTHER"));
        let ok = self.admit(ok);
        let fields = meta.fields();
        CallsiteAttrs {
            ok: self.histogram.bind(&ok),
            error: std::sync::OnceLock::new(),
            error_attrs: error,
            reads_fields: fields.field("otel.status_code").is_some()
                || fields.field("error.type").is_some(),
        }
    }

    /// Applies the cardinality limit: past it, new attribute sets collapse into the
    /// overflow series and are counted.
    fn admit(&self, set: Vec<KeyValue>) -> Vec<KeyValue> {
        if self.series.read().is_ok_and(|s| s.contains(&set)) {
            return set;
        }
        let Ok(mut series) = self.series.write() else {
            return set;
        };
        if series.contains(&set) {
            return set;
        }
        if series.len() >= self.config.cardinality_limit {
            self.overflow.fetch_add(1, Ordering::Relaxed);
            return self.overflow_attrs.to_vec();
        }
        series.insert(set.clone());
        set
    }
}

#[derive(Clone)]
enum Instrument {
    CounterU64(Counter<u64>),
    CounterF64(Counter<f64>),
    UpDownI64(UpDownCounter<i64>),
    UpDownF64(UpDownCounter<f64>),
    HistogramU64(Histogram<u64>),
    HistogramF64(Histogram<f64>),
    GaugeU64(Gauge<u64>),
    GaugeI64(Gauge<i64>),
    GaugeF64(Gauge<f64>),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Number {
    U64,
    I64,
    F64,
}

/// Metrics from event fields.
pub(crate) struct EventMetrics {
    instance: u64,
    meter: Meter,
    /// Per callsite: does any field name a metric?
    callsites: RwLock<ByCallsite<bool>>,
    instruments: RwLock<HashMap<(MetricKind, String, Number), Instrument>>,
}

impl EventMetrics {
    pub(crate) fn new(meter: Meter) -> EventMetrics {
        EventMetrics {
            instance: next_instance(),
            meter,
            callsites: RwLock::new(ByCallsite::default()),
            instruments: RwLock::new(HashMap::new()),
        }
    }

    /// Whether events of this callsite carry metric fields (cached per thread).
    pub(crate) fn interested(&self, meta: &'static Metadata<'static>) -> bool {
        let key = key(meta);
        if let Some(known) = local_get(&EVENT_SITES, self.instance, key, |v| *v) {
            return known;
        }
        let shared = self
            .callsites
            .read()
            .ok()
            .and_then(|c| c.get(&key).copied());
        let has = shared.unwrap_or_else(|| {
            let has = meta.fields().iter().any(|f| metric_of(f.name()).is_some());
            if let Ok(mut c) = self.callsites.write() {
                c.insert(key, has);
            }
            has
        });
        local_put(&EVENT_SITES, self.instance, key, has);
        has
    }

    /// Records the metric fields of an event; the other fields are its attributes.
    pub(crate) fn record(&self, fields: &Fields) {
        let attrs: Vec<KeyValue> = fields
            .values
            .iter()
            .filter(|(k, _)| metric_of(k).is_none())
            .map(|(k, v)| KeyValue::new(*k, v.to_otel()))
            .collect();
        for (k, v) in &fields.values {
            let Some((kind, name)) = metric_of(k) else {
                continue;
            };
            let number = match v {
                FieldValue::U64(_) => Number::U64,
                FieldValue::I64(_) => Number::I64,
                FieldValue::F64(_) => Number::F64,
                _ => continue,
            };
            let Some(instrument) = self.instrument(kind, name, number) else {
                continue;
            };
            match (instrument, v) {
                (Instrument::CounterU64(c), FieldValue::U64(x)) => c.add(*x, &attrs),
                (Instrument::CounterU64(c), FieldValue::I64(x)) if *x >= 0 => {
                    c.add(*x as u64, &attrs)
                }
                (Instrument::CounterF64(c), FieldValue::F64(x)) if *x >= 0.0 => c.add(*x, &attrs),
                (Instrument::UpDownI64(c), FieldValue::I64(x)) => c.add(*x, &attrs),
                (Instrument::UpDownI64(c), FieldValue::U64(x)) => {
                    c.add(i64::try_from(*x).unwrap_or(i64::MAX), &attrs)
                }
                (Instrument::UpDownF64(c), FieldValue::F64(x)) => c.add(*x, &attrs),
                (Instrument::HistogramU64(h), FieldValue::U64(x)) => h.record(*x, &attrs),
                (Instrument::HistogramU64(h), FieldValue::I64(x)) if *x >= 0 => {
                    h.record(*x as u64, &attrs)
                }
                (Instrument::HistogramF64(h), FieldValue::F64(x)) => h.record(*x, &attrs),
                (Instrument::GaugeU64(g), FieldValue::U64(x)) => g.record(*x, &attrs),
                (Instrument::GaugeI64(g), FieldValue::I64(x)) => g.record(*x, &attrs),
                (Instrument::GaugeF64(g), FieldValue::F64(x)) => g.record(*x, &attrs),
                _ => {}
            }
        }
    }

    fn instrument(&self, kind: MetricKind, name: &str, number: Number) -> Option<Instrument> {
        // Counters of signed values and histograms of signed values use the unsigned
        // instrument (negative values are dropped, as the API requires).
        let number = match (kind, number) {
            (MetricKind::MonotonicCounter | MetricKind::Histogram, Number::I64) => Number::U64,
            (MetricKind::UpDownCounter, Number::U64) => Number::I64,
            (_, n) => n,
        };
        let key = (kind, name.to_string(), number);
        if let Some(i) = self
            .instruments
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Some(i);
        }
        if !crate::metrics::valid_instrument_name(name) {
            crate::diagnostics::warn(
                "metric-name",
                format_args!("ignored metric field for {name:?}: not a valid instrument name"),
            );
            return None;
        }
        let m = &self.meter;
        let n = name.to_string();
        let instrument = match (kind, number) {
            (MetricKind::MonotonicCounter, Number::F64) => {
                Instrument::CounterF64(m.f64_counter(n).build())
            }
            (MetricKind::MonotonicCounter, _) => Instrument::CounterU64(m.u64_counter(n).build()),
            (MetricKind::UpDownCounter, Number::F64) => {
                Instrument::UpDownF64(m.f64_up_down_counter(n).build())
            }
            (MetricKind::UpDownCounter, _) => {
                Instrument::UpDownI64(m.i64_up_down_counter(n).build())
            }
            (MetricKind::Histogram, Number::F64) => {
                Instrument::HistogramF64(m.f64_histogram(n).build())
            }
            (MetricKind::Histogram, _) => Instrument::HistogramU64(m.u64_histogram(n).build()),
            (MetricKind::Gauge, Number::F64) => Instrument::GaugeF64(m.f64_gauge(n).build()),
            (MetricKind::Gauge, Number::I64) => Instrument::GaugeI64(m.i64_gauge(n).build()),
            (MetricKind::Gauge, Number::U64) => Instrument::GaugeU64(m.u64_gauge(n).build()),
        };
        if let Ok(mut map) = self.instruments.write() {
            map.insert(key, instrument.clone());
        }
        Some(instrument)
    }
}
