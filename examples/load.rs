//! A steady load through the layer, for watching the export pipeline under outages.
//!
//! ```text
//! cargo run --release --example load -- --rate 2000 --seconds 20 [--threads 2] [--recorder]
//! ```
//!
//! Records `rate` spans per second (each with a log event and a counter field) for
//! `seconds`, exporting wherever the `OTEL_*` variables point (OTLP to
//! `localhost:4318` when nothing is set). Every second a progress line goes to stderr;
//! stop and restart the collector meanwhile to see retries, the circuit breaker and the
//! retry buffer at work. At the end it shuts down and prints, as its last line, the
//! health report as one JSON object.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use telemetry::export::ExporterKind;
use telemetry::Telemetry;
use tracing_subscriber::prelude::*;

struct Args {
    rate: u64,
    seconds: u64,
    threads: u64,
    recorder: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rate: 2000,
        seconds: 20,
        threads: 2,
        recorder: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let raw = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            raw.parse::<u64>()
                .map_err(|_| format!("{name} takes a whole number, not {raw:?}"))
        };
        match flag.as_str() {
            "--rate" => args.rate = value("--rate")?,
            "--seconds" => args.seconds = value("--seconds")?,
            "--threads" => args.threads = value("--threads")?.max(1),
            "--recorder" => args.recorder = true,
            "-h" | "--help" => return Err(
                "usage: load [--rate SPANS_PER_SECOND] [--seconds N] [--threads N] [--recorder]"
                    .into(),
            ),
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut builder = Telemetry::from_env_lossy().default_service_name("load");
    let configured = std::env::vars().any(|(k, _)| {
        k == "OTEL_TRACES_EXPORTER"
            || k.starts_with("OTEL_EXPORTER_OTLP_") && k.ends_with("ENDPOINT")
    });
    if !configured {
        // Thousands of trees on the console help nobody: default to a local collector.
        builder = builder.traces_exporter(ExporterKind::Otlp);
    }
    if args.recorder {
        // The flight recorder on, within its default bounds (for the memory figure).
        builder = builder
            .recorder(telemetry::recorder::RecorderConfig::default())
            .prometheus_address("127.0.0.1:0".parse().expect("an address"));
    }
    let telemetry = match builder.build() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    };
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    eprintln!(
        "load: {} spans/s for {} s on {} thread(s), exporting to {}",
        args.rate,
        args.seconds,
        args.threads,
        telemetry
            .health()
            .traces
            .map(|h| h.exporter)
            .unwrap_or_else(|| "nowhere".into())
    );

    let done = Arc::new(AtomicBool::new(false));
    let progress = {
        let (t, done) = (telemetry.clone(), done.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(1));
                if let Some(h) = t.health().traces {
                    let c = h.counters;
                    eprintln!(
                        "load: {:>4.0}s received {} exported {} dropped {} pending {} retries {} circuit {:?}",
                        start.elapsed().as_secs_f64(),
                        c.received,
                        c.exported,
                        c.dropped,
                        c.pending,
                        c.retries,
                        h.circuit
                    );
                }
            }
        })
    };

    let per_thread = args.rate as f64 / args.threads as f64;
    let workers: Vec<_> = (0..args.threads)
        .map(|thread| {
            let dispatch = dispatch.clone();
            let seconds = args.seconds;
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || run(thread, per_thread, seconds))
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    done.store(true, Ordering::Relaxed);
    let _ = progress.join();

    if let Some(r) = telemetry.recorder() {
        let s = r.stats();
        eprintln!(
            "load: the recorder holds {} traces and {} log records, {} bytes (estimated; bound {}), \
             let go of {} traces and {} log records",
            s.traces,
            s.logs,
            s.bytes,
            telemetry::recorder::RecorderConfig::default().max_bytes,
            s.evicted_traces,
            s.evicted_logs
        );
    }
    match telemetry.shutdown() {
        Ok(_) => eprintln!("load: shut down cleanly"),
        Err(e) => eprintln!("load: shutdown: {e}"),
    }
    println!("{}", telemetry.health().to_json());
}

/// Records spans at `rate` per second for `seconds`, in 10 ms ticks.
fn run(thread: u64, rate: f64, seconds: u64) {
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut sent: u64 = 0;
    while Instant::now() < end {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            let span =
                tracing::info_span!("load.request", thread, seq = sent, otel.kind = "server");
            let _entered = span.enter();
            tracing::info!(monotonic_counter.load_requests = 1_u64, "handled");
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
