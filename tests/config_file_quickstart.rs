//! The quickstart example, configured by `OTEL_CONFIG_FILE=examples/telemetry.yaml`
//! alone: its spans and log records reach a collector over OTLP/HTTP, Prometheus can
//! scrape its metrics, and its log lines land in the rotated JSON file. The example
//! binary runs as a child process (`cargo test` builds the examples), pointed at a
//! fake collector through the file's `${COLLECTOR_ENDPOINT}` and the other variables
//! it substitutes.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{free_addr, FakeCollector, Wire};

fn quickstart_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    // target/debug/deps/<this test> → target/debug/examples/quickstart
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/debug");
    dir.join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX))
}

fn scrape(addr: std::net::SocketAddr) -> String {
    get(addr, "/metrics")
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the metrics endpoint listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body
}

#[test]
fn the_quickstart_runs_from_the_example_file_and_exports_to_the_collector() {
    let exe = quickstart_binary();
    assert!(
        exe.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build --example quickstart`)",
        exe.display()
    );
    let collector = FakeCollector::start(Wire::Http);
    let prometheus = free_addr();
    let dir = std::env::temp_dir().join(format!("telemetry-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_file = dir.join("checkout.log");
    let mut command = Command::new(&exe);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            command.env_remove(k);
        }
    }
    let mut child = command
        .env(
            "OTEL_CONFIG_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/telemetry.yaml"),
        )
        .env("COLLECTOR_ENDPOINT", collector.endpoint())
        .env("COLLECTOR_ADDRESS", collector.addr.to_string())
        .env("PROMETHEUS_HOST", "127.0.0.1")
        .env("PROMETHEUS_PORT", prometheus.port().to_string())
        .env("LOG_FILE", &log_file)
        .env("TRACE_RATIO", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the quickstart starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // It stays up serving /metrics once its workload is done.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("serving http://") => break,
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!(
                    "the quickstart never served /metrics:\n{}\n{err}",
                    seen.join("\n")
                );
            }
        }
    }
    let metrics = scrape(prometheus);
    assert!(metrics.contains("target_info"), "{metrics}");
    assert!(metrics.contains("service_name=\"checkout\""), "{metrics}");
    // The file's health check watches the collector.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let health = get(prometheus, "/health?verbose");
        if health.contains("[+]collector ok") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the collector check never passed:\n{health}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Ctrl-C: the guard flushes and shuts down.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the quickstart did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    assert!(exit.success(), "{exit:?}\n{stderr}");
    assert!(
        !stderr.contains("warning"),
        "the example file warned:\n{stderr}"
    );

    let spans: Vec<String> = collector.spans().into_iter().map(|s| s.name).collect();
    assert!(spans.iter().any(|n| n == "POST /checkout"), "{spans:?}");
    let requests = collector.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/v1/traces" && r.content_encoding.as_deref() == Some("gzip")),
        "{:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let log_paths: Vec<String> = collector
        .log_requests()
        .into_iter()
        .map(|(r, _)| r.path)
        .collect();
    assert!(log_paths.iter().all(|p| p == "/v1/logs"), "{log_paths:?}");
    assert!(
        collector
            .logs()
            .iter()
            .any(|l| format!("{:?}", l.body).contains("processing order")),
        "no log record reached the collector"
    );
    let lines = std::fs::read_to_string(&log_file).expect("the JSON log file");
    let line = lines
        .lines()
        .find(|l| l.contains("processing order"))
        .unwrap_or_else(|| panic!("{lines}"));
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert!(json.is_object(), "{line}");
}
