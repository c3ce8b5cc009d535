//! Local log outputs never hold up the application: not a stalled writer, not another
//! thread's flush, not a shutdown; and their pretty lines read like `fmt`'s, lean (no
//! library fields, long values cut), each event printed once.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use telemetry::export::ExporterKind;
use telemetry::logs::{LogFormat, LogOutput};
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

fn quiet() -> telemetry::TelemetryBuilder {
    Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .install_globals(false)
}

/// A writer whose every write blocks until the test ends: a stalled disk or a stdout
/// nobody reads.
struct Stalled {
    writes: Arc<AtomicUsize>,
}

impl io::Write for Stalled {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        loop {
            std::thread::park();
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that keeps every line.
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

impl Kept {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn logging_never_waits_for_a_stalled_writer_or_a_waiting_flush() {
    let writes = Arc::new(AtomicUsize::new(0));
    let buffer = 16;
    let t = Arc::new(
        quiet()
            .log_output(
                LogOutput::writer(
                    Stalled {
                        writes: writes.clone(),
                    },
                    LogFormat::Json,
                )
                .buffer(buffer),
            )
            // A flush that waits for a long time: it must not hold anyone else up.
            .shutdown_timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
    );
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(t.layer()));

    // The writer takes the first line and stalls on it; then the buffer fills.
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("first");
        while writes.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        for i in 0..buffer + 4 {
            tracing::info!(i, "fills the buffer");
        }
    });
    let flushing = {
        let t = t.clone();
        std::thread::spawn(move || t.force_flush())
    };
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !flushing.is_finished(),
        "the flush waits for the stalled writer"
    );

    let (done_tx, done_rx) = mpsc::channel();
    let threads = 4;
    let per_thread = 2_500;
    for n in 0..threads {
        let dispatch = dispatch.clone();
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                for i in 0..per_thread {
                    tracing::info!(thread = n, i, "while the flush waits");
                }
            });
            let _ = done_tx.send(n);
        });
    }
    for _ in 0..threads {
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("every log call returns while the writer is stalled and a flush waits");
    }
    assert!(!flushing.is_finished(), "the flush is still waiting");
    let lost = t.lost_log_lines();
    assert!(
        lost >= (threads * per_thread) as u64 + 4,
        "the lines that did not fit are counted lost: {lost}"
    );
}

#[test]
fn a_flush_returns_once_every_line_so_far_is_written() {
    let kept = Kept::default();
    let t = quiet()
        .log_output(LogOutput::writer(kept.clone(), LogFormat::Pretty))
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(t.layer()));
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..500 {
            tracing::info!(i, "line");
        }
    });
    t.force_flush().unwrap();
    let lines = kept.lines();
    assert_eq!(lines.len(), 500, "all lines are written when flush returns");
    assert!(
        lines[0].contains("INFO log_outputs: line i=0"),
        "{}",
        lines[0]
    );
    assert!(lines[499].contains("i=499"), "in order: {}", lines[499]);
    assert_eq!(t.lost_log_lines(), 0);
}

#[test]
fn every_line_is_written_or_counted_lost_when_shutdown_races_the_loggers() {
    for round in 0..20 {
        let kept = Kept::default();
        let t = Arc::new(
            quiet()
                .log_output(LogOutput::writer(kept.clone(), LogFormat::Json).buffer(64))
                .build()
                .unwrap(),
        );
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(t.layer()));
        let per_thread = 2_000;
        let loggers: Vec<_> = (0..4)
            .map(|n| {
                let dispatch = dispatch.clone();
                std::thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for i in 0..per_thread {
                            tracing::info!(thread = n, i, "racing shutdown");
                        }
                    })
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(200 * round));
        let report = t.shutdown().unwrap();
        for logger in loggers {
            logger.join().unwrap();
        }
        let written = kept.lines().len() as u64;
        assert_eq!(
            written + t.lost_log_lines(),
            4 * per_thread,
            "round {round}: written {written}, lost {} (at shutdown {})",
            t.lost_log_lines(),
            report.lost_log_lines
        );
    }
}

/// The lines, without the timestamp (the first word) and with the trace id replaced.
fn masked_lines(kept: &Kept) -> Vec<String> {
    kept.lines()
        .into_iter()
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
    let lines = masked_lines(&kept);
    let cut = format!("{}…", "x".repeat(40));
    assert_eq!(
        lines,
        [
            format!(
                " WARN log_outputs: HTTP request{{http.request.method=GET http.route=/users/{{id}} \
                 url.path=/users/7 …}}:load_user{{user=7 note={cut}}}:\
                 cache: user missing attempt=2 reason=\"not found\" trace_id=<id>"
            ),
            " INFO log_outputs: outside any span".to_string(),
        ]
    );
    assert!(lines
        .iter()
        .all(|l| !l.contains("otel.") && !l.contains("code.")));
    // Long enough to carry the story, short enough to read: the span with seven
    // fields above stays within a wide terminal line and a half.
    assert!(lines.iter().all(|l| l.chars().count() < 240), "{lines:?}");
}

/// A line shows the span's fields as they were when its event was written: a value
/// recorded on the span later shows in later lines only, in both formats, whether or not
/// the writer thread has written the earlier line yet.
#[test]
fn a_value_recorded_on_a_span_later_shows_in_later_lines_only() {
    for format in [LogFormat::Pretty, LogFormat::Json] {
        let kept = Kept::default();
        let t = Telemetry::builder()
            .traces_exporter(ExporterKind::None)
            .metrics_exporter(ExporterKind::None)
            .logs_exporter(ExporterKind::None)
            .log_output(LogOutput::writer(kept.clone(), format))
            .install_globals(false)
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(t.layer());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", step = 1, state = tracing::field::Empty);
            let _in = span.enter();
            for step in 1..=50_u64 {
                tracing::info!("working");
                span.record("step", step + 1);
                span.record("state", "moved on");
            }
        });
        t.shutdown().unwrap();
        let lines = kept.lines();
        assert_eq!(lines.len(), 50);
        for (i, line) in lines.iter().enumerate() {
            let step = i + 1;
            let (want, moved) = match format {
                LogFormat::Json => (format!("\"step\":{step}"), "\"state\":\"moved on\""),
                _ => (format!("step={step}"), "state=\"moved on\""),
            };
            assert!(line.contains(&want), "line {i}: {line}");
            assert_eq!(line.contains(moved), i > 0, "line {i}: {line}");
        }
    }
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
