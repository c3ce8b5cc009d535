//! Batches are cut by their encoded size, requests a collector refuses for their size
//! are split and sent again, and only an item too large on its own is dropped.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{FakeCollector, Wire};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use telemetry::export::{BatchConfig, Protocol};
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

const MIB: usize = 1024 * 1024;

/// Telemetry exporting spans to `collector` in one batch, sent at shutdown.
fn telemetry(collector: &FakeCollector, max_request_size: Option<u64>) -> Telemetry {
    let protocol = match collector.wire {
        Wire::Grpc => Protocol::Grpc,
        Wire::Http => Protocol::HttpProtobuf,
    };
    let mut builder = Telemetry::builder()
        .service_name("export-size-test")
        .endpoint(collector.endpoint())
        .protocol(protocol)
        .metrics_exporter(telemetry::export::ExporterKind::None)
        .logs_exporter(telemetry::export::ExporterKind::None)
        .traces_batch(BatchConfig {
            schedule_delay: Duration::from_secs(3600),
            ..BatchConfig::TRACES
        })
        .shutdown_timeout(Duration::from_secs(30))
        .install_globals(false);
    if let Some(max) = max_request_size {
        builder = builder.max_request_size(max);
    }
    builder.build().expect("telemetry for the fake collector")
}

/// Records `count` spans, each with an SQL text of `bytes` bytes.
fn record(t: &Telemetry, count: usize, bytes: usize) {
    let sql = "x".repeat(bytes);
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..count {
            tracing::info_span!("query", db.query.text = sql.as_str(), n = i as i64)
                .in_scope(|| {});
        }
    });
}

/// The `n` attribute of every span received.
fn numbers(collector: &FakeCollector) -> BTreeSet<i64> {
    collector
        .spans()
        .iter()
        .filter_map(|s| {
            s.attributes
                .iter()
                .find(|kv| kv.key == "n")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref().cloned())
        })
        .filter_map(|v| match v {
            Value::IntValue(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn all_spans_arrive_cut_by_size(wire: Wire) {
    let collector = FakeCollector::with_max_request_size(wire, 4 * MIB);
    let t = telemetry(&collector, None);
    record(&t, 300, 40_000);
    let report = t.shutdown().expect("everything is delivered");
    assert_eq!(report.traces.exported, 300, "{:?}", report.traces);
    assert_eq!(report.traces.dropped, 0, "{:?}", report.traces);
    assert_eq!(numbers(&collector), (0..300).collect(), "every span, once");
    assert_eq!(collector.refused_for_size(), 0, "no request was over 4 MiB");
    assert!(
        collector.requests().len() >= 3,
        "12 MB take several requests"
    );
}

#[test]
fn three_hundred_spans_of_40_kb_all_arrive_over_grpc() {
    all_spans_arrive_cut_by_size(Wire::Grpc);
}

#[test]
fn three_hundred_spans_of_40_kb_all_arrive_over_http() {
    all_spans_arrive_cut_by_size(Wire::Http);
}

fn a_refused_request_is_split_and_sent_again(wire: Wire) {
    // Our limit is higher than the collector's: it refuses, we split.
    let collector = FakeCollector::with_max_request_size(wire, 4 * MIB);
    let t = telemetry(&collector, Some(32 * MIB as u64));
    record(&t, 300, 40_000);
    let report = t.shutdown().expect("everything is delivered");
    assert_eq!(report.traces.exported, 300, "{:?}", report.traces);
    assert_eq!(report.traces.dropped, 0, "{:?}", report.traces);
    assert_eq!(numbers(&collector), (0..300).collect(), "every span, once");
    assert!(
        collector.refused_for_size() >= 1,
        "the 12 MB request was refused"
    );
}

#[test]
fn a_request_refused_for_its_size_is_split_over_grpc() {
    a_refused_request_is_split_and_sent_again(Wire::Grpc);
}

#[test]
fn a_request_refused_for_its_size_is_split_over_http() {
    a_refused_request_is_split_and_sent_again(Wire::Http);
}

#[test]
fn only_a_span_too_large_on_its_own_is_dropped() {
    let collector = FakeCollector::with_max_request_size(Wire::Http, 4 * MIB);
    let t = telemetry(&collector, Some(MIB as u64));
    let subscriber = tracing_subscriber::registry().with(t.layer());
    let huge = "y".repeat(2 * MIB);
    let small = "z".repeat(1000);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..10 {
            let text = if i == 4 {
                huge.as_str()
            } else {
                small.as_str()
            };
            tracing::info_span!("query", db.query.text = text, n = i).in_scope(|| {});
        }
    });
    let report = t.shutdown().expect("what fits is delivered");
    let traces = report.traces;
    assert_eq!(traces.exported, 9, "{traces:?}");
    assert_eq!(traces.dropped_by_reason.too_large, 1, "{traces:?}");
    assert_eq!(traces.dropped, 1, "{traces:?}");
    assert_eq!(
        numbers(&collector),
        [0, 1, 2, 3, 5, 6, 7, 8, 9].into_iter().collect()
    );
}
