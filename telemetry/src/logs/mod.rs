//! Logs: the record every event becomes, the processors that add static fields or drop
//! unwanted records, and the local outputs: pretty lines for development, JSON lines for
//! production, to stdout, stderr, a file rotated by size or any writer.
//!
//! Writing never blocks the application: lines go through a bounded buffer to a writer
//! thread, and lines that do not fit are counted as lost
//! ([`Telemetry::lost_log_lines`](crate::Telemetry::lost_log_lines)).
//!
//! ```no_run
//! use telemetry::logs::{LogFormat, LogOutput};
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

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

mod format;
mod local;
mod processors;
mod record;
mod sinks;

pub(crate) use format::{json_line, pretty_line};
pub(crate) use local::LocalOutput;
use local::SharedWriter;
pub(crate) use processors::LogProcessors;
pub(crate) use record::{severity, LogRecord, SpanFields};
pub(crate) use sinks::LogSinks;

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
    Writer(SharedWriter),
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

    /// Lines written to any [`io::Write`]: a socket, a pipe, a buffer
    /// a test reads back. Only the output's writer thread writes to it, so a writer that
    /// blocks holds up that thread alone; lines that then do not fit the
    /// [`buffer`](Self::buffer) are lost and counted.
    ///
    /// ```
    /// use telemetry::logs::{LogFormat, LogOutput};
    ///
    /// let output = LogOutput::writer(std::io::sink(), LogFormat::Json);
    /// # let _ = output;
    /// ```
    pub fn writer(writer: impl io::Write + Send + 'static, format: LogFormat) -> LogOutput {
        LogOutput {
            format,
            destination: Destination::Writer(SharedWriter(Arc::new(Mutex::new(Box::new(writer))))),
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
