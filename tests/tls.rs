//! OTLP over TLS against the fake collector serving TLS on 127.0.0.1, with
//! certificates made by the test: HTTP and gRPC deliver; an untrusted CA, a wrong
//! host name, an expired certificate and a missing client certificate are export
//! failures shown in `health()` in words, not retried; mutual TLS delivers with the
//! client certificate; bad TLS files fail the build naming the variable and the path.

mod common;

use std::path::Path;
use std::time::Duration;

use common::tls::{dir, server_config, Ca};
use common::{FakeCollector, Wire};
use telemetry::export::{BatchConfig, CircuitBreakerConfig, Protocol};
use telemetry::{Telemetry, TelemetryBuilder};
use tracing_subscriber::prelude::*;

const WIRES: [(Wire, Protocol); 3] = [
    (Wire::Http, Protocol::HttpProtobuf),
    (Wire::Http, Protocol::HttpJson),
    (Wire::Grpc, Protocol::Grpc),
];

/// A builder for spans only, exporting to `collector` with a short batch delay.
fn to(collector: &FakeCollector, protocol: Protocol) -> TelemetryBuilder {
    Telemetry::builder()
        .service_name("tls-test")
        .endpoint(collector.endpoint())
        .protocol(protocol)
        .metrics_exporter(telemetry::export::ExporterKind::None)
        .logs_exporter(telemetry::export::ExporterKind::None)
        .traces_batch(BatchConfig {
            schedule_delay: Duration::from_millis(20),
            ..BatchConfig::TRACES
        })
        .shutdown_timeout(Duration::from_secs(2))
        .install_globals(false)
}

fn one_span(telemetry: &Telemetry, name: &str) {
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("checkout", order = name).in_scope(|| {});
    });
    let _ = telemetry.force_flush();
}

/// The last error of the span pipeline, after the first failed request.
fn last_error(telemetry: &Telemetry) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let traces = telemetry.health().traces.expect("a span pipeline");
        if let Some(e) = traces.last_error {
            return e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failure in {traces:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn server_for_localhost(ca: &Ca) -> common::tls::Leaf {
    ca.server(&["127.0.0.1", "localhost"])
}

#[test]
fn http_and_grpc_over_tls_deliver_with_a_ca_file() {
    let files = dir("deliver");
    let ca = Ca::new("telemetry test CA");
    let ca_file = ca.write(&files, "ca.pem");
    let server = server_for_localhost(&ca);
    for (wire, protocol) in WIRES {
        let collector = FakeCollector::with_tls(wire, server_config(&server, None));
        assert!(collector.endpoint().starts_with("https://127.0.0.1:"));
        let t = to(&collector, protocol)
            .certificate(&ca_file)
            .build()
            .unwrap();
        one_span(&t, "over tls");
        assert_eq!(collector.span_count(), 1, "{protocol:?}");
        let health = t.health().traces.unwrap();
        assert!(health.healthy, "{protocol:?}: {health:?}");
        assert_eq!(health.last_error, None);
        assert!(collector.handshake_failures().is_empty());
        t.shutdown().unwrap();
    }
}

#[test]
fn the_standard_variables_configure_tls_per_signal_over_the_generic_ones() {
    let files = dir("vars");
    let ca = Ca::new("the right CA");
    let other = Ca::new("another CA");
    let right = ca.write(&files, "right.pem");
    let wrong = other.write(&files, "wrong.pem");
    let collector =
        FakeCollector::with_tls(Wire::Http, server_config(&server_for_localhost(&ca), None));
    let endpoint = collector.endpoint();
    let right = right.display().to_string();
    let wrong = wrong.display().to_string();
    let t = Telemetry::from_env()
        .vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            // The generic file is the wrong CA; the traces one wins.
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", wrong.as_str()),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", right.as_str()),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    one_span(&t, "by variables");
    assert_eq!(collector.span_count(), 1);
    assert!(t.health().traces.unwrap().healthy);
    t.shutdown().unwrap();
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_a_failure_in_words_and_not_retried() {
    let files = dir("untrusted");
    let ca = Ca::new("the collector's CA");
    let other = Ca::new("a CA the client trusts");
    let trusted = other.write(&files, "other.pem");
    for (wire, protocol) in WIRES {
        let collector =
            FakeCollector::with_tls(wire, server_config(&server_for_localhost(&ca), None));
        let t = to(&collector, protocol)
            .certificate(&trusted)
            .header("x-api-key", "secret-token-value")
            .build()
            .unwrap();
        one_span(&t, "refused");
        let error = last_error(&t);
        assert!(
            error.starts_with(
                "TLS handshake failed: the server's certificate is not signed by a CA we trust"
            ),
            "{protocol:?}: {error}"
        );
        assert!(error.contains(&collector.endpoint()), "{error}");
        assert!(!error.contains("secret-token-value"), "{error}");
        assert_eq!(collector.span_count(), 0);
        // Dropped as not retryable, after one request: no retry loop.
        let report = t.traces_report();
        assert_eq!(
            report.dropped_by_reason.non_retryable, 1,
            "{protocol:?}: {report:?}"
        );
        assert_eq!(report.failed_requests, 1, "{report:?}");
        assert_eq!(report.retries, 0, "{report:?}");
        let _ = t.shutdown();
    }
}

#[test]
fn the_circuit_breaker_bounds_how_often_a_refused_handshake_is_tried() {
    let files = dir("circuit");
    let ca = Ca::new("the collector's CA");
    let other = Ca::new("not that one");
    let trusted = other.write(&files, "other.pem");
    let collector =
        FakeCollector::with_tls(Wire::Http, server_config(&server_for_localhost(&ca), None));
    let t = to(&collector, Protocol::HttpProtobuf)
        .certificate(&trusted)
        .circuit_breaker(CircuitBreakerConfig {
            failure_threshold: 2,
            open_duration: Duration::from_secs(60),
        })
        .shutdown_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    for i in 0..6 {
        one_span(&t, &format!("batch {i}"));
    }
    let health = t.health().traces.unwrap();
    assert_eq!(
        health.circuit,
        telemetry::export::CircuitState::Open,
        "{health:?}"
    );
    let report = t.traces_report();
    // Two failed handshakes opened the circuit; the later batches wait for its probe.
    assert_eq!(report.failed_requests, 2, "{report:?}");
    assert_eq!(report.dropped_by_reason.non_retryable, 2, "{report:?}");
    assert_eq!(report.pending, 4, "{report:?}");
    let _ = t.shutdown();
}

#[test]
fn a_certificate_for_another_host_fails() {
    let files = dir("host");
    let ca = Ca::new("the CA");
    let ca_file = ca.write(&files, "ca.pem");
    let server = ca.server(&["collector.internal"]);
    for (wire, protocol) in WIRES {
        let collector = FakeCollector::with_tls(wire, server_config(&server, None));
        let t = to(&collector, protocol)
            .certificate(&ca_file)
            .build()
            .unwrap();
        one_span(&t, "wrong host");
        let error = last_error(&t);
        assert!(
            error.starts_with("TLS handshake failed: the server's certificate is not for the endpoint's host name"),
            "{protocol:?}: {error}"
        );
        assert!(
            error.contains("collector.internal"),
            "rustls' detail: {error}"
        );
        assert_eq!(collector.span_count(), 0);
        let _ = t.shutdown();
    }
}

#[test]
fn an_expired_certificate_fails() {
    let files = dir("expired");
    let ca = Ca::new("the CA");
    let ca_file = ca.write(&files, "ca.pem");
    let server = ca.expired_server(&["127.0.0.1"]);
    let collector = FakeCollector::with_tls(Wire::Http, server_config(&server, None));
    let t = to(&collector, Protocol::HttpProtobuf)
        .certificate(&ca_file)
        .build()
        .unwrap();
    one_span(&t, "expired");
    let error = last_error(&t);
    assert!(
        error.starts_with("TLS handshake failed: the server's certificate has expired"),
        "{error}"
    );
    let _ = t.shutdown();
}

#[test]
fn mutual_tls_the_collector_refuses_a_client_without_a_certificate_and_accepts_one_with_it() {
    let files = dir("mtls");
    let ca = Ca::new("the server CA");
    let ca_file = ca.write(&files, "ca.pem");
    let clients = Ca::new("the client CA");
    let (cert, key) = clients.client("telemetry-client").write(&files, "client");
    let server = server_for_localhost(&ca);
    for (wire, protocol) in WIRES {
        let collector = FakeCollector::with_tls(wire, server_config(&server, Some(&clients)));
        // Without a client certificate.
        let t = to(&collector, protocol)
            .certificate(&ca_file)
            .build()
            .unwrap();
        one_span(&t, "anonymous");
        let error = last_error(&t);
        assert!(
            error.starts_with("TLS handshake failed: the server requires a client certificate"),
            "{protocol:?}: {error}"
        );
        assert_eq!(collector.span_count(), 0);
        assert!(
            !collector
                .handshake_failures_within(Duration::from_secs(10))
                .is_empty(),
            "the collector refused the handshake"
        );
        let _ = t.shutdown();
        // With it (from the variables this time).
        let (endpoint, ca_path, cert_path, key_path) = (
            collector.endpoint(),
            ca_file.display().to_string(),
            cert.display().to_string(),
            key.display().to_string(),
        );
        let t = Telemetry::from_env()
            .vars([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.as_str()),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
                ("OTEL_BSP_SCHEDULE_DELAY", "20"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_path.as_str()),
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert_path.as_str()),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key_path.as_str()),
            ])
            .install_globals(false)
            .shutdown_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        one_span(&t, "known client");
        assert_eq!(collector.span_count(), 1, "{protocol:?}");
        assert!(t.health().traces.unwrap().healthy);
        t.shutdown().unwrap();
    }
}

#[test]
fn a_schemeless_grpc_endpoint_uses_tls_unless_insecure() {
    let files = dir("schemeless");
    let ca = Ca::new("the CA");
    let ca_file = ca.write(&files, "ca.pem").display().to_string();
    let collector =
        FakeCollector::with_tls(Wire::Grpc, server_config(&server_for_localhost(&ca), None));
    let schemeless = collector.addr.to_string();
    let t = Telemetry::from_env()
        .vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", schemeless.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file.as_str()),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    one_span(&t, "schemeless");
    assert_eq!(collector.span_count(), 1);
    t.shutdown().unwrap();
    // A plain-text collector behind a schemeless endpoint needs INSECURE=true.
    let plain = FakeCollector::start(Wire::Grpc);
    let schemeless = plain.addr.to_string();
    let t = Telemetry::from_env()
        .vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", schemeless.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    one_span(&t, "insecure");
    assert_eq!(plain.span_count(), 1);
    t.shutdown().unwrap();
}

fn strict(vars: &[(&str, String)]) -> String {
    let mut all = vec![(
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
        "https://127.0.0.1:4318".to_string(),
    )];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Telemetry::from_env()
        .vars(all)
        .install_globals(false)
        .build()
        .unwrap_err()
        .to_string()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn bad_tls_files_fail_from_env_naming_the_variable_the_path_and_the_problem() {
    let files = dir("bad-files");
    let ca = Ca::new("the CA");
    let (cert, key) = ca.client("one").write(&files, "one");
    let (_, other_key) = ca.client("two").write(&files, "two");
    let not_pem = files.join("notes.txt");
    std::fs::write(&not_pem, "just text\n").unwrap();
    let missing = files.join("missing.pem");

    assert_eq!(
        strict(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&missing))]),
        format!(
            "1 invalid environment variable: OTEL_EXPORTER_OTLP_CERTIFICATE={:?} is not a PEM \
             file of CA certificates: there is no such file",
            path(&missing)
        )
    );
    assert_eq!(
        strict(&[("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path(&not_pem))]),
        format!(
            "1 invalid environment variable: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE={:?} is not a \
             PEM file of CA certificates: it is not a PEM file (no -----BEGIN ...----- section)",
            path(&not_pem)
        )
    );
    assert_eq!(
        strict(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&key))]),
        format!(
            "1 invalid environment variable: OTEL_EXPORTER_OTLP_CERTIFICATE={:?} is not a PEM \
             file of CA certificates: there is no certificate in it (it holds a private key)",
            path(&key)
        )
    );
    assert_eq!(
        strict(&[("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&cert))]),
        format!(
            "1 invalid environment variable: OTEL_EXPORTER_OTLP_CLIENT_KEY={:?} is not a PEM \
             file of the client's private key: there is no private key in it (it holds a \
             certificate)",
            path(&cert)
        )
    );
    assert_eq!(
        strict(&[
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&cert)),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&other_key)),
        ]),
        format!(
            "1 invalid environment variable: OTEL_EXPORTER_OTLP_CLIENT_KEY={:?} is not the \
             private key of the client certificate in {} (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE): \
             the key does not match the certificate",
            path(&other_key),
            path(&cert)
        )
    );
    assert_eq!(
        strict(&[("OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE", path(&cert))]),
        format!(
            "1 invalid environment variable: OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE={:?} is \
             not usable without a client key: set OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY too",
            path(&cert)
        )
    );
    // A per-signal key that matches the generic certificate is a good pair.
    let t = Telemetry::from_env()
        .vars([
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://127.0.0.1:4318".to_string(),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&cert)),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&key)),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", path(&key)),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(100))
        .build()
        .expect("a matching pair builds");
    let _ = t.shutdown();
}

#[test]
fn lossy_reading_warns_and_uses_no_tls_override() {
    let files = dir("lossy");
    let ca = Ca::new("the collector's CA");
    let ca_file = ca.write(&files, "ca.pem");
    let (cert, _) = ca.client("one").write(&files, "one");
    let (_, other_key) = ca.client("two").write(&files, "two");
    let collector =
        FakeCollector::with_tls(Wire::Http, server_config(&server_for_localhost(&ca), None));
    let t = Telemetry::from_env_lossy()
        .vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
            ("OTEL_METRICS_EXPORTER", "none".to_string()),
            ("OTEL_LOGS_EXPORTER", "none".to_string()),
            ("OTEL_BSP_SCHEDULE_DELAY", "20".to_string()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&ca_file)),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&cert)),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&other_key)),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_secs(2))
        .build()
        .expect("lossy mode builds");
    let warnings: Vec<&str> = t.warnings().iter().map(|w| w.var).collect();
    assert_eq!(warnings, ["OTEL_EXPORTER_OTLP_CLIENT_KEY"]);
    // The mismatched pair is left out; the good CA file is kept, so export works
    // (the collector asks for no client certificate).
    one_span(&t, "lossy");
    assert_eq!(collector.span_count(), 1);
    t.shutdown().unwrap();
    // A missing CA file: a warning, and the system's roots, which do not know the
    // test's CA.
    let t = Telemetry::from_env_lossy()
        .vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
            ("OTEL_METRICS_EXPORTER", "none".to_string()),
            ("OTEL_LOGS_EXPORTER", "none".to_string()),
            ("OTEL_BSP_SCHEDULE_DELAY", "20".to_string()),
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                path(&files.join("gone.pem")),
            ),
        ])
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(200))
        .build()
        .expect("lossy mode builds");
    let warnings: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("there is no such file"),
        "{warnings:?}"
    );
    one_span(&t, "system roots");
    let error = last_error(&t);
    assert!(error.contains("not signed by a CA we trust"), "{error}");
    let _ = t.shutdown();
}

#[test]
fn bad_tls_files_set_in_code_fail_the_build() {
    let files = dir("code");
    let ca = Ca::new("the CA");
    let (cert, key) = ca.client("one").write(&files, "one");
    let (_, other_key) = ca.client("two").write(&files, "two");
    let build = |b: TelemetryBuilder| {
        b.endpoint("https://127.0.0.1:4318")
            .install_globals(false)
            .build()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        build(Telemetry::builder().certificate(files.join("none.pem"))),
        format!(
            "certificate = {:?} is not accepted: expected a PEM file of CA certificates: there is \
             no such file",
            path(&files.join("none.pem"))
        )
    );
    assert_eq!(
        build(Telemetry::builder().client_certificate(&cert, &other_key)),
        format!(
            "client_key = {:?} is not accepted: expected the private key of the client \
             certificate: the key does not match the certificate in {}",
            path(&other_key),
            path(&cert)
        )
    );
    // Code beats a bad variable: its value no longer matters.
    let t = Telemetry::from_env()
        .vars([
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://127.0.0.1:4318".to_string(),
            ),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                path(&files.join("none.key")),
            ),
        ])
        .client_certificate(&cert, &key)
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(100))
        .build()
        .expect("code overrides the variable");
    let _ = t.shutdown();
}

#[test]
fn a_collector_that_never_answers_over_tls_is_a_timeout_and_retried() {
    let files = dir("hang");
    let ca = Ca::new("the CA");
    let ca_file = ca.write(&files, "ca.pem");
    for (wire, protocol) in WIRES {
        let collector =
            FakeCollector::with_tls(wire, server_config(&server_for_localhost(&ca), None));
        collector.otherwise(common::Reply::Hang);
        let t = to(&collector, protocol)
            .certificate(&ca_file)
            .timeout(Duration::from_millis(200))
            .shutdown_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        one_span(&t, "hangs");
        let error = last_error(&t);
        assert!(
            error.starts_with("no response within 200ms"),
            "{protocol:?}: {error}"
        );
        let report = t.traces_report();
        assert_eq!(report.dropped_by_reason.non_retryable, 0, "{report:?}");
        let _ = t.shutdown();
    }
}
