//! `#[traced]` against the hand-written `info_span!` + `in_scope` doing the same work
//! (same name, same attributes), through a registry with the telemetry layer (spans
//! created and sampled, exported nowhere), enabled and level-filtered. Shared by
//! `benches/macros.rs` and the instruction-count driver `examples/lifecycle.rs`.

#![allow(dead_code)]

use std::hint::black_box;

use telemetry::prelude::*;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

#[traced]
#[inline(never)]
pub fn traced_work(order: u64) -> u64 {
    black_box(order).wrapping_mul(31)
}

#[inline(never)]
pub fn hand_written_work(order: u64) -> u64 {
    static PATH: &str = "macros::hand_written_work";
    tracing::info_span!(
        "hand_written_work",
        code.function.name = PATH,
        order = order
    )
    .in_scope(|| black_box(order).wrapping_mul(31))
}

#[traced(level = "debug")]
#[inline(never)]
pub fn traced_filtered(order: u64) -> u64 {
    black_box(order).wrapping_mul(31)
}

#[inline(never)]
pub fn hand_written_filtered(order: u64) -> u64 {
    static PATH: &str = "macros::hand_written_filtered";
    tracing::debug_span!(
        "hand_written_filtered",
        code.function.name = PATH,
        order = order
    )
    .in_scope(|| black_box(order).wrapping_mul(31))
}

/// `#[traced]` and `#[measure_performance]`: a span and a `function.duration` record.
#[traced]
#[measure_performance]
#[inline(never)]
pub fn measured_work(order: u64) -> u64 {
    black_box(order).wrapping_mul(31)
}

/// `#[measure_performance]` alone: a `function.duration` record, no span.
#[measure_performance]
#[inline(never)]
pub fn measured_only_work(order: u64) -> u64 {
    black_box(order).wrapping_mul(31)
}

/// A workload: one call of an instrumented function.
pub type Work = fn(u64) -> u64;

/// The workloads by name.
pub const NAMES: [(&str, Work); 6] = [
    ("traced", traced_work),
    ("hand_written", hand_written_work),
    ("traced_filtered", traced_filtered),
    ("hand_written_filtered", hand_written_filtered),
    ("measured", measured_work),
    ("measured_only", measured_only_work),
];

/// A registry with an INFO filter and the telemetry layer (spans exported nowhere).
/// Its meter provider is also the global one, so that the `measured` workloads record
/// into a real SDK provider however the macros find it.
pub fn dispatch() -> (tracing::Dispatch, Telemetry) {
    let telemetry = Telemetry::builder()
        .traces_exporter(telemetry::export::ExporterKind::None)
        .install_globals(true)
        .build()
        .expect("telemetry builds");
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(telemetry.layer());
    (tracing::Dispatch::new(subscriber), telemetry)
}
