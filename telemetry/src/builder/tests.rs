use super::*;

fn warned_vars(builder: TelemetryBuilder) -> Vec<&'static str> {
    let telemetry = builder.install_globals(false).build().expect("builds");
    let vars = telemetry.warnings().iter().map(|w| w.var).collect();
    let _ = telemetry.shutdown();
    vars
}

#[test]
fn a_bad_variable_that_code_overrides_is_no_warning() {
    let bad = [
        ("OTEL_BSP_MAX_QUEUE_SIZE", "many"),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not a url"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_PROPAGATORS", "smoke-signals"),
        ("OTEL_METRICS_EXPORTER", "fax"),
    ];
    // Nothing set in code: every bad variable is reported.
    let mut all = warned_vars(
        Telemetry::builder()
            .vars(bad)
            .traces_exporter(ExporterKind::None),
    );
    all.sort_unstable();
    let mut expected: Vec<&str> = bad.iter().map(|(k, _)| *k).collect();
    expected.sort_unstable();
    assert_eq!(all, expected);
    // Each setter makes its variables moot, and only those.
    let overridden = warned_vars(
        Telemetry::builder()
            .vars(bad)
            .traces_exporter(ExporterKind::None)
            .traces_batch(BatchConfig::TRACES)
            .protocol(Protocol::HttpJson)
            .endpoint("http://127.0.0.1:9")
            .sampler(Sampler::AlwaysOn)
            .propagators([Propagator::TraceContext])
            .metrics_exporter(ExporterKind::None),
    );
    assert!(overridden.is_empty(), "{overridden:?}");
    // A generic setting does not hide a bad variable of another setting.
    let partial = warned_vars(
        Telemetry::builder()
            .vars(bad)
            .traces_exporter(ExporterKind::None)
            .logs_batch(BatchConfig::LOGS),
    );
    assert!(partial.contains(&"OTEL_BSP_MAX_QUEUE_SIZE"), "{partial:?}");
}

#[test]
fn a_strict_builder_fails_only_on_variables_code_does_not_override() {
    let vars = [("OTEL_BSP_SCHEDULE_DELAY", "soon")];
    let err = Telemetry::from_env()
        .vars(vars)
        .install_globals(false)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("OTEL_BSP_SCHEDULE_DELAY"), "{err}");
    let ok = Telemetry::from_env()
        .vars(vars)
        .traces_batch(BatchConfig::TRACES)
        .install_globals(false)
        .build()
        .expect("the batch set in code makes the variable moot");
    let _ = ok.shutdown();
}

#[test]
fn the_builder_debug_names_settings_and_never_shows_header_values() {
    let builder = Telemetry::builder()
        .header("authorization", "Bearer secret-token")
        .service_name("checkout")
        .sampler(Sampler::AlwaysOn);
    let shown = format!("{builder:?}");
    assert!(shown.contains("\"header\""), "{shown}");
    assert!(shown.contains("\"service_name\""), "{shown}");
    assert!(shown.contains("\"sampler\""), "{shown}");
    assert!(!shown.contains("secret-token"), "{shown}");
    assert!(!shown.contains("checkout"), "{shown}");
}
