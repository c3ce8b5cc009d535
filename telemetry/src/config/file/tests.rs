use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::yaml::{parse, Value};
use super::*;
use crate::error::FileIssueKind;
use crate::export::otlp::Protocol;
use crate::sampling::{ParentBranches, Sampler};
use crate::signal::Signal;

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn read(yaml: &str) -> Result<(Config, Vec<FileIssue>), ConfigError> {
    read_str(yaml, Path::new("otel.yaml"), &BTreeMap::new())
}

/// Reads a file that must have no issue.
fn clean(yaml: &str) -> Config {
    let (config, issues) = read(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert!(issues.is_empty(), "{issues:#?}\n{yaml}");
    config
}

fn issues(yaml: &str) -> Vec<FileIssue> {
    read(yaml).unwrap_or_else(|e| panic!("{e}")).1
}

/// The spec's environment for its table of substitutions.
fn spec_vars() -> BTreeMap<String, String> {
    vars(super::substitute::SPEC_VARS)
}

#[test]
fn substitution_follows_the_specification_table_row_by_row() {
    let s = |t: &str| Value::Str(t.to_string());
    // The data model's table: YAML in, the value after substitution and typing out.
    let rows: Vec<(&str, Value)> = vec![
        ("key: ${STRING_VALUE}", s("value")),
        ("key: ${BOOL_VALUE}", Value::Bool(true)),
        ("key: ${INT_VALUE}", Value::Int(1)),
        ("key: ${FLOAT_VALUE}", Value::Float(1.1)),
        ("key: ${HEX_VALUE}", Value::Int(3735928559)),
        ("key: \"${STRING_VALUE}\"", s("value")),
        ("key: \"${BOOL_VALUE}\"", s("true")),
        ("key: \"${INT_VALUE}\"", s("1")),
        ("key: \"${FLOAT_VALUE}\"", s("1.1")),
        ("key: \"${HEX_VALUE}\"", s("0xdeadbeef")),
        ("key: ${env:STRING_VALUE}", s("value")),
        ("key: ${INVALID_MAP_VALUE}", s("value\nkey:value")),
        (
            "key: foo ${STRING_VALUE} ${FLOAT_VALUE}",
            s("foo value 1.1"),
        ),
        ("key: ${UNDEFINED_KEY}", Value::Null),
        ("key: ${UNDEFINED_KEY:-fallback}", s("fallback")),
        ("key: ${REPLACE_ME}", s("${DO_NOT_REPLACE_ME}")),
        (
            "key: ${UNDEFINED_KEY:-${STRING_VALUE}}",
            s("${STRING_VALUE}"),
        ),
        ("key: $${STRING_VALUE}", s("${STRING_VALUE}")),
        ("key: $$${STRING_VALUE}", s("$value")),
        ("key: $$$${STRING_VALUE}", s("$${STRING_VALUE}")),
        (
            "key: $${STRING_VALUE:-fallback}",
            s("${STRING_VALUE:-fallback}"),
        ),
        (
            "key: $${STRING_VALUE:-${STRING_VALUE}}",
            s("${STRING_VALUE:-value}"),
        ),
        (
            "key: ${UNDEFINED_KEY:-$${UNDEFINED_KEY}}",
            s("${UNDEFINED_KEY:-${UNDEFINED_KEY}}"),
        ),
        ("key: ${VALUE_WITH_ESCAPE}", s("value$$")),
        ("key: a $$ b", s("a $ b")),
        ("key: a $ b", s("a $ b")),
        // Quoted, an undefined variable is an empty string, not null.
        ("key: \"${UNDEFINED_KEY}\"", s("")),
        // `!!str` forces a string too.
        ("key: !!str ${INT_VALUE}", s("1")),
    ];
    for (yaml, expected) in rows {
        let root = parse(yaml, &spec_vars()).unwrap_or_else(|e| panic!("{yaml}: {e:?}"));
        let Value::Map(entries) = root.value else {
            panic!("{yaml}: not a mapping")
        };
        assert_eq!(entries.len(), 1, "{yaml}: structure was injected");
        assert_eq!(entries[0].0, "key", "{yaml}");
        assert_eq!(entries[0].1.value, expected, "{yaml}");
    }
    // Keys are never substituted.
    let root = parse("${STRING_VALUE}: value", &spec_vars()).unwrap();
    assert_eq!(
        root.value,
        Value::Map(vec![(
            "${STRING_VALUE}".into(),
            super::yaml::Node {
                value: Value::Str("value".into()),
                line: 1,
                column: 18
            }
        )])
    );
    // An invalid reference fails the whole parse.
    let err = parse("key: ${STRING_VALUE:?error}", &spec_vars()).unwrap_err();
    assert!(
        matches!(err, YamlError::Substitution { ref reference, .. } if reference == "${STRING_VALUE:?error}"),
        "{err:?}"
    );
}

#[test]
fn substituted_values_set_typed_settings_and_quoted_ones_stay_strings() {
    let yaml = "file_format: \"1.1\"\ndisabled: ${OFF}\ntracer_provider:\n  processors:\n    - batch:\n        max_queue_size: ${QUEUE}\n        exporter:\n          console:\n";
    let v = vars(&[("OFF", "true"), ("QUEUE", "100")]);
    let (c, found) = read_str(yaml, Path::new("f.yaml"), &v).unwrap();
    assert!(found.is_empty(), "{found:?}");
    assert!(!c.enabled);
    assert_eq!(c.traces_batch.max_queue_size, 100);
    // Quoted: a string where an integer is required.
    let quoted = yaml.replace("${QUEUE}", "\"${QUEUE}\"");
    let (c, found) = read_str(&quoted, Path::new("f.yaml"), &v).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].path,
        "tracer_provider.processors[0].batch.max_queue_size"
    );
    assert_eq!(found[0].value, "100");
    assert_eq!(found[0].line, 6);
    assert_eq!(c.traces_batch.max_queue_size, 2048);
    // Undefined: null, the default, no issue.
    let (c, found) = read_str(yaml, Path::new("f.yaml"), &vars(&[])).unwrap();
    assert!(found.is_empty(), "{found:?}");
    assert!(c.enabled);
    assert_eq!(c.traces_batch.max_queue_size, 2048);
}

#[test]
fn each_error_class_is_its_own_error_and_never_a_panic() {
    let missing = read_path(Path::new("/nonexistent/otel.yaml"), &BTreeMap::new()).unwrap_err();
    assert!(
        matches!(missing, ConfigError::FileUnreadable { .. }),
        "{missing:?}"
    );
    assert!(missing.to_string().contains("/nonexistent/otel.yaml"));

    let bad = read("file_format: \"1.1\"\ntracer_provider:\n  processors: [\n").unwrap_err();
    let ConfigError::FileSyntax { line, column, .. } = &bad else {
        panic!("{bad:?}")
    };
    assert!(*line >= 3 && *column >= 1, "{bad}");
    assert!(bad.to_string().starts_with("otel.yaml:"), "{bad}");

    let tabs = read("file_format: \"1.1\"\ndisabled:\n\t- x").unwrap_err();
    assert!(
        matches!(tabs, ConfigError::FileSyntax { line: 3, .. }),
        "{tabs:?}"
    );

    for (yaml, reference) in [
        (
            "file_format: \"1.1\"\nlog_level: ${1API_KEY}\n",
            "${1API_KEY}",
        ),
        ("file_format: \"1.1\"\nlog_level: ${A:?x}\n", "${A:?x}"),
        (
            "file_format: \"1.1\"\nlog_level: ${API_$KEY}\n",
            "${API_$KEY}",
        ),
    ] {
        let err = read(yaml).unwrap_err();
        assert_eq!(
            err,
            ConfigError::FileSubstitution {
                file: "otel.yaml".into(),
                line: 2,
                column: 12,
                reference: reference.into()
            }
        );
        assert!(err.to_string().contains("${NAME:-default}"), "{err}");
    }

    let no_format = read("disabled: true\n").unwrap_err();
    assert!(
        no_format.to_string().contains("no `file_format`"),
        "{no_format}"
    );
    let major = read("file_format: \"2.0\"\n").unwrap_err();
    assert!(
        major
            .to_string()
            .contains("\"2.0\" is not a version this library reads"),
        "{major}"
    );
    assert!(read("file_format: \"0.3\"\n").is_err());
    for ok in ["\"1.0\"", "\"1.1\"", "1.1", "\"1.2\"", "\"1.0-rc.3\""] {
        clean(&format!("file_format: {ok}\n"));
    }
    let empty = read("").unwrap_err();
    assert!(matches!(empty, ConfigError::FileSyntax { .. }), "{empty:?}");
    let list = read("- a\n- b\n").unwrap_err();
    assert!(list.to_string().contains("expected a mapping"), "{list}");
    let twice = read("file_format: \"1.1\"\ndisabled: true\ndisabled: false\n").unwrap_err();
    assert!(
        twice.to_string().contains("`disabled` appears twice"),
        "{twice}"
    );
    let deep = format!(
        "file_format: \"1.1\"\nx: {}{}",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(read(&deep).is_err());
    let laughs = "file_format: \"1.1\"\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    assert!(read(laughs).is_err());
}

#[test]
fn invalid_unsupported_and_unknown_are_told_apart_with_their_paths() {
    let found = issues(
        r#"file_format: "1.1"
tracer_provider:
  procesors: []
  processors:
    - batch:
        max_queue_size: -5
        exporter:
          otlp_http:
            endpoint: ftp://collector
            compression: brotli
    - batch:
        exporter:
          zipkin:
            endpoint: http://zipkin:9411
  sampler:
    jaeger_remote:
      endpoint: http://jaeger
meter_provider:
  exemplar_filter: trace_based
  readers:
    - periodic:
        exporter:
          otlp_file/development:
"#,
    );
    let seen: Vec<(FileIssueKind, &str, &str)> = found
        .iter()
        .map(|i| (i.kind, i.path.as_str(), i.value.as_str()))
        .collect();
    use FileIssueKind::*;
    assert_eq!(
        seen,
        vec![
            (Unknown, "tracer_provider.procesors", ""),
            (
                Invalid,
                "tracer_provider.processors[0].batch.max_queue_size",
                "-5"
            ),
            (
                Invalid,
                "tracer_provider.processors[0].batch.exporter.otlp_http.endpoint",
                "ftp://collector"
            ),
            (
                Invalid,
                "tracer_provider.processors[0].batch.exporter.otlp_http.compression",
                "brotli"
            ),
            (
                Unsupported,
                "tracer_provider.processors[1].batch.exporter.zipkin",
                ""
            ),
            (Unsupported, "tracer_provider.sampler.jaeger_remote", ""),
            (Unsupported, "meter_provider.exemplar_filter", "trace_based"),
            (
                Unsupported,
                "meter_provider.readers[0].periodic.exporter.otlp_file/development",
                ""
            ),
        ]
    );
    let text: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(text[0].contains("not a key of the configuration schema here: expected one of `processors`, `limits`, `sampler`"), "{}", text[0]);
    assert_eq!(
        text[1],
        "line 6: tracer_provider.processors[0].batch.max_queue_size = \"-5\" is not a positive integer"
    );
    assert!(text[3].ends_with("is not `gzip` or `none`"), "{}", text[3]);
    assert!(
        text[4].contains("is not supported by this library"),
        "{}",
        text[4]
    );
    // Strict: one error with every problem.
    let err = ConfigError::InvalidFile {
        file: "otel.yaml".into(),
        issues: found,
    };
    assert!(
        err.to_string()
            .starts_with("8 problems in the configuration file otel.yaml: line 3:"),
        "{err}"
    );
}

#[test]
fn header_values_are_never_shown() {
    let found = issues(
        "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            headers:\n              - name: authorization\n                value: \"Bearer s3cr3t\x07\"\n            headers_list: \"api-key=t0k%zz\"\n",
    );
    assert_eq!(found.len(), 2, "{found:?}");
    for issue in &found {
        let text = issue.to_string();
        assert!(issue.value.is_empty(), "{issue:?}");
        assert!(!text.contains("s3cr3t") && !text.contains("t0k"), "{text}");
        assert!(text.contains("not shown"), "{text}");
    }
}

#[test]
fn the_file_maps_to_the_config_the_same_variables_give() {
    // Each row: the variables, and a file that says the same. The file's absent
    // providers and propagators mean "none", so the variables say so too.
    let base = [
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_PROPAGATORS", "none"),
    ];
    let otlp_traces = |exporter: &str| {
        format!("tracer_provider:\n  processors:\n    - batch:\n        exporter:\n{exporter}")
    };
    /// A row's name, its variables, and the file's body.
    type Row = (&'static str, Vec<(&'static str, &'static str)>, String);
    let rows: Vec<Row> = vec![
        ("nothing", vec![], String::new()),
        ("disabled", vec![("OTEL_SDK_DISABLED", "true")], "disabled: true\n".into()),
        (
            "resource as a list",
            vec![("OTEL_RESOURCE_ATTRIBUTES", "service.name=checkout,team=pay%20ments,service.version=1.2,deployment.environment.name=prod")],
            "resource:\n  attributes_list: service.name=checkout,team=pay%20ments,service.version=1.2,deployment.environment.name=prod\n".into(),
        ),
        (
            "resource attributes",
            vec![("OTEL_RESOURCE_ATTRIBUTES", "service.name=checkout,team=payments")],
            "resource:\n  attributes:\n    - name: service.name\n      value: checkout\n    - name: team\n      value: payments\n      type: string\n".into(),
        ),
        (
            "propagators",
            vec![("OTEL_PROPAGATORS", "tracecontext,baggage,b3multi,b3")],
            "propagator:\n  composite:\n    - tracecontext:\n    - baggage: {}\n  composite_list: b3multi,b3,tracecontext\n".into(),
        ),
        (
            "always on",
            vec![("OTEL_TRACES_SAMPLER", "always_on")],
            "tracer_provider:\n  processors: []\n  sampler:\n    always_on:\n".into(),
        ),
        (
            "always off",
            vec![("OTEL_TRACES_SAMPLER", "always_off")],
            "tracer_provider:\n  processors: []\n  sampler: {always_off: {}}\n".into(),
        ),
        (
            "ratio",
            vec![("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.5")],
            "tracer_provider:\n  processors: []\n  sampler:\n    trace_id_ratio_based:\n      ratio: 0.5\n".into(),
        ),
        (
            "parent-based ratio, branches spelt out",
            vec![("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.25")],
            "tracer_provider:\n  processors: []\n  sampler:\n    parent_based:\n      root:\n        trace_id_ratio_based:\n          ratio: 0.25\n      remote_parent_sampled:\n        always_on:\n      remote_parent_not_sampled:\n        always_off:\n      local_parent_sampled:\n        always_on:\n      local_parent_not_sampled:\n        always_off:\n".into(),
        ),
        (
            "parent-based always off",
            vec![("OTEL_TRACES_SAMPLER", "parentbased_always_off")],
            "tracer_provider:\n  processors: []\n  sampler:\n    parent_based:\n      root:\n        always_off:\n".into(),
        ),
        (
            "traces over OTLP/HTTP, every key",
            vec![
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=a%20b,api-key=s3cr3t"),
                ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "5000"),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
                ("OTEL_BSP_SCHEDULE_DELAY", "1000"),
                ("OTEL_BSP_EXPORT_TIMEOUT", "20000"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"),
            ],
            "tracer_provider:\n  processors:\n    - batch:\n        schedule_delay: 1000\n        export_timeout: 20000\n        max_queue_size: 4096\n        max_export_batch_size: 256\n        exporter:\n          otlp_http:\n            endpoint: http://collector:4318/v1/traces\n            encoding: protobuf\n            headers_list: x-tenant=a%20b\n            headers:\n              - name: api-key\n                value: s3cr3t\n            timeout: 5000\n            compression: gzip\n".into(),
        ),
        (
            "traces as JSON",
            vec![
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector:4318/v1/traces"),
            ],
            otlp_traces("          otlp_http:\n            endpoint: https://collector:4318/v1/traces\n            encoding: json\n            compression: none\n"),
        ),
        (
            "traces over gRPC, insecure",
            vec![
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true"),
                ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=k"),
            ],
            otlp_traces("          otlp_grpc:\n            endpoint: collector:4317\n            headers_list: api-key=k\n            tls:\n              insecure: true\n"),
        ),
        (
            "traces to OTLP and the console",
            vec![("OTEL_TRACES_EXPORTER", "otlp,console"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")],
            "tracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n    - simple:\n        exporter:\n          console:\n".into(),
        ),
        (
            "traces to the console",
            vec![("OTEL_TRACES_EXPORTER", "console")],
            otlp_traces("          console:\n"),
        ),
        (
            "logs over OTLP",
            vec![
                ("OTEL_LOGS_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:4318/v1/logs"),
                ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
                ("OTEL_BLRP_SCHEDULE_DELAY", "500"),
                ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000"),
                ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "100"),
                ("OTEL_BLRP_EXPORT_TIMEOUT", "1000"),
            ],
            "logger_provider:\n  processors:\n    - batch:\n        schedule_delay: 500\n        max_queue_size: 1000\n        max_export_batch_size: 100\n        export_timeout: 1000\n        exporter:\n          otlp_http:\n            endpoint: http://collector:4318/v1/logs\n".into(),
        ),
        (
            "metrics over OTLP/gRPC",
            vec![
                ("OTEL_METRICS_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://collector:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0"),
                ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
                ("OTEL_METRIC_EXPORT_TIMEOUT", "5000"),
                ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
            ],
            "meter_provider:\n  readers:\n    - periodic:\n        interval: 15000\n        timeout: 5000\n        exporter:\n          otlp_grpc:\n            endpoint: http://collector:4317\n            timeout: 0\n            temporality_preference: delta\n            default_histogram_aggregation: explicit_bucket_histogram\n".into(),
        ),
        (
            "metrics to Prometheus and the console",
            vec![
                ("OTEL_METRICS_EXPORTER", "prometheus,console"),
                ("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0"),
                ("OTEL_EXPORTER_PROMETHEUS_PORT", "9000"),
            ],
            "meter_provider:\n  readers:\n    - pull:\n        exporter:\n          prometheus/development:\n            host: 0.0.0.0\n            port: 9000\n            without_scope_info: false\n            translation_strategy: UnderscoreEscapingWithSuffixes\n    - periodic:\n        exporter:\n          console:\n".into(),
        ),
        (
            "limits",
            vec![
                ("OTEL_ATTRIBUTE_COUNT_LIMIT", "64"),
                ("OTEL_SPAN_EVENT_COUNT_LIMIT", "16"),
                ("OTEL_SPAN_LINK_COUNT_LIMIT", "8"),
            ],
            "attribute_limits:\n  attribute_count_limit: 64\n  attribute_value_length_limit:\ntracer_provider:\n  processors: []\n  limits:\n    event_count_limit: 16\n    link_count_limit: 8\n".into(),
        ),
        (
            "span limit beats the general one",
            vec![("OTEL_ATTRIBUTE_COUNT_LIMIT", "64"), ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "32")],
            "attribute_limits:\n  attribute_count_limit: 64\ntracer_provider:\n  processors: []\n  limits:\n    attribute_count_limit: 32\n".into(),
        ),
    ];
    for (name, extra, body) in rows {
        let mut env: BTreeMap<&str, &str> = base.iter().copied().collect();
        env.extend(extra);
        let from_env = Config::from_vars(env.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let yaml = format!("file_format: \"1.1\"\n{body}");
        let from_file = clean(&yaml);
        assert_eq!(from_file, from_env, "row `{name}`:\n{yaml}");
    }
}

#[test]
fn parent_based_keeps_five_branches_and_the_extension_section_is_read() {
    let c = clean(
        r#"file_format: "1.1"
tracer_provider:
  processors: []
  sampler:
    parent_based:
      root: { trace_id_ratio_based: { ratio: 0.1 } }
      remote_parent_sampled: { always_on: }
      remote_parent_not_sampled: { always_on: }
      local_parent_not_sampled: { trace_id_ratio_based: { ratio: 0.5 } }
  limits:
    event_attribute_count_limit: 7
    link_attribute_count_limit: 9
resource:
  attributes:
    - { name: replicas, value: 3, type: int }
    - { name: zones, value: [a, b], type: string_array }
telemetry:
  log_outputs:
    - file: { path: app.log, format: json, max_size: 1024, max_files: 3, gzip: true }
    - stdout:
  retry: { initial_backoff: 50, max_attempts: 3 }
  circuit_breaker: { failure_threshold: 2, open_duration: 1000 }
  retry_buffer: { max_items: 10, max_bytes: 1000 }
  span_metrics: { buckets: [0.1, 1], cardinality_limit: 50 }
  span_events: false
  shutdown_timeout: 2000
"#,
    );
    let mut branches = ParentBranches::new(Sampler::TraceIdRatio(0.1));
    branches.remote_parent_not_sampled = Sampler::AlwaysOn;
    branches.local_parent_not_sampled = Sampler::TraceIdRatio(0.5);
    assert_eq!(c.sampler, Sampler::ParentBasedBranches(Box::new(branches)));
    assert_eq!(
        (
            c.span_limits.event_attributes,
            c.span_limits.link_attributes
        ),
        (7, 9)
    );
    assert_eq!(c.resource.typed_attributes.len(), 2);
    assert_eq!(
        c.resource.typed_attributes[0].1,
        opentelemetry::Value::I64(3)
    );
    use crate::logs::{LogFormat, LogOutput};
    assert_eq!(
        c.log_outputs,
        vec![
            LogOutput::file("app.log", LogFormat::Json)
                .max_size(1024)
                .max_files(3)
                .gzip(true),
            LogOutput::stdout(LogFormat::Pretty),
        ]
    );
    assert_eq!(
        c.resilience.retry.initial_backoff,
        Duration::from_millis(50)
    );
    assert_eq!(c.resilience.retry.max_attempts, 3);
    assert_eq!(c.resilience.circuit.failure_threshold, 2);
    assert_eq!(c.resilience.buffer.max_items, 10);
    assert_eq!(c.span_metrics.buckets, Some(vec![0.1, 1.0]));
    assert_eq!(c.span_metrics.cardinality_limit, 50);
    assert_eq!(c.span_events, Some(false));
    assert_eq!(c.shutdown_timeout, Duration::from_secs(2));
    // Health checks are read there too.
    let none = issues("file_format: \"1.1\"\ntelemetry:\n  health: { checks: [] }\n");
    assert!(none.is_empty(), "{none:?}");
    let bad = issues(
        "file_format: \"1.1\"\ntelemetry:\n  health: { checks: [ { tcp: { name: db, address: x } } ] }\n",
    );
    assert_eq!(bad[0].kind, FileIssueKind::Invalid);
    assert_eq!(bad[0].path, "telemetry.health.checks[0].tcp");
}

#[test]
fn endpoints_are_used_as_written_and_views_fit_span_duration_only() {
    let c = clean(
        r#"file_format: "1.1"
tracer_provider:
  processors:
    - batch:
        exporter:
          otlp_http:
            endpoint: http://collector:4318/custom/path
            max_request_size: 1048576
meter_provider:
  readers:
    - periodic:
        exporter: { console: }
  views:
    - selector: { instrument_name: span.duration, instrument_type: histogram }
      stream:
        aggregation:
          explicit_bucket_histogram: { boundaries: [0.5, 1, 5] }
"#,
    );
    let t = c.otlp(Signal::Traces).unwrap();
    assert_eq!(t.endpoint, "http://collector:4318/custom/path");
    assert_eq!(t.protocol, Protocol::HttpProtobuf);
    assert_eq!(c.max_request_size, 1_048_576);
    assert_eq!(c.span_metrics.buckets, Some(vec![0.5, 1.0, 5.0]));
    assert_eq!(
        c.exporter(Signal::Metrics),
        crate::export::ExporterKind::Console
    );
    let found = issues(
        "file_format: \"1.1\"\nmeter_provider:\n  readers: []\n  views:\n    - selector: { instrument_name: http.server.request.duration }\n      stream: { name: latency }\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FileIssueKind::Unsupported);
    assert_eq!(
        found[0].path,
        "meter_provider.views[0].selector.instrument_name"
    );
}

#[test]
fn a_tls_file_that_cannot_be_read_is_an_issue_at_its_path() {
    if !cfg!(feature = "tls") {
        return;
    }
    let found = issues(
        "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_grpc:\n            endpoint: https://collector:4317\n            tls:\n              ca_file: /nonexistent/ca.pem\n              cert_file: /nonexistent/client.pem\n",
    );
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "tracer_provider.processors[0].batch.exporter.otlp_grpc.tls.ca_file",
            "tracer_provider.processors[0].batch.exporter.otlp_grpc.tls.cert_file"
        ]
    );
    assert!(
        found[0].to_string().contains("/nonexistent/ca.pem"),
        "{}",
        found[0]
    );
}
