//! The macros' metrics of one call: the error counter and the duration histogram,
//! recorded into the instance whose layer records the call (see
//! [`InstanceMetrics`](crate::metrics::InstanceMetrics)), or, when no telemetry layer is installed, into
//! OpenTelemetry's global meter provider.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use opentelemetry::metrics::{BoundHistogram, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue};

use super::Site;
use crate::metrics::{
    with_instance, FunctionInstruments, CODE_FUNCTION_NAME, ERROR_TYPE, METER_SCOPE, OUTCOME,
    OUTCOME_ERROR, OUTCOME_OK,
};

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
