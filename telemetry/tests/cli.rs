//! The `telemetry` command-line program against a running service's admin endpoint:
//! trace search and show, log tail, health, `--json`, and an error a person can act on
//! when nothing listens.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

mod recorded_service;

use recorded_service::recorded_service;
use tracing_subscriber::prelude::*;

/// The `telemetry` binary, which cargo builds for this test (feature `cli`).
fn cli() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_telemetry"))
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cli()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_searches_shows_tails_and_reports_health() {
    let t = recorded_service("cli-test");
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("GET /orders", otel.kind = "server").in_scope(|| {});
        tracing::info_span!("POST /checkout", otel.kind = "server").in_scope(|| {
            tracing::info_span!("charge", otel.kind = "client").in_scope(|| {
                tracing::error!(error = "card declined", "payment failed");
            });
        });
    });
    t.force_flush().unwrap();
    let addr = t.admin_address().unwrap().to_string();

    let (ok, out, err) = run(&["--addr", &addr, "traces", "search", "--errors"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("TRACE ID"), "{out}");
    assert_eq!(lines.len(), 2, "one error trace: {out}");
    assert!(lines[1].ends_with("POST /checkout"), "{out}");
    assert!(
        lines[1].contains("cli-test") && lines[1].contains("yes"),
        "{out}"
    );
    let trace_id = lines[1].split_whitespace().next().unwrap().to_string();

    let (ok, out, err) = run(&["--addr", &addr, "traces", "show", &trace_id]);
    assert!(ok, "{err}");
    assert!(out.starts_with(&format!("trace {trace_id}\n")), "{out}");
    assert!(out.contains("└─ POST /checkout [server]"), "{out}");
    assert!(out.contains("   └─ charge [client]"), "{out}");
    assert!(out.contains("payment failed"), "{out}");

    let (ok, out, _) = run(&[
        "--addr", &addr, "--json", "traces", "search", "--name", "orders",
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["traces"][0]["name"], "GET /orders");

    let (ok, out, err) = run(&["--addr", &addr, "logs", "tail", "--level", "warn"]);
    assert!(ok, "{err}");
    assert!(out.contains("ERROR"), "{out}");
    assert!(out.contains("payment failed error=card declined"), "{out}");

    let (ok, out, err) = run(&[
        "--addr",
        &addr,
        "metrics",
        "list",
        "--name",
        "span.duration",
    ]);
    assert!(ok, "{err}");
    let checkout = out
        .lines()
        .find(|l| l.contains("span.name=POST /checkout"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(checkout.starts_with("span.duration (s)"), "{out}");
    assert!(checkout.contains("count=1"), "{out}");
    assert!(!out.contains("health.check"), "only the prefix: {out}");

    let (ok, out, err) = run(&["--addr", &addr, "health"]);
    assert!(ok, "{err}");
    assert!(out.contains("[+]export-logs ok"), "{out}");
    assert!(out.ends_with("health check passed\n"), "{out}");

    let (ok, _, err) = run(&[
        "--addr",
        &addr,
        "traces",
        "show",
        "00000000000000000000000000000001",
    ]);
    assert!(!ok);
    assert!(err.contains("no recorded trace"), "{err}");
    let _ = t.shutdown();
}

#[test]
fn nothing_listening_is_an_error_a_person_can_act_on() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (ok, _, err) = run(&["--addr", &free, "health"]);
    assert!(!ok);
    assert!(
        err.starts_with(&format!(
            "telemetry: no service listening on {free} (is the admin endpoint on?"
        )),
        "{err}"
    );
    let (ok, _, err) = run(&["--addr", "nowhere", "health"]);
    assert!(!ok);
    assert!(err.contains("is not host:port"), "{err}");
}

#[test]
fn logs_tail_follow_prints_new_records_as_they_come() {
    use std::io::BufRead as _;
    let t = recorded_service("cli-follow");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(t.layer()));
    tracing::dispatcher::with_default(&dispatch, || tracing::warn!("first"));
    t.force_flush().unwrap();
    let addr = t.admin_address().unwrap().to_string();
    let mut child = Command::new(cli())
        .args([
            "--addr", &addr, "logs", "tail", "--level", "warn", "--follow",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a line from `logs tail --follow`")
    };
    assert!(next().ends_with("WARN cli: first"));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("not shown");
        tracing::error!(attempt = 2_u64, "second");
    });
    t.force_flush().unwrap();
    let line = next();
    assert!(line.ends_with("ERROR cli: second attempt=2"), "{line}");
    // Still following: the process has not ended.
    assert!(child.try_wait().unwrap().is_none());
    let _ = child.kill();
    let _ = child.wait();
    let _ = t.shutdown();
}
