//! What the transports share for words and values: the reason of a failed request,
//! and the plain values of OTLP's attributes and number points (StatsD and remote
//! write both read them).

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::metrics::v1::{number_data_point, NumberDataPoint};

/// The most useful words of an error chain: the innermost I/O error's kind (e.g.
/// `connection refused`), or its message when its kind says nothing (`other`), or
/// else the whole chain.
pub(crate) fn reason_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain = Vec::new();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::Other => io.to_string(),
                kind => kind.to_string(),
            };
        }
        chain.push(s.to_string());
        source = s.source();
    }
    chain.join(": ")
}

/// An attribute's value as text (empty for arrays, maps and bytes).
pub(crate) fn any_text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

/// A number point's value as `f64`, if it has one.
pub(crate) fn point_value(p: &NumberDataPoint) -> Option<f64> {
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => Some(d),
        Some(number_data_point::Value::AsInt(i)) => Some(i as f64),
        None => None,
    }
}
