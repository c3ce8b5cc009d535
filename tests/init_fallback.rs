//! When telemetry cannot start, `init()` still keeps the application's log lines: it
//! installs a plain local output on stdout and says so once. (The check runs this test
//! binary again as a child process, whose stdout and stderr it reads.)

use std::process::Command;

use telemetry::Telemetry;

const CHILD: &str = "TELEMETRY_INIT_FALLBACK_CHILD";

#[test]
fn init_keeps_the_application_logs_when_telemetry_cannot_start() {
    if std::env::var_os(CHILD).is_some() {
        // A configuration `build()` refuses: telemetry cannot start.
        let guard = Telemetry::builder().max_request_size(0).init();
        tracing::info!(order = 42, "still logging");
        tracing::warn!("and warning");
        drop(guard);
        return;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "init_keeps_the_application_logs_when_telemetry_cannot_start",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("still logging"))
        .unwrap_or_else(|| panic!("no log line on stdout:\n{stdout}"));
    assert!(line.contains("INFO") && line.contains("order=42"), "{line}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("WARN") && l.contains("and warning")),
        "{stdout}"
    );
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("telemetry is off"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains("max_request_size")
            && said[0].ends_with("the application's log lines go to stdout"),
        "{}",
        said[0]
    );
}
