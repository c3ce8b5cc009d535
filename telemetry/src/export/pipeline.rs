//! The batching pipeline: a bounded queue filled by the application and drained by a
//! background thread that owns its own current-thread tokio runtime.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::{Delivered, ExportError, Exporter};
use crate::config::{BatchConfig, Signal};
use crate::error::{BuildError, ShutdownError};

/// Counters of one pipeline. Every item received is, at any moment, either exported,
/// dropped (with a reason) or pending (queued or in a batch being exported).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub received: AtomicU64,
    pub exported: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_export_failed: AtomicU64,
    pub dropped_rejected: AtomicU64,
    pub dropped_shutdown: AtomicU64,
    pub failed_exports: AtomicU64,
    pub last_error: Mutex<Option<(SystemTime, ExportError)>>,
}

impl Stats {
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped_queue_full.load(Ordering::Relaxed)
            + self.dropped_export_failed.load(Ordering::Relaxed)
            + self.dropped_rejected.load(Ordering::Relaxed)
            + self.dropped_shutdown.load(Ordering::Relaxed)
    }
    pub(crate) fn pending(&self) -> u64 {
        let received = self.received.load(Ordering::Acquire);
        received
            .saturating_sub(self.exported.load(Ordering::Acquire))
            .saturating_sub(self.dropped())
    }
}

enum Control {
    Flush(std_mpsc::SyncSender<Result<(), ExportError>>),
    Shutdown(Instant, std_mpsc::SyncSender<Result<(), ExportError>>),
}

/// The application-side handle of a pipeline.
pub(crate) struct Pipeline<T> {
    signal: Signal,
    tx: mpsc::Sender<T>,
    ctl: mpsc::UnboundedSender<Control>,
    pub(crate) stats: Arc<Stats>,
    shut_down: AtomicBool,
}

impl<T> std::fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("signal", &self.signal)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<T: Send + 'static> Pipeline<T> {
    /// Starts the export thread.
    pub(crate) fn start(
        signal: Signal,
        batch: BatchConfig,
        exporter: Box<dyn Exporter<T>>,
    ) -> Result<Pipeline<T>, BuildError> {
        let (tx, rx) = mpsc::channel(batch.max_queue_size);
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let worker = Worker {
            signal,
            batch_config: batch,
            exporter,
            rx,
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
            tx,
            ctl,
            stats,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Enqueues one item; never blocks. A full queue drops the item and counts it.
    pub(crate) fn push(&self, item: T) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(item).is_err() {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Exports everything enqueued so far, waiting at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), ShutdownError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(ShutdownError::AlreadyShutdown);
        }
        let (reply, wait) = std_mpsc::sync_channel(1);
        self.request(Control::Flush(reply), wait, timeout)
    }

    /// Flushes and stops the export thread, waiting at most `timeout`. A second call
    /// returns [`ShutdownError::AlreadyShutdown`] at once.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(ShutdownError::AlreadyShutdown);
        }
        let (reply, wait) = std_mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        self.request(Control::Shutdown(deadline, reply), wait, timeout)
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
            // The worker is gone (it only stops after a shutdown).
            return Err(ShutdownError::AlreadyShutdown);
        }
        match wait.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ShutdownError::Export {
                signal: self.signal.as_str(),
                message: e.to_string(),
            }),
            Err(_) => Err(ShutdownError::Timeout {
                signal: self.signal.as_str(),
                timeout,
                undelivered: self.stats.pending(),
            }),
        }
    }
}

struct Worker<T> {
    signal: Signal,
    batch_config: BatchConfig,
    exporter: Box<dyn Exporter<T>>,
    rx: mpsc::Receiver<T>,
    ctl_rx: mpsc::UnboundedReceiver<Control>,
    stats: Arc<Stats>,
    batch: Vec<T>,
}

impl<T: Send + 'static> Worker<T> {
    fn run(mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                crate::diagnostics::warn(
                    "runtime",
                    format_args!(
                        "{}: could not start the export runtime, nothing will be exported: {e}",
                        self.signal
                    ),
                );
                self.drain_as_dropped();
                return;
            }
        };
        runtime.block_on(self.serve());
    }

    fn drain_as_dropped(&mut self) {
        self.rx.close();
        while let Ok(_item) = self.rx.try_recv() {
            self.stats.dropped_shutdown.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn serve(mut self) {
        let delay = self
            .batch_config
            .schedule_delay
            .max(Duration::from_millis(1));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + delay, delay);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                control = self.ctl_rx.recv() => match control {
                    Some(Control::Flush(reply)) => {
                        let result = self.export_all(None).await;
                        let _ = reply.try_send(result);
                    }
                    Some(Control::Shutdown(deadline, reply)) => {
                        self.rx.close();
                        let result = self.export_all(Some(deadline)).await;
                        // Whatever is still here could not be sent in time.
                        let left = self.batch.len() as u64;
                        self.batch.clear();
                        self.stats.dropped_shutdown.fetch_add(left, Ordering::Relaxed);
                        self.drain_as_dropped();
                        self.exporter.shutdown();
                        let _ = reply.try_send(result);
                        return;
                    }
                    None => {
                        // The handle is gone without a shutdown: deliver what is here.
                        self.rx.close();
                        let _ = self.export_all(None).await;
                        self.exporter.shutdown();
                        return;
                    }
                },
                item = self.rx.recv() => match item {
                    Some(item) => {
                        self.batch.push(item);
                        if self.batch.len() >= self.batch_config.max_export_batch_size {
                            let _ = self.export_batch(None).await;
                        }
                    }
                    None => {
                        let _ = self.export_all(None).await;
                        self.exporter.shutdown();
                        return;
                    }
                },
                _ = ticker.tick() => {
                    if !self.batch.is_empty() {
                        let _ = self.export_batch(None).await;
                    }
                }
            }
        }
    }

    /// Exports everything queued, batch by batch; returns the last error.
    async fn export_all(&mut self, deadline: Option<Instant>) -> Result<(), ExportError> {
        let mut result = Ok(());
        loop {
            while self.batch.len() < self.batch_config.max_export_batch_size {
                match self.rx.try_recv() {
                    Ok(item) => self.batch.push(item),
                    Err(_) => break,
                }
            }
            if self.batch.is_empty() {
                return result;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(ExportError::Timeout {
                    endpoint: self.exporter.target().to_string(),
                    timeout: Duration::ZERO,
                });
            }
            if let Err(e) = self.export_batch(deadline).await {
                result = Err(e);
            }
        }
    }

    async fn export_batch(&mut self, deadline: Option<Instant>) -> Result<(), ExportError> {
        let batch = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(self.batch_config.max_export_batch_size),
        );
        let n = batch.len() as u64;
        let mut limit = self.batch_config.export_timeout;
        if let Some(d) = deadline {
            limit = limit.min(d.saturating_duration_since(Instant::now()));
        }
        let outcome = if limit.is_zero() {
            Err(ExportError::Timeout {
                endpoint: self.exporter.target().to_string(),
                timeout: limit,
            })
        } else {
            match tokio::time::timeout(limit, self.exporter.export(batch)).await {
                Ok(r) => r,
                Err(_) => Err(ExportError::Timeout {
                    endpoint: self.exporter.target().to_string(),
                    timeout: limit,
                }),
            }
        };
        match outcome {
            Ok(Delivered { rejected, message }) => {
                let rejected = rejected.min(n);
                self.stats
                    .exported
                    .fetch_add(n - rejected, Ordering::Release);
                if rejected > 0 {
                    self.stats
                        .dropped_rejected
                        .fetch_add(rejected, Ordering::Release);
                }
                if let Some(message) = message {
                    crate::diagnostics::warn(
                        "partial-success",
                        format_args!(
                            "{}: the collector rejected {rejected} item(s): {message}",
                            self.signal
                        ),
                    );
                }
                Ok(())
            }
            Err(e) => {
                if deadline.is_some() {
                    self.stats.dropped_shutdown.fetch_add(n, Ordering::Release);
                } else {
                    self.stats
                        .dropped_export_failed
                        .fetch_add(n, Ordering::Release);
                }
                self.stats.failed_exports.fetch_add(1, Ordering::Relaxed);
                crate::diagnostics::warn(
                    "export-failed",
                    format_args!("{}: export of {n} item(s) failed: {e}", self.signal),
                );
                if let Ok(mut last) = self.stats.last_error.lock() {
                    *last = Some((SystemTime::now(), e.clone()));
                }
                Err(e)
            }
        }
    }
}
