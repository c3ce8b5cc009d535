//! Hints for `OTEL_*` names this crate does not read but that are one edit away from
//! one it does.

use super::*;

/// Every `OTEL_*` variable this crate reads.
fn known_vars() -> Vec<&'static str> {
    let mut known = vec![
        OTEL_SDK_DISABLED,
        OTEL_SERVICE_NAME,
        OTEL_RESOURCE_ATTRIBUTES,
        OTEL_PROPAGATORS,
        OTEL_TRACES_SAMPLER,
        OTEL_TRACES_SAMPLER_ARG,
        OTEL_TRACES_EXPORTER,
        OTEL_METRICS_EXPORTER,
        OTEL_LOGS_EXPORTER,
        OTEL_METRIC_EXPORT_INTERVAL,
        OTEL_METRIC_EXPORT_TIMEOUT,
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
        OTEL_ATTRIBUTE_COUNT_LIMIT,
        OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
        OTEL_SPAN_EVENT_COUNT_LIMIT,
        OTEL_SPAN_LINK_COUNT_LIMIT,
        OTEL_EXPORTER_PROMETHEUS_HOST,
        OTEL_EXPORTER_PROMETHEUS_PORT,
    ];
    known.extend(BatchVars::TRACES.all());
    known.extend(BatchVars::LOGS.all());
    for signal in [
        None,
        Some(Signal::Traces),
        Some(Signal::Metrics),
        Some(Signal::Logs),
    ] {
        let v = OtlpVars::of(signal);
        known.extend([
            v.endpoint,
            v.protocol,
            v.headers,
            v.timeout,
            v.compression,
            v.insecure,
            v.certificate,
            v.client_certificate,
            v.client_key,
        ]);
    }
    known
}

/// For each `OTEL_*` name in `names` that this crate does not read but that is one
/// edit (a letter added, dropped, changed, or two swapped) away from one it does, a
/// line asking whether that one was meant.
pub(crate) fn misspelt_variables<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let known = known_vars();
    names
        .into_iter()
        .filter(|n| n.starts_with("OTEL_") && !known.contains(n))
        .filter_map(|n| {
            let near = known.iter().find(|k| one_edit_apart(n, k))?;
            Some(format!(
                "{n} is not a variable this crate reads; did you mean {near}?"
            ))
        })
        .collect()
}

/// Whether `a` becomes `b` by one insertion, deletion, substitution or swap of two
/// neighbouring characters.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match ra.len().cmp(&rb.len()) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
    }
}
