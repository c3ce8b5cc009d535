//! The public error types, one per kind of operation.

use std::fmt;
use std::time::Duration;

/// One bad `OTEL_*` variable: its name, the value found and what is accepted.
///
/// Produced by [`Config::from_vars`](crate::config::Config::from_vars) and
/// [`Telemetry::from_env`](crate::Telemetry::from_env) (as part of
/// [`ConfigError::InvalidEnv`]) and, by the lossy readers, reported as a warning
/// before the default is used instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvIssue {
    /// The variable's name, e.g. `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub var: &'static str,
    /// The value that was found; empty for the variables whose values are secrets
    /// (the `OTEL_EXPORTER_OTLP_*HEADERS` variables), which are never repeated.
    pub value: String,
    /// What the variable accepts, e.g. `a non-negative integer`.
    pub expected: String,
    /// The setting the variable feeds, e.g. `traces.batch.max_queue_size`.
    pub setting: &'static str,
    /// What is used instead of the default, when the value has one obvious reading
    /// (an OTLP/HTTP endpoint without a scheme is read as `http://` and the value);
    /// `None` when the default is used.
    pub instead: Option<String>,
}

impl EnvIssue {
    /// What the lossy reader does about it: `using the default`, or what it uses.
    pub fn remedy(&self) -> String {
        match &self.instead {
            Some(instead) => format!("using {instead}"),
            None => "using the default".to_string(),
        }
    }

    /// Whether the variable's value is a secret (request headers carry tokens), so
    /// that no message repeats it.
    pub(crate) fn is_secret(var: &str) -> bool {
        var.ends_with("_HEADERS")
    }
}

impl fmt::Display for EnvIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if EnvIssue::is_secret(self.var) {
            write!(
                f,
                "{} is not {} (its value is not shown: header values are secrets)",
                self.var, self.expected
            )
        } else {
            write!(f, "{}={:?} is not {}", self.var, self.value, self.expected)
        }
    }
}

/// What is wrong with one setting of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileIssueKind {
    /// The key is right but its value is not accepted (a negative size, an unknown
    /// compression).
    Invalid,
    /// The key or plugin is part of the configuration schema, but this library has
    /// nothing that does what it asks (e.g. `otlp_file/development`, a view on an
    /// instrument of the application).
    Unsupported,
    /// The key is not part of the configuration schema where it stands (a typo, or a
    /// key of another place).
    Unknown,
}

/// One problem of a configuration file (`OTEL_CONFIG_FILE`): where it is, the value
/// found and what is accepted.
///
/// Produced by [`Config::from_file`](crate::config::Config::from_file) and
/// [`Telemetry::from_config_file`](crate::Telemetry::from_config_file) (as part of
/// [`ConfigError::InvalidFile`]) and, by the lossy readers, reported as a warning
/// before the key is ignored and its default used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIssue {
    /// The setting's path in the file, e.g.
    /// `tracer_provider.processors[0].batch.exporter.otlp_http.endpoint`.
    pub path: String,
    /// The value found, as written after substitution; empty for request headers
    /// (`headers`, `headers_list`), whose values are secrets and never repeated, and
    /// for whole sections.
    pub value: String,
    /// What is accepted there, or why an unsupported key cannot be honoured.
    pub expected: String,
    /// Invalid value, unsupported key, or unknown key.
    pub kind: FileIssueKind,
    /// The line of the file (1-based) where the value or key stands.
    pub line: usize,
}

impl FileIssue {
    /// What the lossy reader does about it: `using the default` for a value not
    /// accepted, `ignored` for a key.
    pub fn remedy(&self) -> &'static str {
        match self.kind {
            FileIssueKind::Invalid => "using the default",
            FileIssueKind::Unsupported | FileIssueKind::Unknown => "ignored",
        }
    }

    /// Whether the value at `path` is a secret (request headers carry tokens).
    pub(crate) fn is_secret(path: &str) -> bool {
        path.contains(".headers")
    }
}

impl fmt::Display for FileIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.path)?;
        let shown = !self.value.is_empty() && !FileIssue::is_secret(&self.path);
        match self.kind {
            FileIssueKind::Invalid if shown => {
                write!(f, " = {:?} is not {}", self.value, self.expected)
            }
            FileIssueKind::Invalid if FileIssue::is_secret(&self.path) => write!(
                f,
                " is not {} (its value is not shown: header values are secrets)",
                self.expected
            ),
            FileIssueKind::Invalid => write!(f, " is not {}", self.expected),
            FileIssueKind::Unsupported if shown => write!(
                f,
                " = {:?} is not supported by this library: {}",
                self.value, self.expected
            ),
            FileIssueKind::Unsupported => {
                write!(f, " is not supported by this library: {}", self.expected)
            }
            FileIssueKind::Unknown => write!(
                f,
                " is not a key of the configuration schema here: expected {}",
                self.expected
            ),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// One or more `OTEL_*` variables hold values that are not accepted. Fix or unset
    /// each one listed, or use the lossy reader (`from_env_lossy`), which warns and
    /// falls back to the default as the OpenTelemetry specification describes.
    #[error("{} invalid environment variable{}: {}", issues.len(), if issues.len() == 1 { "" } else { "s" }, join(issues))]
    InvalidEnv {
        /// Every bad variable, in a stable order.
        issues: Vec<EnvIssue>,
    },
    /// A value set in code is out of range or malformed; the message names the setter.
    #[error("{setting} = {value:?} is not accepted: expected {expected}")]
    InvalidSetting {
        /// The setting, named like its setter (e.g. `sampler ratio`).
        setting: &'static str,
        /// The value that was given.
        value: String,
        /// What the setting accepts.
        expected: String,
    },
    /// The configuration file has settings that are not accepted, not supported, or
    /// not part of the schema; each one is listed with its path, value and what is
    /// accepted. Fix or remove each one, or use the lossy reader
    /// ([`Telemetry::from_env_lossy`](crate::Telemetry::from_env_lossy)), which warns
    /// and uses the default.
    #[error("{} problem{} in the configuration file {}: {}", issues.len(), if issues.len() == 1 { "" } else { "s" }, file.display(), join(issues))]
    InvalidFile {
        /// The file.
        file: std::path::PathBuf,
        /// Every problem, in the order of the file.
        issues: Vec<FileIssue>,
    },
    /// The configuration file could not be read (missing, unreadable, not UTF-8).
    /// Check the path (`OTEL_CONFIG_FILE`) and its permissions.
    #[error("could not read the configuration file {}: {reason}", file.display())]
    FileUnreadable {
        /// The file.
        file: std::path::PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// The configuration file is not the YAML its format asks for: a syntax error, a
    /// document that is not a mapping, or no usable `file_format`. Nothing of it is
    /// used (the specification allows no partial result).
    #[error("{}:{line}:{column}: {message}", file.display())]
    FileSyntax {
        /// The file.
        file: std::path::PathBuf,
        /// The line (1-based) of the problem.
        line: usize,
        /// The column (1-based) of the problem.
        column: usize,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A `${...}` reference of the configuration file is not a valid substitution
    /// (e.g. `${1API_KEY}`, `${API_$KEY}`, `${A:?message}`). Nothing of the file is
    /// used. Write `${NAME}`, `${env:NAME}` or `${NAME:-default}`, or `$$` for a
    /// literal `$`.
    #[error("{}:{line}:{column}: `{reference}` is not a valid substitution reference: expected ${{NAME}}, ${{env:NAME}} or ${{NAME:-default}}, NAME being a letter or `_` then letters, digits or `_` (write `$$` for a literal `$`)", file.display())]
    FileSubstitution {
        /// The file.
        file: std::path::PathBuf,
        /// The line (1-based) of the scalar holding the reference.
        line: usize,
        /// The column (1-based) of the scalar holding the reference.
        column: usize,
        /// The reference as written.
        reference: String,
    },
    /// The value of an OTLP request header set in code cannot be sent. The message
    /// names the header but never shows its value (header values carry tokens).
    #[error("the value of OTLP header `{header}` is not accepted: expected {expected} (the value is not shown)")]
    InvalidHeaderValue {
        /// The header's name.
        header: String,
        /// What a header value accepts.
        expected: &'static str,
    },
}

fn join_failures(failures: &[ShutdownError]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ShutdownError {
    /// The signals' failures: those of [`Incomplete`](Self::Incomplete), else this one.
    pub fn failures(&self) -> &[ShutdownError] {
        match self {
            ShutdownError::Incomplete { failures, .. } => failures,
            other => std::slice::from_ref(other),
        }
    }

    /// The report of every signal, when a shutdown made one.
    pub fn report(&self) -> Option<&crate::health::ShutdownReport> {
        match self {
            ShutdownError::Incomplete { report, .. } => Some(report),
            _ => None,
        }
    }
}

fn join<T: fmt::Display>(issues: &[T]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why [`TelemetryBuilder::build`](crate::TelemetryBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration is invalid; the inner error names each bad value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration asks for something this build of the crate leaves out.
    /// Enable the named cargo feature of `telemetry`.
    #[error("{what} needs the `{feature}` feature of the telemetry crate, which this build does not enable")]
    FeatureDisabled {
        /// What was asked for, e.g. `OTLP over gRPC`.
        what: &'static str,
        /// The cargo feature to enable.
        feature: &'static str,
    },
    /// A local log output could not be opened (e.g. the log file's directory is not
    /// writable).
    #[error("could not open the log output {output}: {source}")]
    LogOutput {
        /// The output, as configured.
        output: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The admin endpoint could not listen on its address (in use, or not local).
    /// Choose another with `prometheus_address` or `OTEL_EXPORTER_PROMETHEUS_PORT`.
    #[error("could not listen on {address} for /metrics and /health: {source}")]
    Bind {
        /// The address.
        address: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A background thread could not be started (the OS refused a thread).
    #[error("could not start the thread for {signal}: {source}")]
    Thread {
        /// The signal whose pipeline failed to start (or `health checks`).
        signal: &'static str,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// Why [`Telemetry::try_init`](crate::Telemetry::try_init) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// Building the pipeline failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A global `tracing` subscriber was already installed (by this crate or another).
    /// Use [`Telemetry::layer`](crate::Telemetry::layer) to compose with it instead.
    #[error("a global tracing subscriber is already installed; compose telemetry.layer() into it instead")]
    AlreadyInstalled,
}

/// Why a flush or shutdown did not finish cleanly. The pipeline never blocks past
/// its timeout: whatever could not be delivered is counted in the report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The timeout passed before everything was delivered; what was left is counted as
    /// dropped with reason `shutdown`.
    #[error("{signal}: gave up after {timeout:?} with {undelivered} item(s) undelivered")]
    Timeout {
        /// The signal that did not finish.
        signal: &'static str,
        /// The timeout that ran out.
        timeout: Duration,
        /// How many items were not delivered.
        undelivered: u64,
    },
    /// The exporter failed; the items of the failed batches are counted as dropped.
    #[error("{signal}: export failed: {message}")]
    Export {
        /// The signal whose export failed.
        signal: &'static str,
        /// The last export error.
        message: String,
    },
    /// The pipeline was already shut down; the call did nothing.
    #[error("telemetry is already shut down")]
    AlreadyShutdown,
    /// What [`Telemetry::shutdown`](crate::Telemetry::shutdown) returns when any signal
    /// did not finish cleanly: every signal's failure (one of the other variants each),
    /// and the report of what every signal delivered.
    #[error("shutdown incomplete: {}\n{report}", join_failures(failures))]
    Incomplete {
        /// Each signal that did not finish, in the order traces, metrics, logs.
        failures: Vec<ShutdownError>,
        /// What each signal delivered, dropped and left pending.
        report: Box<crate::health::ShutdownReport>,
    },
    /// The signal's export thread stopped (it panicked or could not run): nothing more
    /// of this signal is exported, and what it held or is offered since is counted as
    /// dropped with reason `thread_stopped`. [`health`](crate::Telemetry::health)
    /// reports the same reason; build a new [`Telemetry`](crate::Telemetry) to export
    /// again, and report the panic as a bug.
    #[error("{signal}: {reason}; nothing more is exported")]
    ExportThreadStopped {
        /// The signal whose export thread stopped.
        signal: &'static str,
        /// Which thread stopped and why, with the panic message when there is one.
        reason: String,
    },
}

/// Any error of this crate, for applications that use `?` on all of them.
///
/// Its `Debug` output is the readable message followed by its causes, so that
/// `fn main() -> Result<(), telemetry::Error>` prints what to fix; `{:#?}` shows the
/// structure, and every variant's fields stay public for matching.
///
/// ```
/// let err: telemetry::Error = telemetry::Telemetry::from_env()
///     .vars([("OTEL_BSP_MAX_QUEUE_SIZE", "-5")])
///     .build()
///     .unwrap_err()
///     .into();
/// assert_eq!(
///     format!("{err:?}"),
///     "1 invalid environment variable: OTEL_BSP_MAX_QUEUE_SIZE=\"-5\" is not a positive integer"
/// );
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`BuildError`].
    #[error(transparent)]
    Build(#[from] BuildError),
    /// See [`InitError`].
    #[error(transparent)]
    Init(#[from] InitError),
    /// See [`ShutdownError`].
    #[error(transparent)]
    Shutdown(#[from] ShutdownError),
    /// See [`ConfigError`].
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return match self {
                Error::Build(e) => f.debug_tuple("Build").field(e).finish(),
                Error::Init(e) => f.debug_tuple("Init").field(e).finish(),
                Error::Shutdown(e) => f.debug_tuple("Shutdown").field(e).finish(),
                Error::Config(e) => f.debug_tuple("Config").field(e).finish(),
            };
        }
        let message = self.to_string();
        f.write_str(&message)?;
        let mut cause = std::error::Error::source(self);
        let mut first = true;
        while let Some(c) = cause {
            let text = c.to_string();
            // Most messages already end with their cause's text: not twice.
            if !message.contains(&text) {
                if first {
                    f.write_str("\n\nCaused by:")?;
                    first = false;
                }
                write!(f, "\n    {text}")?;
            }
            cause = c.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_level_debug_reads_like_display_and_the_alternate_form_keeps_the_fields() {
        let err = Error::from(ConfigError::InvalidEnv {
            issues: vec![EnvIssue {
                var: "OTEL_TRACES_SAMPLER",
                value: "sometimes".into(),
                expected: "one of always_on, always_off".into(),
                setting: "sampler",
                instead: None,
            }],
        });
        assert_eq!(
            format!("{err:?}"),
            "1 invalid environment variable: OTEL_TRACES_SAMPLER=\"sometimes\" is not one of always_on, always_off"
        );
        let structured = format!("{err:#?}");
        assert!(
            structured.starts_with("Config(\n    InvalidEnv {"),
            "{structured}"
        );
        assert!(
            structured.contains("var: \"OTEL_TRACES_SAMPLER\""),
            "{structured}"
        );
    }

    #[test]
    fn causes_not_already_in_the_message_follow_it() {
        #[derive(Debug)]
        struct Inner;
        impl fmt::Display for Inner {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("disk quota exceeded")
            }
        }
        impl std::error::Error for Inner {}
        let io = std::io::Error::other(Inner);
        let err = Error::from(BuildError::LogOutput {
            output: "file(/var/log/app.log)".into(),
            source: io,
        });
        assert_eq!(
            format!("{err:?}"),
            "could not open the log output file(/var/log/app.log): disk quota exceeded"
        );
    }
}
