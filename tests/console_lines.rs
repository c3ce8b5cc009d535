//! What the console prints, exactly: each event as it happens, a compact line with a
//! short trace id, and each trace's tree when it ends. (The check runs this test binary
//! again as a child process and reads its stdout.)

use std::process::Command;

use telemetry::export::ExporterKind;
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

const CHILD: &str = "TELEMETRY_CONSOLE_LINES_CHILD";

#[test]
fn the_console_prints_events_as_lines_and_traces_as_trees() {
    if std::env::var_os(CHILD).is_some() {
        let t = Telemetry::builder()
            .traces_exporter(ExporterKind::Console)
            .metrics_exporter(ExporterKind::None)
            .logs_exporter(ExporterKind::Console)
            .install_globals(false)
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(t.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("request", order = 7).in_scope(|| {
                tracing::info!(attempt = 1, "waiting for the database");
            });
            tracing::warn!("outside any span");
        });
        t.shutdown().unwrap();
        return;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "the_console_prints_events_as_lines_and_traces_as_trees",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // Lines without their timestamp; the trace id as the tree names it.
    let trace = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace "))
        .unwrap_or_else(|| panic!("no tree:\n{stdout}"))
        .to_string();
    let lines: Vec<String> = stdout
        .lines()
        .filter(|l| l.contains(" INFO ") || l.contains(" WARN "))
        .filter(|l| l.starts_with("20"))
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(
        lines,
        [
            format!(
                " INFO console_lines: waiting for the database attempt=1 trace={}",
                &trace[..8]
            ),
            " WARN console_lines: outside any span".to_string(),
        ],
        "{stdout}"
    );
    assert!(stdout.contains("└─ request"), "{stdout}");
    assert!(
        stdout.contains("INFO waiting for the database  attempt=1"),
        "{stdout}"
    );
}
