//! The three encodings: spans, metric collections and log records, each batch turned
//! into its OTLP export request (grouped by resource and scope), split in halves when
//! too large, and the partial success of its response read. Also the conversion of
//! our log records to OTLP's.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as ProtoLogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::ScopeSpans;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;

use super::Encoding;
use crate::export::transport::Delivered;
use crate::export::Span;

/// Splits a two-level OTLP request (resources, then scopes, then items) into two
/// halves by items, each keeping its resource and scope.
macro_rules! halve {
    ($request:expr, $resources:ident, $scopes:ident, $items:ident) => {{
        let mut request = $request;
        let total: usize = request
            .$resources
            .iter()
            .flat_map(|r| &r.$scopes)
            .map(|s| s.$items.len())
            .sum();
        if total < 2 {
            return Err(request);
        }
        let half = total / 2;
        let mut left = half;
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for mut resource in std::mem::take(&mut request.$resources) {
            let scopes = std::mem::take(&mut resource.$scopes);
            let mut head = resource.clone();
            let mut tail = resource;
            for mut scope in scopes {
                if left == 0 {
                    tail.$scopes.push(scope);
                } else if scope.$items.len() <= left {
                    left -= scope.$items.len();
                    head.$scopes.push(scope);
                } else {
                    let rest = scope.$items.split_off(left);
                    left = 0;
                    let mut rest_scope = scope.clone();
                    rest_scope.$items.clear();
                    rest_scope.$items = rest;
                    head.$scopes.push(scope);
                    tail.$scopes.push(rest_scope);
                }
            }
            if !head.$scopes.is_empty() {
                first.push(head);
            }
            if !tail.$scopes.is_empty() {
                second.push(tail);
            }
        }
        let mut a = request.clone();
        a.$resources = first;
        request.$resources = second;
        Ok([(a, half as u64), (request, (total - half) as u64)])
    }};
}

/// A partial success as OTLP reports it for spans and logs: the items rejected (never
/// resent) and the collector's message, either possibly absent.
fn partial_success(rejected: i64, message: &str) -> Delivered {
    Delivered {
        rejected: u64::try_from(rejected).unwrap_or(0),
        message: (!message.is_empty()).then(|| message.to_string()),
    }
}

/// Spans.
pub(crate) struct Traces;

impl Encoding for Traces {
    type Item = Span;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;

    /// The SDK's spans through its own transform; native spans straight from their
    /// recordings (which go back to the spares when the batch is dropped), under their
    /// scope.
    fn request(items: Vec<Span>, resource: &ResourceAttributesWithSchema) -> Self::Request {
        let mut sdk = Vec::new();
        // Native spans by scope (in practice one: every native span of a `Telemetry`
        // has the same).
        let mut native: Vec<(opentelemetry::InstrumentationScope, ScopeSpans)> = Vec::new();
        for item in items {
            let mut ended = match item {
                Span::Sdk(data) => {
                    sdk.push(data);
                    continue;
                }
                Span::Native(ended) => ended,
            };
            let span = ended.take_proto();
            let scope = ended.scope().cloned().unwrap_or_default();
            match native.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, spans)) => spans.spans.push(span),
                None => {
                    let spans = ScopeSpans {
                        scope: Some((&scope, None).into()),
                        schema_url: scope.schema_url().unwrap_or_default().to_owned(),
                        spans: vec![span],
                    };
                    native.push((scope, spans));
                }
            }
        }
        let mut resource_spans =
            opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
                sdk, resource,
            );
        if let Some(resource) = resource_spans.first_mut() {
            for (_, spans) in native {
                match resource
                    .scope_spans
                    .iter_mut()
                    .find(|s| s.scope == spans.scope && s.schema_url == spans.schema_url)
                {
                    Some(s) => s.spans.extend(spans.spans),
                    None => resource.scope_spans.push(spans),
                }
            }
        }
        ExportTraceServiceRequest { resource_spans }
    }

    fn halve(request: Self::Request) -> Result<[(Self::Request, u64); 2], Self::Request> {
        halve!(request, resource_spans, scope_spans, spans)
    }

    fn partial(response: &ExportTraceServiceResponse) -> Delivered {
        response
            .partial_success
            .as_ref()
            .map(|p| partial_success(p.rejected_spans, &p.error_message))
            .unwrap_or_default()
    }
}

/// Metric collections (one request per collection; several are merged).
pub(crate) struct Metrics;

impl Encoding for Metrics {
    type Item = ExportMetricsServiceRequest;
    const GRPC_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;

    fn request(
        items: Vec<ExportMetricsServiceRequest>,
        _resource: &ResourceAttributesWithSchema,
    ) -> Self::Request {
        ExportMetricsServiceRequest {
            resource_metrics: items.into_iter().flat_map(|r| r.resource_metrics).collect(),
        }
    }

    /// A collection is one item: its data points are not split across requests.
    fn halve(request: Self::Request) -> Result<[(Self::Request, u64); 2], Self::Request> {
        Err(request)
    }

    fn partial(response: &ExportMetricsServiceResponse) -> Delivered {
        // Accounting counts collections, not data points: rejected points are
        // reported, not subtracted.
        match &response.partial_success {
            Some(p) if p.rejected_data_points > 0 || !p.error_message.is_empty() => Delivered {
                rejected: 0,
                message: Some(format!(
                    "{} data point(s) rejected: {}",
                    p.rejected_data_points, p.error_message
                )),
            },
            _ => Delivered::default(),
        }
    }
}

/// Log records.
pub(crate) struct Logs;

impl Encoding for Logs {
    type Item = crate::logs::PooledLog;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;

    fn halve(request: Self::Request) -> Result<[(Self::Request, u64); 2], Self::Request> {
        halve!(request, resource_logs, scope_logs, log_records)
    }

    fn request(
        items: Vec<crate::logs::PooledLog>,
        resource: &ResourceAttributesWithSchema,
    ) -> Self::Request {
        let mut scopes: Vec<ScopeLogs> = Vec::new();
        for r in items {
            let proto = log_to_proto(&r);
            let target = r.target();
            match scopes
                .iter_mut()
                .find(|s| s.scope.as_ref().is_some_and(|sc| sc.name == target))
            {
                Some(scope) => scope.log_records.push(proto),
                None => scopes.push(ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: target.to_string(),
                        ..Default::default()
                    }),
                    log_records: vec![proto],
                    schema_url: String::new(),
                }),
            }
        }
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(ProtoResource {
                    attributes: resource.attributes.0.clone(),
                    ..Default::default()
                }),
                scope_logs: scopes,
                schema_url: resource.schema_url.clone().unwrap_or_default(),
            }],
        }
    }

    fn partial(response: &ExportLogsServiceResponse) -> Delivered {
        response
            .partial_success
            .as_ref()
            .map(|p| partial_success(p.rejected_log_records, &p.error_message))
            .unwrap_or_default()
    }
}

fn any_string(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

/// One of our log records as OTLP's: fields become attributes, the call site
/// `code.*` attributes, the span context its trace and span ids.
pub(crate) fn log_to_proto(r: &crate::logs::LogRecord) -> ProtoLogRecord {
    use crate::fields::FieldValue;
    let nanos = r
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let (severity_number, severity_text) = crate::logs::severity(r.level());
    let mut attributes: Vec<KeyValue> = r
        .fields()
        .iter()
        .map(|(k, v)| KeyValue {
            key: (*k).to_string(),
            value: Some(AnyValue {
                value: Some(match v {
                    FieldValue::Str(s) => any_value::Value::StringValue(s.clone()),
                    FieldValue::I64(i) => any_value::Value::IntValue(*i),
                    FieldValue::U64(u) => match crate::fields::signed_or_text(*u) {
                        Ok(i) => any_value::Value::IntValue(i),
                        Err(text) => any_value::Value::StringValue(text),
                    },
                    FieldValue::F64(f) => any_value::Value::DoubleValue(*f),
                    FieldValue::Bool(b) => any_value::Value::BoolValue(*b),
                }),
            }),
            ..Default::default()
        })
        .collect();
    if let Some(file) = r.file() {
        attributes.push(KeyValue {
            key: "code.file.path".into(),
            value: Some(any_string(file.to_string())),
            ..Default::default()
        });
    }
    if let Some(line) = r.line() {
        attributes.push(KeyValue {
            key: "code.line.number".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(i64::from(line))),
            }),
            ..Default::default()
        });
    }
    ProtoLogRecord {
        time_unix_nano: nanos,
        observed_time_unix_nano: nanos,
        severity_number,
        severity_text: severity_text.to_string(),
        body: Some(any_string(r.message().to_string())),
        attributes,
        dropped_attributes_count: 0,
        flags: u32::from(r.sampled),
        trace_id: r
            .trace_id
            .map(|t| t.to_bytes().to_vec())
            .unwrap_or_default(),
        span_id: r.span_id.map(|s| s.to_bytes().to_vec()).unwrap_or_default(),
        event_name: String::new(),
    }
}
