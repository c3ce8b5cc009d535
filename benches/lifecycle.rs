//! The span lifecycle through every setup, side by side in one group: no subscriber,
//! level-filtered, registry only, the hand-assembled baselines (tracing-opentelemetry +
//! SDK batch processor; plus MetricsLayer and the appender-tracing log bridge) and ours
//! (traces only; spans + span metrics + logs; unsampled; disabled).
//!
//! ```text
//! cargo bench --bench lifecycle
//! ```
//!
//! After each pipeline, outside the timing, it prints how many spans were created,
//! exported and dropped: a pipeline that drops most of its spans measures the wrong
//! thing.

#[path = "support/setups.rs"]
mod setups;

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_lifecycle");
    for name in setups::NAMES {
        let setup = setups::setup(name);
        let created = AtomicU64::new(0);
        tracing::dispatcher::with_default(&setup.dispatch, || {
            group.bench_function(name, |b| {
                b.iter(|| {
                    setups::lifecycle();
                    created.fetch_add(1, Ordering::Relaxed);
                })
            });
        });
        let report = setup.finish();
        let created = created.load(Ordering::Relaxed);
        if let Some(exported) = report.exported.filter(|_| created > 0) {
            // The SDK's batch processor does not count its drops: only the difference
            // is known. Ours counts them; what is neither exported nor dropped was not
            // sampled.
            let (dropped, how, unsampled) = match report.dropped {
                Some(d) => (d, "", created.saturating_sub(exported + d)),
                None => (created.saturating_sub(exported), " (uncounted)", 0),
            };
            eprintln!(
                "{name}: created {created}, exported {exported}, not sampled {unsampled}, dropped {dropped}{how} ({:.1} %), logs exported {}",
                100.0 * dropped as f64 / created.max(1) as f64,
                report.logs_exported.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            );
        }
    }
    group.finish();

    // A root with three children: what a request costs, sampled or not.
    let mut group = c.benchmark_group("trace_of_four_spans");
    for name in ["baseline_full", "ours_full", "ours_unsampled"] {
        let setup = setups::setup(name);
        tracing::dispatcher::with_default(&setup.dispatch, || {
            group.bench_function(name, |b| b.iter(setups::lifecycle_tree));
        });
        let _ = setup.finish();
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
