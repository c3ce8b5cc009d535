//! StatsD end to end against the real daemon (etsy/statsd from npm, its console
//! backend, on 127.0.0.1): what it reports after a flush matches what the program
//! recorded; and the lines and packets as they leave, seen by a UDP socket.

use std::io::{BufRead as _, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use telemetry::export::{ExporterKind, StatsdConfig, StatsdFlavor};
use telemetry::otel::api::KeyValue;
use telemetry::{Telemetry, TelemetryBuilder};

/// The daemon's entry point: `$STATSD_JS`, else where `.ci/run` installs it.
fn statsd_js() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("STATSD_JS") {
        return p.into();
    }
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/node_modules/statsd/stats.js");
    assert!(
        p.exists(),
        "the StatsD daemon is required: `npm install --prefix .ci statsd@0.9.0` (.ci/run does), \
         or set STATSD_JS to its stats.js"
    );
    p
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon, and its flushes as JSON, one per message.
struct Daemon {
    child: Child,
    port: u16,
    flushes: mpsc::Receiver<serde_json::Value>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// util.inspect's output (bare keys, single quotes) as JSON.
fn inspect_to_json(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        // Values JSON has no words for, and what inspect elides below its depth.
        let line = line
            .replace('\'', "\"")
            .replace("NaN", "null")
            .replace("undefined", "null")
            .replace("[Object]", "{}")
            .replace("[Array]", "[]");
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let key_len = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(0);
        if key_len > 0 && trimmed[key_len..].starts_with(':') {
            out.push_str(&format!(
                "{indent}\"{}\"{}\n",
                &trimmed[..key_len],
                &trimmed[key_len..]
            ));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// A daemon that listens: it says "server is up" before its UDP socket is bound, and
/// a free port can be taken by another test before that bind. Probe lines are sent
/// until one comes back in a flush; otherwise another port is tried.
fn start_daemon() -> Daemon {
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        let daemon = start_daemon_once();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let _ = probe.send_to(b"telemetry.probe:1|c", ("127.0.0.1", daemon.port));
            if let Ok(f) = daemon.flushes.recv_timeout(Duration::from_millis(400)) {
                if f["counters"]["telemetry.probe"].as_u64().unwrap_or(0) > 0 {
                    return daemon;
                }
            }
        }
    }
    panic!("the StatsD daemon never received a probe on its port");
}

fn start_daemon_once() -> Daemon {
    let dir = std::env::temp_dir().join(format!("telemetry-statsd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (port, mgmt) = (free_udp_port(), free_tcp_port());
    let config = dir.join(format!("config-{port}.js"));
    std::fs::write(
        &config,
        format!(
            "{{ port: {port}, address: \"127.0.0.1\", mgmt_port: {mgmt}, mgmt_address: \
             \"127.0.0.1\", flushInterval: 300, backends: [\"./backends/console\"], \
             console: {{ prettyprint: false }}, deleteIdleStats: true }}"
        ),
    )
    .unwrap();
    let js = statsd_js();
    let mut child = Command::new("node")
        .arg(&js)
        .arg(&config)
        .current_dir(js.parent().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is required to run the StatsD daemon (.ci/run installs it)");
    let stdout = child.stdout.take().unwrap();
    let (tx, flushes) = mpsc::channel();
    let (up_tx, up) = mpsc::channel();
    std::thread::spawn(move || {
        let mut block: Option<String> = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("server is up") {
                let _ = up_tx.send(());
            }
            match &mut block {
                None if line == "{" => block = Some("{\n".into()),
                None => {}
                Some(b) => {
                    b.push_str(&line);
                    b.push('\n');
                    if line == "}" {
                        let json = inspect_to_json(b);
                        // A flush that does not read as JSON fails the test with its text.
                        let v = serde_json::from_str(&json).unwrap_or_else(
                            |e| serde_json::json!({ "unreadable": format!("{e}: {b}") }),
                        );
                        let _ = tx.send(v);
                        block = None;
                    }
                }
            }
        }
    });
    up.recv_timeout(Duration::from_secs(20))
        .expect("statsd started");
    Daemon {
        child,
        port,
        flushes,
    }
}

fn quiet() -> TelemetryBuilder {
    Telemetry::builder()
        .service_name("statsd-test")
        .traces_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .metric_export_interval(Duration::from_secs(3600))
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(2))
}

#[test]
fn the_daemon_reports_what_the_program_recorded() {
    let daemon = start_daemon();
    let t = quiet()
        .statsd(StatsdConfig {
            address: format!("127.0.0.1:{}", daemon.port),
            prefix: Some("app".into()),
            ..StatsdConfig::default()
        })
        .build()
        .unwrap();
    let metrics = t.metrics();
    let jobs = metrics.counter("jobs.done").build().unwrap();
    jobs.add(2, &[]);
    jobs.add(1, &[]);
    metrics
        .gauge("queue.depth")
        .build()
        .unwrap()
        .record(7.0, &[]);
    let work = metrics
        .histogram("work.duration")
        .unit("s")
        .build()
        .unwrap();
    for _ in 0..4 {
        work.record(0.2, &[]);
    }
    t.force_flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let flush = loop {
        let f = daemon
            .flushes
            .recv_timeout(Duration::from_secs(20))
            .expect("a flush");
        assert!(f["unreadable"].is_null(), "{}", f["unreadable"]);
        if f["counters"]["app.jobs.done"].is_number() {
            break f;
        }
        seen.push(f["counters"].clone());
        assert!(
            Instant::now() < deadline,
            "no flush with our metrics: {seen:?}"
        );
    };
    assert_eq!(flush["counters"]["app.jobs.done"], 3, "{flush}");
    assert_eq!(flush["gauges"]["app.queue.depth"], 7, "{flush}");
    // Seconds become milliseconds; four values in one bucket: their mean, counted 4 times.
    let timer = &flush["timer_data"]["app.work.duration"];
    assert_eq!(timer["count"], 4, "{flush}");
    assert_eq!(timer["mean"], 200, "{flush}");
    assert_eq!(
        t.health().metrics.unwrap().exporter,
        format!("statsd 127.0.0.1:{}", daemon.port)
    );
    let report = t.shutdown().unwrap().metrics;
    assert_eq!(
        report.received,
        report.exported + report.dropped + report.pending
    );
    assert!(report.exported >= 1, "{report:?}");
}

#[test]
fn dogstatsd_lines_carry_tags_and_packets_stay_under_the_size() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let t = quiet()
        .statsd(StatsdConfig {
            address: socket.local_addr().unwrap().to_string(),
            flavor: StatsdFlavor::DogStatsd,
            max_packet_size: 200,
            ..StatsdConfig::default()
        })
        .build()
        .unwrap();
    let metrics = t.metrics();
    let c = metrics.counter("orders").build().unwrap();
    for i in 0..20 {
        c.add(1, &[KeyValue::new("shop", format!("shop-{i}"))]);
    }
    metrics
        .histogram("latency")
        .unit("s")
        .build()
        .unwrap()
        .record(0.5, &[KeyValue::new("route", "/checkout")]);
    t.force_flush().unwrap();
    let mut lines = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf) {
        assert!(n <= 200, "a packet of {n} bytes");
        let text = std::str::from_utf8(&buf[..n]).unwrap().to_string();
        lines.extend(text.split('\n').map(String::from));
        if lines.iter().filter(|l| l.starts_with("orders:")).count() == 20
            && lines.iter().any(|l| l.starts_with("latency:"))
        {
            break;
        }
    }
    assert!(
        lines.contains(&"orders:1|c|#shop:shop-7,service:statsd-test".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"latency:0.5|d|#route:/checkout,service:statsd-test".to_string()),
        "{lines:#?}"
    );
    let _ = t.shutdown();
}

#[test]
fn otel_metrics_exporter_statsd_and_dogstatsd_read_their_variables() {
    let t = Telemetry::from_env()
        .vars([
            ("OTEL_METRICS_EXPORTER", "dogstatsd"),
            ("DD_AGENT_HOST", "127.0.0.1"),
            ("DD_DOGSTATSD_PORT", "9125"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(
        t.health().metrics.unwrap().exporter,
        "statsd 127.0.0.1:9125"
    );
    let _ = t.shutdown();
    let t = Telemetry::from_env()
        .vars([
            ("OTEL_METRICS_EXPORTER", "statsd"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(
        t.health().metrics.unwrap().exporter,
        "statsd 127.0.0.1:8125"
    );
    let _ = t.shutdown();
}

#[test]
fn the_configuration_file_sends_metrics_to_statsd_or_remote_write() {
    let dir = std::env::temp_dir().join(format!("telemetry-statsd-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("telemetry.yaml");
    let build = |section: &str| {
        std::fs::write(
            &file,
            format!("file_format: \"1.1\"\ntelemetry:\n{section}"),
        )
        .unwrap();
        Telemetry::from_env()
            .vars([("OTEL_CONFIG_FILE", file.display().to_string())])
            .install_globals(false)
            .shutdown_timeout(Duration::from_millis(200))
            .build()
    };
    let t = build("  statsd: { address: \"127.0.0.1:9125\", prefix: app, flavor: dogstatsd, flush_interval: 1000 }\n")
        .unwrap();
    assert_eq!(
        t.health().metrics.unwrap().exporter,
        "statsd 127.0.0.1:9125"
    );
    let _ = t.shutdown();
    let t = build("  remote_write: { url: \"http://127.0.0.1:9/api/v1/write\", timeout: 500 }\n")
        .unwrap();
    assert_eq!(
        t.health().metrics.unwrap().exporter,
        "remote write http://127.0.0.1:9/api/v1/write"
    );
    let _ = t.shutdown();
    let err = build("  statsd: { address: nowhere }\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("telemetry.statsd") && err.contains("host:port"),
        "{err}"
    );
}
