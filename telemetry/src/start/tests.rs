//! Tests of the wiring: exporter lists, TLS and transports compiled in or out, stopped
//! export threads.

use super::*;
use crate::error::ShutdownError;

#[cfg(all(feature = "grpc", not(feature = "tls")))]
#[test]
fn a_schemeless_grpc_endpoint_says_which_rule_made_it_tls_and_how_to_send_plain() {
    let build = |vars: &[(&str, &str)]| {
        Telemetry::from_env_lossy()
            .vars(vars.iter().copied())
            .install_globals(false)
            .build()
    };
    let err = build(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "endpoint = \"localhost:4317\" is not accepted: expected a gRPC endpoint this build \
         can reach: without a scheme, a gRPC endpoint uses TLS (https://localhost:4317) \
         unless OTEL_EXPORTER_OTLP_INSECURE=true, and this build has no TLS (the `tls` \
         feature of the telemetry crate is off); write http://localhost:4317 or set \
         OTEL_EXPORTER_OTLP_INSECURE=true to send in plain text"
    );
    // Both forms the message offers are accepted.
    for vars in [
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ][..],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ][..],
    ] {
        let t = build(vars).expect("the offered form builds");
        assert!(t.warnings().is_empty(), "{:?}", t.warnings());
        let _ = t.shutdown();
    }
}

#[test]
fn an_exporter_list_with_console_prints_beside_the_exporter() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let t = Telemetry::from_env_lossy()
        .vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_TRACES_EXPORTER", "otlp,console"),
            ("OTEL_METRICS_EXPORTER", "console, otlp"),
            ("OTEL_LOGS_EXPORTER", "otlp,console"),
        ])
        .shutdown_timeout(Duration::from_millis(500))
        .install_globals(false)
        .build()
        .unwrap();
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    let config = t.config();
    for s in Signal::ALL {
        assert_eq!(config.exporter(s), ExporterKind::Otlp);
        assert!(config.shows_console_too(s));
    }
    assert_eq!(t.inner.local_logs.len(), 1, "log lines on stdout too");
    let subscriber = tracing_subscriber::registry().with(t.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("order").in_scope(|| tracing::info!("placed"));
    });
    let _ = t.force_flush();
    let console = t
        .inner
        .console_traces
        .as_ref()
        .expect("a console span pipeline");
    assert_eq!(console.report().exported, 1);
    assert!(t.inner.console_metrics.is_some());
    // The collector is down: the OTLP side still holds the span.
    assert_eq!(t.traces_report().exported, 0);
    let _ = t.shutdown();
    // Code beats the environment's whole list.
    let code = Telemetry::from_env_lossy()
        .vars([("OTEL_TRACES_EXPORTER", "otlp,console")])
        .traces_exporter(ExporterKind::None)
        .install_globals(false)
        .build()
        .unwrap();
    assert!(code.inner.console_traces.is_none());
    let _ = code.shutdown();
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_tls_https_endpoints_are_refused_with_advice() {
    let err = Telemetry::builder()
        .endpoint("https://collector.example:4318")
        .install_globals(false)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("this build has no TLS"), "{err}");
}

#[cfg(feature = "tls")]
#[test]
fn with_tls_https_endpoints_build_and_a_bad_ca_file_fails_the_build() {
    let t = Telemetry::builder()
        .endpoint("https://collector.example:4318")
        .install_globals(false)
        .shutdown_timeout(Duration::from_millis(100))
        .build()
        .expect("an https endpoint builds with the system's roots");
    let _ = t.shutdown();
    let err = Telemetry::from_env()
        .vars([
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector.example:4318",
            ),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
        ])
        .install_globals(false)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 invalid environment variable: OTEL_EXPORTER_OTLP_CERTIFICATE=\"/nonexistent/ca.pem\" \
         is not a PEM file of CA certificates: there is no such file"
    );
}

#[test]
fn a_stopped_metrics_export_thread_fails_flush_and_shutdown_and_shows_in_health() {
    let t = Telemetry::builder()
        .endpoint("http://127.0.0.1:9")
        .install_globals(false)
        .build()
        .unwrap();
    let Some(m) = &t.inner.metrics else {
        panic!("an OTLP endpoint exports metrics");
    };
    m.pipeline.crash_export_thread("metric encoder bug");
    m.pipeline
        .stats
        .wait_stopped(std::time::Instant::now() + Duration::from_secs(30))
        .expect("the metrics export thread stops");
    let health = t.health();
    assert!(!health.healthy, "{health:?}");
    let metrics = health.metrics.expect("metrics health");
    assert!(!metrics.healthy, "{metrics:?}");
    let last = metrics.last_error.unwrap_or_default();
    assert!(last.contains("`telemetry-export-metrics`"), "{last}");
    assert!(last.contains("panicked: metric encoder bug"), "{last}");
    assert!(health.traces.expect("traces health").healthy);
    let stopped = |e: &ShutdownError| matches!(e, ShutdownError::ExportThreadStopped { signal: "metrics", reason } if reason.contains("metric encoder bug"));
    assert!(t.force_flush().is_err_and(|e| stopped(&e)));
    // Shutdown names it among the signals' failures, with every signal's report.
    let err = t.shutdown().unwrap_err();
    assert!(matches!(err.failures(), [only] if stopped(only)), "{err:?}");
    assert!(err.report().is_some());
}

#[cfg(not(feature = "grpc"))]
#[test]
fn grpc_without_the_feature_names_the_feature() {
    let err = Telemetry::builder()
        .endpoint("http://127.0.0.1:4317")
        .protocol(crate::export::Protocol::Grpc)
        .install_globals(false)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "OTLP over gRPC needs the `grpc` feature of the telemetry crate, which this build does not enable"
    );
}
