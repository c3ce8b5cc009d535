//! The checks' thread (`telemetry-health`) and its current-thread runtime: one task
//! per check, each running its probe at once and then an interval after each run
//! ends; the results
//! go to the shared [`Checks`] state, each change of status to one log line, and
//! every run to the metrics:
//!
//! | name | kind | unit | attributes |
//! |---|---|---|---|
//! | `health.check.status` | gauge | – | `check`, `critical` (1 passing, 0 failing; absent while starting) |
//! | `health.check.duration` | histogram | `s` | `check`, `outcome` (`pass`, `fail`) |

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::KeyValue;

use super::probe::{self, Clients};
use super::state::{Change, CheckStatus, Checks};
use super::HealthCheck;

/// The running checks; stopping it (or dropping it) ends the thread.
pub(crate) struct Runner {
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    /// Starts `checks` on a thread of their own; `meter` gets their metrics.
    pub(crate) fn start(
        checks: Vec<HealthCheck>,
        state: Arc<Checks>,
        meter: Option<&Meter>,
    ) -> std::io::Result<Runner> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let histogram = meter.map(|m| register(m, state.clone()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("telemetry-health".into())
            .spawn(move || {
                /// Marks the state when the thread ends without being asked to.
                struct Ended(Arc<Checks>, bool);
                impl Drop for Ended {
                    fn drop(&mut self) {
                        if !self.1 {
                            self.0.runner_ended(
                                "the health-check thread `telemetry-health` stopped".into(),
                            );
                        }
                    }
                }
                let mut ended = Ended(thread_state.clone(), false);
                runtime.block_on(async move {
                    let clients = Arc::new(Clients::new());
                    for (i, check) in checks.into_iter().enumerate() {
                        tokio::spawn(keep_checking(
                            i,
                            check,
                            thread_state.clone(),
                            clients.clone(),
                            histogram.clone(),
                        ));
                    }
                    let _ = stopped.await;
                });
                ended.1 = true;
                // A blocking check that hangs is not waited for.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(Runner {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops every check and waits for the thread (at most a moment: a blocking check
    /// that hangs is left behind).
    pub(crate) fn stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn keep_checking(
    i: usize,
    check: HealthCheck,
    state: Arc<Checks>,
    clients: Arc<Clients>,
    histogram: Option<Histogram<f64>>,
) {
    let busy = Arc::new(AtomicBool::new(false));
    loop {
        let run = state.runs(i).saturating_add(1);
        let started = Instant::now();
        let result = probe::run(&check, run, &clients, &busy).await;
        let took = started.elapsed();
        if let Some(h) = &histogram {
            let outcome = if result.is_ok() { "pass" } else { "fail" };
            h.record(
                took.as_secs_f64(),
                &[
                    KeyValue::new("check", check.name.clone()),
                    KeyValue::new("outcome", outcome),
                ],
            );
        }
        if let Some((name, change)) = state.record(i, &result, took) {
            log_change(name, change, result.as_ref().err().map(String::as_str));
        }
        // The interval runs from the end of a run: a slow dependency is not probed
        // back to back.
        tokio::time::sleep(check.interval).await;
    }
}

/// One line per change of status: to the application's `tracing` subscriber when it
/// has a global one (so it reaches its logs), else on stderr.
fn log_change(name: &str, change: Change, why: Option<&str>) {
    let why = why.unwrap_or("no reason given");
    let line = match change {
        Change::FailedFirst => format!("{name}: failing: {why}"),
        Change::Failing { after } => format!("{name}: failing after {after} failures: {why}"),
        Change::Recovered { .. } => format!("{name}: recovered"),
    };
    if tracing::dispatcher::has_been_set() {
        match change {
            Change::Recovered { .. } => {
                tracing::info!(target: "telemetry::health", check = name, "{line}")
            }
            _ => tracing::warn!(target: "telemetry::health", check = name, "{line}"),
        }
    } else {
        crate::diagnostics::pipeline_state_change(format_args!("health check {line}"));
    }
}

/// The status gauge (read from the state at each collection) and the run histogram.
fn register(meter: &Meter, state: Arc<Checks>) -> Histogram<f64> {
    meter
        .u64_observable_gauge("health.check.status")
        .with_description("1 while the health check passes, 0 while it fails")
        .with_callback(move |observe| {
            for (name, critical, status) in state.statuses() {
                let value = match status {
                    CheckStatus::Pass => 1,
                    CheckStatus::Fail => 0,
                    CheckStatus::Starting => continue,
                };
                observe.observe(
                    value,
                    &[
                        KeyValue::new("check", name.to_string()),
                        KeyValue::new("critical", critical),
                    ],
                );
            }
        })
        .build();
    meter
        .f64_histogram("health.check.duration")
        .with_unit("s")
        .with_description("How long each run of a health check took")
        .with_boundaries(crate::metrics::DURATION_BUCKETS.to_vec())
        .build()
}
