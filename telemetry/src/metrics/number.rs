//! The SDK's three number types of data points as `f64`, for the views that show
//! every point the same way (the Prometheus text, the test capture).

/// A data point's value as `f64` (`u64` and `i64` are exact below 2^53).
pub(crate) trait AsF64: Copy {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
}

impl AsF64 for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

impl AsF64 for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl AsF64 for i64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}
