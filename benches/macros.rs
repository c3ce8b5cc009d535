//! `#[traced]` against the hand-written `info_span!` + `in_scope` doing the same work
//! (same name, same attributes), through a registry with the telemetry layer (spans
//! created and sampled, exported nowhere), enabled and level-filtered.
//!
//! `cargo bench --bench macros -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use telemetry::prelude::*;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

#[traced]
fn traced_work(order: u64) -> u64 {
    black_box(order).wrapping_mul(31)
}

fn hand_written_work(order: u64) -> u64 {
    static PATH: &str = "macros::hand_written_work";
    tracing::info_span!(
        "hand_written_work",
        code.function.name = PATH,
        order = order
    )
    .in_scope(|| black_box(order).wrapping_mul(31))
}

#[traced(level = "debug")]
fn traced_filtered(order: u64) -> u64 {
    black_box(order).wrapping_mul(31)
}

fn hand_written_filtered(order: u64) -> u64 {
    static PATH: &str = "macros::hand_written_filtered";
    tracing::debug_span!(
        "hand_written_filtered",
        code.function.name = PATH,
        order = order
    )
    .in_scope(|| black_box(order).wrapping_mul(31))
}

fn dispatch(filter: LevelFilter) -> tracing::Dispatch {
    let telemetry = Telemetry::builder()
        .traces_exporter(telemetry::ExporterKind::None)
        .build()
        .expect("telemetry builds");
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(telemetry.layer());
    tracing::Dispatch::new(subscriber)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("traced_vs_info_span");
    let enabled = dispatch(LevelFilter::INFO);
    tracing::dispatcher::with_default(&enabled, || {
        group.bench_function("traced", |b| b.iter(|| traced_work(black_box(42))));
        group.bench_function("info_span", |b| b.iter(|| hand_written_work(black_box(42))));
        // Level-filtered: `level = "debug"` under an INFO filter.
        group.bench_function("traced_filtered", |b| {
            b.iter(|| traced_filtered(black_box(42)))
        });
        group.bench_function("info_span_filtered", |b| {
            b.iter(|| hand_written_filtered(black_box(42)))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
