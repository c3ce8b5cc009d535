//! The resource: who is sending (service, host, OS, process, runtime, SDK).

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;

/// `telemetry.sdk.name`: this crate, not the official SDK (the name `opentelemetry`
/// is reserved for it).
pub const SDK_NAME: &str = "telemetry";

/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: `k=v,k2=v2`, percent-encoded.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// What the resource says about the service, from `OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES` and the builder.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ResourceSettings {
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) deployment_environment: Option<String>,
    /// Every other attribute, in order; a later one of the same key wins.
    pub(crate) attributes: Vec<(String, String)>,
    /// Attributes that are not strings (the configuration file's typed `attributes`:
    /// bool, int, double and arrays), after the string ones; a later one of the same
    /// key wins.
    pub(crate) typed_attributes: Vec<(String, opentelemetry::Value)>,
}

/// Builds the resource from the configuration and what can be detected.
///
/// Precedence, lowest first: detected attributes, `OTEL_RESOURCE_ATTRIBUTES`, resource
/// attributes set in code, then `service.name` / `service.version` /
/// `deployment.environment.name` from `OTEL_SERVICE_NAME` or their setters.
pub(crate) fn build(config: &ResourceSettings) -> Resource {
    let mut attrs: Vec<KeyValue> = Vec::with_capacity(16 + config.attributes.len());
    attrs.push(KeyValue::new("telemetry.sdk.name", SDK_NAME));
    attrs.push(KeyValue::new("telemetry.sdk.language", "rust"));
    attrs.push(KeyValue::new(
        "telemetry.sdk.version",
        env!("CARGO_PKG_VERSION"),
    ));
    attrs.push(KeyValue::new("os.type", os_type()));
    attrs.push(KeyValue::new("process.pid", i64::from(std::process::id())));
    attrs.push(KeyValue::new("process.runtime.name", "rustc"));
    attrs.push(KeyValue::new(
        "process.runtime.version",
        env!("TELEMETRY_RUSTC_VERSION"),
    ));
    if let Some(host) = host_name() {
        attrs.push(KeyValue::new("host.name", host));
    }
    for (k, v) in &config.attributes {
        attrs.push(KeyValue::new(k.clone(), v.clone()));
    }
    for (k, v) in &config.typed_attributes {
        attrs.push(KeyValue::new(k.clone(), v.clone()));
    }
    let service = config
        .service_name
        .clone()
        .unwrap_or_else(|| format!("unknown_service:{}", exe_name()));
    attrs.push(KeyValue::new("service.name", service));
    if let Some(v) = &config.service_version {
        attrs.push(KeyValue::new("service.version", v.clone()));
    }
    if let Some(env) = &config.deployment_environment {
        attrs.push(KeyValue::new("deployment.environment.name", env.clone()));
    }
    Resource::builder_empty().with_attributes(attrs).build()
}

/// `os.type` as the semantic conventions spell it.
fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" | "ios" => "darwin",
        "illumos" => "illumos",
        other => other,
    }
}

fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
}

fn exe_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rust".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use opentelemetry::Key;

    fn get(resource: &Resource, key: &'static str) -> Option<String> {
        resource
            .get(&Key::from_static_str(key))
            .map(|v| v.to_string())
    }

    #[test]
    fn service_name_defaults_to_unknown_service_and_exe() {
        let r = build(&ResourceSettings::default());
        let name = get(&r, "service.name").unwrap();
        assert!(name.starts_with("unknown_service:"), "{name}");
        assert_eq!(get(&r, "telemetry.sdk.language").as_deref(), Some("rust"));
        assert_eq!(get(&r, "telemetry.sdk.name").as_deref(), Some("telemetry"));
        assert_eq!(get(&r, "os.type").as_deref(), Some(os_type()));
        assert_eq!(get(&r, "process.runtime.name").as_deref(), Some("rustc"));
        assert!(get(&r, "process.pid").is_some());
    }

    #[test]
    fn service_name_variable_beats_resource_attributes() {
        let config = Config::from_vars([
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=a,team=payments,deployment.environment.name=prod",
            ),
            ("OTEL_SERVICE_NAME", "b"),
        ])
        .unwrap();
        let r = build(&config.resource);
        assert_eq!(get(&r, "service.name").as_deref(), Some("b"));
        assert_eq!(get(&r, "team").as_deref(), Some("payments"));
        assert_eq!(
            get(&r, "deployment.environment.name").as_deref(),
            Some("prod")
        );
    }
}
