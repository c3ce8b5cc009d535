//! [`HealthReport`]: what each signal's export pipeline is doing and has done.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::export::CircuitState;
use crate::export::Snapshot;

/// Items dropped, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DroppedByReason {
    /// The queue between the application and the export thread was full.
    pub queue_full: u64,
    /// The retry buffer was full: the oldest batches made room.
    pub buffer_full: u64,
    /// The collector accepted the request but rejected these items (partial success).
    pub rejected_by_collector: u64,
    /// The collector refused the request permanently (e.g. HTTP 400), or it could not
    /// be encoded.
    pub non_retryable: u64,
    /// Still undelivered when the shutdown timeout ran out, or offered after shutdown.
    pub shutdown: u64,
    /// The export thread had stopped (it panicked or could not run): what it held,
    /// what was left in its queue and what was offered afterwards.
    pub thread_stopped: u64,
    /// An item that alone encodes larger than the request size limit
    /// (`max_request_size`), or that a collector refused for its size.
    pub too_large: u64,
}

impl DroppedByReason {
    /// All drops.
    pub fn total(&self) -> u64 {
        [
            self.buffer_full,
            self.rejected_by_collector,
            self.non_retryable,
            self.shutdown,
            self.thread_stopped,
            self.too_large,
        ]
        .into_iter()
        .fold(self.queue_full, u64::saturating_add)
    }
}

impl fmt::Display for DroppedByReason {
    /// The non-zero reasons, e.g. `3 queue full, 1 shutdown`; empty when nothing was
    /// dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reasons = [
            (self.queue_full, "queue full"),
            (self.buffer_full, "buffer full"),
            (self.rejected_by_collector, "rejected by the collector"),
            (self.non_retryable, "non-retryable"),
            (self.shutdown, "shutdown"),
            (self.thread_stopped, "thread stopped"),
            (self.too_large, "too large"),
        ];
        let mut first = true;
        for (n, reason) in reasons.into_iter().filter(|(n, _)| *n > 0) {
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{n} {reason}")?;
            first = false;
        }
        Ok(())
    }
}

/// Circuit breaker transitions so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CircuitTransitions {
    /// Times the circuit opened (from closed or after a failed probe).
    pub opened: u64,
    /// Times it went half-open to probe.
    pub half_opened: u64,
    /// Times it closed again.
    pub closed: u64,
}

/// The counters of one signal. At every moment
/// `received = exported + dropped + pending`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SignalReport {
    /// Items handed to the pipeline by the application.
    pub received: u64,
    /// Items the collector (or console) accepted.
    pub exported: u64,
    /// All items dropped; see `dropped_by_reason`.
    pub dropped: u64,
    /// Items dropped, by reason.
    pub dropped_by_reason: DroppedByReason,
    /// Items not yet delivered: queued, batching, buffered or in flight.
    pub pending: u64,
    /// Export requests sent, retries included.
    pub requests: u64,
    /// Requests that were retries of a failed one.
    pub retries: u64,
    /// Requests that failed.
    pub failed_requests: u64,
    /// Circuit breaker transitions.
    pub circuit_transitions: CircuitTransitions,
}

impl fmt::Display for SignalReport {
    /// One short line: `1200 exported, 3 dropped (3 queue full), 0 pending`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} exported, {} dropped", self.exported, self.dropped)?;
        if self.dropped > 0 {
            write!(f, " ({})", self.dropped_by_reason)?;
        }
        write!(f, ", {} pending", self.pending)
    }
}

impl SignalReport {
    pub(crate) fn from_snapshot(s: &Snapshot) -> SignalReport {
        let w = &s.thread;
        let dropped_by_reason = DroppedByReason {
            queue_full: s.dropped_queue_full,
            buffer_full: w.dropped_buffer_full,
            rejected_by_collector: w.dropped_rejected,
            non_retryable: w.dropped_non_retryable,
            shutdown: s.dropped_shutdown(),
            thread_stopped: s.dropped_thread_stopped(),
            too_large: w.dropped_too_large,
        };
        SignalReport {
            received: s.received,
            exported: w.exported,
            dropped: dropped_by_reason.total(),
            dropped_by_reason,
            pending: s.pending(),
            requests: w.requests,
            retries: w.retries,
            failed_requests: w.failed_requests,
            circuit_transitions: CircuitTransitions {
                opened: w.opened,
                half_opened: w.half_opened,
                closed: w.closed,
            },
        }
    }
}

/// The health of one signal's pipeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignalHealth {
    /// False when the circuit is not closed, or when the export thread has stopped
    /// (then `last_error` names the thread and why, and nothing more is exported).
    pub healthy: bool,
    /// False once the export thread has stopped (what `/livez` reads).
    pub running: bool,
    /// Where the signal goes (`console`, or the OTLP endpoint).
    pub exporter: String,
    /// The circuit breaker's state.
    pub circuit: CircuitState,
    /// Failed requests in a row.
    pub consecutive_failures: u32,
    /// The last export error, if any.
    pub last_error: Option<String>,
    /// When the last error happened (RFC 3339, UTC).
    pub last_error_at: Option<String>,
    /// When the last request succeeded (RFC 3339, UTC).
    pub last_success_at: Option<String>,
    /// Items waiting in the queue for the export thread.
    pub queue_depth: u64,
    /// Items waiting in the retry buffer (including a batch being assembled).
    pub buffer_depth: u64,
    /// Encoded bytes in the retry buffer.
    pub buffer_bytes: u64,
    /// The counters.
    pub counters: SignalReport,
}

impl SignalHealth {
    pub(crate) fn from_snapshot(exporter: &str, s: &Snapshot) -> SignalHealth {
        let w = &s.thread;
        let circuit = w.circuit.unwrap_or(CircuitState::Closed);
        SignalHealth {
            healthy: circuit == CircuitState::Closed && w.stopped.is_none(),
            running: w.stopped.is_none(),
            exporter: exporter.to_string(),
            circuit,
            consecutive_failures: w.consecutive_failures,
            last_error: w.last_error.as_ref().map(|(_, e)| e.clone()),
            last_error_at: w.last_error.as_ref().map(|(t, _)| rfc3339(*t)),
            last_success_at: w.last_success.map(rfc3339),
            queue_depth: s.queued,
            buffer_depth: w.buffered + w.batch + w.in_flight,
            buffer_bytes: w.buffered_bytes,
            counters: SignalReport::from_snapshot(s),
        }
    }
}

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Not run yet: readiness waits for every critical check's first result.
    Starting,
    /// Passing.
    Pass,
    /// Failing.
    Fail,
}

impl CheckStatus {
    /// `starting`, `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Starting => "starting",
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
        }
    }
}

/// One [health check](crate::HealthCheck) in a [`HealthReport`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct CheckHealth {
    /// The check's name.
    pub name: String,
    /// `tcp`, `http` or `custom`.
    pub kind: &'static str,
    /// Whether it gates readiness.
    pub critical: bool,
    /// Where it stands.
    pub status: CheckStatus,
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// Passed runs in a row.
    pub consecutive_successes: u32,
    /// Runs so far.
    pub runs: u64,
    /// When the last run ended (RFC 3339, UTC).
    pub last_run_at: Option<String>,
    /// How long the last run took, in milliseconds.
    pub last_duration_ms: Option<f64>,
    /// What the last passing run observed (TCP and HTTP: its duration in ms).
    pub observed_value: Option<f64>,
    /// The unit of `observed_value`.
    pub observed_unit: Option<String>,
    /// Why the last run failed, while it did.
    pub output: Option<String>,
    /// When the status last changed (RFC 3339, UTC).
    pub since: Option<String>,
}

/// What [`Telemetry::health`](crate::Telemetry::health) returns: per signal, the
/// circuit state, failures, queue and buffer depth and the counters; and every
/// [health check](crate::HealthCheck). Serialisable, so it can be served as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// True when every signal is healthy (no circuit open, no export thread stopped)
    /// and no critical health check fails.
    pub healthy: bool,
    /// Spans (absent when no span pipeline runs).
    pub traces: Option<SignalHealth>,
    /// Metric pushes (absent with Prometheus, which pulls, or no metric exporter).
    pub metrics: Option<SignalHealth>,
    /// Log records (absent when logs are not exported).
    pub logs: Option<SignalHealth>,
    /// Lines the local log outputs could not take.
    pub lost_log_lines: u64,
    /// Metric attribute sets collapsed into the overflow series by the cardinality
    /// limit.
    pub metric_overflow: u64,
    /// The health checks, in the order they were added.
    pub checks: Vec<CheckHealth>,
}

impl HealthReport {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// `t` in RFC 3339, UTC, to the millisecond (`2026-11-22T19:44:22.123Z`).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    Rfc3339::of(t).as_str().to_owned()
}

/// A time written as [`rfc3339`] writes it, on the stack: log lines take it without an
/// allocation or the formatting machinery.
pub(crate) struct Rfc3339 {
    text: [u8; 24],
    /// Past year 9999 the text does not fit: then it is made the slow way.
    long: Option<String>,
}

impl Rfc3339 {
    pub(crate) fn of(t: SystemTime) -> Rfc3339 {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
        let millis = d.subsec_millis();
        if year > 9999 {
            return Rfc3339 {
                text: [0; 24],
                long: Some(format!(
                    "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z"
                )),
            };
        }
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut n: u64| {
            for i in (at..at + width).rev() {
                if let Some(b) = text.get_mut(i) {
                    *b = b'0' + (n % 10) as u8;
                }
                n /= 10;
            }
        };
        put(0, 4, year.unsigned_abs());
        put(5, 2, month.unsigned_abs());
        put(8, 2, day.unsigned_abs());
        put(11, 2, hour);
        put(14, 2, minute);
        put(17, 2, second);
        put(20, 3, u64::from(millis));
        Rfc3339 { text, long: None }
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.long {
            Some(long) => long,
            // ASCII digits and separators only.
            None => std::str::from_utf8(&self.text).unwrap_or_default(),
        }
    }
}

/// What [`Telemetry::shutdown`](crate::Telemetry::shutdown) delivered, per signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Spans.
    pub traces: SignalReport,
    /// Metric collections (one item per collection pushed).
    pub metrics: SignalReport,
    /// Log records.
    pub logs: SignalReport,
    /// Lines the local log outputs could not take.
    pub lost_log_lines: u64,
}

impl fmt::Display for ShutdownReport {
    /// One short line per signal, then the lost log lines when there are any:
    ///
    /// ```text
    /// traces: 1200 exported, 3 dropped (3 queue full), 0 pending
    /// metrics: 4 exported, 0 dropped, 0 pending
    /// logs: 310 exported, 0 dropped, 0 pending
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "traces: {}\nmetrics: {}\nlogs: {}",
            self.traces, self.metrics, self.logs
        )?;
        if self.lost_log_lines > 0 {
            write!(
                f,
                "\nlocal log outputs: {} line(s) lost",
                self.lost_log_lines
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_376_662_123)),
            "2026-11-22T19:44:22.123Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(253_402_300_799_999)),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            "10000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000Z",
            "before the epoch: the epoch"
        );
    }

    #[test]
    fn the_shutdown_report_reads_as_one_short_line_per_signal() {
        let traces = SignalReport {
            received: 1203,
            exported: 1200,
            dropped: 3,
            dropped_by_reason: DroppedByReason {
                queue_full: 2,
                shutdown: 1,
                ..DroppedByReason::default()
            },
            ..SignalReport::default()
        };
        let report = ShutdownReport {
            traces,
            metrics: SignalReport {
                exported: 4,
                ..SignalReport::default()
            },
            logs: SignalReport::default(),
            lost_log_lines: 0,
        };
        assert_eq!(
            report.to_string(),
            "traces: 1200 exported, 3 dropped (2 queue full, 1 shutdown), 0 pending\n\
             metrics: 4 exported, 0 dropped, 0 pending\n\
             logs: 0 exported, 0 dropped, 0 pending"
        );
        let lossy = ShutdownReport {
            lost_log_lines: 7,
            ..report
        };
        assert!(lossy
            .to_string()
            .ends_with("\nlocal log outputs: 7 line(s) lost"));
    }
}
