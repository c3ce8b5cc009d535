use std::sync::atomic::Ordering;

use super::*;
use crate::export::GrpcCode;

/// A transport whose requests never resolve: the tests book outcomes by hand with
/// `complete`, at instants they choose.
#[derive(Default)]
struct Scripted {
    sent: Vec<u64>,
}

impl Transport<u64> for Scripted {
    type Payload = Vec<u64>;
    fn encode(&mut self, batch: Vec<u64>) -> Result<Encoded<Vec<u64>>, ExportError> {
        let n = batch.len() as u64;
        Ok(Encoded::one(batch, n))
    }
    fn split(&mut self, payload: &Vec<u64>) -> Option<[(Vec<u64>, u64); 2]> {
        if payload.len() < 2 {
            return None;
        }
        let (a, b) = payload.split_at(payload.len() / 2);
        Some([(a.to_vec(), a.len() as u64), (b.to_vec(), b.len() as u64)])
    }
    fn size(&self, payload: &Vec<u64>) -> u64 {
        payload.len() as u64 * 10
    }
    fn send(&mut self, payload: &Vec<u64>) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        self.sent.push(payload[0]);
        Box::pin(std::future::pending())
    }
    fn target(&self) -> &str {
        "scripted"
    }
}

fn engine(config: ResilienceConfig) -> (Engine<u64, Scripted>, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let r = Engine::new(
        Signal::Traces,
        Scripted::default(),
        config,
        stats.clone(),
        Jitter::seeded(3),
    );
    (r, stats)
}

/// Feeds a batch as the export thread would: received, taken, batched, admitted.
fn offer(r: &mut Engine<u64, Scripted>, stats: &Stats, batch: Vec<u64>) {
    let n = batch.len() as u64;
    stats.received.fetch_add(n, Ordering::SeqCst);
    stats.thread_counters().took(n);
    r.admit(batch);
}

fn unavailable(retry_after: Option<Duration>) -> ExportError {
    ExportError::Http {
        endpoint: "e".into(),
        status: 503,
        retry_after,
        message: None,
    }
}

fn balanced(stats: &Stats) {
    let s = stats.snapshot();
    let r = crate::health::SignalReport::from_snapshot(&s);
    assert_eq!(r.received, r.exported + r.dropped + r.pending, "{r:?}");
}

#[test]
fn a_server_delay_longer_than_the_backoff_is_honoured() {
    let t0 = Instant::now();
    let (mut r, stats) = engine(ResilienceConfig::default());
    offer(&mut r, &stats, vec![1, 2, 3]);
    assert_eq!(r.start(t0), None);
    r.complete(Err(unavailable(Some(Duration::from_secs(3)))), t0);
    balanced(&stats);
    assert_eq!(stats.thread_counters().buffered, 3, "kept for a retry");
    let due = t0 + Duration::from_secs(3);
    assert_eq!(r.start(t0 + Duration::from_millis(2999)), Some(due));
    assert_eq!(
        r.transport.sent.len(),
        1,
        "no request before the server's delay"
    );
    assert_eq!(r.start(due), None);
    assert_eq!(r.transport.sent.len(), 2);
    r.complete(Ok(Delivered::default()), due);
    let w = stats.thread_counters().clone();
    assert_eq!((w.exported, w.retries, w.requests), (3, 1, 2));
    balanced(&stats);
}

#[test]
fn absurd_server_delays_and_waits_do_not_panic() {
    let t0 = Instant::now();
    let config = ResilienceConfig {
        circuit: CircuitBreakerConfig {
            failure_threshold: 1,
            open_duration: Duration::MAX,
        },
        ..ResilienceConfig::default()
    };
    let (mut r, stats) = engine(config);
    offer(&mut r, &stats, vec![1]);
    r.start(t0);
    // `Retry-After: 18446744073709551615` parses to this.
    r.complete(Err(unavailable(Some(Duration::MAX))), t0);
    let at = r.next_attempt_at().expect("a retry is scheduled");
    assert!(
        at > t0 + Duration::from_secs(365 * 24 * 3600),
        "far away: {:?}",
        at - t0
    );
    assert!(
        r.start(t0 + Duration::from_secs(3600)).is_some(),
        "and nothing is sent"
    );
    balanced(&stats);
}

#[test]
fn the_backoff_wins_when_the_server_asks_for_less() {
    let t0 = Instant::now();
    let config = ResilienceConfig {
        retry: RetryConfig {
            jitter: 0.0,
            initial_backoff: Duration::from_secs(1),
            ..RetryConfig::default()
        },
        ..ResilienceConfig::default()
    };
    let (mut r, stats) = engine(config);
    offer(&mut r, &stats, vec![1]);
    r.start(t0);
    r.complete(Err(unavailable(Some(Duration::from_millis(10)))), t0);
    assert_eq!(r.start(t0), Some(t0 + Duration::from_secs(1)));
}

#[test]
fn five_failures_open_the_circuit_which_then_rejects_without_a_request() {
    let t0 = Instant::now();
    let config = ResilienceConfig {
        retry: RetryConfig {
            jitter: 0.0,
            ..RetryConfig::default()
        },
        ..ResilienceConfig::default()
    };
    let (mut r, stats) = engine(config);
    offer(&mut r, &stats, vec![1, 2]);
    let mut now = t0;
    for attempt in 1..=5 {
        assert_eq!(r.start(now), None, "attempt {attempt} goes out");
        r.complete(
            Err(ExportError::Connect {
                endpoint: "127.0.0.1:4317".into(),
                reason: "connection refused".into(),
            }),
            now,
        );
        now = r.next_attempt_at().unwrap();
    }
    let w = stats.thread_counters().clone();
    assert_eq!(w.circuit, Some(CircuitState::Open));
    assert_eq!((w.opened, w.requests, w.failed_requests), (1, 5, 5));
    // New data is buffered while open; no request goes out until the wait is over.
    offer(&mut r, &stats, vec![3]);
    let open_at = t0 + Duration::from_micros(100_000 + 150_000 + 225_000 + 337_500);
    let reopen = open_at + Duration::from_secs(30);
    assert_eq!(r.start(open_at + Duration::from_secs(29)), Some(reopen));
    assert_eq!(r.transport.sent.len(), 5);
    balanced(&stats);
    // The probe is the oldest batch; its success closes the circuit and the rest
    // follows, oldest first.
    assert_eq!(r.start(reopen), None);
    assert_eq!(r.transport.sent, [1, 1, 1, 1, 1, 1]);
    assert_eq!(
        stats.thread_counters().circuit,
        Some(CircuitState::HalfOpen)
    );
    r.complete(Ok(Delivered::default()), reopen);
    assert_eq!(stats.thread_counters().circuit, Some(CircuitState::Closed));
    assert_eq!(r.start(reopen), None);
    assert_eq!(r.transport.sent.last(), Some(&3));
    r.complete(Ok(Delivered::default()), reopen);
    let w = stats.thread_counters().clone();
    assert_eq!(
        (w.exported, w.opened, w.half_opened, w.closed),
        (3, 1, 1, 1)
    );
    assert!(r.is_idle());
    balanced(&stats);
}

#[test]
fn permanent_errors_drop_at_once_and_partial_success_is_never_resent() {
    let t0 = Instant::now();
    let (mut r, stats) = engine(ResilienceConfig::default());
    offer(&mut r, &stats, vec![1, 2, 3, 4]);
    r.start(t0);
    r.complete(
        Err(ExportError::Http {
            endpoint: "e".into(),
            status: 400,
            retry_after: None,
            message: Some("bad".into()),
        }),
        t0,
    );
    assert_eq!(stats.thread_counters().dropped_non_retryable, 4);
    assert!(r.is_idle());
    offer(&mut r, &stats, (10..20).collect());
    r.start(t0);
    r.complete(
        Ok(Delivered {
            rejected: 5,
            message: Some("5 spans too old".into()),
        }),
        t0,
    );
    let w = stats.thread_counters().clone();
    assert_eq!((w.exported, w.dropped_rejected), (5, 5));
    assert!(r.is_idle(), "nothing is resent");
    assert_eq!(r.transport.sent.len(), 2);
    // RESOURCE_EXHAUSTED without RetryInfo is permanent too.
    offer(&mut r, &stats, vec![30]);
    r.start(t0);
    r.complete(
        Err(ExportError::Grpc {
            endpoint: "e".into(),
            code: GrpcCode(8),
            retry_after: None,
            message: "quota".into(),
        }),
        t0,
    );
    assert_eq!(stats.thread_counters().dropped_non_retryable, 5);
    balanced(&stats);
}

#[test]
fn a_full_buffer_drops_the_oldest_batches_and_counts_them() {
    let t0 = Instant::now();
    let config = ResilienceConfig {
        buffer: RetryBufferConfig {
            max_items: 10,
            max_bytes: u64::MAX,
        },
        ..ResilienceConfig::default()
    };
    let (mut r, stats) = engine(config);
    offer(&mut r, &stats, vec![1, 1, 1, 1]);
    offer(&mut r, &stats, vec![2, 2, 2, 2]);
    offer(&mut r, &stats, vec![3, 3, 3, 3]);
    let w = stats.thread_counters().clone();
    assert_eq!((w.buffered, w.dropped_buffer_full), (8, 4));
    assert_eq!(r.start(t0), None);
    assert_eq!(r.transport.sent, [2], "the oldest left was batch 2");
    balanced(&stats);
    // The byte bound works the same way.
    let config = ResilienceConfig {
        buffer: RetryBufferConfig {
            max_items: u64::MAX,
            max_bytes: 50,
        },
        ..ResilienceConfig::default()
    };
    let (mut r, stats) = engine(config);
    offer(&mut r, &stats, vec![1, 1, 1]);
    offer(&mut r, &stats, vec![2, 2, 2]);
    assert_eq!(stats.thread_counters().dropped_buffer_full, 3);
    assert_eq!(stats.thread_counters().buffered_bytes, 30);
}

#[test]
fn a_batch_whose_retries_are_spent_waits_for_the_next_chance() {
    let t0 = Instant::now();
    let config = ResilienceConfig {
        retry: RetryConfig {
            max_attempts: 2,
            jitter: 0.0,
            ..RetryConfig::default()
        },
        circuit: CircuitBreakerConfig {
            failure_threshold: 100,
            ..CircuitBreakerConfig::default()
        },
        ..ResilienceConfig::default()
    };
    let (mut r, stats) = engine(config);
    offer(&mut r, &stats, vec![1]);
    r.start(t0);
    r.complete(Err(unavailable(None)), t0);
    let t1 = r.next_attempt_at().unwrap();
    assert_eq!(t1, t0 + Duration::from_millis(100));
    r.start(t1);
    r.complete(Err(unavailable(None)), t1);
    // Budget spent: kept (not dropped), retried after the longest backoff.
    assert_eq!(stats.thread_counters().buffered, 1);
    assert_eq!(r.next_attempt_at(), Some(t1 + Duration::from_secs(2)));
    balanced(&stats);
}

#[test]
fn abandon_counts_everything_left_as_shutdown_drops() {
    let t0 = Instant::now();
    let (mut r, stats) = engine(ResilienceConfig::default());
    offer(&mut r, &stats, vec![1, 2]);
    offer(&mut r, &stats, vec![3]);
    r.start(t0);
    assert_eq!(r.abandon(), 3);
    let w = stats.thread_counters().clone();
    assert_eq!((w.dropped_shutdown, w.in_flight, w.buffered), (3, 0, 0));
    balanced(&stats);
}

#[test]
fn the_retry_warning_says_where_the_items_were_going_and_how_many_wait() {
    let error = ExportError::Connect {
        endpoint: "http://collector:4318/v1/logs".into(),
        reason: "connection refused".into(),
    };
    assert_eq!(
        retry_warning(Signal::Logs, Duration::from_millis(150), &error, 802),
        "logs: export failed, retrying in 150ms: connection failed: connection refused \
         (http://collector:4318/v1/logs); 802 item(s) waiting"
    );
}
