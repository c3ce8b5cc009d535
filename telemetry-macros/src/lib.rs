//! Attribute macros for the `telemetry` crate. Use them through `telemetry`'s
//! re-exports (`use telemetry::prelude::*;`), not from this crate directly.
