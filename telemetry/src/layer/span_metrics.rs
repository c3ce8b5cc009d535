//! Span duration metrics: each closed span's duration into one histogram (request
//! rate, errors and duration per operation, sampled or not), by span name, function and
//! outcome. A callsite's series are bound once and cached per callsite, so recording a
//! span's duration allocates nothing once its callsite has been seen.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use opentelemetry::metrics::{BoundHistogram, Histogram, Meter};
use opentelemetry::KeyValue;
use tracing_core::field::Visit;
use tracing_core::span::{Attributes, Record};
use tracing_core::Metadata;

use super::callsites::{key, local_get, local_put, next_instance, ByCallsite, Local};
use crate::fields::{FieldValue, Fields, Select};
use crate::metrics::{SpanFilter, SpanMetricsConfig, DURATION_BUCKETS, SPAN_DURATION};

thread_local! {
    static SPAN_SITES: Local<Arc<CallsiteAttrs>> = Local::default();
}

/// The span fields that decide a span's outcome.
const OUTCOME_FIELDS: &[&str] = &["otel.status_code", "error.type"];

/// What the span duration metric keeps of one span (in its
/// [`SpanState`](super::span_state::SpanState)).
#[derive(Debug)]
pub(crate) struct SpanTiming {
    start: Instant,
    /// The `error.type` of a failed span, when known.
    error_type: Option<String>,
    /// Whether the span failed (`outcome = error`).
    error: bool,
    /// The callsite's bound series, when the callsite was seen before the span
    /// started: looked up once per span, at its start.
    site: Option<Arc<CallsiteAttrs>>,
    /// `code.function.name`, read only when the callsite is new.
    function: Option<String>,
}

impl SpanTiming {
    /// When the span started.
    pub(crate) fn started(&self) -> Instant {
        self.start
    }

    /// Starts timing a new span of a callsite measured, with its bound series `site`
    /// when it was seen before ([`SpanMetrics::measures`]) and the fields that decide
    /// its outcome.
    #[inline]
    pub(crate) fn start(
        site: Option<Arc<CallsiteAttrs>>,
        attrs: &Attributes<'_>,
        now: Instant,
    ) -> SpanTiming {
        // A known callsite without outcome fields needs no visit.
        let visit = site.as_ref().is_none_or(|site| site.reads_fields);
        let mut timing = SpanTiming {
            start: now,
            error_type: None,
            error: false,
            site,
            function: None,
        };
        if visit {
            timing.read(|visitor| attrs.record(visitor));
        }
        timing
    }

    /// Reads the outcome fields among values recorded later.
    pub(crate) fn record(&mut self, values: &Record<'_>) {
        self.read(|visitor| values.record(visitor));
    }

    /// Marks the span as failed, with `kind` as its `error.type` when given.
    pub(crate) fn fail(&mut self, kind: Option<&str>) {
        self.error = true;
        if let Some(kind) = kind {
            self.error_type = Some(kind.to_string());
        }
    }

    /// Reads the few fields that decide the metric's attributes, as text, allocating
    /// nothing for the others; `code.function.name` only when the callsite is new: no
    /// string per span otherwise.
    fn read(&mut self, record: impl FnOnce(&mut dyn Visit)) {
        let values = if self.site.is_some() {
            let mut fields = Fields::<Outcome>::selecting();
            record(&mut fields);
            fields.values
        } else {
            let mut fields = Fields::<OutcomeAndFunction>::selecting();
            record(&mut fields);
            fields.values
        };
        for (name, value) in values {
            let FieldValue::Str(value) = value else {
                continue;
            };
            match name {
                "otel.status_code" if value.eq_ignore_ascii_case("error") => self.error = true,
                "error.type" => {
                    self.error = true;
                    self.error_type = Some(value);
                }
                "code.function.name" => self.function = Some(value),
                _ => {}
            }
        }
    }
}

/// The span fields that decide a span's outcome, read as text.
struct Outcome;

impl Select for Outcome {
    const TEXT: Option<&'static [&'static str]> = Some(OUTCOME_FIELDS);
}

/// The same and `code.function.name`, read for a callsite not seen before.
struct OutcomeAndFunction;

impl Select for OutcomeAndFunction {
    const TEXT: Option<&'static [&'static str]> =
        Some(&["otel.status_code", "error.type", "code.function.name"]);
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

/// Span duration metrics: the histogram, the bound series of every callsite seen, and
/// the cardinality limit.
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
    /// Span duration metrics recorded into `meter`; attribute sets past the
    /// configured cardinality limit are counted in `overflow`.
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
    fn wants(&self, meta: &Metadata<'_>) -> bool {
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

    /// Whether spans of this callsite are measured (`None` when not), with its bound
    /// series when the callsite was seen before. A callsite this thread has a copy of
    /// is measured: only those are ever bound.
    #[inline]
    pub(crate) fn measures(
        &self,
        meta: &'static Metadata<'static>,
    ) -> Option<Option<Arc<CallsiteAttrs>>> {
        let key = key(meta);
        match local_get(&SPAN_SITES, self.instance, key, Arc::clone) {
            Some(site) => Some(Some(site)),
            None => self.measures_new(meta, key),
        }
    }

    /// [`measures`](Self::measures) for a callsite this thread has no copy of.
    #[inline(never)]
    fn measures_new(
        &self,
        meta: &'static Metadata<'static>,
        key: usize,
    ) -> Option<Option<Arc<CallsiteAttrs>>> {
        self.wants(meta).then(|| self.shared_callsite(key))
    }

    /// The bound series of a callsite seen before (`None` for a new one): from this
    /// thread's copy, else from the shared map (copied to this thread for next time).
    #[inline]
    fn callsite(&self, meta: &'static Metadata<'static>) -> Option<Arc<CallsiteAttrs>> {
        let key = key(meta);
        match local_get(&SPAN_SITES, self.instance, key, Arc::clone) {
            Some(site) => Some(site),
            None => self.shared_callsite(key),
        }
    }

    /// The bound series of a callsite this thread has no copy of, from the shared map.
    #[inline(never)]
    fn shared_callsite(&self, key: usize) -> Option<Arc<CallsiteAttrs>> {
        let shared = self.cache.read().ok().and_then(|c| c.get(&key).cloned())?;
        local_put(&SPAN_SITES, self.instance, key, shared.clone());
        Some(shared)
    }

    /// Records the duration of a closed span of callsite `meta`.
    pub(crate) fn record(
        &self,
        meta: &'static Metadata<'static>,
        timing: &SpanTiming,
        end: Instant,
    ) {
        let seconds = end.saturating_duration_since(timing.start).as_secs_f64();
        if let Some(site) = &timing.site {
            return self.record_into(site, timing, seconds);
        }
        // A callsite seen since the span started.
        if let Some(site) = self.callsite(meta) {
            return self.record_into(&site, timing, seconds);
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
            reads_fields: OUTCOME_FIELDS.iter().any(|f| fields.field(f).is_some()),
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
