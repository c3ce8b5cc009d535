//! The same program works with no runtime, a current-thread and a multi-thread tokio
//! runtime, over gRPC and HTTP; shutdown is bounded when the collector is unreachable
//! or hangs, and safe to call twice.

mod common;

use std::time::{Duration, Instant};

use common::{telemetry_for, FakeCollector, Reply, Wire};
use telemetry::export::Protocol;
use telemetry::{ShutdownError, Telemetry};
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

const SPANS_PER_RUN: usize = 20;

fn sync_workload() {
    for i in 0..SPANS_PER_RUN / 2 {
        let _outer = tracing::info_span!("sync.outer", i).entered();
        tracing::info_span!("sync.inner").in_scope(|| tracing::info!("work"));
    }
}

async fn async_workload() {
    for i in 0..SPANS_PER_RUN / 2 {
        async {
            tokio::task::yield_now().await;
            async { tracing::info!("work") }
                .instrument(tracing::info_span!("async.inner"))
                .await;
        }
        .instrument(tracing::info_span!("async.outer", i))
        .await;
    }
}

#[derive(Clone, Copy, Debug)]
enum Runtime {
    None,
    CurrentThread,
    MultiThread,
}

/// Runs the workload in the given runtime, then shuts down *from inside* it (where a
/// blocking call could deadlock or panic with "no reactor running").
fn run(runtime: Runtime, wire: Wire, protocol: Protocol) {
    let collector = FakeCollector::start(wire);
    let telemetry = telemetry_for(&collector, protocol, Duration::from_secs(5));
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let _default = tracing::subscriber::set_default(subscriber);
    let report = match runtime {
        Runtime::None => {
            sync_workload();
            sync_workload();
            telemetry.guard().shutdown()
        }
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                async_workload().await;
                sync_workload();
                telemetry.guard().shutdown()
            }),
        Runtime::MultiThread => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let t = telemetry.clone();
                // Spans from a spawned task too.
                tokio::spawn(async_workload().with_current_subscriber())
                    .await
                    .unwrap();
                sync_workload();
                t.guard().shutdown()
            }),
    }
    .unwrap_or_else(|e| panic!("{runtime:?}/{protocol:?}: shutdown failed: {e}"));
    assert_eq!(
        report.traces.received,
        SPANS_PER_RUN as u64 * 2,
        "{runtime:?}"
    );
    assert_eq!(
        report.traces.exported,
        SPANS_PER_RUN as u64 * 2,
        "{runtime:?}"
    );
    assert_eq!(
        collector.span_count(),
        SPANS_PER_RUN * 2,
        "{runtime:?}/{protocol:?}"
    );
    // A second shutdown is harmless.
    assert_eq!(telemetry.shutdown(), Err(ShutdownError::AlreadyShutdown));
}

use tracing::instrument::WithSubscriber as _;

#[test]
fn no_runtime_over_grpc() {
    run(Runtime::None, Wire::Grpc, Protocol::Grpc);
}

#[test]
fn no_runtime_over_http() {
    run(Runtime::None, Wire::Http, Protocol::HttpProtobuf);
}

#[test]
fn current_thread_runtime_over_grpc() {
    run(Runtime::CurrentThread, Wire::Grpc, Protocol::Grpc);
}

#[test]
fn current_thread_runtime_over_http() {
    run(Runtime::CurrentThread, Wire::Http, Protocol::HttpProtobuf);
}

#[test]
fn multi_thread_runtime_over_grpc() {
    run(Runtime::MultiThread, Wire::Grpc, Protocol::Grpc);
}

#[test]
fn multi_thread_runtime_over_http() {
    run(Runtime::MultiThread, Wire::Http, Protocol::HttpProtobuf);
}

#[tokio::test(flavor = "current_thread")]
async fn tokio_main_current_thread_with_guard_drop() {
    let collector = FakeCollector::start(Wire::Grpc);
    let telemetry = telemetry_for(&collector, Protocol::Grpc, Duration::from_secs(5));
    {
        let _guard = telemetry.guard();
        let subscriber = tracing_subscriber::registry().with(telemetry.layer());
        let _default = tracing::subscriber::set_default(subscriber);
        async_workload().await;
    } // the guard drops here, inside the runtime
    assert_eq!(collector.span_count(), SPANS_PER_RUN);
}

/// A port with nothing listening on it.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn shutdown_is_bounded(
    protocol: Protocol,
    endpoint: String,
    timeout: Duration,
) -> Result<telemetry::health::ShutdownReport, ShutdownError> {
    let telemetry = Telemetry::builder()
        .endpoint(endpoint)
        .protocol(protocol)
        .timeout(Duration::from_secs(30))
        .shutdown_timeout(timeout)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, sync_workload);
    let started = Instant::now();
    let result = telemetry.shutdown();
    let took = started.elapsed();
    // Generous margin for a loaded CI machine; without the bound this would take 30 s.
    assert!(
        took < timeout + Duration::from_secs(5),
        "{protocol:?}: shutdown took {took:?}"
    );
    let report = telemetry.traces_report();
    assert_eq!(report.received, (SPANS_PER_RUN) as u64);
    assert_eq!(report.exported, 0);
    assert_eq!(
        report.received,
        report.exported + report.dropped + report.pending,
        "every span accounted for: {report:?}"
    );
    result
}

#[test]
fn unreachable_collector_never_blocks_shutdown() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let result = shutdown_is_bounded(protocol, dead_endpoint(), Duration::from_secs(2));
        assert!(result.is_err(), "{protocol:?}: the failure is reported");
    }
}

#[test]
fn hung_collector_shutdown_returns_at_the_timeout() {
    for (wire, protocol) in [
        (Wire::Grpc, Protocol::Grpc),
        (Wire::Http, Protocol::HttpProtobuf),
    ] {
        let collector = FakeCollector::scripted(wire, []);
        collector.otherwise(Reply::Hang);
        let result = shutdown_is_bounded(protocol, collector.endpoint(), Duration::from_secs(1));
        match result.as_ref().map_err(ShutdownError::failures) {
            Err([ShutdownError::Timeout { .. } | ShutdownError::Export { .. }, ..]) => {}
            other => panic!("{protocol:?}: expected a timeout, got {other:?}"),
        }
        assert!(
            !collector.requests().is_empty(),
            "the request did reach the collector"
        );
    }
}

#[test]
fn recording_spans_while_the_collector_is_down_does_not_block() {
    let telemetry = Telemetry::builder()
        .endpoint(dead_endpoint())
        .protocol(Protocol::HttpProtobuf)
        .shutdown_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..5_000 {
            tracing::info_span!("while.down").in_scope(|| {});
        }
    });
    let report = telemetry.traces_report();
    assert_eq!(report.received, 5_000);
    assert_eq!(
        report.received,
        report.exported + report.dropped + report.pending
    );
    let _ = telemetry.shutdown();
}
