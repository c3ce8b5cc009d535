//! Which `service.name` wins: the operator's over the program's default, and a name set
//! with `service_name(..)` over everything.

use telemetry::export::ExporterKind;
use telemetry::otel::api::Key;
use telemetry::{Telemetry, TelemetryBuilder};

fn service(builder: TelemetryBuilder) -> String {
    let t = builder
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .install_globals(false)
        .build()
        .unwrap();
    let name = t
        .resource()
        .get(&Key::new("service.name"))
        .map(|v| v.to_string())
        .unwrap_or_default();
    let _ = t.shutdown();
    name
}

#[test]
fn the_default_service_name_yields_to_the_environment() {
    let with = |vars: &[(&'static str, &'static str)]| {
        service(
            Telemetry::from_env()
                .vars(vars.iter().copied())
                .default_service_name("checkout"),
        )
    };
    assert_eq!(with(&[]), "checkout");
    assert_eq!(with(&[("OTEL_SERVICE_NAME", "ops-name")]), "ops-name");
    assert_eq!(
        with(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,team=pay"
        )]),
        "from-attrs"
    );
    assert_eq!(
        with(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
            ("OTEL_SERVICE_NAME", "ops-name"),
        ]),
        "ops-name",
        "OTEL_SERVICE_NAME beats the resource attributes"
    );
}

#[test]
fn service_name_overrides_the_environment() {
    let name = service(
        Telemetry::from_env()
            .vars([("OTEL_SERVICE_NAME", "ops-name")])
            .service_name("from-code")
            .default_service_name("ignored"),
    );
    assert_eq!(name, "from-code");
}

#[test]
fn without_any_name_the_service_is_unknown() {
    let name = service(Telemetry::from_env().vars(Vec::<(String, String)>::new()));
    assert!(name.starts_with("unknown_service:"), "{name}");
}
