//! Health checks against real servers on 127.0.0.1 that go down and come back: a TCP
//! listener, an HTTP server answering 200 then 500. Thresholds are counted exactly,
//! a check that hangs fails by its timeout, readiness flips, each change is logged
//! once, the endpoints answer in the `application/health+json` format, and many
//! concurrent probes of `/readyz` are answered.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod raw_http;

use telemetry::checks::{CheckHealth, CheckStatus};
use telemetry::export::ExporterKind;
use telemetry::{HealthCheck, Telemetry, TelemetryBuilder};

/// The lines the checks logged, through the global `tracing` subscriber.
fn logged() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    static INSTALLED: OnceLock<()> = OnceLock::new();
    let lines = LINES.get_or_init(|| Mutex::new(Vec::new()));
    INSTALLED.get_or_init(|| {
        use tracing_subscriber::prelude::*;
        struct Capture;
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
            fn on_event(
                &self,
                event: &tracing::Event<'_>,
                _: tracing_subscriber::layer::Context<'_, S>,
            ) {
                if event.metadata().target() != "telemetry::health" {
                    return;
                }
                struct Message(String);
                impl tracing::field::Visit for Message {
                    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                        if f.name() == "message" {
                            self.0 = format!("{v:?}");
                        }
                    }
                }
                let mut m = Message(String::new());
                event.record(&mut m);
                logged().lock().unwrap().push(m.0);
            }
        }
        tracing_subscriber::registry().with(Capture).init();
    });
    lines
}

fn lines_about(name: &str) -> Vec<String> {
    let prefix = format!("{name}: ");
    logged()
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with(&prefix))
        .cloned()
        .collect()
}

fn quiet() -> TelemetryBuilder {
    Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        // With checks the admin endpoint runs: on an ephemeral port.
        .prometheus_address("127.0.0.1:0".parse().unwrap())
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(300))
}

fn check(t: &Telemetry, name: &str) -> CheckHealth {
    t.health()
        .checks
        .into_iter()
        .find(|c| c.name == name)
        .expect("the check is reported")
}

/// Polls `name` until `done`, keeping every report seen.
fn until(t: &Telemetry, name: &str, done: impl Fn(&CheckHealth) -> bool) -> Vec<CheckHealth> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let c = check(t, name);
        let stop = done(&c);
        if seen
            .last()
            .is_none_or(|last: &CheckHealth| last.runs != c.runs)
        {
            seen.push(c);
        }
        if stop {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never got there: {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn tcp_thresholds_are_counted_exactly_and_each_change_is_logged_once() {
    let _ = logged();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = quiet()
        .health_check(
            HealthCheck::tcp("tcp-db", addr.to_string())
                .interval(Duration::from_millis(60))
                .timeout(Duration::from_millis(500)),
        )
        .build()
        .unwrap();
    let up = until(&t, "tcp-db", |c| c.status == CheckStatus::Pass);
    assert_eq!(up.last().unwrap().observed_unit.as_deref(), Some("ms"));
    drop(listener);
    let going_down = until(&t, "tcp-db", |c| c.status == CheckStatus::Fail);
    // Passing while fewer than 3 failures in a row; failing from the third.
    for c in &going_down {
        match c.status {
            CheckStatus::Pass => assert!(c.consecutive_failures < 3, "{c:?}"),
            CheckStatus::Fail => assert!(c.consecutive_failures >= 3, "{c:?}"),
            CheckStatus::Starting => panic!("{c:?}"),
        }
    }
    let failed = going_down.last().unwrap();
    assert_eq!(failed.output.as_deref(), Some("connection refused"));
    assert!(!t.health().healthy, "a critical check fails");
    // A few more failed probes log nothing more.
    let runs = failed.runs;
    until(&t, "tcp-db", |c| c.runs >= runs + 3);
    assert_eq!(
        lines_about("tcp-db"),
        ["tcp-db: failing after 3 failures: connection refused"]
    );
    // Back on the same port.
    let listener = TcpListener::bind(addr).unwrap();
    let coming_back = until(&t, "tcp-db", |c| c.status == CheckStatus::Pass);
    for c in &coming_back {
        match c.status {
            CheckStatus::Fail => assert!(c.consecutive_successes < 2, "{c:?}"),
            CheckStatus::Pass => assert!(c.consecutive_successes >= 2, "{c:?}"),
            CheckStatus::Starting => panic!("{c:?}"),
        }
    }
    let runs = coming_back.last().unwrap().runs;
    until(&t, "tcp-db", |c| c.runs >= runs + 3);
    assert_eq!(
        lines_about("tcp-db"),
        [
            "tcp-db: failing after 3 failures: connection refused",
            "tcp-db: recovered"
        ]
    );
    assert!(t.health().healthy);
    drop(listener);
    t.shutdown().unwrap();
}

/// An HTTP server on 127.0.0.1 answering `status` to every request.
fn http_server(status: Arc<AtomicU16>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let status = status.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let code = status.load(Ordering::Relaxed);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            });
        }
    });
    addr
}

#[test]
fn an_http_check_fails_on_500_and_recovers_on_200() {
    let _ = logged();
    let status = Arc::new(AtomicU16::new(200));
    let addr = http_server(status.clone());
    let t = quiet()
        .health_check(
            HealthCheck::http("http-cache", format!("http://{addr}/health"))
                .interval(Duration::from_millis(50))
                .unhealthy_threshold(2)
                .healthy_threshold(1),
        )
        .build()
        .unwrap();
    until(&t, "http-cache", |c| c.status == CheckStatus::Pass);
    status.store(500, Ordering::Relaxed);
    let down = until(&t, "http-cache", |c| c.status == CheckStatus::Fail);
    let failed = down.last().unwrap();
    assert_eq!(failed.consecutive_failures, 2, "{down:#?}");
    assert_eq!(
        failed.output.as_deref(),
        Some("answered 500 Internal Server Error (expected 2xx)")
    );
    status.store(200, Ordering::Relaxed);
    let up = until(&t, "http-cache", |c| c.status == CheckStatus::Pass);
    assert_eq!(up.last().unwrap().consecutive_successes, 1);
    assert_eq!(
        lines_about("http-cache"),
        [
            "http-cache: failing after 2 failures: answered 500 Internal Server Error (expected 2xx)",
            "http-cache: recovered"
        ]
    );
    t.shutdown().unwrap();
}

#[test]
fn a_check_that_hangs_is_failed_by_its_timeout() {
    let _ = logged();
    let t = quiet()
        .health_check(
            HealthCheck::custom("hangs-async", |_ctx| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<(), String>(())
            })
            .interval(Duration::from_millis(50))
            .timeout(Duration::from_millis(100)),
        )
        .health_check(
            HealthCheck::custom_blocking("hangs-blocking", |_ctx| {
                std::thread::sleep(Duration::from_millis(700));
                Ok::<(), String>(())
            })
            .interval(Duration::from_millis(50))
            .timeout(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    let b = until(&t, "hangs-blocking", |c| c.runs >= 2);
    let run = |n: u64| b.iter().find(|c| c.runs == n).expect("every run seen");
    assert_eq!(run(1).output.as_deref(), Some("no answer within 100ms"));
    // The hung run still holds its thread: the next one does not pile on.
    assert_eq!(
        run(2).output.as_deref(),
        Some("the previous run is still going, past its timeout of 100ms")
    );
    let a = until(&t, "hangs-async", |c| c.runs >= 1);
    let a = a.last().unwrap();
    assert_eq!(a.status, CheckStatus::Fail);
    assert_eq!(a.output.as_deref(), Some("no answer within 100ms"));
    assert!(a.last_duration_ms.unwrap() < 1000.0, "{a:?}");
    assert_eq!(
        lines_about("hangs-async"),
        ["hangs-async: failing: no answer within 100ms"]
    );
    t.shutdown().unwrap();
}

#[test]
fn a_custom_check_reports_what_it_observed_and_a_panic_is_a_failure() {
    let t = quiet()
        .health_check(HealthCheck::custom_blocking("disk", |ctx| {
            assert_eq!(ctx.name(), "disk");
            Ok::<_, String>(telemetry::checks::Observed::value(42.5, "%"))
        }))
        .health_check(
            HealthCheck::custom("explodes", |_ctx| async {
                if true {
                    panic!("boom");
                }
                Ok::<(), String>(())
            })
            .optional(),
        )
        .build()
        .unwrap();
    let disk = until(&t, "disk", |c| c.runs >= 1);
    let disk = disk.last().unwrap();
    assert_eq!(disk.status, CheckStatus::Pass);
    assert_eq!(
        (disk.observed_value, disk.observed_unit.as_deref()),
        (Some(42.5), Some("%"))
    );
    let boom = until(&t, "explodes", |c| c.runs >= 1);
    assert_eq!(
        boom.last().unwrap().output.as_deref(),
        Some("the check panicked: boom")
    );
    // An optional check failing does not make the report unhealthy.
    assert!(t.health().healthy);
    t.shutdown().unwrap();
}

fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let a = raw_http::get(addr, path, &[]);
    (a.status, a.content_type, a.body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn readiness_starts_flips_and_the_endpoints_answer_in_the_health_json_format() {
    let gate = Arc::new(AtomicBool::new(false));
    let open = gate.clone();
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let t = quiet()
        .health_check(
            HealthCheck::custom("gate", move |_ctx| {
                let open = open.clone();
                async move {
                    while !open.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Ok::<(), String>(())
                }
            })
            .interval(Duration::from_millis(50))
            .timeout(Duration::from_secs(30)),
        )
        .health_check(
            HealthCheck::tcp("search", dead.to_string())
                .interval(Duration::from_millis(50))
                .optional(),
        )
        .build()
        .unwrap();
    let addr = t
        .admin_address()
        .expect("the admin endpoint runs for the checks");
    // Starting: not ready.
    let (status, content_type, body) = get(addr, "/readyz");
    assert_eq!(
        (status, content_type.as_str()),
        (503, "application/health+json"),
        "{body}"
    );
    let ready = json(&body);
    assert_eq!(ready["status"], "fail");
    assert_eq!(ready["checks"]["gate:check"][0]["output"], "not run yet");
    assert!(
        ready["checks"]["search:connection"].is_null(),
        "optional: {body}"
    );
    let (status, _, body) = get(addr, "/readyz?verbose");
    assert_eq!(status, 503);
    assert_eq!(body, "[-]gate failed: not run yet\nreadyz check failed\n");
    // Alive all the same.
    let (status, _, body) = get(addr, "/livez");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["status"], "pass");
    // Ready once the critical check passes; the optional one failing is a warning.
    gate.store(true, Ordering::Relaxed);
    until(&t, "gate", |c| c.status == CheckStatus::Pass);
    until(&t, "search", |c| c.status == CheckStatus::Fail);
    let (status, _, body) = get(addr, "/readyz");
    assert_eq!(status, 200, "{body}");
    let ready = json(&body);
    assert_eq!(ready["status"], "pass");
    let gate_entry = &ready["checks"]["gate:check"][0];
    assert_eq!(gate_entry["componentId"], "gate");
    assert_eq!(gate_entry["status"], "pass");
    assert!(
        gate_entry["time"].as_str().unwrap().ends_with('Z'),
        "{body}"
    );
    let (status, _, body) = get(addr, "/readyz?verbose");
    assert_eq!(
        (status, body.as_str()),
        (200, "[+]gate ok\nreadyz check passed\n")
    );
    let (status, _, body) = get(addr, "/health");
    assert_eq!(status, 200, "a warning is 2xx: {body}");
    let health = json(&body);
    assert_eq!(health["status"], "warn");
    let search = &health["checks"]["search:connection"][0];
    assert_eq!(search["status"], "fail");
    assert_eq!(search["output"], "connection refused");
    let (status, _, body) = get(addr, "/health?verbose");
    assert_eq!(status, 200);
    assert!(body.contains("[+]gate ok\n"), "{body}");
    assert!(
        body.contains("[-]search failed: connection refused\n"),
        "{body}"
    );
    assert!(body.ends_with("health check passed\n"), "{body}");
    // One check.
    assert_eq!(get(addr, "/readyz/gate").0, 200);
    let (status, _, body) = get(addr, "/readyz/search");
    assert_eq!(status, 503, "{body}");
    assert_eq!(get(addr, "/readyz/nope").0, 404);
    // Excluded.
    let (status, _, body) = get(addr, "/health?exclude=search&verbose");
    assert_eq!(status, 200);
    assert!(body.contains("[+]search excluded: ok\n"), "{body}");
    // Without Prometheus, /metrics says how to get it.
    assert_eq!(get(addr, "/metrics").0, 404);
    t.shutdown().unwrap();
}

#[test]
fn concurrent_probes_of_readyz_under_load_are_answered() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let t = quiet()
        .health_check(
            HealthCheck::tcp("db", listener.local_addr().unwrap().to_string())
                .interval(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    until(&t, "db", |c| c.status == CheckStatus::Pass);
    let addr = t.admin_address().unwrap();
    let answered: Vec<u16> = std::thread::scope(|s| {
        let probes: Vec<_> = (0..16)
            .map(|_| s.spawn(move || (0..25).map(|_| get(addr, "/readyz").0).collect::<Vec<_>>()))
            .collect();
        probes.into_iter().flat_map(|p| p.join().unwrap()).collect()
    });
    assert_eq!(answered.len(), 400);
    assert!(answered.iter().all(|&s| s == 200), "{answered:?}");
    t.shutdown().unwrap();
}

#[test]
fn the_checks_are_metrics_too() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = telemetry::testing::InMemoryMetrics::default();
    let t = quiet()
        .in_memory_metrics(&metrics)
        .health_check(
            HealthCheck::tcp("db", listener.local_addr().unwrap().to_string())
                .interval(Duration::from_millis(20)),
        )
        .health_check(
            HealthCheck::custom_blocking("never", |_| Err::<(), _>("down for good"))
                .interval(Duration::from_millis(20))
                .optional(),
        )
        .build()
        .unwrap();
    until(&t, "db", |c| c.runs >= 2);
    until(&t, "never", |c| c.runs >= 2);
    let points = metrics.collect();
    let status = |check: &str| {
        points
            .iter()
            .find(|p| {
                p.name == "health.check.status" && p.attribute("check").as_deref() == Some(check)
            })
            .map(|p| p.value.clone())
    };
    use telemetry::testing::PointValue;
    assert_eq!(status("db"), Some(PointValue::Gauge(1.0)));
    assert_eq!(status("never"), Some(PointValue::Gauge(0.0)));
    let runs = points
        .iter()
        .find(|p| {
            p.name == "health.check.duration"
                && p.attribute("check").as_deref() == Some("never")
                && p.attribute("outcome").as_deref() == Some("fail")
        })
        .expect("a duration histogram per check and outcome");
    assert_eq!(runs.unit, "s");
    assert!(
        matches!(runs.value, PointValue::Histogram { count, .. } if count >= 2),
        "{runs:?}"
    );
    t.shutdown().unwrap();
}

#[test]
fn bad_check_settings_fail_the_build_naming_what_is_wrong() {
    let err = |check: HealthCheck| quiet().health_check(check).build().unwrap_err().to_string();
    assert_eq!(
        err(HealthCheck::tcp("db", "localhost")),
        "health check address = \"db: localhost\" is not accepted: expected host:port, like 127.0.0.1:5432"
    );
    assert_eq!(
        err(HealthCheck::tcp("db", "127.0.0.1:1").unhealthy_threshold(0)),
        "health check unhealthy_threshold = \"db: 0\" is not accepted: expected at least 1"
    );
    assert_eq!(
        err(HealthCheck::http("cache", "ftp://x/")),
        "health check url = \"cache: ftp://x/\" is not accepted: expected an http:// or https:// \
         URL, like http://127.0.0.1:8001/health"
    );
    assert!(err(HealthCheck::tcp("bad name", "127.0.0.1:1")).starts_with("health check name"));
    let twice = quiet()
        .health_check(HealthCheck::tcp("db", "127.0.0.1:1"))
        .health_check(HealthCheck::tcp("db", "127.0.0.1:2"))
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        twice,
        "health check name = \"db\" is not accepted: expected a name no other health check has"
    );
}

#[test]
fn the_configuration_file_sets_checks_in_its_telemetry_section() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = std::env::temp_dir().join(format!("telemetry-health-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("telemetry.yaml");
    let write = |checks: &str| {
        std::fs::write(
            &file,
            format!(
                "file_format: \"1.1\"\nmeter_provider:\n  readers:\n    - pull:\n        exporter:\n          \
                 prometheus/development: {{ host: 127.0.0.1, port: 0 }}\ntelemetry:\n  health:\n    checks:\n{checks}"
            ),
        )
        .unwrap();
    };
    write(
        "      - tcp: { name: db, address: \"${DB_ADDR}\", interval: 50, unhealthy_threshold: 2 }\n      \
         - http: { name: cache, url: \"http://127.0.0.1:1/health\", expect_status: [200, 204], critical: false }\n",
    );
    let vars = |file: &std::path::Path| {
        [
            ("OTEL_CONFIG_FILE".to_string(), file.display().to_string()),
            (
                "DB_ADDR".to_string(),
                listener.local_addr().unwrap().to_string(),
            ),
        ]
    };
    let t = Telemetry::from_env()
        .vars(vars(&file))
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    until(&t, "db", |c| c.status == CheckStatus::Pass);
    let report = t.health();
    let names: Vec<(&str, &str, bool)> = report
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.kind, c.critical))
        .collect();
    assert_eq!(names, [("db", "tcp", true), ("cache", "http", false)]);
    t.shutdown().unwrap();
    // A check the library cannot run: strict fails naming where, lossy leaves it out.
    write("      - tcp: { name: db, address: \"no-port\" }\n");
    let err = Telemetry::from_env()
        .vars(vars(&file))
        .install_globals(false)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("telemetry.health.checks[0].tcp"), "{err}");
    assert!(err.contains("host:port"), "{err}");
    let t = Telemetry::from_env_lossy()
        .vars(vars(&file))
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(t.health().checks.is_empty());
    assert_eq!(t.file_warnings().len(), 1, "{:?}", t.file_warnings());
    let _ = t.shutdown();
}
