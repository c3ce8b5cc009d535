//! Local log outputs: pretty lines for development, JSON lines for production, to
//! stdout, stderr or a file rotated by size; and processors that add static fields or
//! drop unwanted events.
//!
//! Writing never blocks the application: lines go through a bounded buffer to a writer
//! thread, and lines that do not fit are counted as lost
//! ([`Telemetry::lost_log_lines`](crate::Telemetry::lost_log_lines)).
//!
//! ```no_run
//! use telemetry::{LogFormat, LogOutput};
//!
//! let _guard = telemetry::Telemetry::from_env_lossy()
//!     .log_output(LogOutput::stdout(LogFormat::Json))
//!     .log_output(
//!         LogOutput::file("/var/log/app/app.log", LogFormat::Json)
//!             .max_size(10 * 1024 * 1024)
//!             .max_files(5)
//!             .gzip(true),
//!     )
//!     .log_static_field("region", "eu-west-1")
//!     .drop_logs_where("path", "/health")
//!     .init();
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::layer::fields::FieldValue;
use crate::layer::logs::{json_line, pretty_line, LogRecord};

/// How a local output formats lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-11-21T19:31:02.123Z  INFO target: message key=value trace_id=… span_id=…`
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Stdout,
    Stderr,
    File {
        path: PathBuf,
        max_size: u64,
        max_files: usize,
        gzip: bool,
    },
}

/// A local log output; add it with
/// [`TelemetryBuilder::log_output`](crate::TelemetryBuilder::log_output).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a log output does nothing until passed to `log_output`"]
pub struct LogOutput {
    format: LogFormat,
    destination: Destination,
    buffer: usize,
}

impl LogOutput {
    /// Lines on standard output.
    pub fn stdout(format: LogFormat) -> LogOutput {
        LogOutput {
            format,
            destination: Destination::Stdout,
            buffer: 8192,
        }
    }

    /// Lines on standard error.
    pub fn stderr(format: LogFormat) -> LogOutput {
        LogOutput {
            format,
            destination: Destination::Stderr,
            buffer: 8192,
        }
    }

    /// Lines appended to a file, rotated when it would grow past
    /// [`max_size`](Self::max_size) (default 10 MiB): `app.log` becomes `app.log.1`,
    /// `app.log.1` becomes `app.log.2`, and so on up to [`max_files`](Self::max_files)
    /// (default 5) rotated files.
    pub fn file(path: impl Into<PathBuf>, format: LogFormat) -> LogOutput {
        LogOutput {
            format,
            destination: Destination::File {
                path: path.into(),
                max_size: 10 * 1024 * 1024,
                max_files: 5,
                gzip: false,
            },
            buffer: 8192,
        }
    }

    /// Rotate when the file would grow past this many bytes (file outputs only).
    pub fn max_size(mut self, bytes: u64) -> LogOutput {
        if let Destination::File { max_size, .. } = &mut self.destination {
            *max_size = bytes.max(1);
        }
        self
    }

    /// Keep at most this many rotated files (file outputs only).
    pub fn max_files(mut self, n: usize) -> LogOutput {
        if let Destination::File { max_files, .. } = &mut self.destination {
            *max_files = n;
        }
        self
    }

    /// Compress rotated files with gzip (`app.log.1.gz`; file outputs only).
    pub fn gzip(mut self, on: bool) -> LogOutput {
        if let Destination::File { gzip, .. } = &mut self.destination {
            *gzip = on;
        }
        self
    }

    /// Lines held for the writer thread before new ones are lost (and counted).
    /// Default: 8192.
    pub fn buffer(mut self, lines: usize) -> LogOutput {
        self.buffer = lines.max(1);
        self
    }
}

/// A running local output: a bounded channel to its writer thread.
#[derive(Debug)]
pub(crate) struct LocalOutput {
    format: LogFormat,
    tx: Mutex<Option<mpsc::SyncSender<Line>>>,
    lost: Arc<AtomicU64>,
    done: Mutex<Option<mpsc::Receiver<()>>>,
}

enum Line {
    Text(String),
    Flush(mpsc::SyncSender<()>),
}

impl LocalOutput {
    pub(crate) fn start(config: &LogOutput, lost: Arc<AtomicU64>) -> io::Result<LocalOutput> {
        let mut writer: Box<dyn LineWriter> = match &config.destination {
            Destination::Stdout => Box::new(Std(false)),
            Destination::Stderr => Box::new(Std(true)),
            Destination::File {
                path,
                max_size,
                max_files,
                gzip,
            } => Box::new(Rotating::open(path, *max_size, *max_files, *gzip)?),
        };
        let (tx, rx) = mpsc::sync_channel::<Line>(config.buffer);
        let (done_tx, done_rx) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("telemetry-log-writer".into())
            .spawn(move || {
                for line in rx {
                    match line {
                        Line::Text(text) => writer.write_line(&text),
                        Line::Flush(ack) => {
                            writer.flush();
                            let _ = ack.try_send(());
                        }
                    }
                }
                writer.flush();
                let _ = done_tx.try_send(());
            })?;
        Ok(LocalOutput {
            format: config.format,
            tx: Mutex::new(Some(tx)),
            lost,
            done: Mutex::new(Some(done_rx)),
        })
    }

    pub(crate) fn write(&self, record: &LogRecord) {
        let text = match self.format {
            LogFormat::Pretty => pretty_line(record),
            LogFormat::Json => json_line(record),
        };
        let sent = match self.tx.lock() {
            Ok(tx) => tx.as_ref().map(|tx| tx.try_send(Line::Text(text)).is_ok()),
            Err(_) => Some(false),
        };
        if sent != Some(true) {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits (at most `timeout`) until every line so far is written.
    pub(crate) fn flush(&self, timeout: std::time::Duration) {
        let (ack, wait) = mpsc::sync_channel(1);
        let sent = self
            .tx
            .lock()
            .ok()
            .and_then(|tx| tx.as_ref().map(|tx| tx.send(Line::Flush(ack)).is_ok()));
        if sent == Some(true) {
            let _ = wait.recv_timeout(timeout);
        }
    }

    /// Closes the channel and waits (at most `timeout`) for the writer to finish.
    pub(crate) fn shutdown(&self, timeout: std::time::Duration) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(done) = self.done.lock().ok().and_then(|mut d| d.take()) {
            let _ = done.recv_timeout(timeout);
        }
    }
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

/// What happens to every log record before it is written or exported.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LogProcessors {
    pub static_fields: Vec<(&'static str, FieldValue)>,
    pub drop_where: Vec<(String, String)>,
}

impl LogProcessors {
    /// Applies the processors; false means drop the record.
    pub(crate) fn apply(&self, record: &mut LogRecord) -> bool {
        for (field, value) in &self.drop_where {
            let matches = record
                .fields
                .iter()
                .chain(record.spans.iter().flat_map(|s| s.fields.iter()))
                .any(|(k, v)| k == field && v.to_string() == *value);
            if matches {
                return false;
            }
        }
        if !self.static_fields.is_empty() {
            record.fields.extend(self.static_fields.iter().cloned());
        }
        true
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
