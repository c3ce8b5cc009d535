//! Throughput under load: 2 threads record span lifecycles as fast as they can for 3 s
//! through `baseline_full` (tracing-opentelemetry with the SDK's batch processors, the
//! MetricsLayer and the appender-tracing bridge), through `ours_full` and through
//! `ours_full_native` (the same on the native span path), each in its own process so
//! that peak memory is its own.
//!
//! ```text
//! cargo run --release --example throughput [-- --threads 2 --seconds 3 --rounds 3]
//! ```
//!
//! For each setup: spans/s, peak RSS (VmHWM), spans created, exported, dropped, and
//! unaccounted for (created − exported − dropped; ours counts every drop by reason).
//! The setups take turns for several rounds, and the last lines give each one's median
//! spans/s: on a shared 2-core machine a single run can lose half its speed to a
//! neighbour.

#[path = "../benches/support/setups.rs"]
mod setups;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs one setup in this process and prints one line of results.
fn child(name: &str, threads: u64, seconds: u64) {
    let setup = setups::setup(name);
    let created = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (dispatch, created, stop) = (setup.dispatch.clone(), created.clone(), stop.clone());
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..64 {
                            setups::lifecycle();
                        }
                        n += 64;
                    }
                    created.fetch_add(n, Ordering::Relaxed);
                })
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let report = setup.finish();
    let created = created.load(Ordering::Relaxed);
    let exported = report.exported.unwrap_or(0);
    let (dropped, unaccounted) = match report.dropped {
        Some(d) => (
            d.to_string(),
            created.saturating_sub(exported + d).to_string(),
        ),
        // The SDK's batch processor drops without counting: only the difference is known.
        None => (
            format!("{} (uncounted)", created.saturating_sub(exported)),
            "unknown".into(),
        ),
    };
    println!(
        "{name:<14} {:>12.0} {:>10.1} {created:>10} {exported:>10} {dropped:>20} {unaccounted:>11}",
        created as f64 / elapsed,
        peak_rss_kib() as f64 / 1024.0
    );
}

fn main() {
    let threads = arg("--threads", 2);
    let seconds = arg("--seconds", 3);
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--setup") {
        if let Some(name) = args.get(i + 1) {
            child(name, threads, seconds);
            return;
        }
    }
    println!("{threads} threads, {seconds} s per setup");
    println!(
        "{:<14} {:>12} {:>10} {:>10} {:>10} {:>20} {:>11}",
        "setup", "spans/s", "peak MiB", "created", "exported", "dropped", "unaccounted"
    );
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("throughput: cannot find my own executable: {e}");
            std::process::exit(1);
        }
    };
    let rounds = arg("--rounds", 3).max(1);
    let setups = ["baseline_full", "ours_full", "ours_full_native"];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); setups.len()];
    for round in 1..=rounds {
        for (name, rates) in setups.iter().zip(rates.iter_mut()) {
            let output = std::process::Command::new(&exe)
                .args([
                    "--setup",
                    name,
                    "--threads",
                    &threads.to_string(),
                    "--seconds",
                    &seconds.to_string(),
                ])
                .stderr(std::process::Stdio::inherit())
                .output();
            let line = match &output {
                Ok(o) if o.status.success() => {
                    String::from_utf8_lossy(&o.stdout).trim().to_string()
                }
                _ => {
                    eprintln!("throughput: {name} failed: {output:?}");
                    std::process::exit(1);
                }
            };
            println!("{line}   (round {round})");
            if let Some(rate) = line.split_whitespace().nth(1).and_then(|r| r.parse().ok()) {
                rates.push(rate);
            }
        }
    }
    let medians: Vec<f64> = rates
        .iter_mut()
        .map(|r| {
            r.sort_by(f64::total_cmp);
            r.get(r.len() / 2).copied().unwrap_or(0.0)
        })
        .collect();
    for (name, median) in setups.iter().zip(&medians) {
        println!("median {name:<14} {median:>12.0} spans/s");
    }
    println!(
        "ours_full / baseline_full: {:.2} x",
        medians[1] / medians[0].max(1.0)
    );
    println!(
        "ours_full_native / ours_full: {:.2} x",
        medians[2] / medians[1].max(1.0)
    );
}
