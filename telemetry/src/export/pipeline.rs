//! The batching pipeline: a bounded lock-free queue filled by the application and
//! drained by a background thread that owns its own current-thread tokio runtime and
//! drives the [`Resilient`] exporter.
//!
//! Pushing an item costs a counter increment and a compare-and-swap; the export thread
//! is woken only when a full batch is waiting (or by its timer), never per item.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use tokio::sync::{mpsc, Notify};

use super::resilient::{ResilienceConfig, Resilient, Stats, Transport};
use super::retry::Jitter;
use super::ExportError;
use crate::config::{BatchConfig, Signal};
use crate::error::{BuildError, ShutdownError};

enum Control {
    Flush(Instant, std_mpsc::SyncSender<Result<(), ExportError>>),
    Shutdown(Instant, std_mpsc::SyncSender<Result<(), ExportError>>),
}

/// The queue between the application and the export thread.
struct Shared<T> {
    queue: ArrayQueue<T>,
    wake: Notify,
    wake_pending: AtomicBool,
    /// Set once the export thread has taken its last item.
    closed: AtomicBool,
    batch_size: usize,
}

/// The application-side handle of a pipeline.
pub(crate) struct Pipeline<T> {
    signal: Signal,
    shared: Arc<Shared<T>>,
    ctl: mpsc::UnboundedSender<Control>,
    pub(crate) stats: Arc<Stats>,
    shut_down: AtomicBool,
}

impl<T> std::fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("signal", &self.signal)
            .finish()
    }
}

impl<T: Send + 'static> Pipeline<T> {
    /// Starts the export thread.
    pub(crate) fn start<X: Transport<T>>(
        signal: Signal,
        batch: BatchConfig,
        resilience: ResilienceConfig,
        transport: X,
    ) -> Result<Pipeline<T>, BuildError> {
        let shared = Arc::new(Shared {
            queue: ArrayQueue::new(batch.max_queue_size.max(1)),
            wake: Notify::new(),
            wake_pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            batch_size: batch.max_export_batch_size.max(1),
        });
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let engine = Resilient::new(
            signal,
            transport,
            resilience,
            stats.clone(),
            Jitter::from_entropy(),
        );
        let worker = Worker {
            signal,
            config: batch,
            engine,
            shared: shared.clone(),
            ctl_rx,
            stats: stats.clone(),
            batch: Vec::with_capacity(batch.max_export_batch_size),
        };
        std::thread::Builder::new()
            .name(format!("telemetry-export-{}", signal.as_str()))
            .spawn(move || worker.run())
            .map_err(|source| BuildError::Thread {
                signal: signal.as_str(),
                source,
            })?;
        Ok(Pipeline {
            signal,
            shared,
            ctl,
            stats,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Enqueues one item; never blocks. A full queue drops the item and counts it.
    pub(crate) fn push(&self, item: T) {
        self.stats.received.fetch_add(1, Ordering::SeqCst);
        if self.shared.closed.load(Ordering::Acquire) {
            self.stats
                .dropped_after_shutdown
                .fetch_add(1, Ordering::SeqCst);
            return;
        }
        match self.shared.queue.push(item) {
            Ok(()) => {
                if self.shared.queue.len() >= self.shared.batch_size
                    && !self.shared.wake_pending.swap(true, Ordering::AcqRel)
                {
                    self.shared.wake.notify_one();
                }
            }
            Err(_) => {
                self.stats.dropped_queue_full.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Delivers everything enqueued so far, waiting at most `timeout`; what is left
    /// stays buffered.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), ShutdownError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(ShutdownError::AlreadyShutdown);
        }
        let (reply, wait) = std_mpsc::sync_channel(1);
        self.request(
            Control::Flush(super::after(Instant::now(), timeout), reply),
            wait,
            timeout,
        )
    }

    /// Delivers what it can within `timeout`, then stops the export thread; whatever
    /// could not be delivered is counted as dropped (`shutdown`). A second call returns
    /// [`ShutdownError::AlreadyShutdown`] at once.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(ShutdownError::AlreadyShutdown);
        }
        let (reply, wait) = std_mpsc::sync_channel(1);
        self.request(
            Control::Shutdown(super::after(Instant::now(), timeout), reply),
            wait,
            timeout,
        )
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    fn request(
        &self,
        control: Control,
        wait: std_mpsc::Receiver<Result<(), ExportError>>,
        timeout: Duration,
    ) -> Result<(), ShutdownError> {
        if self.ctl.send(control).is_err() {
            return Err(ShutdownError::AlreadyShutdown);
        }
        // The worker answers by the deadline; a little slack covers its bookkeeping.
        match wait.recv_timeout(timeout.saturating_add(Duration::from_millis(250))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(ExportError::Timeout { .. })) | Err(_) => Err(ShutdownError::Timeout {
                signal: self.signal.as_str(),
                timeout,
                undelivered: self.stats.snapshot().pending() + self.stats.worker().dropped_shutdown,
            }),
            Ok(Err(e)) => Err(ShutdownError::Export {
                signal: self.signal.as_str(),
                message: e.to_string(),
            }),
        }
    }
}

struct Worker<T, X: Transport<T>> {
    signal: Signal,
    config: BatchConfig,
    engine: Resilient<T, X>,
    shared: Arc<Shared<T>>,
    ctl_rx: mpsc::UnboundedReceiver<Control>,
    stats: Arc<Stats>,
    batch: Vec<T>,
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl<T: Send + 'static, X: Transport<T>> Worker<T, X> {
    fn run(mut self) {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(self.serve()),
            Err(e) => {
                crate::diagnostics::config_warning(format_args!(
                    "{}: could not start the export runtime, nothing will be exported: {e}",
                    self.signal
                ));
                // Keep the books straight: everything offered is dropped.
                self.finish();
            }
        }
    }

    /// Moves what is queued into batches, sealing each full one; with `all`, the last
    /// partial batch too.
    fn drain(&mut self, all: bool) {
        loop {
            let room = self.config.max_export_batch_size.max(1) - self.batch.len();
            let mut taken = 0u64;
            while taken < room as u64 {
                match self.shared.queue.pop() {
                    Some(item) => {
                        self.batch.push(item);
                        taken += 1;
                    }
                    None => break,
                }
            }
            if taken > 0 {
                let mut w = self.stats.worker();
                w.taken += taken;
                w.batch += taken;
            }
            if self.batch.len() >= self.config.max_export_batch_size.max(1) {
                self.seal();
                continue;
            }
            if all {
                self.seal();
            }
            return;
        }
    }

    fn seal(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(self.config.max_export_batch_size),
        );
        self.engine.admit(batch);
    }

    async fn serve(mut self) {
        let delay = self.config.schedule_delay.max(Duration::from_millis(1));
        let mut next_tick = super::after(Instant::now(), delay);
        loop {
            let now = Instant::now();
            if now >= next_tick {
                self.drain(true);
                next_tick = super::after(now, delay);
            }
            let retry_at = self.engine.start(Instant::now());
            let wake = earliest(earliest(Some(next_tick), retry_at), self.engine.wake_at());
            tokio::select! {
                biased;
                control = self.ctl_rx.recv() => match control {
                    Some(Control::Flush(deadline, reply)) => {
                        let result = self.deliver_all(deadline, false).await;
                        let _ = reply.try_send(result);
                    }
                    Some(Control::Shutdown(deadline, reply)) => {
                        let result = self.deliver_all(deadline, true).await;
                        self.finish();
                        let _ = reply.try_send(result);
                        return;
                    }
                    None => {
                        // The handle is gone without a shutdown: deliver briefly, stop.
                        let deadline = super::after(Instant::now(), self.config.export_timeout.min(Duration::from_secs(5)));
                        let _ = self.deliver_all(deadline, true).await;
                        self.finish();
                        return;
                    }
                },
                result = self.engine.in_flight() => self.engine.complete(result, Instant::now()),
                _ = self.shared.wake.notified() => {
                    self.shared.wake_pending.store(false, Ordering::Release);
                    self.drain(false);
                }
                _ = sleep_until(wake) => {}
            }
        }
    }

    /// Seals and sends everything queued, retrying as usual, until all is delivered or
    /// the deadline passes (or waiting could not help). At shutdown an open circuit
    /// gets one last probe, and no new items are taken after the queue is drained.
    async fn deliver_all(
        &mut self,
        deadline: Instant,
        shutting_down: bool,
    ) -> Result<(), ExportError> {
        if shutting_down {
            self.engine.force_probe();
        }
        self.drain(true);
        let refused_before = self.stats.worker().dropped_non_retryable;
        loop {
            let now = Instant::now();
            if self.engine.is_idle() {
                // Idle, but not necessarily delivered: say so if the collector refused.
                if self.stats.worker().dropped_non_retryable > refused_before {
                    if let Some(e) = self.engine.last_error() {
                        return Err(e.clone());
                    }
                }
                return Ok(());
            }
            if now >= deadline {
                return Err(ExportError::Timeout {
                    endpoint: self.engine.target().to_string(),
                    timeout: Duration::ZERO,
                });
            }
            let retry_at = self.engine.start(now);
            if let Some(at) = retry_at.or(self.engine.next_attempt_at()) {
                if at >= deadline && self.engine.wake_at().is_some() {
                    // The next try would come too late: give up now, not at the deadline.
                    return Err(self.engine.last_error().cloned().unwrap_or(
                        ExportError::Timeout {
                            endpoint: self.engine.target().to_string(),
                            timeout: Duration::ZERO,
                        },
                    ));
                }
            }
            let wake = earliest(Some(deadline), self.engine.wake_at());
            tokio::select! {
                biased;
                result = self.engine.in_flight() => self.engine.complete(result, Instant::now()),
                _ = sleep_until(wake) => {}
            }
        }
    }

    /// Counts whatever is left as dropped at shutdown and stops the transport.
    fn finish(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.drain(false);
        // Unsent items of the open batch count as shutdown drops, not encoding ones.
        let left = self.batch.len() as u64;
        self.batch.clear();
        if left > 0 {
            let mut w = self.stats.worker();
            w.batch -= left;
            w.dropped_shutdown += left;
        }
        let abandoned = self.engine.abandon();
        if abandoned + left > 0 {
            crate::diagnostics::config_warning(format_args!(
                "{}: shutdown: {} item(s) could not be delivered to {}",
                self.signal,
                abandoned + left,
                self.engine.target()
            ));
        }
        self.engine.shutdown_transport();
    }
}
