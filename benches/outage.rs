//! Recording a span costs the application the same whether the collector is healthy,
//! down (connection refused, circuit open) or hanging: exporting never happens on the
//! application's thread.
//!
//! ```text
//! cargo bench --bench outage
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{free_addr, FakeCollector, Reply, Wire};
use criterion::{criterion_group, criterion_main, Criterion};
use telemetry::export::Protocol;
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

/// The measured span lifecycle: a span with 3 attributes, enter, one event with 2
/// fields, exit, close.
fn lifecycle() {
    let span = tracing::info_span!("request", a = 1_u64, b = "two", c = true);
    let _entered = span.enter();
    tracing::info!(x = 1_u64, y = 2_u64, "event");
}

fn bench(c: &mut Criterion) {
    let healthy = FakeCollector::start(Wire::Http);
    let hanging = FakeCollector::scripted(Wire::Http, []);
    hanging.otherwise(Reply::Hang);
    let cases = [
        ("healthy_collector", healthy.endpoint()),
        ("collector_down", format!("http://{}", free_addr())),
        ("collector_hanging", hanging.endpoint()),
    ];
    let mut group = c.benchmark_group("span_lifecycle_during_outage");
    for (name, endpoint) in cases {
        let telemetry = Telemetry::builder()
            .endpoint(endpoint)
            .protocol(Protocol::HttpProtobuf)
            .timeout(Duration::from_millis(500))
            .shutdown_timeout(Duration::from_secs(1))
            .build()
            .expect("telemetry");
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
        tracing::dispatcher::with_default(&dispatch, || {
            group.bench_function(name, |b| b.iter(lifecycle));
        });
        let _ = telemetry.shutdown();
        let r = telemetry.traces_report();
        eprintln!(
            "{name}: created {} exported {} dropped {} (queue_full {}, buffer_full {}, shutdown {}) pending {}",
            r.received,
            r.exported,
            r.dropped,
            r.dropped_by_reason.queue_full,
            r.dropped_by_reason.buffer_full,
            r.dropped_by_reason.shutdown,
            r.pending
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
