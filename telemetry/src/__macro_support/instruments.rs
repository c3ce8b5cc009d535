//! The error counter and the duration histogram of the macros, recorded into the
//! instance whose layer records the call: found through the dispatcher, as the span's
//! error marking is, so `install_globals(false)` loses nothing and two instances never
//! mix. Only when no telemetry layer is installed do they fall back to OpenTelemetry's
//! global meter provider.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use opentelemetry::metrics::{BoundHistogram, Counter, Histogram, Meter, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue};

use super::{
    Site, CODE_FUNCTION_NAME, DURATION_BUCKETS, DURATION_HISTOGRAM, ERRORS_COUNTER, ERROR_TYPE,
    METER_SCOPE, OUTCOME, OUTCOME_ERROR, OUTCOME_OK,
};

/// The instruments that code outside the layer records into (the macros here, the HTTP
/// layers in `http`), one set per [`Telemetry`](crate::Telemetry), each made on first
/// use from the instance's meter. The layer hands it out through `downcast_raw`.
pub(crate) struct InstanceMetrics {
    instance: u64,
    meter: Meter,
    functions: OnceLock<FunctionInstruments>,
    #[cfg(feature = "http")]
    http: OnceLock<crate::http::HttpInstruments>,
}

impl std::fmt::Debug for InstanceMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceMetrics")
            .field("instance", &self.instance)
            .finish()
    }
}

impl InstanceMetrics {
    /// The instruments of the instance whose meter is `meter`.
    pub(crate) fn new(meter: Meter) -> InstanceMetrics {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        InstanceMetrics {
            instance: NEXT.fetch_add(1, Ordering::Relaxed),
            meter,
            functions: OnceLock::new(),
            #[cfg(feature = "http")]
            http: OnceLock::new(),
        }
    }

    fn functions(&self) -> &FunctionInstruments {
        self.functions
            .get_or_init(|| FunctionInstruments::new(&self.meter))
    }

    /// The HTTP duration histograms of this instance.
    #[cfg(feature = "http")]
    pub(crate) fn http(&self) -> &crate::http::HttpInstruments {
        self.http
            .get_or_init(|| crate::http::HttpInstruments::new(&self.meter))
    }
}

/// Runs `f` with the instruments of the instance that records `span` (or, for a span
/// no layer records, of the dispatcher current on this thread). `None` when no
/// telemetry layer is installed there.
pub(crate) fn with_instance<R>(
    span: Option<&tracing::Span>,
    f: impl FnOnce(&InstanceMetrics) -> R,
) -> Option<R> {
    let mut f = Some(f);
    if let Some(span) = span {
        let found = span
            .with_subscriber(|(_, dispatch)| {
                let metrics = dispatch.downcast_ref::<InstanceMetrics>()?;
                f.take().map(|f| f(metrics))
            })
            .flatten();
        if found.is_some() {
            return found;
        }
    }
    tracing::dispatcher::get_default(|dispatch| {
        let metrics = dispatch.downcast_ref::<InstanceMetrics>()?;
        f.take().map(|f| f(metrics))
    })
}

/// The macros' two instruments.
struct FunctionInstruments {
    errors: Counter<u64>,
    duration: Histogram<f64>,
}

impl FunctionInstruments {
    fn new(meter: &Meter) -> FunctionInstruments {
        FunctionInstruments {
            errors: meter
                .u64_counter(ERRORS_COUNTER)
                .with_unit("{error}")
                .with_description("Errors returned and panics raised by instrumented functions")
                .build(),
            duration: meter
                .f64_histogram(DURATION_HISTOGRAM)
                .with_unit("s")
                .with_description("Duration of calls of instrumented functions")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
        }
    }
}

/// A callsite's successful-call series, bound once for the first instance that records
/// it: then a call's duration is one lock-free record, with no attribute hashing.
pub(super) struct Series {
    instance: u64,
    ok: BoundHistogram<f64>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("instance", &self.instance)
            .finish()
    }
}

pub(super) fn count_error(site: &'static Site, span: Option<&tracing::Span>, kind: &'static str) {
    let attributes = [
        KeyValue::new(CODE_FUNCTION_NAME, site.path()),
        KeyValue::new(ERROR_TYPE, kind),
    ];
    let routed = with_instance(span, |m| m.functions().errors.add(1, &attributes));
    if routed.is_none() {
        with_global(|i| i.errors.add(1, &attributes));
    }
}

pub(super) fn record_duration(
    site: &'static Site,
    span: Option<&tracing::Span>,
    elapsed: Duration,
    error_kind: Option<&'static str>,
) {
    let seconds = elapsed.as_secs_f64();
    let path = || KeyValue::new(CODE_FUNCTION_NAME, site.path());
    let routed = with_instance(span, |m| match error_kind {
        None => {
            let series = site.series.get_or_init(|| Series {
                instance: m.instance,
                ok: m
                    .functions()
                    .duration
                    .bind(&[path(), KeyValue::new(OUTCOME, OUTCOME_OK)]),
            });
            if series.instance == m.instance {
                series.ok.record(seconds);
            } else {
                // Another instance than the one the series was bound for.
                let attributes = [path(), KeyValue::new(OUTCOME, OUTCOME_OK)];
                m.functions().duration.record(seconds, &attributes);
            }
        }
        Some(kind) => {
            let attributes = [
                path(),
                KeyValue::new(OUTCOME, OUTCOME_ERROR),
                KeyValue::new(ERROR_TYPE, kind),
            ];
            m.functions().duration.record(seconds, &attributes);
        }
    });
    if routed.is_some() {
        return;
    }
    match error_kind {
        None => {
            let attributes = [path(), KeyValue::new(OUTCOME, OUTCOME_OK)];
            with_global(|i| i.duration.record(seconds, &attributes));
        }
        Some(kind) => {
            let attributes = [
                path(),
                KeyValue::new(OUTCOME, OUTCOME_ERROR),
                KeyValue::new(ERROR_TYPE, kind),
            ];
            with_global(|i| i.duration.record(seconds, &attributes));
        }
    }
}

/// The instruments of the global meter provider, for calls that no telemetry layer
/// records, remade when another provider is installed (instruments from the no-op
/// provider that is global at first would otherwise stay no-ops).
struct Global {
    provider: Arc<dyn MeterProvider + Send + Sync>,
    instruments: FunctionInstruments,
}

static GLOBAL: RwLock<Option<Global>> = RwLock::new(None);

fn with_global(f: impl FnOnce(&FunctionInstruments)) {
    let provider = opentelemetry::global::meter_provider();
    {
        let cached = GLOBAL.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(global) = cached.as_ref() {
            if Arc::ptr_eq(&global.provider, &provider) {
                f(&global.instruments);
                return;
            }
        }
    }
    let meter = provider.meter_with_scope(
        InstrumentationScope::builder(METER_SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    );
    let global = Global {
        instruments: FunctionInstruments::new(&meter),
        provider,
    };
    f(&global.instruments);
    let mut cached = GLOBAL.write().unwrap_or_else(PoisonError::into_inner);
    *cached = Some(global);
}
