//! The instruments of one [`Telemetry`](crate::Telemetry) that code outside the layer
//! records into (the macros' error counter and duration histogram, the HTTP layers'
//! histograms), found through the dispatcher as the span's error marking is, so
//! `install_globals(false)` loses nothing and two instances never mix.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use opentelemetry::metrics::{Counter, Histogram, Meter};

use super::instruments::duration_histogram;
#[cfg(feature = "http")]
use super::instruments::{
    CLIENT_DURATION, CLIENT_DURATION_DESCRIPTION, SERVER_DURATION, SERVER_DURATION_DESCRIPTION,
};
use super::{FUNCTION_DURATION, FUNCTION_ERRORS};

/// The instruments that code outside the layer records into (the macros here, the HTTP
/// layers in `http`), one set per [`Telemetry`](crate::Telemetry), each made on first
/// use from the instance's meter. The layer hands it out through `downcast_raw`.
pub(crate) struct InstanceMetrics {
    pub(crate) instance: u64,
    meter: Meter,
    functions: OnceLock<FunctionInstruments>,
    #[cfg(feature = "http")]
    http: OnceLock<HttpInstruments>,
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

    /// The macros' instruments of this instance.
    pub(crate) fn functions(&self) -> &FunctionInstruments {
        self.functions
            .get_or_init(|| FunctionInstruments::new(&self.meter))
    }

    /// The HTTP duration histograms of this instance.
    #[cfg(feature = "http")]
    pub(crate) fn http(&self) -> &HttpInstruments {
        self.http.get_or_init(|| HttpInstruments::new(&self.meter))
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
pub(crate) struct FunctionInstruments {
    pub(crate) errors: Counter<u64>,
    pub(crate) duration: Histogram<f64>,
}

impl FunctionInstruments {
    /// Makes both on `meter`.
    pub(crate) fn new(meter: &Meter) -> FunctionInstruments {
        FunctionInstruments {
            errors: meter
                .u64_counter(FUNCTION_ERRORS)
                .with_unit("{error}")
                .with_description("Errors returned and panics raised by instrumented functions")
                .build(),
            duration: duration_histogram(
                meter,
                FUNCTION_DURATION,
                "Duration of calls of instrumented functions",
            ),
        }
    }
}

/// The two duration histograms of one [`Telemetry`](crate::Telemetry) instance.
#[cfg(feature = "http")]
pub(crate) struct HttpInstruments {
    pub(crate) server: Histogram<f64>,
    pub(crate) client: Histogram<f64>,
}

#[cfg(feature = "http")]
impl HttpInstruments {
    /// Makes both on `meter`.
    pub(crate) fn new(meter: &Meter) -> HttpInstruments {
        HttpInstruments {
            server: duration_histogram(meter, SERVER_DURATION, SERVER_DURATION_DESCRIPTION),
            client: duration_histogram(meter, CLIENT_DURATION, CLIENT_DURATION_DESCRIPTION),
        }
    }
}
