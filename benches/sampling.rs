//! What a span costs when it is sampled and when it is not.
//!
//! One span lifecycle: a span with 3 attributes, enter, one event with 2 fields, exit,
//! close; through `registry + telemetry layer` with no exporter (spans are built, then
//! dropped instead of queued). Baseline: the bare registry.
//!
//! `cargo bench --bench sampling -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion};
use telemetry::export::ExporterKind;
use telemetry::sampling::Sampler;
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

fn lifecycle() {
    let span = tracing::info_span!(
        "GET /users/{id}",
        user.id = 42_i64,
        http.route = "/users/{id}",
        cache = false
    );
    let entered = span.enter();
    tracing::info!(items = 3_i64, cache.hit = true, "loaded");
    drop(entered);
    drop(span);
}

fn telemetry_with(sampler: Sampler) -> Telemetry {
    Telemetry::builder()
        .service_name("sampling-bench")
        .sampler(sampler)
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .build()
        .expect("bench telemetry")
}

fn span_lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_lifecycle");
    group.bench_function("bare_registry", |b| {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || b.iter(lifecycle));
    });
    let cases = [
        ("sampled/always_on", Sampler::AlwaysOn),
        ("sampled/parentbased_always_on", Sampler::default()),
        ("unsampled/always_off", Sampler::AlwaysOff),
        ("unsampled/traceidratio_0", Sampler::TraceIdRatio(0.0)),
        (
            "unsampled/parentbased_always_off",
            Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        ),
    ];
    for (name, sampler) in cases {
        let telemetry = telemetry_with(sampler);
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
        group.bench_function(name, |b| {
            tracing::dispatcher::with_default(&dispatch, || b.iter(lifecycle));
        });
        let _ = telemetry.shutdown();
    }
    group.finish();
}

criterion_group!(benches, span_lifecycle);
criterion_main!(benches);
