//! A custom exporter gets the built-in exporters' machinery: a retryable failure is
//! retried with backoff and the books balance once it recovers; a permanent one is
//! dropped as `non_retryable`; a failing exporter opens the circuit and shows in
//! `health()`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telemetry::export::{
    BatchConfig, CircuitBreakerConfig, CircuitState, ExportFailure, Exporter, RetryConfig, SpanData,
};
use telemetry::{Telemetry, TelemetryBuilder};
use tracing_subscriber::prelude::*;

/// Fails while `failures` is above zero (each call uses one), then keeps the names.
#[derive(Clone, Default)]
struct Flaky {
    failures: Arc<Mutex<u32>>,
    retryable: bool,
    names: Arc<Mutex<Vec<String>>>,
}

impl Exporter<SpanData> for Flaky {
    fn export(&mut self, batch: &[SpanData]) -> Result<(), ExportFailure> {
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(if self.retryable {
                ExportFailure::retryable("backend unavailable")
            } else {
                ExportFailure::permanent("batch refused")
            });
        }
        let mut names = self.names.lock().unwrap();
        names.extend(batch.iter().map(|s| s.name.to_string()));
        Ok(())
    }

    fn target(&self) -> String {
        "flaky-backend".into()
    }
}

fn builder(exporter: Flaky) -> TelemetryBuilder {
    Telemetry::builder()
        .span_exporter(exporter)
        .metrics_exporter(telemetry::export::ExporterKind::None)
        .logs_exporter(telemetry::export::ExporterKind::None)
        .traces_batch(BatchConfig {
            schedule_delay: Duration::from_millis(10),
            ..BatchConfig::TRACES
        })
        .retry(RetryConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            ..RetryConfig::default()
        })
        .shutdown_timeout(Duration::from_secs(5))
        .install_globals(false)
}

fn spans(t: &Telemetry, names: &[&str]) {
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        for name in names {
            tracing::info_span!("op", otel.name = *name).in_scope(|| {});
        }
    });
}

#[test]
fn a_retryable_failure_is_retried_and_the_books_balance_after_recovery() {
    let exporter = Flaky {
        failures: Arc::new(Mutex::new(3)),
        retryable: true,
        ..Flaky::default()
    };
    let t = builder(exporter.clone()).build().unwrap();
    spans(&t, &["a", "b", "c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while exporter.names.lock().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "never delivered: {:?}",
            t.health()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let health = t.health().traces.unwrap();
    assert_eq!(health.exporter, "custom flaky-backend");
    assert_eq!(
        health.last_error.as_deref(),
        Some("flaky-backend: backend unavailable")
    );
    let report = t.shutdown().unwrap().traces;
    assert_eq!(report.received, 3);
    assert_eq!(report.exported, 3, "{report:?}");
    assert_eq!(report.dropped, 0, "{report:?}");
    assert!(report.retries >= 3, "{report:?}");
    assert_eq!(report.failed_requests, 3, "{report:?}");
    let mut names = exporter.names.lock().unwrap().clone();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn a_permanent_failure_drops_the_batch_as_non_retryable() {
    let exporter = Flaky {
        failures: Arc::new(Mutex::new(1)),
        retryable: false,
        ..Flaky::default()
    };
    let t = builder(exporter.clone()).build().unwrap();
    spans(&t, &["refused"]);
    let _ = t.force_flush();
    spans(&t, &["kept"]);
    let report = t.shutdown().unwrap().traces;
    assert_eq!(report.received, 2);
    assert_eq!(report.exported, 1, "{report:?}");
    assert_eq!(report.dropped_by_reason.non_retryable, 1, "{report:?}");
    assert_eq!(report.retries, 0, "{report:?}");
    assert_eq!(*exporter.names.lock().unwrap(), ["kept"]);
}

#[test]
fn an_exporter_that_keeps_failing_opens_the_circuit() {
    let exporter = Flaky {
        failures: Arc::new(Mutex::new(u32::MAX)),
        retryable: true,
        ..Flaky::default()
    };
    let t = builder(exporter)
        .circuit_breaker(CircuitBreakerConfig {
            failure_threshold: 2,
            open_duration: Duration::from_secs(60),
        })
        .shutdown_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    spans(&t, &["x"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = t.health().traces.unwrap();
        if health.circuit == CircuitState::Open {
            assert!(!health.healthy);
            break;
        }
        assert!(Instant::now() < deadline, "{health:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = t.traces_report();
    assert_eq!(
        report.received,
        report.exported + report.dropped + report.pending
    );
    assert_eq!(report.pending, 1, "{report:?}");
    let _ = t.shutdown();
}
