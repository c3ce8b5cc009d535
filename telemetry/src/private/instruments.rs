//! The error counter and the duration histogram, through the global meter provider.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue};

use super::{
    Site, CODE_FUNCTION_NAME, DURATION_BUCKETS, DURATION_HISTOGRAM, ERRORS_COUNTER, ERROR_TYPE,
    METER_SCOPE, OUTCOME, OUTCOME_ERROR, OUTCOME_OK,
};

/// The instruments, made from the global meter provider and remade when another
/// provider is installed (instruments from the no-op provider that is global before
/// `init` would otherwise stay no-ops).
struct Instruments {
    provider: Arc<dyn MeterProvider + Send + Sync>,
    errors: Counter<u64>,
    duration: Histogram<f64>,
}

static INSTRUMENTS: RwLock<Option<Instruments>> = RwLock::new(None);

fn with_instruments(f: impl FnOnce(&Instruments)) {
    let provider = opentelemetry::global::meter_provider();
    {
        let cached = INSTRUMENTS.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(instruments) = cached.as_ref() {
            if Arc::ptr_eq(&instruments.provider, &provider) {
                f(instruments);
                return;
            }
        }
    }
    let meter = provider.meter_with_scope(
        InstrumentationScope::builder(METER_SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    );
    let instruments = Instruments {
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
        provider,
    };
    f(&instruments);
    let mut cached = INSTRUMENTS.write().unwrap_or_else(PoisonError::into_inner);
    *cached = Some(instruments);
}

pub(super) fn count_error(site: &'static Site, kind: &'static str) {
    let attributes = [
        KeyValue::new(CODE_FUNCTION_NAME, site.path()),
        KeyValue::new(ERROR_TYPE, kind),
    ];
    with_instruments(|i| i.errors.add(1, &attributes));
}

pub(super) fn record_duration(
    site: &'static Site,
    elapsed: Duration,
    error_kind: Option<&'static str>,
) {
    let seconds = elapsed.as_secs_f64();
    let path = KeyValue::new(CODE_FUNCTION_NAME, site.path());
    match error_kind {
        None => {
            let attributes = [path, KeyValue::new(OUTCOME, OUTCOME_OK)];
            with_instruments(|i| i.duration.record(seconds, &attributes));
        }
        Some(kind) => {
            let attributes = [
                path,
                KeyValue::new(OUTCOME, OUTCOME_ERROR),
                KeyValue::new(ERROR_TYPE, kind),
            ];
            with_instruments(|i| i.duration.record(seconds, &attributes));
        }
    }
}
