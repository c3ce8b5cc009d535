//! OTLP header values carry tokens: no error, warning, `Debug` output or health report
//! repeats one.

use telemetry::config::Config;
use telemetry::export::ExporterKind;
use telemetry::Telemetry;

const SECRET: &str = "s3cr3t-t0ken";

/// Header variables, each holding the secret in a way that makes it invalid.
fn bad_header_vars() -> Vec<(&'static str, String)> {
    vec![
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("authorization=Bearer {SECRET},broken"),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            format!("x-api-key={SECRET}%zz"),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            format!("x-api-key={SECRET}\u{1}"),
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            format!("Bearer {SECRET}=x"),
        ),
    ]
}

#[test]
fn strict_errors_name_the_variable_and_the_entry_never_the_value() {
    for (var, value) in bad_header_vars() {
        let err = Config::from_vars([(var, value.as_str())]).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains(SECRET), "{var}: {text}");
        assert!(!format!("{err:?}").contains(SECRET), "{var}: {err:?}");
        assert!(text.contains(var), "the variable is named: {text}");
    }
    let err = Config::from_vars([(
        "OTEL_EXPORTER_OTLP_HEADERS",
        format!("authorization=Bearer {SECRET},broken").as_str(),
    )])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 invalid environment variable: OTEL_EXPORTER_OTLP_HEADERS is not a list of key=value \
         pairs (entry 2 has no `=`) (its value is not shown: header values are secrets)"
    );
    let err = Config::from_vars([(
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        format!("x-api-key={SECRET}%zz").as_str(),
    )])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("(the value of `x-api-key` has a bad % escape)"),
        "{err}"
    );
}

#[test]
fn lossy_warnings_never_show_the_value() {
    let (_, issues) = Config::from_vars_lossy(bad_header_vars());
    assert_eq!(issues.len(), 4, "{issues:?}");
    for issue in &issues {
        assert!(!issue.to_string().contains(SECRET), "{issue}");
        assert!(!format!("{issue:?}").contains(SECRET), "{issue:?}");
        assert!(issue.value.is_empty(), "{issue:?}");
    }
    let t = Telemetry::builder()
        .vars(bad_header_vars())
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .install_globals(false)
        .build()
        .unwrap();
    assert_eq!(t.warnings().len(), 4);
    for w in t.warnings() {
        assert!(!w.to_string().contains(SECRET), "{w}");
    }
}

#[test]
fn a_bad_header_value_set_in_code_is_named_not_shown() {
    let err = Telemetry::builder()
        .header("authorization", format!("Bearer {SECRET}\n"))
        .install_globals(false)
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains(SECRET), "{text}");
    assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
    assert!(text.contains("`authorization`"), "{text}");
}

#[test]
fn debug_output_and_health_redact_header_values() {
    let t = Telemetry::builder()
        .vars([(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("authorization=Bearer%20{SECRET}"),
        )])
        .header("x-api-key", SECRET)
        .endpoint("http://127.0.0.1:9")
        .install_globals(false)
        .build()
        .unwrap();
    let config = format!("{:?}", t.config());
    assert!(!config.contains(SECRET), "{config}");
    assert!(config.contains("authorization"), "names stay: {config}");
    assert!(config.contains("x-api-key"), "names stay: {config}");
    let target = t
        .config()
        .otlp(telemetry::config::Signal::Traces)
        .expect("an OTLP target");
    assert!(
        target.headers.iter().any(|(_, v)| v.contains(SECRET)),
        "the value is still sent"
    );
    assert!(!format!("{target:?}").contains(SECRET), "{target:?}");
    let health = t.health();
    assert!(!format!("{health:?}").contains(SECRET));
    assert!(!health.to_json().contains(SECRET));
    assert!(!format!("{t:?}").contains(SECRET));
    let _ = t.shutdown();
}
