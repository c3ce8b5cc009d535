//! The circuit breaker: closed → open after consecutive transient failures → half-open
//! after a wait, letting one probe through. Pure: it is told the time.

use std::time::{Duration, Instant};

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    /// Consecutive failed export requests that open the circuit. Default: 5.
    pub failure_threshold: u32,
    /// How long an open circuit rejects exports, with no I/O, before a probe.
    /// Default: 30 s.
    pub open_duration: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_threshold: 5,
            open_duration: Duration::from_secs(30),
        }
    }
}

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Exports flow.
    Closed,
    /// Exports are rejected at once; data waits in the retry buffer.
    Open,
    /// One probe export is allowed to test the collector.
    HalfOpen,
}

/// What the breaker lets the caller do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Send.
    Send,
    /// Send one probe (the circuit is half-open).
    Probe,
    /// Do not send before this instant.
    WaitUntil(Instant),
}

/// A state change, to be logged once and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub from: CircuitState,
    pub to: CircuitState,
}

#[derive(Debug, Clone)]
pub(crate) struct CircuitBreaker {
    config: CircuitBreakerConfig,
    state: CircuitState,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
}

impl CircuitBreaker {
    pub(crate) fn new(config: CircuitBreakerConfig) -> CircuitBreaker {
        CircuitBreaker {
            config,
            state: CircuitState::Closed,
            consecutive_failures: 0,
            open_until: None,
            probe_in_flight: false,
        }
    }

    pub(crate) fn state(&self) -> CircuitState {
        self.state
    }

    /// When an open circuit lets the next probe through (`None` unless open).
    pub(crate) fn open_until(&self) -> Option<Instant> {
        match self.state {
            CircuitState::Open => self.open_until,
            _ => None,
        }
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// May a request go out at `now`? Moves open → half-open when the wait is over.
    pub(crate) fn permit(&mut self, now: Instant) -> (Permit, Option<Transition>) {
        match self.state {
            CircuitState::Closed => (Permit::Send, None),
            CircuitState::Open => {
                let until = self.open_until.unwrap_or(now);
                if now >= until {
                    self.state = CircuitState::HalfOpen;
                    self.probe_in_flight = true;
                    (
                        Permit::Probe,
                        Some(Transition {
                            from: CircuitState::Open,
                            to: CircuitState::HalfOpen,
                        }),
                    )
                } else {
                    (Permit::WaitUntil(until), None)
                }
            }
            CircuitState::HalfOpen => {
                if self.probe_in_flight {
                    // One probe at a time; its outcome decides.
                    (
                        Permit::WaitUntil(super::after(now, self.config.open_duration)),
                        None,
                    )
                } else {
                    self.probe_in_flight = true;
                    (Permit::Probe, None)
                }
            }
        }
    }

    /// A request succeeded (or the collector answered at all, even with a permanent
    /// error: it is reachable).
    pub(crate) fn on_success(&mut self) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.probe_in_flight = false;
        self.open_until = None;
        let from = self.state;
        self.state = CircuitState::Closed;
        (from != CircuitState::Closed).then_some(Transition {
            from,
            to: CircuitState::Closed,
        })
    }

    /// A request failed transiently at `now`.
    pub(crate) fn on_failure(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.state {
            CircuitState::Closed
                if self.consecutive_failures >= self.config.failure_threshold.max(1) =>
            {
                self.open(now, CircuitState::Closed)
            }
            CircuitState::Closed | CircuitState::Open => None,
            CircuitState::HalfOpen => self.open(now, CircuitState::HalfOpen),
        }
    }

    /// Forces the breaker to let one probe out now (used at shutdown: one last chance).
    pub(crate) fn force_probe(&mut self) {
        if self.state == CircuitState::Open {
            self.open_until = None;
        }
    }

    fn open(&mut self, now: Instant, from: CircuitState) -> Option<Transition> {
        self.state = CircuitState::Open;
        self.probe_in_flight = false;
        self.open_until = Some(super::after(now, self.config.open_duration));
        Some(Transition {
            from,
            to: CircuitState::Open,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn opens_after_the_threshold_rejects_then_probes_and_recovers() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(CircuitBreakerConfig::default());
        for i in 1..5 {
            assert_eq!(b.permit(t0).0, Permit::Send);
            assert_eq!(
                b.on_failure(t0 + secs(i)),
                None,
                "failure {i} keeps it closed"
            );
        }
        let opened = b.on_failure(t0 + secs(5));
        assert_eq!(
            opened,
            Some(Transition {
                from: CircuitState::Closed,
                to: CircuitState::Open
            })
        );
        assert_eq!(b.state(), CircuitState::Open);
        // Open: rejected until exactly 30 s after the fifth failure.
        assert_eq!(b.permit(t0 + secs(6)).0, Permit::WaitUntil(t0 + secs(35)));
        assert_eq!(b.permit(t0 + secs(34)).0, Permit::WaitUntil(t0 + secs(35)));
        // Then one probe, and only one.
        let (p, tr) = b.permit(t0 + secs(35));
        assert_eq!(p, Permit::Probe);
        assert_eq!(tr.map(|t| t.to), Some(CircuitState::HalfOpen));
        assert!(matches!(b.permit(t0 + secs(35)).0, Permit::WaitUntil(_)));
        // The probe succeeds: closed, counters reset.
        assert_eq!(b.on_success().map(|t| t.to), Some(CircuitState::Closed));
        assert_eq!(b.consecutive_failures(), 0);
        assert_eq!(b.permit(t0 + secs(36)).0, Permit::Send);
    }

    #[test]
    fn a_failed_probe_reopens_for_another_full_wait() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(CircuitBreakerConfig {
            failure_threshold: 2,
            open_duration: secs(10),
        });
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.permit(t0 + secs(10)).0, Permit::Probe);
        let t = b.on_failure(t0 + secs(11));
        assert_eq!(
            t,
            Some(Transition {
                from: CircuitState::HalfOpen,
                to: CircuitState::Open
            })
        );
        assert_eq!(b.permit(t0 + secs(12)).0, Permit::WaitUntil(t0 + secs(21)));
        assert_eq!(b.permit(t0 + secs(21)).0, Permit::Probe);
    }

    #[test]
    fn a_success_resets_the_count_of_consecutive_failures() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(CircuitBreakerConfig::default());
        for _ in 0..4 {
            b.on_failure(t0);
        }
        assert_eq!(b.on_success(), None, "closed stays closed: no transition");
        for _ in 0..4 {
            assert_eq!(b.on_failure(t0), None);
        }
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn force_probe_ends_the_wait() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(CircuitBreakerConfig {
            failure_threshold: 1,
            open_duration: secs(30),
        });
        b.on_failure(t0);
        b.force_probe();
        assert_eq!(b.permit(t0 + secs(1)).0, Permit::Probe);
    }
}
