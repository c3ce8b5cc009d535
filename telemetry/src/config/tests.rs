use super::*;
use crate::export::{Compression, Protocol};
use crate::propagation::Propagator;

fn lossy(vars: &[(&str, &str)]) -> (Config, Vec<EnvIssue>) {
    Config::from_vars_lossy(vars.iter().copied())
}

fn vars_of(issues: &[EnvIssue]) -> Vec<&'static str> {
    issues.iter().map(|i| i.var).collect()
}

#[test]
fn defaults_follow_the_specification() {
    let (c, issues) = lossy(&[]);
    assert!(issues.is_empty());
    assert!(c.enabled());
    assert_eq!(
        c.sampler(),
        &Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    );
    assert_eq!(
        c.propagators(),
        &[Propagator::TraceContext, Propagator::Baggage]
    );
    assert_eq!(c.traces_batch(), BatchConfig::TRACES);
    assert_eq!(c.logs_batch(), BatchConfig::LOGS);
    assert_eq!(
        c.metric_export(),
        (Duration::from_secs(60), Duration::from_secs(30))
    );
    assert_eq!(c.span_limits(), (128, 128, 128));
    assert_eq!(c.prometheus_address(), ("localhost", 9464));
    // No endpoint and no exporter chosen: the console.
    assert_eq!(c.exporter(Signal::Traces), ExporterKind::Console);
    let t = c.otlp(Signal::Traces).unwrap();
    assert_eq!(t.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(t.protocol, Protocol::HttpProtobuf);
    assert_eq!(t.timeout, Some(Duration::from_secs(10)));
    assert_eq!(t.compression, Compression::None);
}

#[test]
fn bad_numbers_warn_and_keep_the_default() {
    for bad in ["-5", "abc", "1.5", "0"] {
        let (c, issues) = lossy(&[("OTEL_BSP_MAX_QUEUE_SIZE", bad)]);
        assert_eq!(c.traces_batch().max_queue_size, 2048, "{bad}");
        assert_eq!(vars_of(&issues), ["OTEL_BSP_MAX_QUEUE_SIZE"], "{bad}");
        assert!(issues[0].to_string().contains(&format!("{bad:?}")));
    }
    for bad in ["-1", "soon", "1e3"] {
        let (c, issues) = lossy(&[
            ("OTEL_BSP_SCHEDULE_DELAY", bad),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", bad),
        ]);
        assert_eq!(c.traces_batch().schedule_delay, Duration::from_secs(5));
        assert_eq!(
            c.otlp(Signal::Traces).unwrap().timeout,
            Some(Duration::from_secs(10))
        );
        assert_eq!(issues.len(), 2, "{bad}");
    }
}

#[test]
fn empty_values_are_unset_and_silent() {
    let (c, issues) = lossy(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", ""),
        ("OTEL_TRACES_SAMPLER", ""),
        ("OTEL_SDK_DISABLED", "  "),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
    ]);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(c.traces_batch().max_queue_size, 2048);
    assert!(c.enabled());
    assert_eq!(c.exporter(Signal::Traces), ExporterKind::Console);
}

#[test]
fn timeout_zero_means_no_limit() {
    let (c, issues) = lossy(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "0")]);
    assert!(issues.is_empty());
    assert_eq!(c.otlp(Signal::Traces).unwrap().timeout, None);
}

#[test]
fn sdk_disabled_only_for_true() {
    assert!(!lossy(&[("OTEL_SDK_DISABLED", "TRUE")]).0.enabled());
    assert!(lossy(&[("OTEL_SDK_DISABLED", "false")]).0.enabled());
    let (c, issues) = lossy(&[("OTEL_SDK_DISABLED", "1")]);
    assert!(c.enabled(), "`1` is not `true`: still on");
    assert_eq!(vars_of(&issues), ["OTEL_SDK_DISABLED"]);
    assert!(issues[0].to_string().contains("`true` or `false`"));
}

#[test]
fn samplers_by_name_and_argument() {
    type Case<'a> = (&'a [(&'a str, &'a str)], Sampler, usize);
    let cases: &[Case<'_>] = &[
        (
            &[("OTEL_TRACES_SAMPLER", "always_on")],
            Sampler::AlwaysOn,
            0,
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "ALWAYS_OFF")],
            Sampler::AlwaysOff,
            0,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ],
            Sampler::TraceIdRatio(0.25),
            0,
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "traceidratio")],
            Sampler::TraceIdRatio(1.0),
            0,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ],
            Sampler::TraceIdRatio(1.0),
            1,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "-0.1"),
            ],
            Sampler::TraceIdRatio(1.0),
            1,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "abc"),
            ],
            Sampler::TraceIdRatio(1.0),
            1,
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "parentbased_always_off")],
            Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            0,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
            ],
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.1))),
            0,
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "sometimes")],
            Sampler::default(),
            1,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_ratelimited"),
                ("OTEL_TRACES_SAMPLER_ARG", "25"),
            ],
            Sampler::ParentBased(Box::new(Sampler::RateLimited { per_second: 25.0 })),
            0,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "RateLimited"),
                ("OTEL_TRACES_SAMPLER_ARG", " 0.5 "),
            ],
            Sampler::RateLimited { per_second: 0.5 },
            0,
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "parentbased_ratelimited")],
            Sampler::ParentBased(Box::new(Sampler::RateLimited { per_second: 1.0 })),
            0,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "ratelimited"),
                ("OTEL_TRACES_SAMPLER_ARG", "0"),
            ],
            Sampler::RateLimited { per_second: 1.0 },
            1,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "ratelimited"),
                ("OTEL_TRACES_SAMPLER_ARG", "-3"),
            ],
            Sampler::RateLimited { per_second: 1.0 },
            1,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_ratelimited"),
                ("OTEL_TRACES_SAMPLER_ARG", "inf"),
            ],
            Sampler::ParentBased(Box::new(Sampler::RateLimited { per_second: 1.0 })),
            1,
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "ratelimited"),
                ("OTEL_TRACES_SAMPLER_ARG", "many"),
            ],
            Sampler::RateLimited { per_second: 1.0 },
            1,
        ),
    ];
    for (vars, expected, n_issues) in cases {
        let (c, issues) = lossy(vars);
        assert_eq!(c.sampler(), expected, "{vars:?}");
        assert_eq!(issues.len(), *n_issues, "{vars:?}: {issues:?}");
    }
    let err = Config::from_vars([
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "abc"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 invalid environment variable: OTEL_TRACES_SAMPLER_ARG=\"abc\" is not a number between 0 and 1"
    );
}

#[test]
fn propagators_are_deduplicated_and_none_empties_the_list() {
    let (c, issues) = lossy(&[("OTEL_PROPAGATORS", "b3, tracecontext,b3,baggage")]);
    assert!(issues.is_empty());
    assert_eq!(
        c.propagators(),
        &[
            Propagator::B3,
            Propagator::TraceContext,
            Propagator::Baggage
        ]
    );
    let (c, _) = lossy(&[("OTEL_PROPAGATORS", "none")]);
    assert!(c.propagators().is_empty());
    let (c, issues) = lossy(&[("OTEL_PROPAGATORS", "tracecontext,xray,b3multi")]);
    assert_eq!(
        c.propagators(),
        &[Propagator::TraceContext, Propagator::B3Multi]
    );
    assert_eq!(vars_of(&issues), ["OTEL_PROPAGATORS"]);
    assert!(issues[0].expected.contains("`xray` is unknown"));
}

#[test]
fn exporters_by_signal() {
    let (c, issues) = lossy(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ]);
    assert!(issues.is_empty());
    assert_eq!(c.exporter(Signal::Traces), ExporterKind::Otlp);
    assert_eq!(c.exporter(Signal::Metrics), ExporterKind::Prometheus);
    assert_eq!(c.exporter(Signal::Logs), ExporterKind::None);
    let (c, issues) = lossy(&[
        ("OTEL_TRACES_EXPORTER", "prometheus"),
        ("OTEL_LOGS_EXPORTER", "jaeger"),
    ]);
    assert_eq!(
        vars_of(&issues),
        ["OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER"]
    );
    assert_eq!(c.exporter(Signal::Traces), ExporterKind::Console);
}

#[test]
fn an_endpoint_alone_selects_otlp() {
    let (c, _) = lossy(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]);
    assert_eq!(c.exporter(Signal::Traces), ExporterKind::Otlp);
    assert_eq!(c.exporter(Signal::Logs), ExporterKind::Otlp);
    let (c, _) = lossy(&[(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://collector:4318/v1/traces",
    )]);
    assert_eq!(c.exporter(Signal::Traces), ExporterKind::Otlp);
    assert_eq!(c.exporter(Signal::Logs), ExporterKind::Console);
}

#[test]
fn endpoints_join_as_the_specification_says() {
    let cases = [
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")],
            "http://c:4318/v1/traces",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")],
            "http://c:4318/v1/traces",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/x/")],
            "http://c:4318/x/v1/traces",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/x")],
            "http://c:4318/x/v1/traces",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318")],
            "http://c:4318/",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom")],
            "http://c:4318/custom",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://specific:4318/v1/traces",
                ),
            ],
            "http://specific:4318/v1/traces",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317/"),
            ],
            "http://c:4317/",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ],
            "http://c:4317",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
            "http://localhost:4317",
        ),
    ];
    for (vars, expected) in cases {
        let (c, issues) = lossy(&vars);
        assert!(issues.is_empty(), "{vars:?}: {issues:?}");
        assert_eq!(
            c.otlp(Signal::Traces).unwrap().endpoint,
            expected,
            "{vars:?}"
        );
    }
    // The generic endpoint still applies to the other signals.
    let (c, _) = lossy(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://specific:4318/v1/traces",
        ),
    ]);
    assert_eq!(
        c.otlp(Signal::Logs).unwrap().endpoint,
        "http://generic:4318/v1/logs"
    );
}

#[test]
fn bad_endpoints_protocols_and_compression_are_named() {
    let (_, issues) = lossy(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "yes"),
    ]);
    assert_eq!(
        vars_of(&issues),
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
        ]
    );
    assert!(issues[1]
        .to_string()
        .contains("one of grpc, http/protobuf, http/json"));
}

#[test]
fn per_signal_settings_beat_generic_ones() {
    let (c, issues) = lossy(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,x-tenant=a"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=b"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
    ]);
    assert!(issues.is_empty(), "{issues:?}");
    let t = c.otlp(Signal::Traces).unwrap();
    assert_eq!(t.protocol, Protocol::Grpc);
    assert_eq!(t.compression, Compression::Gzip);
    assert_eq!(t.timeout, Some(Duration::from_millis(2500)));
    assert_eq!(
        t.headers,
        vec![
            ("api-key".to_string(), "secret".to_string()),
            ("x-tenant".to_string(), "b".to_string())
        ]
    );
    assert_eq!(c.otlp(Signal::Logs).unwrap().protocol, Protocol::HttpJson);
}

#[test]
fn headers_are_percent_decoded_and_checked() {
    let (c, issues) = lossy(&[("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc")]);
    assert!(issues.is_empty());
    assert_eq!(c.otlp(Signal::Traces).unwrap().headers[0].1, "Bearer abc");
    let (c, issues) = lossy(&[("OTEL_EXPORTER_OTLP_HEADERS", "bad header=x")]);
    assert_eq!(vars_of(&issues), ["OTEL_EXPORTER_OTLP_HEADERS"]);
    assert!(c.otlp(Signal::Traces).unwrap().headers.is_empty());
}

#[test]
fn a_bad_escape_drops_all_resource_attributes() {
    let (c, issues) = lossy(&[("OTEL_RESOURCE_ATTRIBUTES", "team=payments,region=eu%2")]);
    assert!(c.resource.attributes.is_empty());
    assert_eq!(vars_of(&issues), ["OTEL_RESOURCE_ATTRIBUTES"]);
    let (c, issues) = lossy(&[("OTEL_RESOURCE_ATTRIBUTES", "team=payments,oops")]);
    assert!(c.resource.attributes.is_empty());
    assert_eq!(issues.len(), 1);
    let (c, issues) = lossy(&[("OTEL_RESOURCE_ATTRIBUTES", "team=pay%20ments, region = eu ")]);
    assert!(issues.is_empty());
    assert_eq!(
        c.resource.attributes,
        vec![
            ("team".to_string(), "pay ments".to_string()),
            ("region".to_string(), "eu".to_string())
        ]
    );
}

#[test]
fn batch_must_fit_in_queue() {
    let (c, issues) = lossy(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
    ]);
    assert_eq!(c.traces_batch().max_queue_size, 100);
    assert_eq!(c.traces_batch().max_export_batch_size, 100);
    assert_eq!(vars_of(&issues), ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"]);
    let (c, issues) = lossy(&[
        ("OTEL_BLRP_SCHEDULE_DELAY", "200"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "1000"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "4096"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "1024"),
    ]);
    assert!(issues.is_empty());
    assert_eq!(
        c.logs_batch(),
        BatchConfig {
            schedule_delay: Duration::from_millis(200),
            export_timeout: Duration::from_secs(1),
            max_queue_size: 4096,
            max_export_batch_size: 1024
        }
    );
}

#[test]
fn limits_and_metric_intervals() {
    let (c, issues) = lossy(&[
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "64"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "10"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "-1"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "500"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "70000"),
    ]);
    assert_eq!(c.span_limits(), (64, 10, 128));
    assert_eq!(
        c.metric_export(),
        (Duration::from_secs(1), Duration::from_millis(500))
    );
    assert_eq!(
        vars_of(&issues),
        [
            "OTEL_SPAN_LINK_COUNT_LIMIT",
            "OTEL_EXPORTER_PROMETHEUS_PORT"
        ]
    );
}

#[test]
fn strict_reading_lists_every_bad_variable() {
    let err = Config::from_vars([
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-5"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_SERVICE_NAME", "fine"),
    ])
    .unwrap_err();
    let ConfigError::InvalidEnv { issues } = &err else {
        panic!("{err:?}")
    };
    let mut vars = vars_of(issues);
    vars.sort_unstable();
    assert_eq!(vars, ["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_TRACES_SAMPLER"]);
    let text = err.to_string();
    assert!(
        text.starts_with("2 invalid environment variables: "),
        "{text}"
    );
    assert!(
        text.contains("OTEL_BSP_MAX_QUEUE_SIZE=\"-5\" is not a positive integer"),
        "{text}"
    );
}

#[test]
fn unrelated_variables_are_ignored() {
    let (_, issues) = lossy(&[("PATH", "/bin"), ("OTEL_SOMETHING_NEW", "x")]);
    assert!(issues.is_empty());
}

#[test]
fn code_values_are_validated() {
    let c = Config {
        sampler: Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(1.5))),
        ..Config::default()
    };
    let err = c.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "sampler ratio = \"1.5\" is not accepted: expected a number between 0 and 1"
    );
    let mut c = Config::default();
    c.traces_batch.max_export_batch_size = 4096;
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("a batch size between 1 and the queue size"));
}

#[test]
fn rate_limited_sampler_values_are_checked() {
    let err = Config::from_vars([
        ("OTEL_TRACES_SAMPLER", "parentbased_ratelimited"),
        ("OTEL_TRACES_SAMPLER_ARG", "-3"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 invalid environment variable: OTEL_TRACES_SAMPLER_ARG=\"-3\" is not a positive \
         number of traces per second"
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let c = Config {
            sampler: Sampler::ParentBased(Box::new(Sampler::RateLimited { per_second: bad })),
            ..Config::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.starts_with("sampler rate = "), "{bad}: {err}");
    }
    let c = Config {
        sampler: Sampler::RateLimited { per_second: 100.0 },
        ..Config::default()
    };
    assert!(c.validate().is_ok());
}

#[test]
fn a_bad_sampler_name_does_not_hide_a_bad_argument() {
    let err = Config::from_vars([
        ("OTEL_TRACES_SAMPLER", "traceidratoi"),
        ("OTEL_TRACES_SAMPLER_ARG", "half"),
    ])
    .unwrap_err();
    let ConfigError::InvalidEnv { issues } = err else {
        panic!("an environment error");
    };
    let vars: Vec<&str> = issues.iter().map(|i| i.var).collect();
    assert_eq!(vars, ["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"]);
    assert_eq!(
        issues[1].to_string(),
        "OTEL_TRACES_SAMPLER_ARG=\"half\" is not a number (a ratio between 0 and 1, or traces per second)"
    );
    // A good argument beside a bad name is no issue of its own.
    let (_, issues) = Config::from_vars_lossy([
        ("OTEL_TRACES_SAMPLER", "traceidratoi"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ]);
    assert_eq!(issues.len(), 1, "{issues:?}");
}

#[test]
fn a_schemeless_http_endpoint_is_read_as_http_with_a_warning() {
    let (c, issues) = Config::from_vars_lossy([("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")]);
    assert_eq!(
        c.otlp(Signal::Traces).unwrap().endpoint,
        "http://localhost:4318/v1/traces"
    );
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(
        format!("{}; {}", issues[0], issues[0].remedy()),
        "OTEL_EXPORTER_OTLP_ENDPOINT=\"localhost:4318\" is not an http:// or https:// URL \
         for OTLP/HTTP; using http://localhost:4318"
    );
    // Strictly read, it is an error that lists it with the others.
    let err = Config::from_vars([
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "collector:4318/v1/logs"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
    ])
    .unwrap_err();
    let ConfigError::InvalidEnv { issues } = err else {
        panic!("an environment error");
    };
    let vars: Vec<&str> = issues.iter().map(|i| i.var).collect();
    assert_eq!(
        vars,
        [
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_BSP_MAX_QUEUE_SIZE"
        ]
    );
    assert_eq!(
        issues[0].instead.as_deref(),
        Some("http://collector:4318/v1/logs")
    );
}

#[test]
fn a_schemeless_grpc_endpoint_is_left_to_the_grpc_rule() {
    let (c, issues) = Config::from_vars_lossy([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ]);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(
        c.otlp(Signal::Traces).unwrap().endpoint,
        "http://localhost:4317"
    );
}

#[test]
fn a_variable_one_edit_from_a_known_one_gets_a_hint() {
    let hints = misspelt_variables([
        "OTEL_TRACE_SAMPLER",
        "OTEL_EXPORTER_OTLP_ENDPIONT",
        "OTEL_BSP_MAX_QUEUE_SIZ",
        "OTEL_TRACES_SAMPLER",
        "OTEL_SOMETHING_ELSE",
        "PATH",
    ]);
    assert_eq!(
        hints,
        [
            "OTEL_TRACE_SAMPLER is not a variable this crate reads; did you mean OTEL_TRACES_SAMPLER?",
            "OTEL_EXPORTER_OTLP_ENDPIONT is not a variable this crate reads; did you mean OTEL_EXPORTER_OTLP_ENDPOINT?",
            "OTEL_BSP_MAX_QUEUE_SIZ is not a variable this crate reads; did you mean OTEL_BSP_MAX_QUEUE_SIZE?",
        ]
    );
}

#[test]
fn exporter_lists_take_one_exporter_and_the_console() {
    let (c, issues) = Config::from_vars_lossy([
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
        ("OTEL_LOGS_EXPORTER", "otlp, jaeger ,console"),
    ]);
    assert_eq!(c.exporter(Signal::Traces), ExporterKind::Console);
    assert!(!c.shows_console_too(Signal::Traces));
    assert_eq!(c.exporter(Signal::Metrics), ExporterKind::Otlp);
    assert_eq!(c.exporter(Signal::Logs), ExporterKind::Otlp);
    assert!(c.shows_console_too(Signal::Logs));
    let shown: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "OTEL_METRICS_EXPORTER=\"otlp,prometheus\" is not at most one of otlp and prometheus \
             (the console may come beside it)",
            "OTEL_LOGS_EXPORTER=\"otlp, jaeger ,console\" is not a list of otlp, console, none \
             (`jaeger` is unknown)",
        ]
    );
}
