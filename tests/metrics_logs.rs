//! One layer, three signals: span duration metrics, metrics from event fields and the
//! typed API, OTLP metric pushes, the Prometheus endpoint (checked by promtool), logs
//! correlated with spans, local JSON output, processors and file rotation.

mod common;
mod raw_http;

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use common::{FakeCollector, Wire};
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use std::collections::HashMap;
use telemetry::metrics::{SpanFilter, SpanMetricsConfig, Temporality};

use telemetry::export::{CircuitBreakerConfig, ExporterKind, Protocol};
use telemetry::logs::{LogFormat, LogOutput};
use telemetry::testing::{InMemoryMetrics, InMemorySpans, PointValue};
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

fn with<T>(telemetry: &Telemetry, f: impl FnOnce() -> T) -> T {
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, f)
}

fn quiet() -> telemetry::TelemetryBuilder {
    Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .install_globals(false)
}

#[test]
fn span_durations_are_recorded_by_name_and_outcome_sampled_or_not() {
    let metrics = InMemoryMetrics::default();
    let t = quiet()
        .sampler(telemetry::sampling::Sampler::AlwaysOff)
        .in_memory_metrics(&metrics)
        .build()
        .unwrap();
    with(&t, || {
        for _ in 0..3 {
            tracing::info_span!("fetch").in_scope(|| {});
        }
        tracing::info_span!("fetch").in_scope(|| tracing::error!("boom"));
        tracing::info_span!("parse", error.type = "ParseError").in_scope(|| {});
        tracing::info_span!("call", otel.status_code = "ERROR").in_scope(|| {});
    });
    let points = metrics.collect();
    let find = |span: &str, outcome: &str| {
        points
            .iter()
            .find(|p| {
                p.name == "span.duration"
                    && p.attribute("span.name").as_deref() == Some(span)
                    && p.attribute("outcome").as_deref() == Some(outcome)
            })
            .unwrap_or_else(|| panic!("no {span}/{outcome} in {points:#?}"))
    };
    let ok = find("fetch", "ok");
    assert_eq!(ok.unit, "s");
    let PointValue::Histogram { count, bounds, .. } = &ok.value else {
        panic!("{ok:?}")
    };
    assert_eq!(*count, 3, "unsampled spans still count");
    assert_eq!(
        bounds,
        &telemetry::metrics::DURATION_BUCKETS.to_vec(),
        "the advised buckets"
    );
    assert_eq!(
        find("fetch", "error").attribute("error.type").as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        find("parse", "error").attribute("error.type").as_deref(),
        Some("ParseError")
    );
    assert!(find("call", "error").attribute("error.type").is_some());
    assert!(ok.attribute("error.type").is_none(), "never on success");
}

/// Several instances recording the same callsites on the same threads (more of them
/// than each thread keeps at hand, and from another thread) each count exactly their
/// own spans and events.
#[test]
fn instances_sharing_callsites_and_threads_keep_their_own_counts() {
    fn work(n: usize) {
        for _ in 0..n {
            tracing::info_span!("shared").in_scope(|| {
                tracing::info!(monotonic_counter.shared_events = 1_u64);
            });
        }
    }
    let instances: Vec<(Telemetry, InMemoryMetrics)> = (0..7)
        .map(|_| {
            let metrics = InMemoryMetrics::default();
            let t = quiet().in_memory_metrics(&metrics).build().unwrap();
            (t, metrics)
        })
        .collect();
    for round in 0..3 {
        for (i, (t, _)) in instances.iter().enumerate() {
            with(t, || work(i + 1));
            if round == 1 {
                let dispatch =
                    tracing::Dispatch::new(tracing_subscriber::registry().with(t.layer()));
                std::thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || work(1))
                })
                .join()
                .unwrap();
            }
        }
    }
    for (i, (_, metrics)) in instances.iter().enumerate() {
        let points = metrics.collect();
        let spans = points
            .iter()
            .find(|p| {
                p.name == "span.duration" && p.attribute("span.name").as_deref() == Some("shared")
            })
            .unwrap_or_else(|| panic!("instance {i}: {points:#?}"));
        let expected = 3 * (i as u64 + 1) + 1;
        assert!(
            matches!(spans.value, PointValue::Histogram { count, .. } if count == expected),
            "instance {i}: {spans:?}, expected {expected}"
        );
        let events = points
            .iter()
            .find(|p| p.name == "shared_events")
            .unwrap_or_else(|| panic!("instance {i}: {points:#?}"));
        assert_eq!(
            events.value,
            PointValue::Sum(expected as f64),
            "instance {i}"
        );
    }
}

#[test]
fn which_spans_count_is_configurable_and_cardinality_is_capped() {
    let metrics = InMemoryMetrics::default();
    let t = quiet()
        .span_metrics(SpanMetricsConfig {
            filter: SpanFilter::Targets(vec!["metrics_logs".into()]),
            cardinality_limit: 2,
            ..SpanMetricsConfig::default()
        })
        .in_memory_metrics(&metrics)
        .build()
        .unwrap();
    with(&t, || {
        tracing::info_span!(target: "elsewhere", "ignored").in_scope(|| {});
        tracing::info_span!("a").in_scope(|| {});
        tracing::info_span!("b").in_scope(|| {});
        tracing::info_span!("c").in_scope(|| {});
        tracing::info_span!("d").in_scope(|| {});
    });
    let points = metrics.collect();
    let names: Vec<_> = points
        .iter()
        .filter_map(|p| p.attribute("span.name"))
        .collect();
    assert!(!names.contains(&"ignored".to_string()), "{names:?}");
    // a and b fill the limit of 2 series (error series are only made on a first
    // error); c and d overflow.
    let overflow = points
        .iter()
        .find(|p| p.attribute("otel.metric.overflow").as_deref() == Some("true"))
        .expect("an overflow series");
    let PointValue::Histogram { count, .. } = overflow.value else {
        panic!()
    };
    assert_eq!(count, 2);
    assert_eq!(t.health().metric_overflow, 2, "c and d");
}

#[test]
fn event_fields_and_the_typed_api_make_metrics() {
    let metrics = InMemoryMetrics::default();
    let t = quiet().in_memory_metrics(&metrics).build().unwrap();
    with(&t, || {
        tracing::info!(monotonic_counter.jobs = 2_u64, queue = "fast");
        tracing::info!(monotonic_counter.jobs = 3_u64, queue = "fast");
        tracing::info!(counter.inflight = 5_i64);
        tracing::info!(counter.inflight = -2_i64);
        tracing::info!(histogram.payload = 512_u64);
        tracing::info!(histogram.latency = 0.25_f64);
        tracing::info!(gauge.temperature = 21.5_f64, room = "lab");
        tracing::info!(monotonic_counter.bad = -1_i64); // ignored: a counter cannot go down
    });
    let m = t.metrics();
    let requests = m.counter("app.requests").unit("{request}").build().unwrap();
    let ok = requests.bind(&[KeyValue::new("outcome", "ok")]);
    ok.add(1);
    ok.add(1);
    let latency = m
        .histogram("app.db")
        .unit("s")
        .buckets(vec![0.1, 1.0])
        .build()
        .unwrap();
    latency.record(0.5, &[KeyValue::new("table", "orders")]);
    m.gauge("app.level").build().unwrap().record(7.0, &[]);
    m.up_down_counter("app.conns")
        .build()
        .unwrap()
        .bind(&[])
        .add(-1);
    let err = m.counter("9lives").build().unwrap_err();
    assert!(
        err.to_string()
            .contains("\"9lives\" is not a valid instrument name"),
        "{err}"
    );
    assert!(m.histogram("x".repeat(256)).build().is_err());

    let points = metrics.collect();
    let value = |name: &str| {
        points
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no {name} in {points:#?}"))
            .clone()
    };
    assert_eq!(value("jobs").value, PointValue::Sum(5.0));
    assert_eq!(value("jobs").attribute("queue").as_deref(), Some("fast"));
    assert_eq!(value("inflight").value, PointValue::Sum(3.0));
    assert!(matches!(
        value("payload").value,
        PointValue::Histogram { count: 1, .. }
    ));
    assert!(matches!(
        value("latency").value,
        PointValue::Histogram { count: 1, .. }
    ));
    assert_eq!(value("temperature").value, PointValue::Gauge(21.5));
    assert_eq!(value("app.requests").value, PointValue::Sum(2.0));
    assert_eq!(value("app.requests").unit, "{request}");
    let PointValue::Histogram { bounds, counts, .. } = value("app.db").value else {
        panic!()
    };
    assert_eq!((bounds, counts), (vec![0.1, 1.0], vec![0, 1, 0]));
    assert_eq!(value("app.level").value, PointValue::Gauge(7.0));
    assert_eq!(value("app.conns").value, PointValue::Sum(-1.0));
    assert!(points
        .iter()
        .all(|p| p.name != "bad" || p.value == PointValue::Sum(0.0)));
}

fn push_metrics(wire: Wire, protocol: Protocol, temporality: Temporality) -> FakeCollector {
    let c = FakeCollector::start(wire);
    let t = Telemetry::builder()
        .endpoint(c.endpoint())
        .protocol(protocol)
        .metrics_temporality(temporality)
        .install_globals(false)
        .build()
        .unwrap();
    with(&t, || {
        tracing::info_span!("work")
            .in_scope(|| tracing::info!(monotonic_counter.items = 4_u64, kind = "x"));
        tracing::info_span!("work").in_scope(|| {});
    });
    t.shutdown().unwrap();
    c
}

#[test]
fn metrics_are_pushed_over_otlp_with_names_units_buckets_and_attributes() {
    for (wire, protocol) in [
        (Wire::Grpc, Protocol::Grpc),
        (Wire::Http, Protocol::HttpProtobuf),
    ] {
        let c = push_metrics(wire, protocol, Temporality::Cumulative);
        let requests = c.metric_requests();
        assert!(!requests.is_empty(), "{wire:?}");
        if wire == Wire::Http {
            assert_eq!(requests[0].0.path, "/v1/metrics");
        }
        let metrics = c.metrics();
        let duration = metrics
            .iter()
            .find(|m| m.name == "span.duration")
            .expect("span.duration");
        assert_eq!(duration.unit, "s");
        let Some(Data::Histogram(h)) = &duration.data else {
            panic!("{duration:?}")
        };
        assert_eq!(h.aggregation_temporality, 2, "cumulative");
        let p = &h.data_points[0];
        assert_eq!(p.count, 2);
        assert_eq!(p.explicit_bounds.len(), 14);
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), 2);
        let name = p
            .attributes
            .iter()
            .find(|kv| kv.key == "span.name")
            .and_then(|kv| kv.value.clone());
        assert!(
            matches!(name.and_then(|v| v.value), Some(AnyValue::StringValue(s)) if s == "work")
        );
        let items = metrics.iter().find(|m| m.name == "items").expect("items");
        let Some(Data::Sum(sum)) = &items.data else {
            panic!("{items:?}")
        };
        assert!(sum.is_monotonic);
        assert_eq!(sum.data_points[0].attributes[0].key, "kind");
    }
    let c = push_metrics(Wire::Http, Protocol::HttpProtobuf, Temporality::Delta);
    let metrics = c.metrics();
    let duration = metrics.iter().find(|m| m.name == "span.duration").unwrap();
    let Some(Data::Histogram(h)) = &duration.data else {
        panic!()
    };
    assert_eq!(h.aggregation_temporality, 1, "delta");
}

fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    let a = raw_http::get(addr, path, &headers);
    (a.status, a.content_type, a.body)
}

fn promtool(exposition: &str) -> (i32, String) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is required: install Debian's `prometheus` package (.ci/run does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_prometheus_endpoint_passes_promtool_and_serves_health() {
    let collector = FakeCollector::start(Wire::Http);
    let t = Telemetry::builder()
        .service_name("prom-test")
        .endpoint(collector.endpoint())
        .logs_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::Prometheus)
        .prometheus_address("127.0.0.1:0".parse().unwrap())
        .install_globals(false)
        .build()
        .unwrap();
    let addr = t.admin_address().expect("the endpoint listens");
    with(&t, || {
        tracing::info_span!("handle").in_scope(|| {});
        tracing::info_span!("handle").in_scope(|| tracing::error!("failed"));
        tracing::info!(
            monotonic_counter.jobs.done = 3_u64,
            queue = "a \"quoted\" \\ back\nslash"
        );
        tracing::info!(counter.queue.depth = 4_i64);
        tracing::info!(gauge.temperature = 21.5_f64);
    });
    t.metrics()
        .histogram("payload.size")
        .unit("By")
        .description("Sizes of payloads")
        .buckets(vec![100.0, 1000.0])
        .build()
        .unwrap()
        .record(150.0, &[]);

    let (status, content_type, body) = get(addr, "/metrics", None);
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let (code, report) = promtool(&body);
    assert_eq!(
        code, 0,
        "promtool check metrics failed:\n{report}\n--- exposition ---\n{body}"
    );
    for line in [
        "# TYPE target_info gauge",
        "# TYPE span_duration_seconds histogram",
        "# TYPE jobs_done_total counter",
        "# TYPE queue_depth gauge",
        "# TYPE telemetry_export_received_total counter",
        "# TYPE telemetry_export_dropped_total counter",
        "# TYPE telemetry_export_circuit_open gauge",
        "# HELP payload_size_bytes Sizes of payloads",
        "payload_size_bytes_bucket{otel_scope_name=\"telemetry\",otel_scope_version=\"0.1.0\",le=\"100\"} 0",
        "payload_size_bytes_bucket{otel_scope_name=\"telemetry\",otel_scope_version=\"0.1.0\",le=\"1000\"} 1",
        "payload_size_bytes_bucket{otel_scope_name=\"telemetry\",otel_scope_version=\"0.1.0\",le=\"+Inf\"} 1",
        "payload_size_bytes_count{otel_scope_name=\"telemetry\",otel_scope_version=\"0.1.0\"} 1",
        "jobs_done_total{otel_scope_name=\"telemetry\",otel_scope_version=\"0.1.0\",queue=\"a \\\"quoted\\\" \\\\ back\\nslash\"} 3",
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line:?} in\n{body}");
    }
    assert!(
        body.contains("service_name=\"prom-test\""),
        "target_info carries the resource"
    );
    // Buckets are cumulative and end at +Inf = count.
    let buckets: Vec<u64> = body
        .lines()
        .filter(|l| l.starts_with("span_duration_seconds_bucket{") && l.contains("outcome=\"ok\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 15);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(*buckets.last().unwrap(), 1);

    let (status, content_type, body) = get(
        addr,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    );
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(body.ends_with("# EOF\n"));
    assert!(body.contains("# TYPE jobs_done counter\n"));

    let (status, content_type, body) = get(addr, "/health", None);
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/health+json")
    );
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "pass", "{body}");
    assert_eq!(get(addr, "/nope", None).0, 404);
}

#[test]
fn an_open_circuit_is_a_warning_in_health() {
    let dead = common::free_addr();
    let t = Telemetry::builder()
        .endpoint(format!("http://{dead}"))
        .metrics_exporter(ExporterKind::Prometheus)
        .prometheus_address("127.0.0.1:0".parse().unwrap())
        .circuit_breaker(CircuitBreakerConfig {
            failure_threshold: 1,
            open_duration: Duration::from_secs(60),
        })
        .shutdown_timeout(Duration::from_millis(300))
        .install_globals(false)
        .build()
        .unwrap();
    with(&t, || tracing::info_span!("x").in_scope(|| {}));
    let addr = t.admin_address().unwrap();
    let start = std::time::Instant::now();
    loop {
        let (status, _, body) = get(addr, "/health", None);
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        if health["status"] == "warn" {
            // A warning answers 2xx: the service works, its telemetry does not.
            assert_eq!(status, 200, "{body}");
            let traces = &health["checks"]["export-traces:circuit"][0];
            assert_eq!(traces["status"], "warn", "{body}");
            assert_eq!(traces["observedValue"], "open", "{body}");
            assert!(
                traces["output"]
                    .as_str()
                    .unwrap()
                    .contains("connection failed"),
                "{body}"
            );
            assert!(!t.health().healthy);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the circuit never opened: {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = t.shutdown();
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("telemetry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn json_lines_carry_fields_span_fields_and_the_ids_of_their_span() {
    let dir = temp_dir("json");
    let path = dir.join("app.log");
    let spans = InMemorySpans::default();
    let t = quiet()
        .in_memory(&spans)
        .log_output(LogOutput::file(&path, LogFormat::Json))
        .log_static_field("region", "eu")
        .drop_logs_where("path", "/health")
        .build()
        .unwrap();
    with(&t, || {
        tracing::info_span!("request", path = "/orders", user = 7_u64).in_scope(|| {
            tracing::info!(items = 3_u64, "cart loaded");
        });
        tracing::info_span!("request", path = "/health").in_scope(|| tracing::info!("probe"));
        tracing::warn!(path = "/health", "also dropped");
        tracing::warn!("outside any span");
    });
    t.shutdown().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first = &lines[0];
    let span = spans.span("request").unwrap();
    assert_eq!(first["message"], "cart loaded");
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["target"], "metrics_logs");
    assert_eq!(first["fields"]["items"], 3);
    assert_eq!(first["fields"]["region"], "eu", "the static field");
    assert_eq!(first["spans"][0]["name"], "request");
    assert_eq!(first["spans"][0]["path"], "/orders");
    assert_eq!(first["spans"][0]["user"], 7);
    assert_eq!(first["trace_id"], span.span_context.trace_id().to_string());
    assert_eq!(first["span_id"], span.span_context.span_id().to_string());
    let ts = first["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
        "RFC 3339: {ts}"
    );
    assert_eq!(lines[1]["message"], "outside any span");
    assert!(lines[1].get("trace_id").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_output_rotates_by_size_and_gzips_what_it_rotates() {
    let dir = temp_dir("rotate");
    let path = dir.join("app.log");
    let t = quiet()
        .log_output(
            LogOutput::file(&path, LogFormat::Pretty)
                .max_size(2_000)
                .max_files(3)
                .gzip(true),
        )
        .build()
        .unwrap();
    with(&t, || {
        for i in 0..200 {
            tracing::info!(i, "a line long enough to fill the file quickly");
        }
    });
    t.shutdown().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["app.log", "app.log.1.gz", "app.log.2.gz", "app.log.3.gz"]
    );
    assert!(std::fs::metadata(&path).unwrap().len() <= 2_000);
    let mut newest = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join("app.log.1.gz")).unwrap())
        .read_to_string(&mut newest)
        .unwrap();
    assert!(
        newest.lines().count() > 5 && newest.len() <= 2_000,
        "{newest}"
    );
    let live = std::fs::read_to_string(&path).unwrap();
    assert!(
        live.contains("i=199"),
        "the newest line is in the live file: {live}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lines_that_do_not_fit_the_buffer_are_counted_not_waited_for() {
    let dir = temp_dir("lost");
    let path = dir.join("app.log");
    let t = quiet()
        .log_output(LogOutput::file(&path, LogFormat::Json).buffer(2))
        .build()
        .unwrap();
    let n = 20_000;
    with(&t, || {
        for i in 0..n {
            tracing::info!(i, "burst");
        }
    });
    let report = t.shutdown().unwrap();
    let written = std::fs::read_to_string(&path).unwrap().lines().count() as u64;
    assert_eq!(
        written + report.lost_log_lines,
        n,
        "every line is written or counted lost"
    );
    assert!(
        report.lost_log_lines > 0,
        "a 2-line buffer cannot take a burst of {n}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_pipelines_publish_their_own_figures_as_metrics() {
    let c = FakeCollector::start(Wire::Http);
    let metrics = InMemoryMetrics::default();
    let t = Telemetry::builder()
        .endpoint(c.endpoint())
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .in_memory_metrics(&metrics)
        .install_globals(false)
        .build()
        .unwrap();
    with(&t, || {
        for _ in 0..7 {
            tracing::info_span!("x").in_scope(|| {});
        }
    });
    t.force_flush().unwrap();
    let points = metrics.collect();
    let value = |name: &str, extra: Option<(&str, &str)>| {
        points
            .iter()
            .find(|p| {
                p.name == name
                    && p.attribute("signal").as_deref() == Some("traces")
                    && extra.is_none_or(|(k, v)| p.attribute(k).as_deref() == Some(v))
            })
            .map(|p| p.value.clone())
            .unwrap_or_else(|| panic!("no {name} in {points:#?}"))
    };
    assert_eq!(
        value("telemetry.export.received", None),
        PointValue::Sum(7.0)
    );
    assert_eq!(
        value("telemetry.export.exported", None),
        PointValue::Sum(7.0)
    );
    assert_eq!(
        value("telemetry.export.dropped", Some(("reason", "queue_full"))),
        PointValue::Sum(0.0)
    );
    assert_eq!(
        value("telemetry.export.pending", None),
        PointValue::Gauge(0.0)
    );
    assert_eq!(
        value("telemetry.export.circuit.open", None),
        PointValue::Gauge(0.0)
    );
    assert_eq!(
        value("telemetry.export.requests", None),
        PointValue::Sum(1.0)
    );
    let _ = t.shutdown();
}

#[telemetry::traced(err)]
fn parse_order(raw: &str) -> Result<u64, std::num::ParseIntError> {
    raw.parse()
}

#[test]
fn a_traced_error_marks_the_span_duration_as_an_error() {
    let metrics = InMemoryMetrics::default();
    let t = quiet().in_memory_metrics(&metrics).build().unwrap();
    with(&t, || {
        assert!(parse_order("12").is_ok());
        assert!(parse_order("x").is_err());
    });
    let points = metrics.collect();
    let of = |outcome: &str| {
        points
            .iter()
            .find(|p| {
                p.name == "span.duration" && p.attribute("outcome").as_deref() == Some(outcome)
            })
            .unwrap_or_else(|| panic!("no {outcome} point in {points:#?}"))
    };
    assert_eq!(
        of("error").attribute("error.type").as_deref(),
        Some("core::num::error::ParseIntError")
    );
    assert_eq!(
        of("error").attribute("code.function.name").as_deref(),
        Some("metrics_logs::parse_order")
    );
    assert!(of("ok").attribute("error.type").is_none());
}

#[test]
fn children_of_unsampled_spans_still_get_metrics_and_logs_with_the_trace_id() {
    let dir = temp_dir("unsampled");
    let path = dir.join("app.log");
    let spans = InMemorySpans::default();
    let metrics = InMemoryMetrics::default();
    let t = quiet()
        .sampler(telemetry::sampling::Sampler::ParentBased(Box::new(
            telemetry::sampling::Sampler::TraceIdRatio(0.0),
        )))
        .in_memory(&spans)
        .in_memory_metrics(&metrics)
        .log_output(LogOutput::file(&path, LogFormat::Json))
        .build()
        .unwrap();
    with(&t, || {
        tracing::info_span!("root").in_scope(|| {
            tracing::info_span!("child").in_scope(|| {
                tracing::info_span!("grandchild").in_scope(|| tracing::info!("deep"));
            });
        });
    });
    t.force_flush().unwrap();
    assert!(spans.spans().is_empty(), "nothing sampled");
    let points = metrics.collect();
    for name in ["root", "child", "grandchild"] {
        let p = points
            .iter()
            .find(|p| {
                p.name == "span.duration"
                    && p.attribute("span.name").as_deref() == Some(name)
                    && p.attribute("outcome").as_deref() == Some("ok")
            })
            .unwrap_or_else(|| panic!("no metric for {name}"));
        assert!(
            matches!(p.value, PointValue::Histogram { count: 1, .. }),
            "{name}: {p:?}"
        );
    }
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["message"], "deep");
    let trace_id = line["trace_id"].as_str().expect("the unsampled trace's id");
    assert!(
        trace_id.len() == 32 && trace_id != "0".repeat(32),
        "{trace_id}"
    );
    t.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under a ratio sampler, sampled and unsampled traces interleave on the same threads;
/// skipped spans, entered here and on another thread, leave every sampled trace whole
/// (each exported span's parent exported, in the same trace) and create no orphans.
#[test]
fn under_a_ratio_sampler_skipped_spans_leave_sampled_traces_whole() {
    let spans = InMemorySpans::default();
    let t = quiet()
        .sampler(telemetry::sampling::Sampler::ParentBased(Box::new(
            telemetry::sampling::Sampler::TraceIdRatio(0.5),
        )))
        .in_memory(&spans)
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(t.layer()));
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..200 {
            let root = tracing::info_span!("root", i);
            let _root = root.enter();
            let child = tracing::info_span!("child");
            {
                let _child = child.enter();
                tracing::info_span!("grandchild").in_scope(|| tracing::info!("deep"));
            }
            // Entered again on a thread where nothing is current.
            let (dispatch, child) = (dispatch.clone(), child.clone());
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let _child = child.enter();
                    tracing::info_span!("elsewhere").in_scope(|| {});
                })
            })
            .join()
            .unwrap();
        }
    });
    t.force_flush().unwrap();
    let all = spans.spans();
    let roots = all.iter().filter(|s| s.name == "root").count();
    assert!((50..150).contains(&roots), "{roots} of 200 traces sampled");
    let by_id: HashMap<_, _> = all.iter().map(|s| (s.span_context.span_id(), s)).collect();
    for s in all.iter().filter(|s| s.name != "root") {
        let parent = by_id
            .get(&s.parent_span_id)
            .unwrap_or_else(|| panic!("{} exported without its parent", s.name));
        assert_eq!(parent.span_context.trace_id(), s.span_context.trace_id());
    }
    assert_eq!(all.len(), roots * 4, "root, child, grandchild, elsewhere");
}

#[test]
fn children_of_sampled_spans_are_all_exported() {
    let spans = InMemorySpans::default();
    let t = quiet().in_memory(&spans).build().unwrap();
    with(&t, || {
        tracing::info_span!("root").in_scope(|| {
            tracing::info_span!("child")
                .in_scope(|| tracing::info_span!("grandchild").in_scope(|| {}));
        });
    });
    let names: Vec<_> = spans.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["grandchild", "child", "root"]);
    let root = spans.span("root").unwrap();
    assert_eq!(
        spans.span("grandchild").unwrap().span_context.trace_id(),
        root.span_context.trace_id()
    );
}

#[test]
fn with_a_sampler_that_samples_nothing_roots_stay_cheap_but_propagate_not_sampled() {
    let dir = temp_dir("never");
    let path = dir.join("app.log");
    let spans = InMemorySpans::default();
    let metrics = InMemoryMetrics::default();
    let t = quiet()
        .sampler(telemetry::sampling::Sampler::AlwaysOff)
        .in_memory(&spans)
        .in_memory_metrics(&metrics)
        .log_output(LogOutput::file(&path, LogFormat::Json))
        .build()
        .unwrap();
    let mut headers = http::HeaderMap::new();
    with(&t, || {
        tracing::info_span!("root").in_scope(|| {
            tracing::info_span!("child").in_scope(|| {
                tracing::info!("inside");
                t.inject_current(&mut headers);
            });
        });
    });
    t.force_flush().unwrap();
    assert!(spans.spans().is_empty());
    let traceparent = headers
        .get("traceparent")
        .expect("propagated")
        .to_str()
        .unwrap()
        .to_string();
    // Not sampled; random, as every trace id made here (W3C level 2).
    assert!(traceparent.ends_with("-02"), "not sampled: {traceparent}");
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let trace_id = line["trace_id"].as_str().unwrap();
    assert_eq!(
        &traceparent[3..35],
        trace_id,
        "the log and the header name the same trace"
    );
    assert!(
        metrics
            .collect()
            .iter()
            .any(|p| p.name == "span.duration"
                && p.attribute("span.name").as_deref() == Some("child"))
    );
    t.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn logs_can_follow_trace_sampling() {
    let dir = temp_dir("follow");
    let path = dir.join("app.log");
    let metrics = InMemoryMetrics::default();
    let t = quiet()
        .sampler(telemetry::sampling::Sampler::TraceIdRatio(0.0))
        .logs_follow_sampling(true)
        .in_memory_metrics(&metrics)
        .log_output(LogOutput::file(&path, LogFormat::Json))
        .build()
        .unwrap();
    with(&t, || {
        tracing::info_span!("unsampled").in_scope(|| {
            tracing::info!("dropped with its trace");
            tracing::info!(monotonic_counter.still_counted = 1_u64, "also dropped");
        });
        tracing::info!("outside any trace");
    });
    t.force_flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let messages: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(messages, ["outside any trace"]);
    let points = metrics.collect();
    assert!(points
        .iter()
        .any(|p| p.name == "still_counted" && p.value == PointValue::Sum(1.0)));
    assert!(points.iter().any(|p| p.name == "span.duration"));
    t.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Records offered after shutdown are counted as dropped (`shutdown`), so the books
/// still balance; they are not left looking pending.
#[test]
fn records_after_shutdown_are_counted_as_dropped() {
    let t = Telemetry::builder()
        .install_globals(false)
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .discard_exports()
        .build()
        .unwrap();
    with(&t, || tracing::info!("before"));
    t.shutdown().unwrap();
    with(&t, || tracing::info!("after"));
    let logs = t.health().logs.expect("a log pipeline").counters;
    assert_eq!(logs.received, 2, "{logs:?}");
    assert_eq!(logs.exported, 1, "{logs:?}");
    assert_eq!(logs.dropped_by_reason.shutdown, 1, "{logs:?}");
    assert_eq!(logs.pending, 0, "{logs:?}");
    assert_eq!(logs.received, logs.exported + logs.dropped + logs.pending);
}

#[test]
fn own_instruments_can_have_their_own_scope() {
    let capture = InMemoryMetrics::default();
    let telemetry = Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .in_memory_metrics(&capture)
        .install_globals(false)
        .build()
        .unwrap();
    let mine = telemetry.metrics_with_scope("checkout", Some("1.2.3"));
    mine.counter("checkout.orders").build().unwrap().add(2, &[]);
    telemetry
        .metrics()
        .counter("library.default")
        .build()
        .unwrap()
        .add(1, &[]);
    let points = capture.collect();
    let scope_of = |name: &str| {
        points
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.scope.clone())
            .unwrap_or_else(|| panic!("no {name} in {points:?}"))
    };
    assert_eq!(scope_of("checkout.orders"), "checkout");
    assert_eq!(scope_of("library.default"), "telemetry");
    let _ = telemetry.shutdown();
}

#[test]
fn the_pipelines_own_metrics_are_on_by_default_and_can_be_switched_off() {
    let export_metrics = |on: Option<bool>| {
        let capture = InMemoryMetrics::default();
        let mut builder = Telemetry::builder()
            .traces_exporter(ExporterKind::Console)
            .in_memory_metrics(&capture)
            .install_globals(false);
        if let Some(on) = on {
            builder = builder.self_metrics(on);
        }
        let telemetry = builder.build().unwrap();
        let mut names: Vec<String> = capture
            .collect()
            .into_iter()
            .map(|p| p.name)
            .filter(|n| n.starts_with("telemetry.export."))
            .collect();
        names.sort();
        names.dedup();
        let _ = telemetry.shutdown();
        names
    };
    let default = export_metrics(None);
    assert!(
        default.contains(&"telemetry.export.received".to_string()),
        "{default:?}"
    );
    assert!(
        default.contains(&"telemetry.export.dropped".to_string()),
        "{default:?}"
    );
    assert!(export_metrics(Some(false)).is_empty());
}
