//! Retry: which failures are worth another try ([`classify`]), which are a refusal
//! of the request's size ([`refused_for_size`]), and when to try again. Pure: the
//! schedule is a function of the attempt number and a seeded jitter source.

use std::time::Duration;

use super::ExportError;

/// How failed exports are retried.
///
/// One retry loop in the whole crate: transports never retry by themselves, so every
/// failed request is seen (and counted) by the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Delay before the first retry. Default: 100 ms.
    pub initial_backoff: Duration,
    /// Growth of the delay per retry. Default: 1.5.
    pub multiplier: f64,
    /// Longest delay between two tries. Default: 2 s.
    pub max_backoff: Duration,
    /// Spread of each delay: a delay `d` becomes uniform in `d·(1 ± jitter)`. Default: 0.5.
    pub jitter: f64,
    /// Tries per batch, the first included, before the batch waits in the retry
    /// buffer for the collector to answer again. Default: 5.
    pub max_attempts: u32,
    /// Time per batch, from its first try, before it waits in the retry buffer.
    /// Default: 10 s.
    pub max_elapsed: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff: Duration::from_millis(100),
            multiplier: 1.5,
            max_backoff: Duration::from_secs(2),
            jitter: 0.5,
            max_attempts: 5,
            max_elapsed: Duration::from_secs(10),
        }
    }
}

impl RetryConfig {
    /// The delay before retry number `retry` (1 for the first retry), before jitter.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(64) as i32;
        let secs = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exp);
        let capped = secs.min(self.max_backoff.as_secs_f64());
        Duration::try_from_secs_f64(capped).unwrap_or(self.max_backoff)
    }

    /// The delay before retry number `retry`, with jitter drawn from `rng`, never above
    /// `max_backoff`.
    pub(crate) fn delay(&self, retry: u32, rng: &mut Jitter) -> Duration {
        let base = self.base_delay(retry).as_secs_f64();
        let spread = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - spread + 2.0 * spread * rng.next_unit();
        let secs = (base * factor).min(self.max_backoff.as_secs_f64()).max(0.0);
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_backoff)
    }

    pub(crate) fn validate(&self) -> Result<(), crate::ConfigError> {
        let bad = |value: String, expected: &str| {
            Err(crate::ConfigError::InvalidSetting {
                setting: "retry",
                value,
                expected: expected.to_string(),
            })
        };
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return bad(
                format!("multiplier = {}", self.multiplier),
                "a multiplier of at least 1",
            );
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return bad(
                format!("jitter = {}", self.jitter),
                "a jitter between 0 and 1",
            );
        }
        if self.max_attempts == 0 {
            return bad("max_attempts = 0".into(), "at least one attempt");
        }
        if self.initial_backoff > self.max_backoff {
            return bad(
                format!(
                    "initial_backoff = {:?}, max_backoff = {:?}",
                    self.initial_backoff, self.max_backoff
                ),
                "an initial backoff no longer than the maximum",
            );
        }
        Ok(())
    }
}

/// What a failure means for the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Transient: try again, not before `after` if the server said so.
    Retry { after: Option<Duration> },
    /// Permanent: drop the batch.
    Permanent,
    /// Permanent, and the collector never answered (a refused TLS handshake): drop
    /// the batch, and count a failure toward the circuit breaker, so that the next
    /// batches are not sent into the same failure in a tight loop.
    Unreachable,
}

/// Classifies a failure as OTLP says: HTTP 429, 502, 503, 504; gRPC CANCELLED,
/// DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and
/// RESOURCE_EXHAUSTED only with RetryInfo; refused or dropped connections and timeouts.
/// A failed TLS handshake is permanent but counts against the circuit. Everything else
/// is permanent.
pub(crate) fn classify(error: &ExportError) -> Verdict {
    match error {
        ExportError::Connect { .. } | ExportError::Timeout { .. } => Verdict::Retry { after: None },
        ExportError::Http {
            status,
            retry_after,
            ..
        } => match status {
            429 | 502 | 503 | 504 => Verdict::Retry {
                after: *retry_after,
            },
            _ => Verdict::Permanent,
        },
        ExportError::Grpc {
            code, retry_after, ..
        } => match code.0 {
            1 | 4 | 10 | 11 | 14 | 15 => Verdict::Retry {
                after: *retry_after,
            },
            8 if retry_after.is_some() => Verdict::Retry {
                after: *retry_after,
            },
            _ => Verdict::Permanent,
        },
        ExportError::Tls { .. } => Verdict::Unreachable,
        ExportError::Exporter { retryable, .. } => {
            if *retryable {
                Verdict::Retry { after: None }
            } else {
                Verdict::Permanent
            }
        }
        ExportError::Encode(_) | ExportError::Shutdown => Verdict::Permanent,
    }
}

/// Whether the collector refused a request for its size: HTTP 413, or gRPC's
/// "message larger than max" (RESOURCE_EXHAUSTED from grpc-go, OUT_OF_RANGE from
/// tonic). RESOURCE_EXHAUSTED for a quota (other words, or a RetryInfo) is not. The
/// engine asks this before [`classify`]: such a request is split, not retried as is.
pub(crate) fn refused_for_size(error: &ExportError) -> bool {
    match error {
        ExportError::Http { status, .. } => *status == 413,
        ExportError::Grpc {
            code,
            retry_after: None,
            message,
            ..
        } if code.0 == 8 || code.0 == 11 => {
            let message = message.to_ascii_lowercase();
            message.contains("larger than max") || message.contains("message length too large")
        }
        _ => false,
    }
}

/// A small seeded generator (SplitMix64) for jitter: reproducible in tests, and no
/// dependency for something this simple.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    #[cfg(test)]
    pub(crate) fn seeded(seed: u64) -> Jitter {
        Jitter(seed)
    }

    /// Seeded from the clock and the thread, for production.
    pub(crate) fn from_entropy() -> Jitter {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        Jitter(h.finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::GrpcCode;

    #[test]
    fn base_delays_grow_by_the_multiplier_up_to_the_cap() {
        let c = RetryConfig::default();
        let ms: Vec<u128> = (1..=10).map(|n| c.base_delay(n).as_millis()).collect();
        assert_eq!(ms, [100, 150, 225, 337, 506, 759, 1139, 1708, 2000, 2000]);
    }

    #[test]
    fn jittered_delays_stay_within_half_either_side_and_under_the_cap() {
        let c = RetryConfig::default();
        let mut rng = Jitter::seeded(7);
        for retry in 1..=12 {
            let base = c.base_delay(retry).as_secs_f64();
            for _ in 0..1000 {
                let d = c.delay(retry, &mut rng).as_secs_f64();
                assert!(
                    d >= base * 0.5 - 1e-9 && d <= (base * 1.5).min(2.0) + 1e-9,
                    "retry {retry}: {d}"
                );
            }
        }
        // Seeded: the same seed gives the same schedule.
        let a: Vec<_> = (1..6)
            .map(|n| c.delay(n, &mut Jitter::seeded(42)))
            .collect();
        let b: Vec<_> = (1..6)
            .map(|n| c.delay(n, &mut Jitter::seeded(42)))
            .collect();
        assert_eq!(a, b);
        // And the jitter does spread the values.
        let mut rng = Jitter::seeded(1);
        let spread: std::collections::BTreeSet<_> =
            (0..100).map(|_| c.delay(1, &mut rng)).collect();
        assert!(spread.len() > 50);
    }

    #[test]
    fn collector_defaults_reproduce_the_collector_schedule() {
        let c = RetryConfig {
            initial_backoff: Duration::from_secs(5),
            multiplier: 1.5,
            max_backoff: Duration::from_secs(30),
            ..RetryConfig::default()
        };
        let secs: Vec<f64> = (1..=6).map(|n| c.base_delay(n).as_secs_f64()).collect();
        assert_eq!(secs, [5.0, 7.5, 11.25, 16.875, 25.3125, 30.0]);
    }

    fn http(status: u16) -> ExportError {
        ExportError::Http {
            endpoint: "e".into(),
            status,
            retry_after: Some(Duration::from_secs(3)),
            message: None,
        }
    }

    fn grpc(code: i32, retry_after: Option<Duration>) -> ExportError {
        ExportError::Grpc {
            endpoint: "e".into(),
            code: GrpcCode(code),
            retry_after,
            message: String::new(),
        }
    }

    #[test]
    fn only_otlp_retryable_failures_are_retried() {
        for status in [429, 502, 503, 504] {
            assert_eq!(
                classify(&http(status)),
                Verdict::Retry {
                    after: Some(Duration::from_secs(3))
                },
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 413, 500, 501] {
            assert_eq!(classify(&http(status)), Verdict::Permanent, "{status}");
        }
        for code in [1, 4, 10, 11, 14, 15] {
            assert!(
                matches!(classify(&grpc(code, None)), Verdict::Retry { .. }),
                "{code}"
            );
        }
        for code in [2, 3, 5, 6, 7, 9, 12, 13, 16] {
            assert_eq!(classify(&grpc(code, None)), Verdict::Permanent, "{code}");
        }
        assert_eq!(
            classify(&grpc(8, None)),
            Verdict::Permanent,
            "RESOURCE_EXHAUSTED alone"
        );
        assert_eq!(
            classify(&grpc(8, Some(Duration::from_secs(2)))),
            Verdict::Retry {
                after: Some(Duration::from_secs(2))
            }
        );
        assert!(matches!(
            classify(&ExportError::Connect {
                endpoint: "e".into(),
                reason: "connection refused".into()
            }),
            Verdict::Retry { after: None }
        ));
        assert_eq!(
            classify(&ExportError::Encode("too big".into())),
            Verdict::Permanent
        );
    }

    #[test]
    fn bad_retry_settings_are_rejected() {
        let c = RetryConfig {
            multiplier: 0.5,
            ..RetryConfig::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("multiplier = 0.5"));
        let c = RetryConfig {
            max_attempts: 0,
            ..RetryConfig::default()
        };
        assert!(c.validate().is_err());
        assert!(RetryConfig::default().validate().is_ok());
    }
}
