//! Prometheus remote write against a real Prometheus (Debian's `prometheus`, started
//! here with `--web.enable-remote-write-receiver` on 127.0.0.1): after a push, the
//! query API returns the series with the right labels and values. And the retry rules
//! of the remote write specification, against a receiver that answers as told.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telemetry::export::{ExporterKind, RemoteWriteConfig, RetryConfig};
use telemetry::otel::api::KeyValue;
use telemetry::{Telemetry, TelemetryBuilder};

struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.get(9..12)?.parse().ok()?;
    // Prometheus answers queries with chunked encoding: keep the JSON object only.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if b >= a => body[a..=b].to_string(),
        _ => body.to_string(),
    };
    Some((status, body))
}

fn start_prometheus() -> Prometheus {
    let dir = std::env::temp_dir().join(format!(
        "telemetry-prometheus-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is required: install Debian's `prometheus` package (.ci/run does)");
    let p = Prometheus { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(addr, "/-/ready").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "prometheus did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    p
}

fn quiet() -> TelemetryBuilder {
    Telemetry::builder()
        .service_name("remote-write-test")
        .traces_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .metric_export_interval(Duration::from_secs(3600))
        .self_metrics(false)
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(3))
}

fn query(addr: SocketAddr, promql: &str) -> serde_json::Value {
    let (status, body) = http_get(addr, &format!("/api/v1/query?query={promql}")).unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn prometheus_stores_what_was_pushed_with_its_labels() {
    let prometheus = start_prometheus();
    let t = quiet()
        .prometheus_remote_write(RemoteWriteConfig::new(format!(
            "http://{}/api/v1/write",
            prometheus.addr
        )))
        .build()
        .unwrap();
    let metrics = t.metrics();
    metrics
        .counter("jobs.done")
        .build()
        .unwrap()
        .add(3, &[KeyValue::new("queue", "mail")]);
    let work = metrics
        .histogram("work.duration")
        .unit("s")
        .build()
        .unwrap();
    for v in [0.004, 0.2, 0.2, 3.0] {
        work.record(v, &[]);
    }
    t.force_flush().unwrap();
    let jobs = query(prometheus.addr, "jobs_done_total");
    let series = &jobs["data"]["result"][0];
    assert_eq!(series["metric"]["job"], "remote-write-test", "{jobs}");
    assert_eq!(series["metric"]["queue"], "mail", "{jobs}");
    assert_eq!(series["value"][1], "3", "{jobs}");
    let count = query(prometheus.addr, "work_duration_seconds_count");
    assert_eq!(count["data"]["result"][0]["value"][1], "4", "{count}");
    let le = query(
        prometheus.addr,
        "work_duration_seconds_bucket%7Ble%3D%220.25%22%7D",
    );
    assert_eq!(le["data"]["result"][0]["value"][1], "3", "{le}");
    let health = t.health().metrics.unwrap();
    assert!(
        health.exporter.starts_with("remote write http://"),
        "{health:?}"
    );
    assert!(health.healthy);
    let report = t.shutdown().unwrap().metrics;
    assert_eq!(report.dropped, 0, "{report:?}");
}

/// Each request's head (lowercased) and body length.
type Seen = Arc<Mutex<Vec<(String, usize)>>>;

/// A receiver that answers the statuses in `script`, then 204; keeps what it got.
fn receiver(script: Vec<u16>) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let next = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (seen, next, script) = (kept.clone(), next.clone(), script.clone());
            std::thread::spawn(move || loop {
                let mut got = Vec::new();
                let mut buf = [0u8; 65536];
                let head_end = loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                    if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while got.len() < head_end + len {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock().unwrap().push((head, len));
                let i = next.fetch_add(1, Ordering::SeqCst);
                let status = script.get(i).copied().unwrap_or(204);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 4\r\n\r\nnope"
                );
            });
        }
    });
    (addr, seen)
}

fn push_one(addr: SocketAddr) -> Telemetry {
    let t = quiet()
        .prometheus_remote_write(
            RemoteWriteConfig::new(format!("http://{addr}/api/v1/write"))
                .header("authorization", "Bearer secret-token"),
        )
        .retry(RetryConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    t.metrics().counter("pushes").build().unwrap().add(1, &[]);
    let _ = t.force_flush();
    t
}

#[test]
fn five_hundreds_and_429_are_retried_other_4xx_are_not() {
    let (addr, seen) = receiver(vec![500, 429]);
    let t = push_one(addr);
    let report = t.shutdown().unwrap().metrics;
    // The flush's collection, retried twice; and the last one, at shutdown.
    assert_eq!(report.retries, 2, "{report:?}");
    assert_eq!(report.dropped, 0, "{report:?}");
    assert_eq!(report.exported, report.received, "{report:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len() as u64, report.received + 2);
    let (head, len) = &seen[0];
    assert!(head.starts_with("post /api/v1/write http/1.1"), "{head}");
    assert!(head.contains("content-encoding: snappy"), "{head}");
    assert!(
        head.contains("content-type: application/x-protobuf"),
        "{head}"
    );
    assert!(
        head.contains("x-prometheus-remote-write-version: 0.1.0"),
        "{head}"
    );
    assert!(
        head.contains("authorization: bearer secret-token"),
        "{head}"
    );
    assert!(*len > 0);
    drop(seen);

    let (addr, seen) = receiver(vec![400]);
    let t = push_one(addr);
    let health = t.health().metrics.unwrap();
    let error = health.last_error.unwrap_or_default();
    assert!(error.starts_with("HTTP 400 from http://"), "{error}");
    assert!(!error.contains("secret-token"), "{error}");
    let report = t.shutdown().unwrap().metrics;
    assert_eq!(report.dropped_by_reason.non_retryable, 1, "{report:?}");
    assert_eq!(report.retries, 0, "{report:?}");
    // Each collection sent once: the refused one is not sent again.
    assert_eq!(seen.lock().unwrap().len() as u64, report.received);
}
