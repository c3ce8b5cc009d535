//! Metrics from event fields named with the `monotonic_counter.`, `counter.`,
//! `histogram.` and `gauge.` prefixes: the instrument is made on first use, the event's
//! other fields are the attributes. Whether a callsite has metric fields is cached per
//! callsite.

use std::collections::HashMap;
use std::sync::RwLock;

use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use tracing_core::Metadata;

use super::callsites::{key, local_get, local_put, next_instance, ByCallsite, Local};
use crate::fields::{FieldValue, Fields};
use crate::metrics::{metric_of, MetricKind};

thread_local! {
    static EVENT_SITES: Local<bool> = Local::default();
}

/// One instrument made from an event field, of the kind and number type it names.
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

/// The number type of a metric field's value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Number {
    U64,
    I64,
    F64,
}

/// Metrics from event fields: the instruments made so far, and which callsites have
/// metric fields.
pub(crate) struct EventMetrics {
    instance: u64,
    meter: Meter,
    /// Per callsite: does any field name a metric?
    callsites: RwLock<ByCallsite<bool>>,
    instruments: RwLock<HashMap<(MetricKind, String, Number), Instrument>>,
}

impl EventMetrics {
    /// Event metrics recorded into `meter`.
    pub(crate) fn new(meter: Meter) -> EventMetrics {
        EventMetrics {
            instance: next_instance(),
            meter,
            callsites: RwLock::new(ByCallsite::default()),
            instruments: RwLock::new(HashMap::new()),
        }
    }

    /// Whether events of this callsite carry metric fields (cached per thread).
    #[inline]
    pub(crate) fn interested(&self, meta: &'static Metadata<'static>) -> bool {
        let key = key(meta);
        match local_get(&EVENT_SITES, self.instance, key, |v| *v) {
            Some(known) => known,
            None => self.learn(meta, key),
        }
    }

    /// Whether events of a callsite this thread has no copy of carry metric fields.
    #[inline(never)]
    fn learn(&self, meta: &'static Metadata<'static>, key: usize) -> bool {
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
            // Each instrument takes the value in its own number type (see `FieldValue`'s
            // conversions); a gauge's instrument is of the value's own type.
            match instrument {
                Instrument::CounterU64(c) => some(v.as_u64(), |x| c.add(x, &attrs)),
                Instrument::CounterF64(c) => {
                    some(v.as_f64().filter(|x| *x >= 0.0), |x| c.add(x, &attrs))
                }
                Instrument::UpDownI64(c) => some(v.as_i64(), |x| c.add(x, &attrs)),
                Instrument::UpDownF64(c) => some(v.as_f64(), |x| c.add(x, &attrs)),
                Instrument::HistogramU64(h) => some(v.as_u64(), |x| h.record(x, &attrs)),
                Instrument::HistogramF64(h) => some(v.as_f64(), |x| h.record(x, &attrs)),
                Instrument::GaugeU64(g) => some(v.as_u64(), |x| g.record(x, &attrs)),
                Instrument::GaugeI64(g) => some(v.as_i64(), |x| g.record(x, &attrs)),
                Instrument::GaugeF64(g) => some(v.as_f64(), |x| g.record(x, &attrs)),
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

/// Records `value` with `record`, if there is a value.
fn some<T>(value: Option<T>, record: impl FnOnce(T)) {
    if let Some(value) = value {
        record(value);
    }
}
