//! Prometheus recording and alerting rules for the metrics this library emits, as a
//! rule file ([`prometheus_rules`]):
//!
//! - recording rules, named `level:metric:operations`, for the request rate, the error
//!   ratio and the 50th, 90th and 99th latency percentiles over 5 minutes, per function
//!   (`function.duration`, from `#[measure_performance]`), per span name
//!   (`span.duration`) and per HTTP route (`http.server.request.duration`), each by
//!   `job`;
//! - for each [`Objective`] you give (`route=/checkout,success=99.9%,latency=250ms@99%`),
//!   the error ratios over the windows the alerts need, and multi-window,
//!   multi-burn-rate alerts as in Google's SRE workbook: a page when the budget burns
//!   14.4 times too fast over 1 h (and 5 min) or 6 times over 6 h (and 30 min), a ticket
//!   when it burns 3 times over 1 day (and 2 h) or once over 3 days (and 6 h).
//!
//! A request is an error when its `outcome` is `error` (functions and spans) or its
//! status is 5xx (HTTP). A slow request is one above the latency threshold, which must
//! be one of the duration histograms' bucket bounds ([`DURATION_BUCKETS`]).
//!
//! ```
//! let objectives: Vec<telemetry::rules::Objective> = vec![
//!     "route=/checkout,success=99.9%,latency=250ms@99%".parse()?,
//! ];
//! let rules = telemetry::rules::prometheus_rules(&objectives);
//! assert!(rules.contains("alert: CheckoutErrorBudgetBurn"));
//! assert!(rules.contains("alert: CheckoutLatencyBurn"));
//! # Ok::<(), telemetry::rules::ObjectiveError>(())
//! ```

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use crate::metrics::DURATION_BUCKETS;

/// What an objective is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP route (`http.route`), from `http.server.request.duration`.
    Route(String),
    /// A function (`code.function.name`), from `function.duration`.
    Function(String),
    /// A span name, from `span.duration`.
    Span(String),
}

/// A service level objective: a share of successful requests, a share of requests
/// faster than a threshold, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// What it is about.
    pub target: Target,
    /// The share of requests that must succeed, e.g. `0.999`.
    pub success: Option<f64>,
    /// A threshold and the share of requests that must be faster, e.g. 250 ms at 0.99.
    pub latency: Option<(Duration, f64)>,
}

/// An objective that cannot be read, saying what is wrong and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("objective {input:?}: {problem}")]
pub struct ObjectiveError {
    input: String,
    problem: String,
}

fn percent(s: &str) -> Option<f64> {
    let v: f64 = s.strip_suffix('%')?.trim().parse().ok()?;
    (v > 0.0 && v < 100.0).then_some(v / 100.0)
}

fn duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (n, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let v: f64 = n.trim().parse().ok()?;
    Duration::try_from_secs_f64(v * scale).ok()
}

impl FromStr for Objective {
    type Err = ObjectiveError;

    /// `route=/checkout,success=99.9%,latency=250ms@99%` (or `function=...`,
    /// `span=...`); at least one of `success` and `latency`.
    fn from_str(input: &str) -> Result<Objective, ObjectiveError> {
        let bad = |problem: String| ObjectiveError {
            input: input.to_string(),
            problem,
        };
        let mut target = None;
        let mut success = None;
        let mut latency = None;
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("`{part}` is not key=value")))?;
            match k.trim() {
                "route" => target = Some(Target::Route(v.trim().to_string())),
                "function" => target = Some(Target::Function(v.trim().to_string())),
                "span" => target = Some(Target::Span(v.trim().to_string())),
                "success" => {
                    success = Some(percent(v).ok_or_else(|| {
                        bad(format!(
                            "success `{v}` is not a percentage between 0 and 100, like 99.9%"
                        ))
                    })?)
                }
                "latency" => {
                    let (t, share) = v.split_once('@').ok_or_else(|| {
                        bad(format!(
                            "latency `{v}` is not threshold@percentage, like 250ms@99%"
                        ))
                    })?;
                    let t = duration(t)
                        .ok_or_else(|| bad(format!("`{t}` is not a duration, like 250ms or 1s")))?;
                    if !DURATION_BUCKETS
                        .iter()
                        .any(|b| (b - t.as_secs_f64()).abs() < 1e-9)
                    {
                        return Err(bad(format!(
                            "the latency threshold {t:?} is not a bucket bound of the duration \
                             histograms: one of {DURATION_BUCKETS:?} seconds"
                        )));
                    }
                    let share = percent(share).ok_or_else(|| {
                        bad(format!("`{share}` is not a percentage between 0 and 100"))
                    })?;
                    latency = Some((t, share));
                }
                other => {
                    return Err(bad(format!(
                        "`{other}` is not a key: route, function, span, success, latency"
                    )))
                }
            }
        }
        let target = target.ok_or_else(|| bad("name a route=, function= or span=".into()))?;
        if success.is_none() && latency.is_none() {
            return Err(bad("give success=..% or latency=..@..%".into()));
        }
        Ok(Objective {
            target,
            success,
            latency,
        })
    }
}

/// One family of metrics: the histogram, its label, and what an error is.
struct Family {
    group: &'static str,
    metric: &'static str,
    label: &'static str,
    errors: &'static str,
}

const FAMILIES: [Family; 3] = [
    Family {
        group: "functions",
        metric: "function_duration_seconds",
        label: "code_function_name",
        errors: r#"outcome="error""#,
    },
    Family {
        group: "spans",
        metric: "span_duration_seconds",
        label: "span_name",
        errors: r#"outcome="error""#,
    },
    Family {
        group: "http-routes",
        metric: "http_server_request_duration_seconds",
        label: "http_route",
        errors: r#"http_response_status_code=~"5..""#,
    },
];

/// The windows the burn-rate alerts read.
const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

fn family_index(target: &Target) -> usize {
    match target {
        Target::Function(_) => 0,
        Target::Span(_) => 1,
        Target::Route(_) => 2,
    }
}

fn family(target: &Target) -> (&'static Family, &str) {
    let name = match target {
        Target::Function(n) | Target::Span(n) | Target::Route(n) => n,
    };
    (&FAMILIES[family_index(target)], name)
}

/// The recording rule of a family's error ratio (`le: None`) or slow ratio over `w`.
fn ratio_name(f: &Family, le: Option<&str>, w: &str) -> String {
    match le {
        None => format!(
            "job_{}:{}_errors_per_requests:ratio_rate{w}",
            f.label, f.metric
        ),
        Some(le) => format!(
            "job_{}:{}_over_{}_per_requests:ratio_rate{w}",
            f.label,
            f.metric,
            le.replace('.', "_")
        ),
    }
}

/// Nine decimals at most: `0.0144`, not `0.014399999999998414`.
fn round(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

fn float(v: f64) -> String {
    format!("{}", round(v))
}

/// `/checkout` → `Checkout`, `shop::pay` → `ShopPay`: a name for alerts.
fn title(name: &str) -> String {
    let mut out = String::new();
    for word in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() {
        out.push_str("Root");
    }
    out
}

/// A PromQL string literal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The rule file: recording rules for every family, and the objectives' alerts.
pub fn prometheus_rules(objectives: &[Objective]) -> String {
    let mut y = String::from(
        "# Recording and alerting rules for the metrics of the telemetry library.\n\
         # Made by telemetry::rules::prometheus_rules; check with `promtool check rules`.\n\
         groups:\n",
    );
    for f in &FAMILIES {
        let level = format!("job_{}", f.label);
        let by = format!("job, {}", f.label);
        let _ = write!(
            y,
            "  - name: telemetry-{group}\n    rules:\n\
             \x20     - record: {level}:{m}_count:rate5m\n\
             \x20       expr: sum by ({by}) (rate({m}_count[5m]))\n\
             \x20     - record: {level}:{m}_errors_per_requests:ratio_rate5m\n\
             \x20       expr: sum by ({by}) (rate({m}_count{{{errors}}}[5m])) / sum by ({by}) (rate({m}_count[5m]))\n",
            group = f.group,
            m = f.metric,
            errors = f.errors,
        );
        for (q, name) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
            let _ = write!(
                y,
                "      - record: {level}:{m}:{name}_rate5m\n\
                 \x20       expr: histogram_quantile({q}, sum by ({by}, le) (rate({m}_bucket[5m])))\n",
                m = f.metric,
            );
        }
    }
    // The ratios over the alerts' windows, per family (and latency threshold), once
    // each whatever the number of objectives: every route's, the alerts select theirs.
    let mut ratios: Vec<(usize, Option<String>)> = Vec::new();
    for o in objectives {
        let i = family_index(&o.target);
        if o.success.is_some() && !ratios.contains(&(i, None)) {
            ratios.push((i, None));
        }
        if let Some((t, _)) = o.latency {
            let le = Some(float(t.as_secs_f64()));
            if !ratios.contains(&(i, le.clone())) {
                ratios.push((i, le));
            }
        }
    }
    for (i, le) in &ratios {
        let f = &FAMILIES[*i];
        let _ = write!(
            y,
            "  - name: telemetry-slo-{group}{suffix}\n    rules:\n",
            group = f.group,
            suffix = le
                .as_ref()
                .map(|l| format!("-over-{}", l.replace('.', "_")))
                .unwrap_or_default(),
        );
        for w in WINDOWS {
            if le.is_none() && w == "5m" {
                // The family's own 5-minute error ratio, recorded above.
                continue;
            }
            let expr = match le {
                // Slow: all requests but those within the threshold's bucket.
                Some(le) => format!(
                    "1 - sum by (job, {label}) (rate({m}_bucket{{le=\"{le}\"}}[{w}])) / sum by (job, {label}) (rate({m}_count[{w}]))",
                    label = f.label,
                    m = f.metric,
                ),
                None => format!(
                    "sum by (job, {label}) (rate({m}_count{{{errors}}}[{w}])) / sum by (job, {label}) (rate({m}_count[{w}]))",
                    label = f.label,
                    m = f.metric,
                    errors = f.errors,
                ),
            };
            let _ = write!(
                y,
                "      - record: {}\n        expr: {expr}\n",
                ratio_name(f, le.as_deref(), w)
            );
        }
    }
    // The alerts, one group per objective.
    for o in objectives {
        let (f, name) = family(&o.target);
        let select = format!("{}={}", f.label, quoted(name));
        let slug = title(name);
        let _ = write!(
            y,
            "  - name: telemetry-slo-alerts-{group}-{slug}\n    rules:\n",
            group = f.group,
        );
        let mut kinds: Vec<(&str, Option<String>, f64, String)> = Vec::new();
        if let Some(success) = o.success {
            kinds.push((
                "ErrorBudget",
                None,
                1.0 - success,
                format!("{}% of requests successful", round(success * 100.0)),
            ));
        }
        if let Some((t, share)) = o.latency {
            kinds.push((
                "Latency",
                Some(float(t.as_secs_f64())),
                1.0 - share,
                format!("{}% of requests within {t:?}", round(share * 100.0)),
            ));
        }
        for (what, le, budget, objective) in &kinds {
            for (severity, pairs) in [
                ("page", [("1h", "5m", 14.4), ("6h", "30m", 6.0)]),
                ("ticket", [("1d", "2h", 3.0), ("3d", "6h", 1.0)]),
            ] {
                let cond: Vec<String> = pairs
                    .iter()
                    .map(|(long, short, burn)| {
                        let limit = round(burn * budget);
                        format!(
                            "({}{{{select}}} > {limit} and {}{{{select}}} > {limit})",
                            ratio_name(f, le.as_deref(), long),
                            ratio_name(f, le.as_deref(), short),
                        )
                    })
                    .collect();
                let _ = write!(
                    y,
                    "      - alert: {slug}{what}Burn\n\
                     \x20       expr: {cond}\n\
                     \x20       labels:\n          severity: {severity}\n\
                     \x20       annotations:\n\
                     \x20         summary: {summary}\n",
                    cond = cond.join(" or "),
                    summary = quoted(&format!(
                        "{name}: the objective of {objective} burns its budget too fast ({severity})"
                    )),
                );
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_are_read_or_refused_with_the_reason() {
        let o: Objective = "route=/checkout,success=99.9%,latency=250ms@99%"
            .parse()
            .unwrap();
        assert_eq!(o.target, Target::Route("/checkout".into()));
        assert!((o.success.unwrap() - 0.999).abs() < 1e-12);
        assert_eq!(o.latency.unwrap().0, Duration::from_millis(250));
        let err = "route=/x,latency=300ms@99%"
            .parse::<Objective>()
            .unwrap_err();
        assert!(err.to_string().contains("not a bucket bound"), "{err}");
        let err = "success=99%".parse::<Objective>().unwrap_err();
        assert!(err.to_string().contains("name a route="), "{err}");
        let err = "route=/x,success=120%".parse::<Objective>().unwrap_err();
        assert!(err.to_string().contains("between 0 and 100"), "{err}");
        assert_eq!(title("/checkout/{id}"), "CheckoutId");
    }
}
