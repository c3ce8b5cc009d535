//! Logs: the record every event becomes, the processors that add static fields or drop
//! unwanted records, and the local outputs: pretty lines for development, JSON lines for
//! production, to stdout, stderr, a file rotated by size or any writer.
//!
//! Writing never blocks the application: lines go through a bounded buffer to a writer
//! thread, and lines that do not fit are counted as lost
//! ([`Telemetry::lost_log_lines`](crate::Telemetry::lost_log_lines)).
//!
//! ## The pretty format
//!
//! ```text
//! 2026-11-21T19:31:02.123Z  INFO checkout::api: handle{order=42}:charge{card="visa 4242"}: card declined attempt=2 trace_id=4bf92f3577b34da6a3ce929d0e0e4736
//! ```
//!
//! - the time (RFC 3339, UTC, milliseconds), the level right-aligned in five columns,
//!   the event's target and a colon;
//! - the spans the event was written in, outermost first, each as `name{fields}`
//!   (`name` alone when it shows no field), joined by `:` and followed by a colon; a
//!   span shows its own fields, not the library's (`otel.*`, `code.*`, `thread.*`,
//!   `busy_ns`, `idle_ns`), at most three of them (then `…`);
//! - the message, then the event's fields as `key=value`;
//! - `trace_id=` and its 32 hex digits, when the event was written in a trace.
//!
//! Text values with spaces, quotes or nothing in them are quoted; values longer than
//! 40 characters are cut, with `…`. The JSON format keeps every field, the span
//! stack, `trace_id`, `span_id` and the code location.
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

pub(crate) use format::{console_line, json_line, pretty_line};
pub(crate) use local::LocalOutput;
use local::SharedWriter;
pub(crate) use processors::LogProcessors;
pub(crate) use record::{severity, LogRecord, PooledLog, SpanFields};
pub(crate) use sinks::LogSinks;

/// How a local output formats lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-11-21T19:31:02.123Z  INFO target: span{key=value}:child: message key=value
    /// trace_id=…`, the form `tracing-subscriber`'s `fmt` users know, without the
    /// library's own span fields and with long values cut (the exact rules are in the
    /// [module docs](self#the-pretty-format)).
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
    /// Whether the lines go to standard output.
    pub(crate) fn is_stdout(&self) -> bool {
        self.destination == Destination::Stdout
    }

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
