//! OpenTelemetry's rules for Prometheus names, units and labels, shared by the
//! `/metrics` exposition and Prometheus remote write.

/// OpenTelemetry's rules for Prometheus names: invalid characters become `_`, repeated
/// `_` collapse, a leading digit gets a `_` in front.
pub(crate) fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

pub(crate) fn label_name(key: &str) -> String {
    let mut s = sanitize(key).replace(':', "_");
    if s.starts_with("__") {
        s = s.trim_start_matches('_').to_string();
        s.insert(0, '_');
    }
    if s.is_empty() {
        s.push('_');
    }
    s
}

/// The unit's Prometheus suffix: `s` → `seconds`, `By` → `bytes`, `{…}` → none.
pub(crate) fn unit_suffix(unit: &str) -> Option<&'static str> {
    match unit {
        "s" => Some("seconds"),
        "ms" => Some("milliseconds"),
        "us" => Some("microseconds"),
        "ns" => Some("nanoseconds"),
        "min" => Some("minutes"),
        "h" => Some("hours"),
        "By" => Some("bytes"),
        "KBy" => Some("kilobytes"),
        "MBy" => Some("megabytes"),
        "%" => Some("percent"),
        "1" => None,
        _ => None,
    }
}

pub(crate) fn metric_name(name: &str, unit: &str, gauge_ratio: bool) -> String {
    let mut n = sanitize(name);
    if let Some(suffix) = unit_suffix(unit) {
        if !n.ends_with(suffix) {
            n.push('_');
            n.push_str(suffix);
        }
    } else if unit == "1" && gauge_ratio && !n.ends_with("_ratio") {
        n.push_str("_ratio");
    }
    n
}

/// A sample value as Prometheus writes it (`+Inf`, `-Inf`, `NaN`).
pub(crate) fn float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}
