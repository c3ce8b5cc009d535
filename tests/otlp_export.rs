//! Spans reach a real (fake) collector over OTLP gRPC, HTTP/protobuf and HTTP/JSON,
//! with the resource, names, parent links, status and events intact.

mod common;

use std::time::Duration;

use common::{attr, telemetry_for, FakeCollector, Wire};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use telemetry::export::{Compression, Protocol};
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

fn string_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key)? {
        Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// One request with a server root, a child with an error event, and a plain child.
fn record_workload(telemetry: &Telemetry) {
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!(
            "handle",
            otel.name = "GET /orders/{id}",
            otel.kind = "server",
            order.id = 42_i64
        );
        let _root = root.enter();
        tracing::info!(step = "start", "accepted");
        tracing::info_span!("load", table = "orders").in_scope(|| {});
        tracing::info_span!("charge", otel.kind = "client").in_scope(|| {
            let e = std::io::Error::other("card declined");
            tracing::error!(error = &e as &dyn std::error::Error, "payment failed");
        });
    });
}

fn by_name<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span named {name:?} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

fn check_delivery(collector: &FakeCollector) {
    let requests = collector.requests();
    assert!(!requests.is_empty());
    let resource = requests[0].request.resource_spans[0]
        .resource
        .as_ref()
        .expect("resource");
    assert_eq!(
        string_attr(&resource.attributes, "service.name").as_deref(),
        Some("fake-collector-test")
    );
    assert_eq!(
        string_attr(&resource.attributes, "telemetry.sdk.language").as_deref(),
        Some("rust")
    );
    let scope = requests[0].request.resource_spans[0].scope_spans[0]
        .scope
        .as_ref()
        .expect("scope");
    assert_eq!(scope.name, "telemetry");

    let spans = collector.spans();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let root = by_name(&spans, "GET /orders/{id}");
    let load = by_name(&spans, "load");
    let charge = by_name(&spans, "charge");
    assert!(root.parent_span_id.is_empty(), "root has no parent");
    assert_eq!(root.kind, SpanKind::Server as i32);
    assert_eq!(charge.kind, SpanKind::Client as i32);
    assert_eq!(load.kind, SpanKind::Internal as i32);
    for child in [load, charge] {
        assert_eq!(child.trace_id, root.trace_id);
        assert_eq!(child.parent_span_id, root.span_id);
    }
    assert_eq!(root.trace_id.len(), 16);
    assert_eq!(root.span_id.len(), 8);
    assert!(matches!(
        attr(&root.attributes, "order.id"),
        Some(Value::IntValue(42))
    ));
    assert_eq!(
        string_attr(&load.attributes, "table").as_deref(),
        Some("orders")
    );
    assert!(root.end_time_unix_nano >= root.start_time_unix_nano);

    // Events are logs carrying the ids of the span they were written in; only the
    // error is also an exception event on its span.
    assert!(
        root.events.is_empty(),
        "no duplicate span events when logs go to OTLP"
    );
    let logs = collector.logs();
    assert_eq!(logs.len(), 2, "{logs:#?}");
    let accepted = logs
        .iter()
        .find(|l| matches!(l.body.as_ref().and_then(|b| b.value.as_ref()), Some(Value::StringValue(s)) if s == "accepted"))
        .expect("the info event as a log record");
    assert_eq!(accepted.trace_id, root.trace_id);
    assert_eq!(accepted.span_id, root.span_id);
    assert_eq!(accepted.severity_number, 9);
    assert_eq!(accepted.severity_text, "INFO");
    assert_eq!(
        string_attr(&accepted.attributes, "step").as_deref(),
        Some("start")
    );
    let failed = logs
        .iter()
        .find(|l| l.severity_number == 17)
        .expect("the error log");
    assert_eq!(failed.span_id, charge.span_id);
    let status = charge.status.as_ref().expect("status");
    assert_eq!(status.code, StatusCode::Error as i32);
    let exception = charge
        .events
        .iter()
        .find(|e| e.name == "payment failed" || e.name == "exception")
        .expect("an event for the error");
    assert_eq!(
        string_attr(&exception.attributes, "exception.message").as_deref(),
        Some("card declined")
    );
}

fn run(wire: Wire, protocol: Protocol) -> FakeCollector {
    let collector = FakeCollector::start(wire);
    let telemetry = telemetry_for(&collector, protocol, Duration::from_secs(5));
    record_workload(&telemetry);
    let report = telemetry.shutdown().expect("clean shutdown");
    assert_eq!(report.traces.exported, 3);
    assert_eq!(report.traces.dropped, 0);
    assert_eq!(report.traces.pending, 0);
    check_delivery(&collector);
    collector
}

#[test]
fn grpc_delivers_resource_names_parents_status_and_events() {
    let collector = run(Wire::Grpc, Protocol::Grpc);
    let r = &collector.requests()[0];
    assert_eq!(r.content_encoding, None);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "user-agent" && v.contains("tonic")));
}

#[test]
fn http_protobuf_delivers_to_v1_traces() {
    let collector = run(Wire::Http, Protocol::HttpProtobuf);
    let r = &collector.requests()[0];
    assert_eq!(r.path, "/v1/traces");
    assert_eq!(r.content_type.as_deref(), Some("application/x-protobuf"));
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "user-agent" && v.starts_with("telemetry-rust/")));
}

#[test]
fn http_json_follows_the_otlp_json_rules() {
    let collector = run(Wire::Http, Protocol::HttpJson);
    let r = &collector.requests()[0];
    assert_eq!(r.path, "/v1/traces");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    let trace_id = span["traceId"].as_str().expect("traceId is a string");
    assert_eq!(trace_id.len(), 32, "hex, not base64: {trace_id}");
    assert!(trace_id
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(span["spanId"].as_str().map(str::len), Some(16));
    assert!(
        span["kind"].is_u64(),
        "enums are integers: {}",
        span["kind"]
    );
    assert!(
        span["startTimeUnixNano"].is_string(),
        "64-bit integers are strings"
    );
    assert!(
        span.get("start_time_unix_nano").is_none(),
        "keys are lowerCamelCase"
    );
}

#[test]
fn gzip_and_headers_reach_the_collector_over_http_and_grpc() {
    for (wire, protocol) in [
        (Wire::Http, Protocol::HttpProtobuf),
        (Wire::Grpc, Protocol::Grpc),
    ] {
        let collector = FakeCollector::start(wire);
        let telemetry = Telemetry::builder()
            .endpoint(collector.endpoint())
            .protocol(protocol)
            .compression(Compression::Gzip)
            .header("api-key", "s3cret")
            .build()
            .unwrap();
        record_workload(&telemetry);
        telemetry.shutdown().unwrap();
        let r = &collector.requests()[0];
        assert_eq!(r.content_encoding.as_deref(), Some("gzip"), "{wire:?}");
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "api-key" && v == "s3cret"),
            "{wire:?}: headers (gRPC metadata) reach the collector"
        );
        assert_eq!(collector.span_count(), 3, "{wire:?}");
    }
}

#[test]
fn environment_variables_configure_the_exporter() {
    let collector = FakeCollector::start(Wire::Http);
    let telemetry = Telemetry::builder()
        .vars([
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{}/custom/path", collector.endpoint()),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".to_string()),
            ("OTEL_SERVICE_NAME", "from-env".to_string()),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=payments".to_string()),
        ])
        .build()
        .unwrap();
    record_workload(&telemetry);
    telemetry.shutdown().unwrap();
    let r = &collector.requests()[0];
    assert_eq!(
        r.path, "/custom/path",
        "a per-signal endpoint is used as is"
    );
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let resource = r.request.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        string_attr(&resource.attributes, "service.name").as_deref(),
        Some("from-env")
    );
    assert_eq!(
        string_attr(&resource.attributes, "team").as_deref(),
        Some("payments")
    );
}

#[test]
fn code_settings_beat_the_environment() {
    let collector = FakeCollector::start(Wire::Http);
    let telemetry = Telemetry::builder()
        .vars([
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:9/nowhere",
            ),
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "not-a-number"),
        ])
        .endpoint(collector.endpoint())
        .service_name("from-code")
        .build()
        .unwrap();
    assert_eq!(
        telemetry.warnings().len(),
        1,
        "the bad queue size is reported"
    );
    record_workload(&telemetry);
    telemetry.shutdown().unwrap();
    let r = &collector.requests()[0];
    assert_eq!(r.path, "/v1/traces");
    let resource = r.request.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        string_attr(&resource.attributes, "service.name").as_deref(),
        Some("from-code")
    );
}

#[test]
fn span_events_can_be_asked_for_beside_logs() {
    let collector = FakeCollector::start(Wire::Http);
    let telemetry = Telemetry::builder()
        .endpoint(collector.endpoint())
        .span_events(true)
        .build()
        .unwrap();
    record_workload(&telemetry);
    telemetry.shutdown().unwrap();
    let spans = collector.spans();
    let root = by_name(&spans, "GET /orders/{id}");
    assert_eq!(root.events.len(), 1);
    assert_eq!(root.events[0].name, "accepted");
    assert_eq!(collector.logs().len(), 2, "and still the logs");
}
