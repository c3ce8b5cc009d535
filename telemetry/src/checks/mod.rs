//! Dependency health checks: a TCP connect, an HTTP request or a function of yours,
//! each run in the background on the library's own thread (never the application's),
//! bounded by its timeout, with thresholds so that one slow probe does not flip a
//! service out of its load balancer.
//!
//! ```no_run
//! use std::time::Duration;
//! use telemetry::HealthCheck;
//!
//! let telemetry = telemetry::Telemetry::builder()
//!     .health_check(HealthCheck::tcp("database", "127.0.0.1:5432"))
//!     .health_check(
//!         HealthCheck::http("cache", "http://127.0.0.1:8001/health")
//!             .interval(Duration::from_secs(10))
//!             .optional(),
//!     )
//!     .health_check(HealthCheck::custom_blocking("disk", |_ctx| {
//!         let free_percent = 42.0; // read it from the file system
//!         if free_percent > 10.0 {
//!             Ok(telemetry::checks::Observed::value(free_percent, "%"))
//!         } else {
//!             Err(format!("only {free_percent}% free"))
//!         }
//!     }))
//!     .build()?;
//! let report = telemetry.health();
//! for check in &report.checks {
//!     println!("{}: {:?}", check.name, check.status);
//! }
//! # Ok::<(), telemetry::Error>(())
//! ```
//!
//! A check starts as [`CheckStatus::Starting`]; its first result decides whether it
//! passes or fails. After that a passing check fails after `unhealthy_threshold`
//! failures in a row (default 3) and a failing one recovers after `healthy_threshold`
//! successes in a row (default 2). A probe that outlasts its timeout (default 5 s) is a
//! failure. Each change is logged once (`database: failing after 3 failures: connection
//! refused`, `database: recovered`), never once per probe.
//!
//! - `probe.rs`: running one probe (TCP, HTTP, yours) within its timeout;
//! - `state.rs`: the thresholds, the shared state, the reports;
//! - `runner.rs`: the thread, its runtime and the schedule; the metrics;
//! - `render.rs`: the `application/health+json` and Kubernetes-style bodies of
//!   `/livez`, `/readyz` and `/health`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ConfigError;

mod probe;
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) mod render;
pub(crate) mod runner;
pub(crate) mod state;

pub use state::{CheckHealth, CheckStatus};

/// Default time between two runs of a check.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default time a probe may take before it counts as failed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default failures in a row before a passing check fails.
pub const DEFAULT_UNHEALTHY_THRESHOLD: u32 = 3;
/// Default successes in a row before a failing check passes again.
pub const DEFAULT_HEALTHY_THRESHOLD: u32 = 2;

/// One dependency check: what to probe, how often, and what its results mean.
/// Made with [`tcp`](Self::tcp), [`http`](Self::http), [`custom`](Self::custom) or
/// [`custom_blocking`](Self::custom_blocking); given to
/// [`TelemetryBuilder::health_check`](crate::TelemetryBuilder::health_check).
#[derive(Clone)]
pub struct HealthCheck {
    pub(crate) name: String,
    pub(crate) probe: Probe,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) unhealthy_threshold: u32,
    pub(crate) healthy_threshold: u32,
    pub(crate) critical: bool,
}

/// What a check probes.
#[derive(Clone)]
pub(crate) enum Probe {
    /// A TCP connection to `host:port`.
    Tcp { address: String },
    /// An HTTP request whose answer must have one of the expected statuses.
    Http {
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        /// Empty: any 2xx.
        expect: Vec<u16>,
    },
    /// A function of the application's returning a future.
    Async(AsyncProbe),
    /// A blocking function of the application's, run on a thread of its own.
    Blocking(BlockingProbe),
}

pub(crate) type Outcome = Result<Observed, String>;
pub(crate) type AsyncProbe =
    Arc<dyn Fn(CheckContext) -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;
pub(crate) type BlockingProbe = Arc<dyn Fn(CheckContext) -> Outcome + Send + Sync>;

/// What a passing probe observed, for the `observedValue` and `observedUnit` of the
/// health report (e.g. the free space of a disk). TCP and HTTP checks report how long
/// the probe took, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The observed value, if any.
    pub value: Option<f64>,
    /// Its unit (`ms`, `%`, `bytes`, ...).
    pub unit: Option<String>,
}

impl Observed {
    /// A value with its unit.
    pub fn value(value: f64, unit: impl Into<String>) -> Observed {
        Observed {
            value: Some(value),
            unit: Some(unit.into()),
        }
    }
}

impl From<()> for Observed {
    fn from((): ()) -> Observed {
        Observed::default()
    }
}

/// What a custom check is told about its run.
#[derive(Debug, Clone)]
pub struct CheckContext {
    name: Arc<str>,
    timeout: Duration,
    run: u64,
}

impl CheckContext {
    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long this run may take before it counts as failed.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The number of this run, from 1.
    pub fn run(&self) -> u64 {
        self.run
    }
}

/// Settings compare equal; custom checks only when they are the same function.
impl PartialEq for HealthCheck {
    fn eq(&self, other: &Self) -> bool {
        let probes = match (&self.probe, &other.probe) {
            (Probe::Tcp { address: a }, Probe::Tcp { address: b }) => a == b,
            (
                Probe::Http {
                    url: a,
                    method: ma,
                    headers: ha,
                    expect: ea,
                },
                Probe::Http {
                    url: b,
                    method: mb,
                    headers: hb,
                    expect: eb,
                },
            ) => a == b && ma == mb && ha == hb && ea == eb,
            (Probe::Async(a), Probe::Async(b)) => Arc::ptr_eq(a, b),
            (Probe::Blocking(a), Probe::Blocking(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        probes
            && self.name == other.name
            && self.interval == other.interval
            && self.timeout == other.timeout
            && self.unhealthy_threshold == other.unhealthy_threshold
            && self.healthy_threshold == other.healthy_threshold
            && self.critical == other.critical
    }
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCheck")
            .field("name", &self.name)
            .field("kind", &self.kind())
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("unhealthy_threshold", &self.unhealthy_threshold)
            .field("healthy_threshold", &self.healthy_threshold)
            .field("critical", &self.critical)
            .finish()
    }
}

impl HealthCheck {
    fn new(name: impl Into<String>, probe: Probe) -> HealthCheck {
        HealthCheck {
            name: name.into(),
            probe,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            unhealthy_threshold: DEFAULT_UNHEALTHY_THRESHOLD,
            healthy_threshold: DEFAULT_HEALTHY_THRESHOLD,
            critical: true,
        }
    }

    /// Passes when a TCP connection to `address` (`host:port`, e.g. a database's
    /// `127.0.0.1:5432`) opens within the timeout.
    pub fn tcp(name: impl Into<String>, address: impl Into<String>) -> HealthCheck {
        HealthCheck::new(
            name,
            Probe::Tcp {
                address: address.into(),
            },
        )
    }

    /// Passes when a `GET` of `url` (`http://` or, with the `tls` feature,
    /// `https://`) answers a 2xx status within the timeout; see
    /// [`expect_status`](Self::expect_status), [`method`](Self::method) and
    /// [`header`](Self::header).
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> HealthCheck {
        HealthCheck::new(
            name,
            Probe::Http {
                url: url.into(),
                method: "GET".into(),
                headers: Vec::new(),
                expect: Vec::new(),
            },
        )
    }

    /// Runs an async function of yours; it passes when the future resolves to
    /// `Ok` within the timeout. `Ok(())` or `Ok(Observed::value(..))`; an `Err`'s
    /// text is the report's `output`.
    pub fn custom<F, Fut, T, E>(name: impl Into<String>, check: F) -> HealthCheck
    where
        F: Fn(CheckContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Into<Observed>,
        E: fmt::Display,
    {
        let probe: AsyncProbe = Arc::new(move |ctx| {
            let run = check(ctx);
            Box::pin(async move { run.await.map(Into::into).map_err(|e| e.to_string()) })
        });
        HealthCheck::new(name, Probe::Async(probe))
    }

    /// Runs a blocking function of yours on a thread of its own (never the
    /// application's); like [`custom`](Self::custom) otherwise. A run that outlasts the
    /// timeout is a failure, and the check is not started again while it still runs.
    pub fn custom_blocking<F, T, E>(name: impl Into<String>, check: F) -> HealthCheck
    where
        F: Fn(CheckContext) -> Result<T, E> + Send + Sync + 'static,
        T: Into<Observed>,
        E: fmt::Display,
    {
        let probe: BlockingProbe =
            Arc::new(move |ctx| check(ctx).map(Into::into).map_err(|e| e.to_string()));
        HealthCheck::new(name, Probe::Blocking(probe))
    }

    /// Time between two runs. Default: 30 s.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Time a run may take before it counts as failed. Default: 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Failures in a row before a passing check fails. Default: 3.
    pub fn unhealthy_threshold(mut self, failures: u32) -> Self {
        self.unhealthy_threshold = failures;
        self
    }

    /// Successes in a row before a failing check passes again. Default: 2.
    pub fn healthy_threshold(mut self, successes: u32) -> Self {
        self.healthy_threshold = successes;
        self
    }

    /// The check gates readiness: `/readyz` answers 503 while it fails (the
    /// default).
    pub fn critical(mut self) -> Self {
        self.critical = true;
        self
    }

    /// The check only reports: while it fails, `/health` says `warn` and readiness
    /// is unaffected.
    pub fn optional(mut self) -> Self {
        self.critical = false;
        self
    }

    /// HTTP checks: the request method. Default: `GET`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        if let Probe::Http { method: m, .. } = &mut self.probe {
            *m = method.into();
        }
        self
    }

    /// HTTP checks: a request header (its value is never printed).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Probe::Http { headers, .. } = &mut self.probe {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// HTTP checks: a status that passes; call it again for more. Default: any 2xx.
    pub fn expect_status(mut self, status: u16) -> Self {
        if let Probe::Http { expect, .. } = &mut self.probe {
            expect.push(status);
        }
        self
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `tcp`, `http` or `custom`.
    pub(crate) fn kind(&self) -> &'static str {
        match self.probe {
            Probe::Tcp { .. } => "tcp",
            Probe::Http { .. } => "http",
            Probe::Async(_) | Probe::Blocking(_) => "custom",
        }
    }

    /// Whether the settings can run, naming what is wrong.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting: &'static str, value: String, expected: &str| {
            Err(ConfigError::InvalidSetting {
                setting,
                value,
                expected: expected.to_string(),
            })
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return bad(
                "health check name",
                self.name.clone(),
                "1 to 64 letters, digits, `-`, `_` or `.` (it names the check in \
                 /readyz/<name> and in metrics)",
            );
        }
        let at = |what: &str| format!("{}: {what}", self.name);
        if self.interval.is_zero() {
            return bad("health check interval", at("0s"), "a positive duration");
        }
        if self.timeout.is_zero() {
            return bad("health check timeout", at("0s"), "a positive duration");
        }
        if self.unhealthy_threshold == 0 {
            return bad("health check unhealthy_threshold", at("0"), "at least 1");
        }
        if self.healthy_threshold == 0 {
            return bad("health check healthy_threshold", at("0"), "at least 1");
        }
        match &self.probe {
            Probe::Tcp { address } => {
                let port_ok = address
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !port_ok {
                    return bad(
                        "health check address",
                        at(address),
                        "host:port, like 127.0.0.1:5432",
                    );
                }
            }
            Probe::Http {
                url,
                method,
                headers,
                expect,
            } => {
                let uri = url.parse::<http::Uri>().ok();
                let scheme = uri.as_ref().and_then(|u| u.scheme_str());
                let host = uri.as_ref().and_then(|u| u.host()).unwrap_or("");
                if !matches!(scheme, Some("http" | "https")) || host.is_empty() {
                    return bad(
                        "health check url",
                        at(url),
                        "an http:// or https:// URL, like http://127.0.0.1:8001/health",
                    );
                }
                if scheme == Some("https") && !cfg!(feature = "tls") {
                    return bad(
                        "health check url",
                        at(url),
                        "an http:// URL: this build has no TLS (turn on the `tls` feature)",
                    );
                }
                if http::Method::from_bytes(method.as_bytes()).is_err() {
                    return bad(
                        "health check method",
                        at(method),
                        "an HTTP method, like GET or HEAD",
                    );
                }
                for (k, v) in headers {
                    crate::export::otlp::check_header(k, v)?;
                }
                if let Some(s) = expect.iter().find(|s| !(100..=599).contains(*s)) {
                    return bad(
                        "health check expected status",
                        at(&s.to_string()),
                        "an HTTP status from 100 to 599",
                    );
                }
            }
            Probe::Async(_) | Probe::Blocking(_) => {}
        }
        Ok(())
    }
}
