use std::sync::atomic::AtomicUsize;

use super::*;
use crate::export::transport::{BoxFuture, Delivered, Encoded};
use crate::export::Discard;
use crate::health::{SignalHealth, SignalReport};

fn batch(size: usize) -> BatchConfig {
    BatchConfig {
        schedule_delay: Duration::from_secs(3600),
        export_timeout: Duration::from_secs(5),
        max_queue_size: 4096,
        max_export_batch_size: size,
    }
}

fn report<T: Send + 'static>(p: &Pipeline<T>) -> SignalReport {
    SignalReport::from_snapshot(&p.stats.snapshot())
}

fn assert_balanced(r: &SignalReport) {
    assert_eq!(r.received, r.exported + r.dropped + r.pending, "{r:?}");
}

/// A transport whose client panics on the first request.
struct Exploding;

impl Transport<u64> for Exploding {
    type Payload = u64;
    fn encode(&mut self, batch: Vec<u64>) -> Result<Encoded<u64>, ExportError> {
        let items = batch.len() as u64;
        Ok(Encoded::one(items, items))
    }
    fn size(&self, payload: &u64) -> u64 {
        *payload
    }
    fn send(&mut self, _payload: &u64) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        panic!("the collector client exploded")
    }
    fn target(&self) -> &str {
        "exploding"
    }
}

#[test]
fn a_panicked_export_thread_is_unhealthy_and_says_why_in_flush_shutdown_and_drops() {
    let p = Pipeline::start(
        Signal::Traces,
        batch(2),
        ResilienceConfig::default(),
        Exploding,
    )
    .unwrap();
    for i in 0..3 {
        p.push(i);
    }
    // A full batch wakes the thread, whose first request panics.
    let reason = p
        .stats
        .wait_stopped(Instant::now() + Duration::from_secs(30))
        .expect("the export thread stops");
    assert!(reason.contains("`telemetry-export-traces`"), "{reason}");
    assert!(reason.contains("the collector client exploded"), "{reason}");

    let health = SignalHealth::from_snapshot("exploding", &p.stats.snapshot());
    assert!(!health.healthy, "{health:?}");
    assert_eq!(health.last_error.as_deref(), Some(reason.as_str()));

    let err = p.flush(Duration::from_secs(1)).unwrap_err();
    assert_eq!(
        err,
        ShutdownError::ExportThreadStopped {
            signal: "traces",
            reason: reason.clone(),
        }
    );
    assert!(err.to_string().contains("exploded"), "{err}");

    // Offered afterwards: dropped, with a reason.
    p.push(10);
    p.push(11);
    let r = report(&p);
    assert_balanced(&r);
    assert_eq!((r.received, r.pending, r.exported), (5, 0, 0), "{r:?}");
    assert_eq!(r.dropped_by_reason.thread_stopped, 5, "{r:?}");

    assert!(matches!(
        p.shutdown(Duration::from_secs(1)),
        Err(ShutdownError::ExportThreadStopped { .. })
    ));
    assert_eq!(
        p.shutdown(Duration::from_secs(1)),
        Err(ShutdownError::AlreadyShutdown)
    );
}

#[test]
fn a_thread_that_panics_while_flushing_fails_the_flush_with_its_message() {
    let p = Pipeline::start(
        Signal::Logs,
        batch(512),
        ResilienceConfig::default(),
        Exploding,
    )
    .unwrap();
    p.push(1);
    let err = p.flush(Duration::from_secs(5)).unwrap_err();
    let ShutdownError::ExportThreadStopped { signal, reason } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*signal, "logs");
    assert!(reason.contains("`telemetry-export-logs`"), "{reason}");
    assert!(reason.contains("exploded"), "{reason}");
    let r = report(&p);
    assert_balanced(&r);
    assert_eq!(r.dropped_by_reason.thread_stopped, 1, "{r:?}");
}

#[test]
fn counters_cannot_underflow_even_when_the_books_are_already_wrong() {
    let stats = Stats::default();
    stats.thread_counters().buffered = 1;
    stats.mark_stopped("gone".into());
    let s = stats.snapshot();
    assert_eq!(s.pending(), 0);
    // More dropped than received cannot panic the report either.
    let r = SignalReport::from_snapshot(&s);
    assert_eq!(r.dropped_by_reason.thread_stopped, 1);
}

#[test]
fn pushes_racing_shutdown_leave_nothing_pending() {
    const THREADS: usize = 4;
    for round in 0..100 {
        let p = Arc::new(
            Pipeline::start(
                Signal::Traces,
                batch(64),
                ResilienceConfig::default(),
                Discard,
            )
            .unwrap(),
        );
        let started = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let pushers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (p, started, stop) = (p.clone(), started.clone(), stop.clone());
                std::thread::spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    // A bounded burst that gives the CPU up now and then: on a machine
                    // with fewer cores than pushers, spinning pushers would starve the
                    // export thread that shutdown waits for.
                    for i in 0..20_000u64 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        p.push(i);
                        if i % 128 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < THREADS {
            std::thread::yield_now();
        }
        p.shutdown(Duration::from_secs(5)).unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in pushers {
            t.join().unwrap();
        }
        let r = report(&p);
        assert_balanced(&r);
        assert_eq!(r.pending, 0, "round {round}: {r:?}");
    }
}
