//! The pretty line format: the form `tracing-subscriber`'s `fmt` users know, lean (no
//! library fields, long values cut), and each event printed once on stdout.

use std::io;
use std::sync::{Arc, Mutex};

use telemetry::export::ExporterKind;
use telemetry::logs::{LogFormat, LogOutput};
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<u8>>>);

impl io::Write for Kept {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The lines, without the timestamp (the first word) and with the trace id replaced.
fn lines(kept: &Kept) -> Vec<String> {
    let text = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|l| {
            let (_, rest) = l.split_once(' ').unwrap();
            match rest.split_once(" trace_id=") {
                Some((head, id)) => {
                    assert_eq!(id.len(), 32, "{l}");
                    format!("{head} trace_id=<id>")
                }
                None => rest.to_string(),
            }
        })
        .collect()
}

#[test]
fn pretty_lines_read_like_fmt_and_leave_out_the_library_fields() {
    let kept = Kept::default();
    let t = Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .log_output(LogOutput::writer(kept.clone(), LogFormat::Pretty))
        .install_globals(false)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        let long = "x".repeat(100);
        let _request = tracing::info_span!(
            "HTTP request",
            otel.name = "GET /users/{id}",
            otel.kind = "server",
            http.request.method = "GET",
            http.route = "/users/{id}",
            url.path = "/users/7",
            client.address = "127.0.0.1",
            user_agent.original = "curl/8",
        )
        .entered();
        let _handler = tracing::info_span!(
            "load_user",
            code.function.name = "app::load_user",
            user = 7,
            note = long.as_str()
        )
        .entered();
        let _quiet = tracing::info_span!("cache").entered();
        tracing::warn!(attempt = 2, reason = "not found", "user missing");
    });
    tracing::subscriber::with_default(tracing_subscriber::registry().with(t.layer()), || {
        tracing::info!("outside any span")
    });
    t.shutdown().unwrap();
    let lines = lines(&kept);
    let cut = format!("{}…", "x".repeat(40));
    assert_eq!(
        lines,
        [
            format!(
                " WARN log_format: HTTP request{{http.request.method=GET http.route=/users/{{id}} \
                 url.path=/users/7 …}}:load_user{{user=7 note={cut}}}:\
                 cache: user missing attempt=2 reason=\"not found\" trace_id=<id>"
            ),
            " INFO log_format: outside any span".to_string(),
        ]
    );
    assert!(lines
        .iter()
        .all(|l| !l.contains("otel.") && !l.contains("code.")));
    // Long enough to carry the story, short enough to read: the span with seven
    // fields above stays within a wide terminal line and a half.
    assert!(lines.iter().all(|l| l.chars().count() < 240), "{lines:?}");
}

#[test]
fn with_a_stdout_output_the_console_log_exporter_steps_aside() {
    let with_stdout = Telemetry::builder()
        .traces_exporter(ExporterKind::Console)
        .logs_exporter(ExporterKind::Console)
        .log_output(LogOutput::stdout(LogFormat::Pretty))
        .install_globals(false)
        .build()
        .unwrap();
    // The stdout output prints every event; a console log pipeline would print those
    // outside spans a second time.
    assert!(
        with_stdout.health().logs.is_none(),
        "{:?}",
        with_stdout.health()
    );
    let _ = with_stdout.shutdown();
    let without = Telemetry::builder()
        .traces_exporter(ExporterKind::Console)
        .logs_exporter(ExporterKind::Console)
        .install_globals(false)
        .build()
        .unwrap();
    assert_eq!(
        without.health().logs.expect("console logs").exporter,
        "console"
    );
    let _ = without.shutdown();
}

#[test]
fn on_the_console_an_event_inside_an_open_span_prints_before_the_span_ends() {
    let t = Telemetry::builder()
        .traces_exporter(ExporterKind::Console)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::Console)
        .install_globals(false)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        let _hung = tracing::info_span!("request that hangs").entered();
        tracing::info!("waiting for the database");
        // The span is still open: its tree is not printed yet, but the line is.
        t.force_flush().unwrap();
        let logs = t.health().logs.expect("console logs");
        assert_eq!(logs.counters.exported, 1, "{logs:?}");
        assert_eq!(
            t.health().traces.expect("console traces").counters.received,
            0
        );
    });
    t.shutdown().unwrap();
}
