//! The configuration file (`OTEL_CONFIG_FILE`) through the public API: files written
//! as the Java and Go SDKs' examples write them, the builder's precedence (code beats
//! the file; the file beats the variables), strict and lossy reading, and the example
//! file that ships with the crate.

use std::path::PathBuf;

use telemetry::config::{Config, Signal};
use telemetry::otel::api::Key;
use telemetry::{ConfigError, FileIssueKind, Telemetry};

/// Writes `text` to a fresh file of this test process and returns its path.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("telemetry-config-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A file such as the Java SDK's documentation gives (`otel-sdk-config.yaml`),
/// keeping only keys this library honours.
const JAVA_SUPPORTED: &str = r#"file_format: "1.1"
disabled: false
log_level: info
resource:
  attributes:
    - name: service.name
      value: unknown_service
attribute_limits:
  attribute_value_length_limit:
  attribute_count_limit: 128
propagator:
  composite:
    - tracecontext:
    - baggage:
tracer_provider:
  processors:
    - batch:
        schedule_delay: 5000
        export_timeout: 30000
        max_queue_size: 2048
        max_export_batch_size: 512
        exporter:
          otlp_http:
            endpoint: http://localhost:4318/v1/traces
            tls:
              ca_file:
              key_file:
              cert_file:
            compression: gzip
            timeout: 10000
  limits:
    attribute_value_length_limit:
    attribute_count_limit: 128
    event_count_limit: 128
    link_count_limit: 128
    event_attribute_count_limit: 128
    link_attribute_count_limit: 128
  sampler:
    parent_based:
      root:
        always_on:
      remote_parent_sampled:
        always_on:
      remote_parent_not_sampled:
        always_off:
      local_parent_sampled:
        always_on:
      local_parent_not_sampled:
        always_off:
meter_provider:
  readers:
    - periodic:
        interval: 60000
        timeout: 30000
        exporter:
          otlp_http:
            endpoint: http://localhost:4318/v1/metrics
            tls:
              ca_file:
              key_file:
              cert_file:
            compression: gzip
            timeout: 10000
            temporality_preference: cumulative
            default_histogram_aggregation: explicit_bucket_histogram
logger_provider:
  processors:
    - batch:
        schedule_delay: 1000
        export_timeout: 30000
        max_queue_size: 2048
        max_export_batch_size: 512
        exporter:
          otlp_http:
            endpoint: http://localhost:4318/v1/logs
            tls:
              ca_file:
              key_file:
              cert_file:
            compression: gzip
            timeout: 10000
  limits:
    attribute_value_length_limit:
"#;

/// What `JAVA_SUPPORTED` says, as variables.
const JAVA_VARS: &[(&str, &str)] = &[
    ("OTEL_SERVICE_NAME", "unknown_service"),
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", "128"),
    ("OTEL_PROPAGATORS", "tracecontext,baggage"),
    ("OTEL_TRACES_EXPORTER", "otlp"),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://localhost:4318/v1/traces",
    ),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10000"),
    ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "128"),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", "128"),
    ("OTEL_SPAN_LINK_COUNT_LIMIT", "128"),
    ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
    ("OTEL_METRICS_EXPORTER", "otlp"),
    (
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "http://localhost:4318/v1/metrics",
    ),
    ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
    ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "10000"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "60000"),
    ("OTEL_METRIC_EXPORT_TIMEOUT", "30000"),
    (
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "cumulative",
    ),
    ("OTEL_LOGS_EXPORTER", "otlp"),
    (
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "http://localhost:4318/v1/logs",
    ),
    ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
    ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "10000"),
    ("OTEL_BLRP_SCHEDULE_DELAY", "1000"),
];

/// A file such as the Go SDK's examples give: gRPC, Prometheus, the console.
const GO_SUPPORTED: &str = r#"file_format: "1.0"
resource:
  attributes_list: service.name=dice,service.version=0.1.0
  detection/development:
    detectors:
      - host:
      - process:
propagator:
  composite_list: tracecontext,baggage,b3
tracer_provider:
  processors:
    - batch:
        exporter:
          otlp_grpc:
            endpoint: http://otel-collector:4317
            headers:
              - name: api-key
                value: ${API_KEY}
    - simple:
        exporter:
          console:
  sampler:
    parent_based:
      root:
        trace_id_ratio_based:
          ratio: 0.5
meter_provider:
  readers:
    - pull:
        exporter:
          prometheus/development:
            host: 0.0.0.0
            port: 9464
"#;

const GO_VARS: &[(&str, &str)] = &[
    (
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=dice,service.version=0.1.0",
    ),
    ("OTEL_PROPAGATORS", "tracecontext,baggage,b3"),
    ("OTEL_TRACES_EXPORTER", "otlp,console"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://otel-collector:4317",
    ),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=k3y"),
    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
    ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
    ("OTEL_METRICS_EXPORTER", "prometheus"),
    ("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0"),
    ("OTEL_LOGS_EXPORTER", "none"),
];

#[test]
fn files_written_for_the_java_and_go_sdks_configure_the_library_as_their_variables_do() {
    let java = Config::from_file(file("java.yaml", JAVA_SUPPORTED), [("UNUSED", "")]).unwrap();
    assert_eq!(java, Config::from_vars(JAVA_VARS.iter().copied()).unwrap());
    let go = Config::from_file(file("go.yaml", GO_SUPPORTED), [("API_KEY", "k3y")]).unwrap();
    assert_eq!(go, Config::from_vars(GO_VARS.iter().copied()).unwrap());
    assert_eq!(
        go.otlp(Signal::Traces).unwrap().endpoint,
        "http://otel-collector:4317"
    );
}

#[test]
fn a_file_that_asks_for_more_is_read_leniently_with_one_warning_per_unsupported_key() {
    // The same Java file with what it also has upstream: views, an exemplar filter,
    // log limits, a Zipkin exporter.
    let more = JAVA_SUPPORTED
        .replace(
            "logger_provider:\n",
            "  exemplar_filter: trace_based\n  views:\n    - selector:\n        instrument_name: http.client.request.duration\n      stream:\n        name: http.client.latency\nlogger_provider:\n",
        )
        .replace(
            "tracer_provider:\n  processors:\n",
            "tracer_provider:\n  processors:\n    - batch:\n        exporter:\n          zipkin:\n            endpoint: http://localhost:9411/api/v2/spans\n",
        );
    // The file ends in the log provider's limits.
    let more = more + "    attribute_count_limit: 128\n";
    let path = file("java-more.yaml", &more);
    let telemetry = Telemetry::from_env_lossy()
        .vars([("OTEL_CONFIG_FILE", path.to_str().unwrap())])
        .install_globals(false)
        .build()
        .unwrap();
    let warned: Vec<(FileIssueKind, &str)> = telemetry
        .file_warnings()
        .iter()
        .map(|w| (w.kind, w.path.as_str()))
        .collect();
    assert_eq!(
        warned,
        [
            (
                FileIssueKind::Unsupported,
                "tracer_provider.processors[0].batch.exporter.zipkin"
            ),
            (FileIssueKind::Unsupported, "meter_provider.exemplar_filter"),
            (
                FileIssueKind::Unsupported,
                "meter_provider.views[0].selector.instrument_name"
            ),
            (
                FileIssueKind::Unsupported,
                "logger_provider.limits.attribute_count_limit"
            ),
        ]
    );
    let service = telemetry.resource().get(&Key::new("service.name"));
    assert_eq!(
        service.map(|v| v.to_string()).as_deref(),
        Some("unknown_service")
    );
    let _ = telemetry.shutdown();

    // Strictly: one error naming all four.
    let err = Telemetry::from_config_file(&path).build().unwrap_err();
    let telemetry::BuildError::Config(ConfigError::InvalidFile { issues, file }) = &err else {
        panic!("{err}")
    };
    assert_eq!(file, &path);
    assert_eq!(issues.len(), 4, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("4 problems in the configuration file"),
        "{text}"
    );
    assert!(
        text.contains(
            "meter_provider.exemplar_filter = \"trace_based\" is not supported by this library"
        ),
        "{text}"
    );
}

#[test]
fn code_beats_the_file_and_the_file_beats_the_variables() {
    let path = file(
        "precedence.yaml",
        "file_format: \"1.1\"\nresource:\n  attributes:\n    - { name: service.name, value: \"${SERVICE}\" }\n    - { name: team, value: from-file }\n    - { name: region, value: \"${REGION:-eu}\" }\n",
    );
    let vars = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![
            ("OTEL_CONFIG_FILE", path.to_str().unwrap().to_string()),
            ("OTEL_SERVICE_NAME", "from-env".to_string()),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=from-env".to_string()),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "not a number".to_string()),
            ("SERVICE", "from-substitution".to_string()),
        ];
        v.extend(extra.iter().map(|(k, x)| (*k, x.to_string())));
        v
    };
    let get = |t: &Telemetry, key: &'static str| {
        t.resource()
            .get(&Key::from_static_str(key))
            .map(|v| v.to_string())
    };
    // Strict: the bad OTEL_BSP_MAX_QUEUE_SIZE is not read at all.
    let t = Telemetry::from_env()
        .vars(vars(&[]))
        .install_globals(false)
        .build()
        .unwrap();
    assert_eq!(
        get(&t, "service.name").as_deref(),
        Some("from-substitution")
    );
    assert_eq!(get(&t, "team").as_deref(), Some("from-file"));
    assert_eq!(get(&t, "region").as_deref(), Some("eu"));
    assert!(t.warnings().is_empty() && t.file_warnings().is_empty());
    let _ = t.shutdown();
    let t = Telemetry::from_env()
        .vars(vars(&[("REGION", "us")]))
        .service_name("from-code")
        .resource_attribute("team", "from-code")
        .install_globals(false)
        .build()
        .unwrap();
    assert_eq!(get(&t, "service.name").as_deref(), Some("from-code"));
    assert_eq!(get(&t, "team").as_deref(), Some("from-code"));
    assert_eq!(get(&t, "region").as_deref(), Some("us"));
    let _ = t.shutdown();
}

#[test]
fn a_file_that_cannot_be_used_fails_the_build_in_both_modes() {
    let broken = file("broken.yaml", "file_format: \"1.1\"\nresource: [\n");
    let invalid_ref = file("ref.yaml", "file_format: \"1.1\"\nlog_level: ${1API_KEY}\n");
    for path in [
        broken.clone(),
        invalid_ref.clone(),
        PathBuf::from("/nonexistent/otel.yaml"),
    ] {
        for strict in [true, false] {
            let builder = if strict {
                Telemetry::from_env()
            } else {
                Telemetry::from_env_lossy()
            };
            let err = builder
                .vars([("OTEL_CONFIG_FILE", path.to_str().unwrap())])
                .install_globals(false)
                .build()
                .unwrap_err();
            assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
        }
    }
    let err = Config::from_file(&broken, [("A", "")]).unwrap_err();
    assert!(
        matches!(err, ConfigError::FileSyntax { line: 3, .. }),
        "{err:?}"
    );
    let err = Config::from_file(&invalid_ref, [("A", "")]).unwrap_err();
    assert!(
        matches!(err, ConfigError::FileSubstitution { line: 2, ref reference, .. } if reference == "${1API_KEY}"),
        "{err:?}"
    );
}

#[test]
fn the_example_file_is_valid_and_says_what_its_comments_say() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/telemetry.yaml");
    let config =
        Config::from_file(path, [("COLLECTOR_ENDPOINT", "http://collector:4318")]).unwrap();
    let traces = config.otlp(Signal::Traces).unwrap();
    assert_eq!(traces.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(
        config.otlp(Signal::Logs).unwrap().endpoint,
        "http://collector:4318/v1/logs"
    );
    assert_eq!(
        config.sampler(),
        &telemetry::sampling::Sampler::ParentBased(Box::new(
            telemetry::sampling::Sampler::TraceIdRatio(0.1)
        ))
    );
    assert_eq!(
        config.exporter(Signal::Metrics),
        telemetry::export::ExporterKind::Prometheus
    );
    assert_eq!(config.prometheus_address(), ("localhost", 9464));
    assert_eq!(config.propagators().len(), 2);
    // Its defaults need no variable at all.
    let defaults = Config::from_file(path, [("", "")]).unwrap();
    assert_eq!(
        defaults.otlp(Signal::Traces).unwrap().endpoint,
        "http://localhost:4318/v1/traces"
    );
}
