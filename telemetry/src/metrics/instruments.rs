//! The names, units and bucket boundaries of every instrument the library records by
//! itself, and the attribute names they carry: defined once, here.

/// The span duration histogram the layer records (unit `s`).
pub const SPAN_DURATION: &str = "span.duration";

/// The counter of errors and panics that `#[track_errors]` records (unit `{error}`;
/// attributes `code.function.name`, `error.type`).
pub const FUNCTION_ERRORS: &str = "function.errors";

/// The duration histogram that `#[measure_performance]` records (unit `s`; attributes
/// `code.function.name`, `outcome`, and `error.type` on errors).
pub const FUNCTION_DURATION: &str = "function.duration";

/// The bucket boundaries, in seconds, of every duration histogram the library records
/// (spans, functions, HTTP requests): the ones OpenTelemetry's semantic conventions
/// advise for durations (the SDK's default is millisecond-scale).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The HTTP server duration histogram (unit `s`).
#[cfg(feature = "http")]
pub(crate) const SERVER_DURATION: &str = "http.server.request.duration";
/// Its description.
#[cfg(feature = "http")]
pub(crate) const SERVER_DURATION_DESCRIPTION: &str = "Duration of HTTP server requests.";
/// The HTTP client duration histogram (unit `s`).
#[cfg(feature = "http")]
pub(crate) const CLIENT_DURATION: &str = "http.client.request.duration";
/// Its description.
#[cfg(feature = "http")]
pub(crate) const CLIENT_DURATION_DESCRIPTION: &str = "Duration of HTTP client requests.";

/// A duration histogram in seconds with the library's buckets.
pub(crate) fn duration_histogram(
    meter: &opentelemetry::metrics::Meter,
    name: &'static str,
    description: &'static str,
) -> opentelemetry::metrics::Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(DURATION_BUCKETS.to_vec())
        .build()
}

/// The instrumentation scope of the library's instruments.
pub(crate) const METER_SCOPE: &str = "telemetry";
/// Attribute: the function's full path.
pub(crate) const CODE_FUNCTION_NAME: &str = "code.function.name";
/// Attribute: the error's type.
pub(crate) const ERROR_TYPE: &str = "error.type";
/// [`ERROR_TYPE`] when nothing more specific is known.
pub(crate) const ERROR_TYPE_OTHER: &str = "_OTHER";
/// Attribute of the duration histograms: `ok` or `error`.
pub(crate) const OUTCOME: &str = "outcome";
/// [`OUTCOME`] of a successful call.
pub(crate) const OUTCOME_OK: &str = "ok";
/// [`OUTCOME`] of a failed or panicking call.
pub(crate) const OUTCOME_ERROR: &str = "error";

/// The instrumentation scope of everything the library records (its spans too).
pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(METER_SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}
