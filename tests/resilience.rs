//! Resilient export against a scripted fake collector, over gRPC and HTTP: retries of
//! what OTLP calls retryable only, server delays honoured, the circuit breaker, the
//! bounded retry buffer, partial success, timeouts, and an outage with recovery in
//! which every span is delivered or counted.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{free_addr, FakeCollector, Reply, Wire};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use telemetry::export::{
    BatchConfig, CircuitBreakerConfig, CircuitState, Protocol, RetryBufferConfig, RetryConfig,
};
use telemetry::{ShutdownError, Telemetry};
use tracing_subscriber::prelude::*;

const BOTH: [(Wire, Protocol); 2] = [
    (Wire::Grpc, Protocol::Grpc),
    (Wire::Http, Protocol::HttpProtobuf),
];

struct Settings {
    retry: RetryConfig,
    circuit: CircuitBreakerConfig,
    buffer: RetryBufferConfig,
    timeout: Duration,
    shutdown: Duration,
    batch: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry: RetryConfig {
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                ..RetryConfig::default()
            },
            circuit: CircuitBreakerConfig::default(),
            buffer: RetryBufferConfig::default(),
            timeout: Duration::from_secs(5),
            shutdown: Duration::from_secs(10),
            batch: 512,
        }
    }
}

fn telemetry(endpoint: String, protocol: Protocol, s: Settings) -> Telemetry {
    Telemetry::builder()
        .endpoint(endpoint)
        .protocol(protocol)
        .timeout(s.timeout)
        .retry(s.retry)
        .circuit_breaker(s.circuit)
        .retry_buffer(s.buffer)
        .shutdown_timeout(s.shutdown)
        .traces_batch(BatchConfig {
            schedule_delay: Duration::from_millis(20),
            max_export_batch_size: s.batch,
            max_queue_size: 2048,
            ..BatchConfig::TRACES
        })
        .build()
        .unwrap()
}

/// Records `n` spans with an attribute `i` counting from `from`.
fn record(t: &Telemetry, from: i64, n: i64) {
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in from..from + n {
            tracing::info_span!("work", i).in_scope(|| {});
        }
    });
}

/// The distinct values of `i` that reached the collector.
fn delivered(c: &FakeCollector) -> BTreeSet<i64> {
    c.spans()
        .iter()
        .filter_map(|s| {
            s.attributes
                .iter()
                .find(|kv| kv.key == "i")
                .and_then(|kv| kv.value.as_ref()?.value.clone())
        })
        .filter_map(|v| match v {
            Value::IntValue(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn assert_balanced(t: &Telemetry) {
    let r = t.traces_report();
    assert_eq!(r.received, r.exported + r.dropped + r.pending, "{r:?}");
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn transient(wire: Wire) -> Reply {
    match wire {
        Wire::Grpc => Reply::Grpc {
            code: tonic::Code::Unavailable,
            retry_info: None,
        },
        Wire::Http => Reply::Http {
            status: 503,
            retry_after: None,
        },
    }
}

#[test]
fn transient_failures_are_retried_until_delivered() {
    for (wire, protocol) in BOTH {
        let c = FakeCollector::scripted(wire, [transient(wire), transient(wire), transient(wire)]);
        c.otherwise(Reply::Ok);
        let t = telemetry(c.endpoint(), protocol, Settings::default());
        record(&t, 0, 10);
        let report = t.shutdown().expect("delivered in the end");
        assert_eq!(
            c.requests().len(),
            4,
            "{wire:?}: three failures, then success"
        );
        assert_eq!(delivered(&c).len(), 10);
        assert_eq!(
            (report.traces.exported, report.traces.dropped),
            (10, 0),
            "{wire:?}"
        );
        assert_eq!(
            (report.traces.retries, report.traces.failed_requests),
            (3, 3)
        );
        assert_eq!(
            report.traces.circuit_transitions.opened, 0,
            "4 < 5 failures"
        );
    }
}

#[test]
fn retry_after_in_seconds_and_as_a_date_is_honoured() {
    for date in [false, true] {
        // A date has whole seconds: three seconds ahead is at least two from now.
        let retry_after = if date {
            httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3))
        } else {
            "1".to_string()
        };
        let c = FakeCollector::scripted(
            Wire::Http,
            [Reply::Http {
                status: 429,
                retry_after: Some(retry_after.clone()),
            }],
        );
        c.otherwise(Reply::Ok);
        let t = telemetry(c.endpoint(), Protocol::HttpProtobuf, Settings::default());
        record(&t, 0, 5);
        t.shutdown().unwrap();
        let r = c.requests();
        assert_eq!(r.len(), 2);
        let gap = r[1].at - r[0].at;
        // The backoff alone would be 20 ms ± 50 %: the server's delay wins.
        assert!(
            gap >= Duration::from_millis(950),
            "Retry-After {retry_after:?}: retried after {gap:?}"
        );
        assert_eq!(delivered(&c).len(), 5);
    }
}

#[test]
fn resource_exhausted_is_retried_only_with_retry_info() {
    let c = FakeCollector::scripted(
        Wire::Grpc,
        [Reply::Grpc {
            code: tonic::Code::ResourceExhausted,
            retry_info: Some(Duration::from_secs(1)),
        }],
    );
    c.otherwise(Reply::Ok);
    let t = telemetry(c.endpoint(), Protocol::Grpc, Settings::default());
    record(&t, 0, 5);
    t.shutdown().unwrap();
    let r = c.requests();
    assert_eq!(r.len(), 2);
    assert!(
        r[1].at - r[0].at >= Duration::from_millis(950),
        "RetryInfo's delay is waited out"
    );

    let c = FakeCollector::scripted(
        Wire::Grpc,
        [Reply::Grpc {
            code: tonic::Code::ResourceExhausted,
            retry_info: None,
        }],
    );
    let t = telemetry(c.endpoint(), Protocol::Grpc, Settings::default());
    record(&t, 0, 5);
    let err = t.shutdown().unwrap_err();
    assert!(
        matches!(
            err.failures(),
            [ShutdownError::Export {
                signal: "traces",
                ..
            }]
        ),
        "{err:?}"
    );
    assert_eq!(c.requests().len(), 1, "no retry without RetryInfo");
    let r = t.traces_report();
    assert_eq!(r.dropped_by_reason.non_retryable, 5);
}

#[test]
fn permanent_errors_are_never_retried() {
    // 413 is never resent as is either, but split in halves: see tests/export_size.rs.
    let http = [400, 401, 404, 500].map(|status| {
        (
            Wire::Http,
            Protocol::HttpProtobuf,
            Reply::Http {
                status,
                retry_after: None,
            },
        )
    });
    let grpc = [
        tonic::Code::InvalidArgument,
        tonic::Code::Internal,
        tonic::Code::Unauthenticated,
    ]
    .map(|code| {
        (
            Wire::Grpc,
            Protocol::Grpc,
            Reply::Grpc {
                code,
                retry_info: None,
            },
        )
    });
    for (wire, protocol, reply) in http.into_iter().chain(grpc) {
        let c = FakeCollector::scripted(wire, [reply.clone()]);
        let t = telemetry(c.endpoint(), protocol, Settings::default());
        record(&t, 0, 7);
        assert!(t.shutdown().is_err(), "{reply:?}");
        assert_eq!(c.requests().len(), 1, "{reply:?} is not retried");
        let r = t.traces_report();
        assert_eq!(
            (r.exported, r.dropped_by_reason.non_retryable),
            (0, 7),
            "{reply:?}"
        );
        assert_eq!(
            r.circuit_transitions.opened, 0,
            "permanent errors do not trip the breaker"
        );
    }
}

#[test]
fn partial_success_counts_the_rejected_and_never_resends() {
    for (wire, protocol) in BOTH {
        let c = FakeCollector::scripted(
            wire,
            [Reply::Partial {
                rejected: 5,
                message: "5 spans were too old",
            }],
        );
        let t = telemetry(c.endpoint(), protocol, Settings::default());
        record(&t, 0, 12);
        let report = t.shutdown().expect("a partial success is a success");
        assert_eq!(c.requests().len(), 1, "{wire:?}: never resent");
        assert_eq!(report.traces.exported, 7);
        assert_eq!(report.traces.dropped_by_reason.rejected_by_collector, 5);
        assert_eq!(report.traces.retries, 0);
    }
}

#[test]
fn responses_slower_than_the_timeout_are_retried() {
    for (wire, protocol) in BOTH {
        let c = FakeCollector::scripted(wire, [Reply::Delay(Duration::from_secs(2))]);
        c.otherwise(Reply::Ok);
        let t = telemetry(
            c.endpoint(),
            protocol,
            Settings {
                timeout: Duration::from_millis(300),
                ..Settings::default()
            },
        );
        record(&t, 0, 5);
        let report = t.shutdown().unwrap();
        assert_eq!(c.requests().len(), 2, "{wire:?}");
        assert_eq!(report.traces.exported, 5);
        assert_eq!(report.traces.retries, 1);
        let health = t.health().traces.unwrap();
        let last = health.last_error.unwrap();
        assert!(
            last.contains("no response within 300ms"),
            "{wire:?}: {last}"
        );
    }
}

#[test]
fn an_open_circuit_rejects_without_io_and_reports_itself() {
    let t = telemetry(
        format!("http://{}", free_addr()),
        Protocol::HttpProtobuf,
        Settings {
            circuit: CircuitBreakerConfig {
                failure_threshold: 3,
                open_duration: Duration::from_secs(60),
            },
            shutdown: Duration::from_millis(500),
            ..Settings::default()
        },
    );
    record(&t, 0, 10);
    wait_until("the circuit to open", Duration::from_secs(10), || {
        t.health().traces.unwrap().circuit == CircuitState::Open
    });
    let health = t.health();
    assert!(!health.healthy);
    let traces = health.traces.unwrap();
    assert_eq!(traces.consecutive_failures, 3);
    assert!(
        traces
            .last_error
            .as_deref()
            .unwrap()
            .contains("connection refused"),
        "{traces:?}"
    );
    assert!(traces.last_error_at.is_some());
    assert_eq!(traces.buffer_depth, 10, "the batch waits in the buffer");
    let requests = traces.counters.requests;
    assert_eq!(requests, 3);
    // More data while open: buffered, and no request goes out.
    record(&t, 10, 10);
    std::thread::sleep(Duration::from_millis(200));
    let traces = t.health().traces.unwrap();
    assert_eq!(traces.counters.requests, requests, "open means no I/O");
    assert_eq!(traces.buffer_depth, 20);
    assert_balanced(&t);
    let json: serde_json::Value = serde_json::from_str(&t.health().to_json()).unwrap();
    assert_eq!(json["traces"]["circuit"], "open");
    assert_eq!(json["healthy"], false);
    // Shutdown gives the collector one last chance, then counts what was left.
    let err = t.shutdown().unwrap_err();
    assert!(
        matches!(
            err.failures(),
            [
                ShutdownError::Timeout {
                    signal: "traces",
                    ..
                } | ShutdownError::Export {
                    signal: "traces",
                    ..
                },
                ..
            ]
        ),
        "{err:?}"
    );
    let r = t.traces_report();
    assert_eq!((r.dropped_by_reason.shutdown, r.pending), (20, 0));
}

/// The outage drill: a collector down for a while, then back on the same port, while
/// the application keeps recording. Nothing may be lost with the default buffer.
#[test]
fn a_collector_down_for_a_while_then_back_loses_nothing() {
    for (wire, protocol) in BOTH {
        let addr = free_addr();
        let t = telemetry(
            format!("http://{addr}"),
            protocol,
            Settings {
                circuit: CircuitBreakerConfig {
                    failure_threshold: 5,
                    open_duration: Duration::from_millis(300),
                },
                batch: 100,
                ..Settings::default()
            },
        );
        // Watch the books while everything happens.
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (t, stop) = (t.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    assert_balanced(&t);
                    checks += 1;
                    std::thread::sleep(Duration::from_micros(200));
                }
                checks
            })
        };
        let offered = 3000;
        for chunk in 0..30 {
            record(&t, chunk * 100, 100);
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_until("the circuit to open", Duration::from_secs(10), || {
            t.health()
                .traces
                .unwrap()
                .counters
                .circuit_transitions
                .opened
                > 0
        });
        let back_at = Instant::now();
        let c = FakeCollector::start_on(addr, wire);
        wait_until("recovery", Duration::from_secs(20), || {
            delivered(&c).len() == offered as usize
        });
        let recovered_in = back_at.elapsed();
        let report = t.shutdown().expect("clean shutdown after recovery");
        stop.store(true, Ordering::Relaxed);
        let checks = watcher.join().expect("the books balanced at every check");
        let r = report.traces;
        println!(
            "{wire:?}: offered {offered}, delivered {}, dropped {}, retries {}, opened {} closed {}, \
             recovered {recovered_in:?} after the collector came back; {checks} balance checks",
            r.exported, r.dropped, r.retries, r.circuit_transitions.opened, r.circuit_transitions.closed
        );
        assert_eq!(r.received, offered as u64);
        assert_eq!(
            (r.exported, r.dropped, r.pending),
            (offered as u64, 0, 0),
            "{wire:?}: {r:?}"
        );
        assert!(r.circuit_transitions.closed >= 1);
        assert_eq!(delivered(&c), (0..offered).collect::<BTreeSet<_>>());
        assert!(t.health().healthy);
    }
}

#[test]
fn past_the_buffer_bound_the_oldest_are_dropped_and_counted() {
    let addr = free_addr();
    let t = telemetry(
        format!("http://{addr}"),
        Protocol::HttpProtobuf,
        Settings {
            buffer: RetryBufferConfig {
                max_items: 100,
                max_bytes: u64::MAX,
            },
            circuit: CircuitBreakerConfig {
                failure_threshold: 1,
                open_duration: Duration::from_millis(200),
            },
            batch: 50,
            ..Settings::default()
        },
    );
    for chunk in 0..10 {
        record(&t, chunk * 50, 50);
        std::thread::sleep(Duration::from_millis(30));
    }
    wait_until(
        "everything to be buffered or dropped",
        Duration::from_secs(5),
        || {
            let r = t.traces_report();
            r.dropped_by_reason.buffer_full > 0 && t.health().traces.unwrap().queue_depth == 0
        },
    );
    assert_balanced(&t);
    let c = FakeCollector::start_on(addr, Wire::Http);
    t.shutdown().expect("delivered what was kept");
    let r = t.traces_report();
    assert_eq!(r.received, 500);
    assert_eq!(r.exported + r.dropped_by_reason.buffer_full, 500, "{r:?}");
    assert!(
        r.exported <= 150,
        "at most the bound (plus one batch in flight): {r:?}"
    );
    let got = delivered(&c);
    assert!(got.contains(&499), "the newest were kept");
    assert!(!got.contains(&0), "the oldest were dropped");
}

#[test]
fn shutdown_during_a_long_backoff_returns_promptly() {
    let c = FakeCollector::scripted(Wire::Http, []);
    c.otherwise(Reply::Http {
        status: 503,
        retry_after: Some("60".into()),
    });
    let t = telemetry(
        c.endpoint(),
        Protocol::HttpProtobuf,
        Settings {
            shutdown: Duration::from_secs(5),
            ..Settings::default()
        },
    );
    record(&t, 0, 5);
    wait_until("the first attempt", Duration::from_secs(5), || {
        !c.requests().is_empty()
    });
    let started = Instant::now();
    let err = t.shutdown().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a retry due in 60 s cannot make a 5 s deadline: gave up at once, not after {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err.failures(),
            [
                ShutdownError::Export {
                    signal: "traces",
                    ..
                } | ShutdownError::Timeout {
                    signal: "traces",
                    ..
                },
                ..
            ]
        ),
        "{err:?}"
    );
    let r = t.traces_report();
    assert_eq!((r.dropped_by_reason.shutdown, r.pending), (5, 0));
}

/// With the collector down, shutdown tells the whole story: every signal's failure and
/// the report of each, readable as it is printed.
#[test]
fn shutdown_with_the_collector_down_reports_every_signal() {
    let t = Telemetry::builder()
        .endpoint(format!("http://{}", free_addr()))
        .shutdown_timeout(Duration::from_secs(1))
        .install_globals(false)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("order").in_scope(|| tracing::info!("placed"));
    });
    let err = t.shutdown().unwrap_err();
    let signals: Vec<&str> = err
        .failures()
        .iter()
        .map(|f| match f {
            ShutdownError::Timeout { signal, .. }
            | ShutdownError::Export { signal, .. }
            | ShutdownError::ExportThreadStopped { signal, .. } => *signal,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(signals, ["traces", "metrics", "logs"], "{err:?}");
    let report = err.report().expect("the report of every signal");
    assert_eq!(report.traces.received, 1);
    assert_eq!(report.logs.received, 1);
    assert_eq!(report.traces.received, report.traces.dropped);
    let text = err.to_string();
    assert!(text.starts_with("shutdown incomplete: traces: "), "{text}");
    assert!(
        text.contains("\ntraces: 0 exported, 1 dropped (1 shutdown), 0 pending"),
        "{text}"
    );
    assert!(
        text.contains("\nlogs: 0 exported, 1 dropped (1 shutdown), 0 pending"),
        "{text}"
    );
}
