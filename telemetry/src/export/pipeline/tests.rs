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

/// A deferred item: the export thread makes the `u64`.
struct Later(u64, Arc<AtomicUsize>);

impl Deferred<u64> for Later {
    fn finish(self: Box<Self>) -> u64 {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0
    }
}

/// A transport that keeps what it is sent.
#[derive(Clone, Default)]
struct Keep(Arc<std::sync::Mutex<Vec<u64>>>);

impl Transport<u64> for Keep {
    type Payload = u64;
    fn encode(&mut self, batch: Vec<u64>) -> Result<Encoded<u64>, ExportError> {
        let items = batch.len() as u64;
        self.0.lock().unwrap().extend(batch);
        Ok(Encoded::one(items, items))
    }
    fn size(&self, payload: &u64) -> u64 {
        *payload
    }
    fn send(&mut self, _payload: &u64) -> BoxFuture<'static, Result<Delivered, ExportError>> {
        Box::pin(async { Ok(Delivered::default()) })
    }
    fn target(&self) -> &str {
        "keep"
    }
}

#[test]
fn deferred_items_are_made_on_the_export_thread_and_counted_like_the_others() {
    let kept = Keep::default();
    let p = Pipeline::start(
        Signal::Traces,
        batch(4),
        ResilienceConfig::default(),
        kept.clone(),
    )
    .unwrap();
    let made = Arc::new(AtomicUsize::new(0));
    for i in 0..10 {
        p.push_deferred(Box::new(Later(100 + i, made.clone())));
        p.push(i);
    }
    p.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(made.load(Ordering::SeqCst), 10);
    let mut got = kept.0.lock().unwrap().clone();
    got.sort_unstable();
    let mut want: Vec<u64> = (0..10).chain(100..110).collect();
    want.sort_unstable();
    assert_eq!(got, want);
    let r = report(&p);
    assert_eq!((r.received, r.exported, r.dropped), (20, 20, 0), "{r:?}");

    // After shutdown a deferred item is refused and counted, never made.
    p.shutdown(Duration::from_secs(5)).unwrap();
    p.push_deferred(Box::new(Later(7, made.clone())));
    let r = report(&p);
    assert_eq!((r.received, r.dropped), (21, 1), "{r:?}");
    assert_eq!(made.load(Ordering::SeqCst), 10);
    assert_balanced(&r);
}

/// A deferred item that counts how it ends: made, or let go unmade.
struct Counted(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl Deferred<u64> for Counted {
    fn finish(self: Box<Self>) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst);
        1
    }
    fn discard(self: Box<Self>) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_full_or_closed_deferred_queue_drops_counts_and_lets_the_item_go_unmade() {
    let p = Pipeline::start(
        Signal::Traces,
        BatchConfig {
            max_queue_size: 3,
            ..batch(1000)
        },
        ResilienceConfig::default(),
        Discard,
    )
    .unwrap();
    let (made, discarded) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for _ in 0..5 {
        p.push_deferred(Box::new(Counted(made.clone(), discarded.clone())));
    }
    // The queue holds 3: the other 2 were dropped, counted, and let go through
    // `discard`, not made.
    let r = report(&p);
    assert_eq!((r.received, r.dropped), (5, 2), "{r:?}");
    assert_eq!(discarded.load(Ordering::SeqCst), 2);
    assert_eq!(made.load(Ordering::SeqCst), 0);
    p.shutdown(Duration::from_secs(5)).unwrap();
    let r = report(&p);
    assert_eq!((r.exported, r.dropped, r.pending), (3, 2, 0), "{r:?}");
    assert_eq!(made.load(Ordering::SeqCst), 3);
    // Closed: refused, counted and let go.
    p.push_deferred(Box::new(Counted(made.clone(), discarded.clone())));
    assert_eq!(discarded.load(Ordering::SeqCst), 3);
    assert_eq!(made.load(Ordering::SeqCst), 3);
    let r = report(&p);
    assert_eq!((r.received, r.exported, r.dropped), (6, 3, 3), "{r:?}");
    assert_balanced(&r);
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
                let made = Arc::new(AtomicUsize::new(0));
                std::thread::spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    // A bounded burst that gives the CPU up now and then: on a machine
                    // with fewer cores than pushers, spinning pushers would starve the
                    // export thread that shutdown waits for.
                    for i in 0..20_000u64 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        // Both queues: items, and deferred items.
                        if i % 2 == 0 {
                            p.push(i);
                        } else {
                            p.push_deferred(Box::new(Later(i, made.clone())));
                        }
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

#[test]
fn a_full_batch_is_looked_for_every_eighth_of_a_batch() {
    assert_eq!(super::wake_mask(0), 0);
    assert_eq!(super::wake_mask(15), 0);
    assert_eq!(super::wake_mask(16), 1);
    assert_eq!(super::wake_mask(512), 63);
    assert_eq!(super::wake_mask(1000), 63);
    assert_eq!(super::wake_mask(usize::MAX), (1 << 60) - 1);
}

/// A pipeline exporting batches of 64 into a [`Keep`], its timer an hour away.
fn keeping_batches_of_64() -> (Keep, Pipeline<u64>) {
    let kept = Keep::default();
    let p = Pipeline::start(
        Signal::Traces,
        batch(64),
        ResilienceConfig::default(),
        kept.clone(),
    )
    .unwrap();
    (kept, p)
}

/// Whether `kept` holds `n` items within 20 seconds.
fn exported_soon(kept: &Keep, n: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while kept.0.lock().unwrap().len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    kept.0.lock().unwrap().len() >= n
}

#[test]
fn a_full_batch_wakes_the_export_thread_long_before_its_timer() {
    // Looked for every 8 items.
    for deferred in [false, true] {
        let (kept, p) = keeping_batches_of_64();
        let made = Arc::new(AtomicUsize::new(0));
        for i in 0..64 + 7 {
            if deferred {
                p.push_deferred(Box::new(Later(i, made.clone())));
            } else {
                p.push(i);
            }
        }
        assert!(
            exported_soon(&kept, 64),
            "a full batch waited for the timer (deferred: {deferred})"
        );
        p.shutdown(Duration::from_secs(5)).unwrap();
    }
}

#[test]
fn items_of_both_queues_make_a_full_batch_whichever_queue_is_looked_at() {
    // Plain and deferred items in turn: the deferred ones are never the items at which
    // a full batch is looked for (every 8th), and neither queue alone holds a batch.
    let (kept, p) = keeping_batches_of_64();
    let made = Arc::new(AtomicUsize::new(0));
    for i in 0..36 {
        p.push(i);
        p.push_deferred(Box::new(Later(100 + i, made.clone())));
    }
    assert!(exported_soon(&kept, 64), "72 items waited for the timer");
    p.shutdown(Duration::from_secs(5)).unwrap();
}
