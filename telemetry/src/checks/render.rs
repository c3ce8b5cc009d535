//! The answers of `/livez`, `/readyz`, `/readyz/<name>` and `/health`: a status code
//! (200 for pass and warn, 503 for fail) and a body in the `application/health+json`
//! format of the IETF draft "Health Check Response Format for HTTP APIs", or with
//! `?verbose` the Kubernetes-style lines (`[+]database ok`, `[-]cache failed: ...`,
//! then `readyz check passed`). `?exclude=<name>` leaves a component out.
//!
//! - `/livez`: the library's own threads (the export threads, the checks' thread);
//! - `/readyz`: every critical check passes (a check not run yet fails it);
//! - `/health`: everything: the checks (an optional one failing is a warning) and the
//!   export pipelines (an open circuit is a warning, a stopped thread a failure).

use serde_json::{json, Map, Value};

use super::state::{CheckHealth, CheckStatus};
use crate::health::HealthReport;

/// Which endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Live,
    Ready,
    Health,
}

impl Endpoint {
    fn word(self) -> &'static str {
        match self {
            Endpoint::Live => "livez",
            Endpoint::Ready => "readyz",
            Endpoint::Health => "health",
        }
    }
}

/// An answer: status code, content type, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

/// `pass`, `warn` or `fail`, ordered by gravity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of the report: a component and one measurement of it.
struct Component {
    /// The name `?exclude=` and `/readyz/<name>` use.
    name: String,
    /// `component:measurement`.
    key: String,
    component_type: &'static str,
    /// The component's own status.
    status: Status,
    /// What it does to the whole status (an optional check failing: `warn`).
    weight: Status,
    observed_value: Option<Value>,
    observed_unit: Option<String>,
    time: Option<String>,
    output: Option<String>,
}

/// The query of a request: `verbose` and the `exclude`d names.
pub(crate) struct Query<'a> {
    pub(crate) verbose: bool,
    pub(crate) exclude: Vec<&'a str>,
}

impl<'a> Query<'a> {
    pub(crate) fn parse(query: Option<&'a str>) -> Query<'a> {
        let mut q = Query {
            verbose: false,
            exclude: Vec::new(),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "verbose" => q.verbose = v != "false" && v != "0",
                "exclude" => q.exclude.push(v),
                _ => {}
            }
        }
        q
    }
}

fn check_component(c: &CheckHealth, endpoint: Endpoint) -> Component {
    let measurement = match c.kind {
        "tcp" => "connection",
        "http" => "responseTime",
        _ => "check",
    };
    let status = match c.status {
        CheckStatus::Pass => Status::Pass,
        CheckStatus::Fail => Status::Fail,
        // Not run yet: not ready; elsewhere a warning.
        CheckStatus::Starting if endpoint == Endpoint::Ready => Status::Fail,
        CheckStatus::Starting => Status::Warn,
    };
    let weight = if c.critical || endpoint == Endpoint::Ready {
        status
    } else {
        status.min(Status::Warn)
    };
    let output = match c.status {
        CheckStatus::Starting => Some("not run yet".to_string()),
        CheckStatus::Fail => Some(c.output.clone().unwrap_or_else(|| "failing".to_string())),
        // Passing again after a failure that did not reach the threshold.
        CheckStatus::Pass => c
            .output
            .as_ref()
            .map(|why| format!("last run failed: {why}")),
    };
    Component {
        name: c.name.clone(),
        key: format!("{}:{measurement}", c.name),
        component_type: "component",
        status,
        weight,
        observed_value: c.observed_value.map(Value::from),
        observed_unit: c.observed_unit.clone(),
        time: c.last_run_at.clone(),
        output,
    }
}

/// A component of the library's own (a thread, a pipeline).
fn system(name: String, key: String, status: Status, output: Option<String>) -> Component {
    Component {
        name,
        key,
        component_type: "system",
        status,
        weight: status,
        observed_value: None,
        observed_unit: None,
        time: None,
        output,
    }
}

/// The checks' thread: passing while it runs.
fn runner_component(runner: &Result<(), String>) -> Component {
    let status = if runner.is_ok() {
        Status::Pass
    } else {
        Status::Fail
    };
    system(
        "health-checks".into(),
        "health-checks:thread".into(),
        status,
        runner.clone().err(),
    )
}

/// The components an endpoint reports.
fn components(
    endpoint: Endpoint,
    report: &HealthReport,
    runner: &Result<(), String>,
) -> Vec<Component> {
    let mut out = Vec::new();
    let signals = [
        ("traces", &report.traces),
        ("metrics", &report.metrics),
        ("logs", &report.logs),
    ];
    match endpoint {
        Endpoint::Live => {
            for (signal, health) in signals {
                let Some(h) = health else { continue };
                let status = if h.running {
                    Status::Pass
                } else {
                    Status::Fail
                };
                out.push(system(
                    format!("export-{signal}"),
                    format!("export-{signal}:thread"),
                    status,
                    (!h.running).then(|| h.last_error.clone().unwrap_or_default()),
                ));
            }
            if !report.checks.is_empty() {
                out.push(runner_component(runner));
            }
        }
        Endpoint::Ready => {
            out.extend(
                report
                    .checks
                    .iter()
                    .filter(|c| c.critical)
                    .map(|c| check_component(c, endpoint)),
            );
        }
        Endpoint::Health => {
            out.extend(report.checks.iter().map(|c| check_component(c, endpoint)));
            for (signal, health) in signals {
                let Some(h) = health else { continue };
                let status = if !h.running {
                    Status::Fail
                } else if h.healthy {
                    Status::Pass
                } else {
                    Status::Warn
                };
                let mut c = system(
                    format!("export-{signal}"),
                    format!("export-{signal}:circuit"),
                    status,
                    (status != Status::Pass)
                        .then(|| h.last_error.clone())
                        .flatten(),
                );
                c.observed_value = Some(serde_json::to_value(h.circuit).unwrap_or(Value::Null));
                c.time = h.last_error_at.clone().or(h.last_success_at.clone());
                out.push(c);
            }
            if runner.is_err() {
                out.push(runner_component(runner));
            }
        }
    }
    out
}

/// The answer of `endpoint` (or of the one check `only`, for `/readyz/<name>`), from
/// the telemetry's report; `None` when `only` names no check.
pub(crate) fn answer(
    endpoint: Endpoint,
    only: Option<&str>,
    query: &Query<'_>,
    report: &HealthReport,
    runner: &Result<(), String>,
) -> Option<Answer> {
    let mut parts = components(endpoint, report, runner);
    if let Some(name) = only {
        let check = report.checks.iter().find(|c| c.name == name)?;
        let mut one = check_component(check, Endpoint::Ready);
        one.weight = one.status;
        parts = vec![one];
    }
    parts.retain(|c| !query.exclude.contains(&c.name.as_str()));
    let status = parts.iter().map(|c| c.weight).max().unwrap_or(Status::Pass);
    let code = if status == Status::Fail { 503 } else { 200 };
    let word = match only {
        Some(name) => format!("readyz/{name}"),
        None => endpoint.word().to_string(),
    };
    if query.verbose {
        let mut body = String::new();
        for c in &parts {
            match (c.status, &c.output) {
                (Status::Pass, _) => body.push_str(&format!("[+]{} ok\n", c.name)),
                (Status::Warn, Some(why)) => {
                    body.push_str(&format!("[+]{} warning: {why}\n", c.name))
                }
                (Status::Warn, None) => body.push_str(&format!("[+]{} warning\n", c.name)),
                (Status::Fail, why) => body.push_str(&format!(
                    "[-]{} failed: {}\n",
                    c.name,
                    why.as_deref().unwrap_or("failing")
                )),
            }
        }
        for name in &query.exclude {
            body.push_str(&format!("[+]{name} excluded: ok\n"));
        }
        let verdict = if status == Status::Fail {
            "failed"
        } else {
            "passed"
        };
        body.push_str(&format!("{word} check {verdict}\n"));
        return Some(Answer {
            status: code,
            content_type: "text/plain; charset=utf-8",
            body,
        });
    }
    let mut checks = Map::new();
    for c in parts {
        let mut entry = Map::new();
        entry.insert("componentId".into(), json!(c.name));
        entry.insert("componentType".into(), json!(c.component_type));
        if let Some(v) = c.observed_value {
            entry.insert("observedValue".into(), v);
        }
        if let Some(u) = c.observed_unit {
            entry.insert("observedUnit".into(), json!(u));
        }
        entry.insert("status".into(), json!(c.status.as_str()));
        if let Some(t) = c.time {
            entry.insert("time".into(), json!(t));
        }
        if let Some(o) = c.output {
            entry.insert("output".into(), json!(o));
        }
        checks.insert(c.key, Value::Array(vec![Value::Object(entry)]));
    }
    let body = json!({
        "status": status.as_str(),
        "description": format!("{word} of the service"),
        "checks": checks,
    });
    Some(Answer {
        status: code,
        content_type: "application/health+json",
        body: body.to_string(),
    })
}
