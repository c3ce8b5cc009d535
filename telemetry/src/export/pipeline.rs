//! The batching pipeline: a bounded lock-free queue filled by the application and
//! drained by a background thread ([`ExportThread`]) that owns its own
//! current-thread tokio runtime and drives the retry [`Engine`].
//!
//! Pushing an item costs a counter increment and a compare-and-swap; the export thread
//! is woken only when a full batch is waiting (seen within an eighth of a batch), or by
//! its timer, never per item.
//!
//! Every item offered is accounted for at every interleaving: the export thread
//! closes the queue before its last drain, and a push that lands after that drain
//! takes an item back out and counts it as dropped. If the export thread panics or
//! exits, it closes the queue as stopped, counts what it held as dropped
//! (`thread_stopped`), and flush, shutdown and health say why.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use tokio::sync::{mpsc, Notify};

use super::engine::{Engine, ResilienceConfig};
use super::retry::Jitter;
use super::stats::{DropReason, Stats};
use super::transport::Transport;
use super::BatchConfig;
use super::ExportError;
use crate::error::{BuildError, ShutdownError};
use crate::signal::Signal;

mod queue;

pub(crate) use self::queue::Deferred;
use self::queue::{wake_mask, Shared, OPEN, SHUT_DOWN, STOPPED};

/// Where the export thread answers a flush or shutdown.
type Reply = std_mpsc::SyncSender<Result<(), ExportError>>;

/// What the application side asks of the export thread, with a deadline.
enum Control {
    Flush(Instant, Reply),
    Shutdown(Instant, Reply),
    #[cfg(test)]
    Crash(&'static str),
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
            deferred: std::sync::OnceLock::new(),
            queue_size: batch.max_queue_size.max(1),
            wake: Notify::new(),
            wake_pending: AtomicBool::new(false),
            state: AtomicU8::new(OPEN),
            batch_size: batch.max_export_batch_size.max(1),
            wake_mask: wake_mask(batch.max_export_batch_size),
        });
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let engine = Engine::new(
            signal,
            transport,
            resilience,
            stats.clone(),
            Jitter::from_entropy(),
        );
        let export_thread = ExportThread {
            signal,
            config: batch,
            engine,
            shared: shared.clone(),
            stats: stats.clone(),
            batch: Vec::with_capacity(batch.max_export_batch_size),
        };
        let name = format!("telemetry-export-{}", signal.as_str());
        let (thread_shared, thread_stats) = (shared.clone(), stats.clone());
        std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let mut ctl_rx = ctl_rx;
                // The control channel outlives the loop's state, so that whoever waits
                // on it learns why the thread stopped rather than only that it did.
                let ended =
                    std::panic::catch_unwind(AssertUnwindSafe(|| export_thread.run(&mut ctl_rx)));
                let reason = match ended {
                    Ok(Ended::Done) => return,
                    Ok(Ended::Failed(reason)) => reason,
                    Err(payload) => format!("panicked: {}", panic_message(payload.as_ref())),
                };
                stopped(
                    signal,
                    &thread_shared,
                    &thread_stats,
                    format!("export thread `{name}` stopped: {reason}"),
                );
                drop(ctl_rx);
            })
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

    /// Enqueues one item; never blocks. A full queue drops the item and counts it, and
    /// so does a closed one (reason `shutdown`, or `thread_stopped`).
    #[inline(always)]
    pub(crate) fn push(&self, item: T) {
        let offered = self.stats.received.fetch_add(1, Ordering::SeqCst);
        if self.shared.state.load(Ordering::Acquire) != OPEN {
            self.refused();
            return;
        }
        match self.shared.queue.push(item) {
            Ok(()) => {
                // The queue may have closed between the check and the push, after the
                // export thread's last drain: then take one item back out (ours or a
                // later one), so that none is left pending for ever.
                if self.shared.state.load(Ordering::SeqCst) != OPEN {
                    self.take_back();
                    return;
                }
                if offered & self.shared.wake_mask == 0
                    && self.shared.waiting() >= self.shared.batch_size
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

    /// Enqueues one deferred item ([`Deferred`]), as [`push`](Self::push) does an
    /// item, and counted the same.
    pub(crate) fn push_deferred(&self, item: Box<dyn Deferred<T>>) {
        let offered = self.stats.received.fetch_add(1, Ordering::SeqCst);
        if self.shared.state.load(Ordering::Acquire) != OPEN {
            self.refused();
            item.discard();
            return;
        }
        let deferred = self
            .shared
            .deferred
            .get_or_init(|| ArrayQueue::new(self.shared.queue_size));
        match deferred.push(item) {
            Ok(()) => {
                // As in `push`.
                if self.shared.state.load(Ordering::SeqCst) != OPEN {
                    self.take_back();
                    return;
                }
                if offered & self.shared.wake_mask == 0
                    && self.shared.waiting() >= self.shared.batch_size
                    && !self.shared.wake_pending.swap(true, Ordering::AcqRel)
                {
                    self.shared.wake.notify_one();
                }
            }
            Err(item) => {
                self.stats.dropped_queue_full.fetch_add(1, Ordering::SeqCst);
                item.discard();
            }
        }
    }

    /// Counts an item the closed queue did not take.
    #[cold]
    fn refused(&self) {
        let counter = match self.shared.state.load(Ordering::Acquire) {
            STOPPED => &self.stats.dropped_thread_stopped,
            _ => &self.stats.dropped_after_shutdown,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// A push raced with the closing of the queue: whoever pushed after the last
    /// drain takes one item back. Each such push takes one, so the queue ends empty
    /// once every push has returned; an item the export thread took already is simply
    /// not there to take.
    #[cold]
    fn take_back(&self) {
        if self.shared.discard_one() {
            self.refused();
        }
    }

    /// Delivers everything enqueued so far, waiting at most `timeout`; what is left
    /// stays buffered. Fails with [`ShutdownError::ExportThreadStopped`] once the
    /// export thread has stopped.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), ShutdownError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(ShutdownError::AlreadyShutdown);
        }
        self.request(Control::Flush, timeout)
    }

    /// Delivers what it can within `timeout`, then stops the export thread; whatever
    /// could not be delivered is counted as dropped (`shutdown`). A second call returns
    /// [`ShutdownError::AlreadyShutdown`] at once.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(ShutdownError::AlreadyShutdown);
        }
        self.request(Control::Shutdown, timeout)
    }

    /// Makes the export thread panic with `message`, as a bug in it would.
    #[cfg(test)]
    pub(crate) fn crash_export_thread(&self, message: &'static str) {
        let _ = self.ctl.send(Control::Crash(message));
    }

    /// Asks the export thread to flush or shut down by `timeout` from now, and waits
    /// for its answer.
    fn request(
        &self,
        control: fn(Instant, Reply) -> Control,
        timeout: Duration,
    ) -> Result<(), ShutdownError> {
        let (reply, wait) = std_mpsc::sync_channel(1);
        let control = control(super::after(Instant::now(), timeout), reply);
        // The export thread answers by the deadline; a little slack covers its
        // bookkeeping.
        let patience = timeout.saturating_add(Duration::from_millis(250));
        let deadline = super::after(Instant::now(), patience);
        if self.ctl.send(control).is_err() {
            // Only a stopped thread drops its end of the channel while we hold ours.
            return Err(self.stopped_error(deadline));
        }
        match wait.recv_timeout(patience) {
            Ok(Ok(())) => Ok(()),
            // The request was dropped unanswered: the thread stopped while on it.
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(self.stopped_error(deadline)),
            Ok(Err(ExportError::Timeout { .. })) | Err(std_mpsc::RecvTimeoutError::Timeout) => {
                Err(ShutdownError::Timeout {
                    signal: self.signal.as_str(),
                    timeout,
                    undelivered: self
                        .stats
                        .snapshot()
                        .pending()
                        .saturating_add(self.stats.thread_counters().dropped_shutdown),
                })
            }
            Ok(Err(e)) => Err(ShutdownError::Export {
                signal: self.signal.as_str(),
                message: e.to_string(),
            }),
        }
    }

    /// The error of a request the stopped export thread cannot answer. It books its
    /// end just after it is gone: wait for that (until `deadline`) to say why.
    fn stopped_error(&self, deadline: Instant) -> ShutdownError {
        ShutdownError::ExportThreadStopped {
            signal: self.signal.as_str(),
            reason: self.stats.wait_stopped(deadline).unwrap_or_else(|| {
                format!(
                    "export thread `telemetry-export-{}` stopped",
                    self.signal.as_str()
                )
            }),
        }
    }
}

/// How the export thread's loop ended.
enum Ended {
    /// Shut down as asked, or its handle is gone.
    Done,
    /// It could not run; the reason.
    Failed(String),
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Books the end of an export thread that stopped without being shut down: closes
/// the queue, counts what is left in it and what the thread held as dropped
/// (`thread_stopped`), and keeps `reason` as the signal's last error.
fn stopped<T>(signal: Signal, shared: &Shared<T>, stats: &Stats, reason: String) {
    shared.state.store(STOPPED, Ordering::SeqCst);
    let mut left = 0u64;
    while shared.discard_one() {
        left = left.saturating_add(1);
    }
    stats
        .dropped_thread_stopped
        .fetch_add(left, Ordering::SeqCst);
    let held = stats.thread_counters().held();
    crate::diagnostics::pipeline_state_change(format_args!(
        "{signal}: {reason}; {} item(s) dropped, and nothing more will be exported",
        held.saturating_add(left)
    ));
    stats.mark_stopped(reason);
}

/// What the export thread owns and runs: the batch being assembled, the engine it
/// seals batches into, and the loop that drives both.
struct ExportThread<T, X: Transport<T>> {
    signal: Signal,
    config: BatchConfig,
    engine: Engine<T, X>,
    shared: Arc<Shared<T>>,
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

impl<T: Send + 'static, X: Transport<T>> ExportThread<T, X> {
    fn run(self, ctl_rx: &mut mpsc::UnboundedReceiver<Control>) -> Ended {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                runtime.block_on(self.serve(ctl_rx));
                Ended::Done
            }
            Err(e) => Ended::Failed(format!("could not start its runtime: {e}")),
        }
    }

    /// Moves what is queued into batches, sealing each full one; with `all`, the last
    /// partial batch too.
    fn drain(&mut self, all: bool) {
        loop {
            let room = self
                .config
                .max_export_batch_size
                .max(1)
                .saturating_sub(self.batch.len());
            let mut taken = 0u64;
            while taken < room as u64 {
                match self.shared.pop() {
                    Some(item) => {
                        self.batch.push(item);
                        taken = taken.saturating_add(1);
                    }
                    None => break,
                }
            }
            if taken > 0 {
                self.stats.thread_counters().took(taken);
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

    async fn serve(mut self, ctl_rx: &mut mpsc::UnboundedReceiver<Control>) {
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
                control = ctl_rx.recv() => match control {
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
                    #[cfg(test)]
                    Some(Control::Crash(message)) => panic!("{message}"),
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
        let refused_before = self.stats.thread_counters().dropped_non_retryable;
        loop {
            let now = Instant::now();
            if self.engine.is_idle() {
                // Idle, but not necessarily delivered: say so if the collector refused.
                if self.stats.thread_counters().dropped_non_retryable > refused_before {
                    if let Some(e) = self.engine.last_error() {
                        return Err(e.clone());
                    }
                }
                return Ok(());
            }
            if now >= deadline {
                return Err(self.out_of_time());
            }
            let retry_at = self.engine.start(now);
            if let Some(at) = retry_at.or(self.engine.next_attempt_at()) {
                if at >= deadline && self.engine.wake_at().is_some() {
                    // The next try would come too late: give up now, not at the deadline.
                    return Err(self
                        .engine
                        .last_error()
                        .cloned()
                        .unwrap_or_else(|| self.out_of_time()));
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

    /// A flush or shutdown whose deadline passed (or would, before the next try).
    fn out_of_time(&self) -> ExportError {
        ExportError::Timeout {
            endpoint: self.engine.target().to_string(),
            timeout: Duration::ZERO,
        }
    }

    /// Counts whatever is left as dropped at shutdown and stops the transport.
    fn finish(&mut self) {
        // Closed before the last drain: a push that this drain misses sees it.
        self.shared.state.store(SHUT_DOWN, Ordering::SeqCst);
        self.drain(false);
        // Unsent items of the open batch count as shutdown drops, not encoding ones.
        let left = self.batch.len() as u64;
        self.batch.clear();
        if left > 0 {
            let mut counters = self.stats.thread_counters();
            counters.left_batch(left);
            counters.dropped(DropReason::Shutdown, left);
        }
        let abandoned = self.engine.abandon();
        if abandoned.saturating_add(left) > 0 {
            crate::diagnostics::pipeline_state_change(format_args!(
                "{}: shutdown: {} item(s) could not be delivered to {}",
                self.signal,
                abandoned.saturating_add(left),
                self.engine.target()
            ));
        }
        self.engine.shutdown_transport();
    }
}

#[cfg(test)]
mod tests;
