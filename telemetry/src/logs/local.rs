//! A running local output: records go through a bounded lock-free queue to a writer
//! thread that formats and writes them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;

use super::{json_line, pretty_line, Destination, LogFormat, LogOutput, PooledLog};

/// A writer of the user's, shared by the clones of its [`LogOutput`]; only the output's
/// writer thread writes to it.
#[derive(Clone)]
pub(super) struct SharedWriter(pub(super) Arc<Mutex<Box<dyn io::Write + Send>>>);

impl std::fmt::Debug for SharedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedWriter")
    }
}

impl PartialEq for SharedWriter {
    fn eq(&self, other: &SharedWriter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedWriter {}

impl LineWriter for SharedWriter {
    fn write_line(&mut self, line: &str) {
        let mut w = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A failing writer is not worth failing the application over.
        let _ = w.write_all(line.as_bytes());
    }
    fn flush(&mut self) {
        let mut w = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = w.flush();
    }
}

/// A running local output: a bounded lock-free queue of records drained by its writer
/// thread, which formats and writes them.
///
/// The application side never waits: [`write`](Self::write) pushes the record or counts
/// it lost, and wakes the writer only when it sleeps. No lock is shared with the writer
/// thread, so a stalled stdout or disk holds up nothing but the writer.
pub(crate) struct LocalOutput {
    shared: Arc<Shared>,
    writer: Option<std::thread::Thread>,
}

impl std::fmt::Debug for LocalOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalOutput")
            .field("format", &self.shared.format)
            .field("queued", &self.shared.queue.len())
            .finish()
    }
}

/// What the application threads and the writer thread share.
struct Shared {
    format: LogFormat,
    queue: ArrayQueue<PooledLog>,
    lost: Arc<AtomicU64>,
    /// Records accepted into the queue so far.
    accepted: AtomicU64,
    /// Set when no more records are taken; the writer then drains and stops.
    closed: AtomicBool,
    /// The writer is about to sleep, or sleeps: a producer must wake it.
    sleeping: AtomicBool,
    /// The writer's progress, for flush and shutdown to wait on (never held across I/O).
    progress: Mutex<Progress>,
    progressed: Condvar,
}

#[derive(Default)]
struct Progress {
    /// Records taken out of the queue and written (and the writer flushed after them).
    done: u64,
    /// The writer thread has stopped.
    finished: bool,
}

impl Shared {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, done: u64, finished: bool) {
        let mut progress = self.progress();
        progress.done = done;
        progress.finished |= finished;
        drop(progress);
        self.progressed.notify_all();
    }

    /// Waits until `until` says yes or `deadline` passes; returns what `until` said.
    fn wait(&self, deadline: Instant, until: impl Fn(&Progress) -> bool) -> bool {
        let mut progress = self.progress();
        loop {
            if until(&progress) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            progress = match self.progressed.wait_timeout(progress, left) {
                Ok((p, _)) => p,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// The writer thread sleeps at most this long between looks at its queue (a safety
/// net: producers wake it when it sleeps).
const WRITER_NAP: Duration = Duration::from_millis(500);

impl LocalOutput {
    pub(crate) fn start(config: &LogOutput, lost: Arc<AtomicU64>) -> io::Result<LocalOutput> {
        let writer: Box<dyn LineWriter> = match &config.destination {
            Destination::Stdout => Box::new(Std(false)),
            Destination::Stderr => Box::new(Std(true)),
            Destination::File {
                path,
                max_size,
                max_files,
                gzip,
            } => Box::new(Rotating::open(path, *max_size, *max_files, *gzip)?),
            Destination::Writer(w) => Box::new(w.clone()),
        };
        let shared = Arc::new(Shared {
            format: config.format,
            queue: ArrayQueue::new(config.buffer.max(1)),
            lost,
            accepted: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
            progressed: Condvar::new(),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("telemetry-log-writer".into())
                .spawn(move || run_writer(&shared, writer))?
        };
        Ok(LocalOutput {
            shared,
            writer: Some(thread.thread().clone()),
        })
    }

    /// Hands a record to the writer thread, or counts it lost when the buffer is full
    /// or the output has shut down. Never waits.
    pub(crate) fn write(&self, record: PooledLog) {
        let shared = &*self.shared;
        if shared.closed.load(Ordering::Acquire) || shared.queue.push(record).is_err() {
            shared.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Pairs with the writer's fence between announcing sleep and its last look at
        // the queue: either it sees this record, or this thread sees it sleeping.
        fence(Ordering::SeqCst);
        if shared.closed.load(Ordering::Relaxed) {
            // Shut down between the check and the push: the writer may have made its
            // final pass already. Take one record back (this one or another: the count
            // is the same) so that every record is either written or counted lost.
            if shared.queue.pop().is_some() {
                shared.lost.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        if shared.sleeping.swap(false, Ordering::Relaxed) {
            if let Some(writer) = &self.writer {
                writer.unpark();
            }
        }
    }

    fn wake_writer(&self) {
        self.shared.sleeping.store(false, Ordering::Relaxed);
        if let Some(writer) = &self.writer {
            writer.unpark();
        }
    }

    /// Waits (at most `timeout`) until every record accepted so far is written and the
    /// destination flushed. Holds no lock that a logging thread or the writer needs
    /// while it waits.
    pub(crate) fn flush(&self, timeout: Duration) {
        let target = self.shared.accepted.load(Ordering::Relaxed);
        self.wake_writer();
        let deadline = crate::export::after(Instant::now(), timeout);
        self.shared
            .wait(deadline, |p| p.finished || p.done >= target);
    }

    /// Stops taking records and waits (at most `timeout`) for the writer to write what
    /// it holds and stop. What it could not write in time stays counted as lost.
    pub(crate) fn shutdown(&self, timeout: Duration) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.wake_writer();
        let deadline = crate::export::after(Instant::now(), timeout);
        if !self.shared.wait(deadline, |p| p.finished) {
            // The writer is stuck in I/O: what it has not taken yet is lost.
            while self.shared.queue.pop().is_some() {
                self.shared.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The writer thread: takes records in the order they came, formats and writes them,
/// flushes the destination whenever the queue runs dry, and sleeps until woken.
fn run_writer(shared: &Shared, mut writer: Box<dyn LineWriter>) {
    let mut done: u64 = 0;
    let mut line = String::with_capacity(256);
    let mut json = Vec::with_capacity(256);
    loop {
        let mut wrote = false;
        while let Some(record) = shared.queue.pop() {
            match shared.format {
                LogFormat::Pretty => {
                    line.clear();
                    pretty_line(&record, &mut line);
                    writer.write_line(&line);
                }
                LogFormat::Json => {
                    json.clear();
                    json_line(&record, &mut json);
                    // serde_json writes UTF-8 only.
                    if let Ok(text) = std::str::from_utf8(&json) {
                        writer.write_line(text);
                    }
                }
            }
            done = done.saturating_add(1);
            wrote = true;
        }
        if wrote {
            writer.flush();
        }
        let closing = shared.closed.load(Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if closing && shared.queue.is_empty() {
            break;
        }
        shared.publish(done, false);
        shared.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if shared.queue.is_empty() && !shared.closed.load(Ordering::Relaxed) {
            std::thread::park_timeout(WRITER_NAP);
        }
        shared.sleeping.store(false, Ordering::Relaxed);
    }
    writer.flush();
    shared.publish(done, true);
}

trait LineWriter: Send {
    fn write_line(&mut self, line: &str);
    fn flush(&mut self);
}

struct Std(bool);

impl LineWriter for Std {
    fn write_line(&mut self, line: &str) {
        // A closed stdout or stderr is not worth failing over.
        let _ = if self.0 {
            io::stderr().lock().write_all(line.as_bytes())
        } else {
            io::stdout().lock().write_all(line.as_bytes())
        };
    }
    fn flush(&mut self) {
        let _ = if self.0 {
            io::stderr().flush()
        } else {
            io::stdout().flush()
        };
    }
}

/// A file rotated by size.
struct Rotating {
    path: PathBuf,
    file: Option<io::BufWriter<File>>,
    size: u64,
    max_size: u64,
    max_files: usize,
    gzip: bool,
}

impl Rotating {
    fn open(path: &Path, max_size: u64, max_files: usize, gzip: bool) -> io::Result<Rotating> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Rotating {
            path: path.to_path_buf(),
            file: Some(io::BufWriter::new(file)),
            size,
            max_size,
            max_files,
            gzip,
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        if self.gzip {
            name.push(".gz");
        }
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        if self.max_files == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(self.rotated(self.max_files));
            for n in (1..self.max_files).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1))?;
                }
            }
            if self.gzip {
                let mut input = File::open(&self.path)?;
                let out = File::create(self.rotated(1))?;
                let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
                io::copy(&mut input, &mut enc)?;
                enc.finish()?;
                std::fs::remove_file(&self.path)?;
            } else {
                std::fs::rename(&self.path, self.rotated(1))?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.file = Some(io::BufWriter::new(file));
        self.size = 0;
        Ok(())
    }
}

impl LineWriter for Rotating {
    fn write_line(&mut self, line: &str) {
        let len = line.len() as u64;
        if self.size > 0 && self.size + len > self.max_size {
            if let Err(e) = self.rotate() {
                crate::diagnostics::warn(
                    "log-rotate",
                    format_args!("could not rotate {}: {e}", self.path.display()),
                );
            }
        }
        if let Some(f) = &mut self.file {
            if f.write_all(line.as_bytes()).is_ok() {
                self.size += len;
            }
        }
    }
    fn flush(&mut self) {
        if let Some(f) = &mut self.file {
            let _ = f.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_in(path: &Path) -> usize {
        std::fs::read_to_string(path)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn rotation_keeps_at_most_max_files() {
        let dir = std::env::temp_dir().join(format!("telemetry-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("app.log");
        let mut r = Rotating::open(&path, 100, 2, false).unwrap();
        let line = format!("{}\n", "x".repeat(39)); // 40 bytes: two lines per file
        for _ in 0..9 {
            r.write_line(&line);
        }
        r.flush();
        assert_eq!(lines_in(&path), 1, "the live file holds the newest line");
        assert_eq!(lines_in(&dir.join("app.log.1")), 2);
        assert_eq!(lines_in(&dir.join("app.log.2")), 2);
        assert!(!dir.join("app.log.3").exists(), "older files are deleted");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let len = entry.unwrap().metadata().unwrap().len();
            assert!(len <= 100, "no file grows past max_size: {len}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
