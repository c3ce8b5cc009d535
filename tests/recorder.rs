//! The flight recorder: recent traces (whole trees) and logs, searchable from code and
//! as JSON on the admin endpoint; bounded, keeping a share for error traces and the
//! slowest of each name; off by default.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

mod raw_http;
use std::time::Duration;

use telemetry::export::ExporterKind;
use telemetry::recorder::{LogQuery, RecorderConfig, TraceQuery};
use telemetry::{Telemetry, TelemetryBuilder};
use tracing_subscriber::prelude::*;

fn quiet(config: RecorderConfig) -> TelemetryBuilder {
    Telemetry::builder()
        .service_name("recorder-test")
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .recorder(config)
        .prometheus_address("127.0.0.1:0".parse().unwrap())
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(2))
}

/// The same, with a log pipeline (to nowhere) so that the recorder keeps logs.
fn with_logs() -> Telemetry {
    quiet(RecorderConfig::default())
        .logs_exporter(ExporterKind::Console)
        .log_output(telemetry::logs::LogOutput::writer(
            std::io::sink(),
            telemetry::logs::LogFormat::Pretty,
        ))
        .build()
        .unwrap()
}

fn workload(t: &Telemetry) {
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("GET /orders", otel.kind = "server", customer = "ada").in_scope(|| {
            tracing::info_span!("load").in_scope(|| {});
            tracing::info!(rows = 3_u64, "loaded");
        });
        tracing::info_span!("POST /checkout", otel.kind = "server").in_scope(|| {
            tracing::info_span!("charge").in_scope(|| {
                std::thread::sleep(Duration::from_millis(20));
                let e = std::io::Error::other("card declined");
                tracing::error!(error = &e as &dyn std::error::Error, "payment failed");
            });
        });
        tracing::warn!("outside any span");
    });
    t.force_flush().unwrap();
}

#[test]
fn recent_traces_and_logs_are_searchable_from_code() {
    let t = quiet(RecorderConfig::default()).build().unwrap();
    workload(&t);
    let r = t.recorder().expect("the recorder is on");
    let all = r.traces(&TraceQuery::default());
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["POST /checkout", "GET /orders"], "newest first");
    assert_eq!(all[0].service, "recorder-test");
    assert!(all[0].error && !all[1].error);
    assert_eq!(all[1].spans, 2);
    let errors = r.traces(&TraceQuery {
        errors_only: true,
        ..TraceQuery::default()
    });
    assert_eq!(errors.len(), 1);
    let slow = r.traces(&TraceQuery {
        min_duration: Some(Duration::from_millis(15)),
        ..TraceQuery::default()
    });
    assert_eq!(slow.len(), 1, "{slow:?}");
    let by_attribute = r.traces(&TraceQuery {
        attribute: Some(("customer".into(), "ada".into())),
        ..TraceQuery::default()
    });
    assert_eq!(by_attribute[0].name, "GET /orders");
    // The whole tree, events included.
    let trace = r.trace(&all[0].trace_id).expect("by id");
    assert_eq!(trace.spans.len(), 2);
    let charge = trace.spans.iter().find(|s| s.name == "charge").unwrap();
    assert_eq!(charge.status, "error");
    let failed = charge
        .events
        .iter()
        .find(|e| e.name == "payment failed")
        .expect("the event");
    assert!(
        failed
            .attributes
            .contains(&("exception.message".into(), "card declined".into())),
        "{failed:?}"
    );
    let root = trace.spans.last().unwrap();
    assert_eq!(
        charge.parent_span_id.as_deref(),
        Some(root.span_id.as_str())
    );
    assert_eq!(r.span(&charge.span_id).unwrap().name, "charge");
    assert!(r.trace("00000000000000000000000000000001").is_none());
    let stats = r.stats();
    assert_eq!(stats.traces, 2);
    assert!(stats.bytes > 0);
    let _ = t.shutdown();
}

#[test]
fn the_bound_evicts_the_oldest_but_keeps_errors_and_the_slowest() {
    let t = quiet(RecorderConfig {
        max_traces: 20,
        error_share: 0.2,
        slow_share: 0.1,
        ..RecorderConfig::default()
    })
    .build()
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("rare").in_scope(|| {
            tracing::error!(error = "boom", "failed");
        });
        tracing::info_span!("GET /a").in_scope(|| std::thread::sleep(Duration::from_millis(30)));
        for _ in 0..100 {
            tracing::info_span!("GET /a").in_scope(|| {});
        }
    });
    t.force_flush().unwrap();
    let r = t.recorder().unwrap();
    let kept = r.traces(&TraceQuery {
        limit: 1000,
        ..TraceQuery::default()
    });
    // Eviction works in steps, down to nine tenths of the bound.
    assert!((18..=20).contains(&kept.len()), "{}", kept.len());
    assert!(
        kept.iter().any(|s| s.name == "rare" && s.error),
        "the rare failure stays"
    );
    assert!(
        kept.iter()
            .any(|s| s.name == "GET /a" && s.duration_ns >= 30_000_000),
        "the slowest GET /a stays"
    );
    assert_eq!(r.stats().evicted_traces, 102 - kept.len() as u64);
    let _ = t.shutdown();
}

#[test]
fn it_is_off_by_default() {
    let t = Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .install_globals(false)
        .build()
        .unwrap();
    assert!(t.recorder().is_none());
    let _ = t.shutdown();
}

#[test]
fn logs_are_searchable_when_a_log_pipeline_runs() {
    let t = with_logs();
    workload(&t);
    let r = t.recorder().unwrap();
    let warnings = r.logs_matching(&LogQuery {
        min_level: Some(tracing::Level::WARN),
        ..LogQuery::default()
    });
    let messages: Vec<&str> = warnings.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["outside any span", "payment failed"]);
    let payment = &warnings[1];
    assert_eq!(payment.level, "ERROR");
    assert!(payment.trace_id.is_some());
    let in_trace = r.logs_matching(&LogQuery {
        trace_id: payment.trace_id.clone(),
        ..LogQuery::default()
    });
    assert_eq!(in_trace.len(), 1);
    let _ = t.shutdown();
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let a = raw_http::get(addr, path, &[]);
    (a.status, a.body)
}

#[test]
fn the_admin_endpoint_serves_the_recorder_as_json() {
    let t = quiet(RecorderConfig::default()).build().unwrap();
    workload(&t);
    let addr = t
        .admin_address()
        .expect("the admin endpoint runs for the recorder");
    let (status, body) = get(addr, "/api/traces?errors=true&limit=5");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let traces = v["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0]["name"], "POST /checkout");
    let id = traces[0]["trace_id"].as_str().unwrap();
    let (status, body) = get(addr, &format!("/api/traces/{id}"));
    assert_eq!(status, 200);
    let trace: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(trace["spans"].as_array().unwrap().len(), 2);
    let span_id = trace["spans"][0]["span_id"].as_str().unwrap();
    assert_eq!(get(addr, &format!("/api/spans/{span_id}")).0, 200);
    assert_eq!(get(addr, "/api/spans/0000000000000001").0, 404);
    let (status, body) = get(addr, "/api/traces?min_duration=quick");
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "query parameter `min_duration` = \"quick\" is not accepted: expected a duration like \
         250ms, 1.5s or 2m\n"
    );
    let (status, body) = get(addr, "/api/traces?name=GET%20%2Forders");
    assert_eq!(status, 200);
    assert!(body.contains("\"GET /orders\""), "{body}");
    assert_eq!(get(addr, "/api/logs?level=loud").0, 400);
    let (status, body) = get(addr, "/api/metrics?name=span.");
    assert_eq!(status, 200, "{body}");
    let metrics: serde_json::Value = serde_json::from_str(&body).unwrap();
    let series = metrics["metrics"].as_array().unwrap();
    assert!(
        series.iter().all(|m| m["name"] == "span.duration"),
        "{body}"
    );
    assert!(
        series.iter().any(|m| m["value"]["histogram"]["count"] == 1),
        "{body}"
    );
    assert_eq!(get(addr, "/api/metrics?colour=red").0, 400);
    let (status, body) = get(addr, "/api/recorder");
    assert_eq!(status, 200);
    assert!(body.contains("\"traces\":2"), "{body}");
    let _ = t.shutdown();
}

fn get_with(addr: SocketAddr, path: &str, authorization: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    raw_http::get(addr, path, &headers).status
}

#[test]
fn off_loopback_the_recorder_needs_a_token_and_a_token_is_checked() {
    // Refused before anything binds: the recorder's data never leaves loopback
    // without a token.
    let err = quiet(RecorderConfig::default())
        .prometheus_address("0.0.0.0:0".parse().unwrap())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a loopback address (127.0.0.1) while the flight recorder is on"),
        "{err}"
    );
    assert!(err.contains("admin_token"), "{err}");
    // With a token, /api/* asks for it; the health endpoints stay open.
    let t = quiet(RecorderConfig::default())
        .admin_token("s3cret-token")
        .build()
        .unwrap();
    workload(&t);
    let addr = t.admin_address().unwrap();
    assert_eq!(get_with(addr, "/api/traces", None), 401);
    assert_eq!(
        get_with(addr, "/api/traces", Some("Bearer wrong-token!")),
        401
    );
    assert_eq!(
        get_with(addr, "/api/traces", Some("Bearer s3cret-token")),
        200
    );
    assert_eq!(get_with(addr, "/livez", None), 200);
    assert!(
        !format!("{:?}", t.config()).contains("s3cret"),
        "the token is never printed"
    );
    let _ = t.shutdown();
}

#[test]
fn the_configuration_file_turns_the_recorder_on() {
    let dir = std::env::temp_dir().join(format!("telemetry-recorder-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("telemetry.yaml");
    std::fs::write(
        &file,
        "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple: { exporter: { console: } }\n\
         meter_provider:\n  readers:\n    - pull:\n        exporter:\n          \
         prometheus/development: { host: 127.0.0.1, port: 0 }\n\
         telemetry:\n  recorder: { max_traces: 5, error_share: 0.4 }\n  admin_token: ${TOKEN}\n",
    )
    .unwrap();
    let t = Telemetry::from_env()
        .vars([
            ("OTEL_CONFIG_FILE", file.display().to_string()),
            ("TOKEN", "from-the-file".to_string()),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(t.recorder().is_some());
    let addr = t.admin_address().unwrap();
    assert_eq!(
        get_with(addr, "/api/recorder", Some("Bearer from-the-file")),
        200
    );
    let _ = t.shutdown();
}

#[test]
fn running_spans_are_listed_until_they_close() {
    let t = quiet(RecorderConfig::default()).build().unwrap();
    let r = t.recorder().unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        let waiting = tracing::info_span!("queued job");
        let root = tracing::info_span!("GET /slow", otel.kind = "server");
        root.in_scope(|| {
            let _child = tracing::info_span!("query").entered();
            std::thread::sleep(Duration::from_millis(5));
            let running = r.running();
            let names: Vec<&str> = running.iter().map(|s| s.name).collect();
            // The longest running first.
            assert_eq!(names, ["queued job", "GET /slow", "query"], "{running:?}");
            let (slow, query) = (&running[1], &running[2]);
            assert!(slow.elapsed_ns >= 5_000_000, "{slow:?}");
            assert_eq!(slow.target, module_path!());
            let trace = slow
                .trace_id
                .as_deref()
                .expect("entered: its trace id is known");
            assert_eq!(trace.len(), 32);
            assert_eq!(query.trace_id.as_deref(), Some(trace), "one trace");
            assert_ne!(query.span_id, slow.span_id);
            assert_eq!(running[0].trace_id, None, "never entered");
            let addr = t.admin_address().unwrap();
            let (status, body) = get(addr, "/api/running");
            assert_eq!(status, 200, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["running"][1]["name"], "GET /slow");
            assert_eq!(v["running"][1]["trace_id"], trace);
            assert_eq!(get(addr, "/api/running?name=x").0, 400);
        });
        drop(root);
        let left: Vec<&str> = r.running().iter().map(|s| s.name).collect();
        assert_eq!(left, ["queued job"], "closed spans leave the list");
        drop(waiting);
    });
    assert!(r.running().is_empty());
    assert_eq!(r.stats().unlisted_running, 0);
    let _ = t.shutdown();
}

#[test]
fn follow_mode_streams_the_tail_then_each_new_record() {
    let t = with_logs();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    let dispatch = tracing::Dispatch::new(subscriber);
    tracing::dispatcher::with_default(&dispatch, || tracing::warn!("before following"));
    t.force_flush().unwrap();
    let addr = t.admin_address().unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /api/logs?follow&level=warn HTTP/1.1\r\nHost: test\r\n\r\n"
    )
    .unwrap();
    let mut seen = String::new();
    let mut read_until = |s: &mut TcpStream, what: &str| {
        let mut buf = [0u8; 4096];
        while !seen.contains(what) {
            let n = s
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("{e}: waiting for {what:?} in {seen}"));
            assert!(n > 0, "the stream ended before {what:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        seen.clone()
    };
    let head = read_until(&mut s, "before following");
    let lower = head.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{head}");
    assert!(
        lower.contains("content-type: application/x-ndjson"),
        "{head}"
    );
    assert!(lower.contains("transfer-encoding: chunked"), "{head}");
    // New records arrive on the open stream; an info record does not pass the filter.
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("quiet news");
        tracing::error!(order = 7_u64, "after following");
    });
    t.force_flush().unwrap();
    let all = read_until(&mut s, "after following");
    assert!(!all.contains("quiet news"), "{all}");
    let line = all.lines().find(|l| l.contains("after following")).unwrap();
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["level"], "ERROR");
    assert_eq!(record["fields"][0], serde_json::json!(["order", "7"]));
    let _ = t.shutdown();
}

#[test]
fn with_a_push_exporter_metrics_are_those_of_its_last_collection() {
    struct Discard;
    impl telemetry::export::Exporter<telemetry::export::ExportMetricsServiceRequest> for Discard {
        fn export(
            &mut self,
            _: &[telemetry::export::ExportMetricsServiceRequest],
        ) -> Result<(), telemetry::export::ExportFailure> {
            Ok(())
        }
    }
    let t = quiet(RecorderConfig::default())
        .metric_exporter(Discard)
        .build()
        .unwrap();
    let r = t.recorder().unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    let dispatch = tracing::Dispatch::new(subscriber);
    let count = |r: &telemetry::recorder::Recorder| {
        r.metrics(Some("span.duration"))
            .iter()
            .find(|p| p.attribute("span.name").as_deref() == Some("job"))
            .map(|p| match &p.value {
                telemetry::metrics::PointValue::Histogram { count, .. } => *count,
                other => panic!("{other:?}"),
            })
    };
    assert!(r.metrics_as_of().is_none(), "nothing collected yet");
    tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("job").in_scope(|| {}));
    t.force_flush().unwrap();
    assert!(r.metrics_as_of().is_some());
    assert_eq!(count(&r), Some(1));
    // The recorder has no reader of its own: a new measurement shows at the next
    // collection.
    tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("job").in_scope(|| {}));
    assert_eq!(count(&r), Some(1));
    t.force_flush().unwrap();
    assert_eq!(count(&r), Some(2));
    let _ = t.shutdown();
}
