//! The rule file passes `promtool check rules`, and `promtool test rules` feeds it
//! series: the burn-rate alerts fire when the budget burns and stay quiet when it
//! does not. The example Alertmanager configuration passes `amtool check-config`.

use std::process::Command;

use telemetry::rules::{prometheus_rules, Objective};

fn tool(name: &str, args: &[&str], package: &str) -> (bool, String) {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} is required: install Debian's `{package}` package (.ci/run does): {e}")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("telemetry-rules-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const HTTP: &str = "http_server_request_duration_seconds";

fn summary(objective: &str, severity: &str) -> String {
    format!("/checkout: the objective of {objective} burns its budget too fast ({severity})")
}

#[test]
fn the_rules_pass_promtool_and_alert_when_the_budget_burns() {
    let objectives: Vec<Objective> = vec![
        "route=/checkout,success=99.9%,latency=250ms@99%"
            .parse()
            .unwrap(),
        "function=shop::pay,success=99%".parse().unwrap(),
        "span=load,latency=1s@90%".parse().unwrap(),
    ];
    let d = dir("promtool");
    let rules = d.join("rules.yml");
    std::fs::write(&rules, prometheus_rules(&objectives)).unwrap();
    let (ok, out) = tool(
        "promtool",
        &["check", "rules", rules.to_str().unwrap()],
        "prometheus",
    );
    assert!(ok, "{out}");

    // Four hours at one sample a minute: /checkout fails 10% and is slow for half its
    // requests on `shop`, and does fine on `quiet`.
    let success = "99.9% of requests successful";
    let latency = "99% of requests within 250ms";
    let test = format!(
        r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '{HTTP}_count{{job="shop",http_route="/checkout",http_response_status_code="200"}}'
        values: '0+90x240'
      - series: '{HTTP}_count{{job="shop",http_route="/checkout",http_response_status_code="500"}}'
        values: '0+10x240'
      - series: '{HTTP}_bucket{{job="shop",http_route="/checkout",http_response_status_code="200",le="0.25"}}'
        values: '0+45x240'
      - series: '{HTTP}_bucket{{job="shop",http_route="/checkout",http_response_status_code="500",le="0.25"}}'
        values: '0+5x240'
      - series: '{HTTP}_count{{job="quiet",http_route="/checkout",http_response_status_code="200"}}'
        values: '0+99995x240'
      - series: '{HTTP}_count{{job="quiet",http_route="/checkout",http_response_status_code="500"}}'
        values: '0+5x240'
      - series: '{HTTP}_bucket{{job="quiet",http_route="/checkout",http_response_status_code="200",le="0.25"}}'
        values: '0+99999x240'
      - series: '{HTTP}_bucket{{job="quiet",http_route="/checkout",http_response_status_code="500",le="0.25"}}'
        values: '0+1x240'
    alert_rule_test:
      - eval_time: 2h
        alertname: CheckoutErrorBudgetBurn
        exp_alerts:
          - exp_labels: {{ severity: page, job: shop, http_route: /checkout }}
            exp_annotations: {{ summary: "{page_success}" }}
          - exp_labels: {{ severity: ticket, job: shop, http_route: /checkout }}
            exp_annotations: {{ summary: "{ticket_success}" }}
      - eval_time: 2h
        alertname: CheckoutLatencyBurn
        exp_alerts:
          - exp_labels: {{ severity: page, job: shop, http_route: /checkout }}
            exp_annotations: {{ summary: "{page_latency}" }}
          - exp_labels: {{ severity: ticket, job: shop, http_route: /checkout }}
            exp_annotations: {{ summary: "{ticket_latency}" }}
      - eval_time: 2h
        alertname: ShopPayErrorBudgetBurn
        exp_alerts: []
  # The same route with errors at 0.005%: within budget, no alert at all.
  - interval: 1m
    input_series:
      - series: '{HTTP}_count{{job="quiet",http_route="/checkout",http_response_status_code="200"}}'
        values: '0+99995x240'
      - series: '{HTTP}_count{{job="quiet",http_route="/checkout",http_response_status_code="500"}}'
        values: '0+5x240'
      - series: '{HTTP}_bucket{{job="quiet",http_route="/checkout",http_response_status_code="200",le="0.25"}}'
        values: '0+99999x240'
      - series: '{HTTP}_bucket{{job="quiet",http_route="/checkout",http_response_status_code="500",le="0.25"}}'
        values: '0+1x240'
    alert_rule_test:
      - eval_time: 3h
        alertname: CheckoutErrorBudgetBurn
        exp_alerts: []
      - eval_time: 3h
        alertname: CheckoutLatencyBurn
        exp_alerts: []
"#,
        page_success = summary(success, "page"),
        ticket_success = summary(success, "ticket"),
        page_latency = summary(latency, "page"),
        ticket_latency = summary(latency, "ticket"),
    );
    let tests = d.join("tests.yml");
    std::fs::write(&tests, test).unwrap();
    let (ok, out) = tool(
        "promtool",
        &["test", "rules", tests.to_str().unwrap()],
        "prometheus",
    );
    assert!(ok, "{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn the_example_alertmanager_configuration_passes_amtool() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/alertmanager.yml");
    let (ok, out) = tool(
        "amtool",
        &["check-config", config],
        "prometheus-alertmanager",
    );
    assert!(ok, "{out}");
}
