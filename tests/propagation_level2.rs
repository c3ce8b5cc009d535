//! W3C trace context level 2: the random flag (`0x02`) of an incoming `traceparent`
//! survives the server span, its children and the outgoing request, sampled or not;
//! traces that start here get it (their ids are random); a parent without it gets
//! none invented (level 1 unchanged).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use telemetry::http::{ClientLayer, ServerLayer};
use telemetry::prelude::*;
use telemetry::sampling::Sampler;
use telemetry::testing::InMemorySpans;
use telemetry::Telemetry;
use tower::{Layer as _, ServiceExt as _};
use tracing_subscriber::prelude::*;

const TRACE_ID: &str = "12345678901234567890123456789012";

/// One request through a traced server whose handler calls a traced client (inside a
/// `#[traced]` function), as the conformance harness's test service does; returns the
/// `traceparent` the client sent.
async fn outgoing(sampler: Sampler, incoming: Option<&str>) -> String {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .sampler(sampler)
        .install_globals(false)
        .in_memory(&spans)
        .metrics_exporter(telemetry::export::ExporterKind::None)
        .logs_exporter(telemetry::export::ExporterKind::None)
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    let _default = tracing::dispatcher::set_default(&dispatch);
    let sent = Arc::new(Mutex::new(None::<String>));
    let client = ClientLayer::new().propagators_from(&telemetry);
    let handler = {
        let sent = sent.clone();
        tower::service_fn(move |_req: http::Request<String>| {
            let (sent, client) = (sent.clone(), client.clone());
            async move {
                call_downstream(client, sent).await;
                Ok::<_, Infallible>(http::Response::new(String::new()))
            }
        })
    };
    let mut request = http::Request::builder().uri("/test");
    if let Some(traceparent) = incoming {
        request = request.header("traceparent", traceparent);
    }
    ServerLayer::new()
        .propagators_from(&telemetry)
        .layer(handler)
        .oneshot(request.body(String::new()).unwrap())
        .await
        .unwrap();
    let sent = sent.lock().unwrap().clone();
    sent.expect("the client sent a traceparent")
}

#[traced]
async fn call_downstream(client: ClientLayer, sent: Arc<Mutex<Option<String>>>) {
    let downstream = tower::service_fn(move |req: http::Request<String>| {
        let sent = sent.clone();
        async move {
            *sent.lock().unwrap() = req
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            Ok::<_, Infallible>(http::Response::new(String::new()))
        }
    });
    let request = http::Request::builder()
        .uri("http://127.0.0.1:9/callback")
        .body(String::new())
        .unwrap();
    client.layer(downstream).oneshot(request).await.unwrap();
}

/// (trace id, flags) of a `traceparent`.
fn parts(traceparent: &str) -> (String, String) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "{traceparent}");
    assert_eq!(fields[0], "00", "{traceparent}");
    (fields[1].to_string(), fields[3].to_string())
}

fn default_sampler() -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
}

#[tokio::test]
async fn the_random_flag_of_the_parent_survives_to_the_outgoing_request() {
    let sampled = outgoing(
        default_sampler(),
        Some(&format!("00-{TRACE_ID}-1234567890123456-03")),
    )
    .await;
    assert_eq!(parts(&sampled), (TRACE_ID.to_string(), "03".to_string()));
    // Not sampled: the parent-based sampler drops every span, the flag stays.
    let unsampled = outgoing(
        default_sampler(),
        Some(&format!("00-{TRACE_ID}-1234567890123456-02")),
    )
    .await;
    assert_eq!(parts(&unsampled), (TRACE_ID.to_string(), "02".to_string()));
    // A sampler that ignores the parent and keeps everything.
    let on = outgoing(
        Sampler::AlwaysOn,
        Some(&format!("00-{TRACE_ID}-1234567890123456-02")),
    )
    .await;
    assert_eq!(parts(&on), (TRACE_ID.to_string(), "03".to_string()));
}

#[tokio::test]
async fn a_parent_without_the_random_flag_gets_none_invented() {
    for flags in ["00", "01"] {
        let sent = outgoing(
            default_sampler(),
            Some(&format!("00-{TRACE_ID}-1234567890123456-{flags}")),
        )
        .await;
        assert_eq!(parts(&sent), (TRACE_ID.to_string(), flags.to_string()));
    }
}

#[tokio::test]
async fn traces_started_here_have_the_random_flag() {
    for (sampler, flags) in [
        (default_sampler(), "03"),
        (Sampler::AlwaysOn, "03"),
        (Sampler::AlwaysOff, "02"),
        (Sampler::ParentBased(Box::new(Sampler::AlwaysOff)), "02"),
    ] {
        let name = format!("{sampler:?}");
        let (trace_id, got) = parts(&outgoing(sampler, None).await);
        assert_ne!(trace_id, TRACE_ID);
        assert_eq!(got, flags, "{name}");
    }
    // An invalid incoming traceparent starts a new trace here too.
    let (trace_id, got) = parts(
        &outgoing(
            default_sampler(),
            Some("00-00000000000000000000000000000000-1234567890123456-01"),
        )
        .await,
    );
    assert_ne!(trace_id, "00000000000000000000000000000000");
    assert_eq!(got, "03");
}
