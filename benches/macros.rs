//! `#[traced]` against the hand-written `info_span!` + `in_scope` doing the same work
//! (see `support/macro_work.rs`), enabled and level-filtered (`level = "debug"` under an
//! INFO filter).
//!
//! `cargo bench --bench macros -- --warm-up-time 1 --measurement-time 3`

#[path = "support/macro_work.rs"]
mod macro_work;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("traced_vs_info_span");
    let (dispatch, _telemetry) = macro_work::dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        for (name, work) in macro_work::NAMES {
            group.bench_function(name, |b| b.iter(|| work(black_box(42))));
        }
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
