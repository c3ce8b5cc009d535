//! Items the attribute macros' expansions call. Not a public API: no stability promise.

pub use opentelemetry;
pub use tracing;
