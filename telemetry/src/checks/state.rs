//! The state of the checks: the thresholds ([`Tally`]: pure, so the counting is
//! tested without servers), what each check last saw, and the reports read by
//! [`Telemetry::health`](crate::Telemetry::health) and the admin endpoint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::{HealthCheck, Observed};
use crate::health::rfc3339;
pub use crate::health::{CheckHealth, CheckStatus};

/// A change of status worth one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// The first run failed.
    FailedFirst,
    /// A passing check failed this many times in a row.
    Failing { after: u32 },
    /// A failing check passed this many times in a row.
    Recovered { after: u32 },
}

/// The thresholds at work: the first result decides; then `unhealthy` failures in a
/// row fail a passing check, and `healthy` successes in a row pass a failing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) status: CheckStatus,
    pub(crate) failures: u32,
    pub(crate) successes: u32,
    pub(crate) runs: u64,
}

impl Tally {
    pub(crate) const NEW: Tally = Tally {
        status: CheckStatus::Starting,
        failures: 0,
        successes: 0,
        runs: 0,
    };

    /// Counts one run and says whether the status changed.
    pub(crate) fn record(&mut self, passed: bool, unhealthy: u32, healthy: u32) -> Option<Change> {
        self.runs = self.runs.saturating_add(1);
        if passed {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        match (self.status, passed) {
            (CheckStatus::Starting, true) => {
                self.status = CheckStatus::Pass;
                None
            }
            (CheckStatus::Starting, false) => {
                self.status = CheckStatus::Fail;
                Some(Change::FailedFirst)
            }
            (CheckStatus::Pass, false) if self.failures >= unhealthy.max(1) => {
                self.status = CheckStatus::Fail;
                Some(Change::Failing {
                    after: self.failures,
                })
            }
            (CheckStatus::Fail, true) if self.successes >= healthy.max(1) => {
                self.status = CheckStatus::Pass;
                Some(Change::Recovered {
                    after: self.successes,
                })
            }
            _ => None,
        }
    }
}

/// What one check last saw.
struct Seen {
    tally: Tally,
    last_run_at: Option<SystemTime>,
    last_duration: Option<Duration>,
    observed: Observed,
    output: Option<String>,
    since: Option<SystemTime>,
}

struct Entry {
    name: String,
    kind: &'static str,
    critical: bool,
    unhealthy: u32,
    healthy: u32,
    seen: Mutex<Seen>,
}

/// The checks' shared state: written by the runner, read by health and the endpoint.
pub(crate) struct Checks {
    entries: Vec<Entry>,
    /// Cleared when the runner's thread ends before shutdown asked it to.
    alive: AtomicBool,
    /// Why the runner's thread ended, if it did.
    stopped: Mutex<Option<String>>,
}

impl Checks {
    pub(crate) fn new(checks: &[HealthCheck]) -> Checks {
        Checks {
            entries: checks
                .iter()
                .map(|c| Entry {
                    name: c.name.clone(),
                    kind: c.kind(),
                    critical: c.critical,
                    unhealthy: c.unhealthy_threshold,
                    healthy: c.healthy_threshold,
                    seen: Mutex::new(Seen {
                        tally: Tally::NEW,
                        last_run_at: None,
                        last_duration: None,
                        observed: Observed::default(),
                        output: None,
                        since: None,
                    }),
                })
                .collect(),
            alive: AtomicBool::new(true),
            stopped: Mutex::new(None),
        }
    }

    fn seen(entry: &Entry) -> MutexGuard<'_, Seen> {
        entry.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records run `i`'s result; returns the check's name and the change, if any.
    pub(crate) fn record(
        &self,
        i: usize,
        result: &Result<Observed, String>,
        took: Duration,
    ) -> Option<(&str, Change)> {
        let entry = self.entries.get(i)?;
        let now = SystemTime::now();
        let mut seen = Self::seen(entry);
        let change = seen
            .tally
            .record(result.is_ok(), entry.unhealthy, entry.healthy);
        seen.last_run_at = Some(now);
        seen.last_duration = Some(took);
        match result {
            Ok(observed) => {
                seen.observed = observed.clone();
                seen.output = None;
            }
            Err(why) => seen.output = Some(why.clone()),
        }
        if change.is_some() || seen.since.is_none() {
            seen.since = Some(now);
        }
        change.map(|c| (entry.name.as_str(), c))
    }

    /// The number of runs of check `i` so far.
    pub(crate) fn runs(&self, i: usize) -> u64 {
        self.entries
            .get(i)
            .map(|e| Self::seen(e).tally.runs)
            .unwrap_or(0)
    }

    /// `(name, critical, status)` of every check, for the metrics.
    pub(crate) fn statuses(&self) -> Vec<(&str, bool, CheckStatus)> {
        self.entries
            .iter()
            .map(|e| (e.name.as_str(), e.critical, Self::seen(e).tally.status))
            .collect()
    }

    /// Every check's report, in the order they were added.
    pub(crate) fn reports(&self) -> Vec<CheckHealth> {
        self.entries
            .iter()
            .map(|e| {
                let seen = Self::seen(e);
                CheckHealth {
                    name: e.name.clone(),
                    kind: e.kind,
                    critical: e.critical,
                    status: seen.tally.status,
                    consecutive_failures: seen.tally.failures,
                    consecutive_successes: seen.tally.successes,
                    runs: seen.tally.runs,
                    last_run_at: seen.last_run_at.map(rfc3339),
                    last_duration_ms: seen.last_duration.map(|d| d.as_secs_f64() * 1000.0),
                    observed_value: seen.observed.value,
                    observed_unit: seen.observed.unit.clone(),
                    output: seen.output.clone(),
                    since: seen.since.map(rfc3339),
                }
            })
            .collect()
    }

    /// Marks the runner's thread as ended, and why.
    pub(crate) fn runner_ended(&self, why: String) {
        self.alive.store(false, Ordering::Release);
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// `Ok` while the runner's thread runs; else why it ended.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn runner_alive(&self) -> Result<(), String> {
        if self.alive.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(self
            .stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| "the health-check thread stopped".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(results: &[bool], unhealthy: u32, healthy: u32) -> Vec<(CheckStatus, Option<Change>)> {
        let mut t = Tally::NEW;
        results
            .iter()
            .map(|&ok| {
                let change = t.record(ok, unhealthy, healthy);
                (t.status, change)
            })
            .collect()
    }

    #[test]
    fn the_first_result_decides_then_thresholds_count_runs_in_a_row() {
        use CheckStatus::{Fail, Pass};
        let seen = run(
            &[true, false, false, true, false, false, false, true, true],
            3,
            2,
        );
        assert_eq!(
            seen,
            [
                (Pass, None),
                (Pass, None),
                (Pass, None),
                // A success resets the count.
                (Pass, None),
                (Pass, None),
                (Pass, None),
                (Fail, Some(Change::Failing { after: 3 })),
                (Fail, None),
                (Pass, Some(Change::Recovered { after: 2 })),
            ]
        );
        let first = run(&[false, true, false, true, true], 3, 2);
        assert_eq!(first[0], (Fail, Some(Change::FailedFirst)));
        // A failure between successes starts the count again.
        assert_eq!(first[3], (Fail, None));
        assert_eq!(first[4], (Pass, Some(Change::Recovered { after: 2 })));
    }

    #[test]
    fn thresholds_of_one_flip_on_every_change() {
        use CheckStatus::{Fail, Pass};
        let seen = run(&[true, false, true], 1, 1);
        assert_eq!(
            seen,
            [
                (Pass, None),
                (Fail, Some(Change::Failing { after: 1 })),
                (Pass, Some(Change::Recovered { after: 1 })),
            ]
        );
    }
}
