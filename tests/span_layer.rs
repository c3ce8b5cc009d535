//! The layer turns `tracing` spans into OpenTelemetry spans: trees, fields, `otel.*`
//! fields, events, errors; it composes with other layers and filters; the
//! tracing-opentelemetry extension trait works through it; disabled, it records nothing.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
use telemetry::testing::InMemorySpans;
use telemetry::{OpenTelemetrySpanExt as _, Telemetry};
use tracing_subscriber::prelude::*;

fn capture() -> (Telemetry, InMemorySpans) {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .service_name("span-layer-test")
        .in_memory(&spans)
        .build()
        .unwrap();
    (telemetry, spans)
}

#[test]
fn a_request_renders_as_one_tree() {
    let (telemetry, spans) = capture();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        let _root =
            tracing::info_span!("checkout", otel.kind = "server", order.id = 7_i64).entered();
        tracing::info!(items = 3_i64, "cart loaded");
        tracing::info_span!("reserve", sku = "A-1").in_scope(|| {
            tracing::debug_span!("db.query", db.operation.name = "UPDATE").in_scope(|| {});
        });
        let charge = tracing::info_span!(
            "charge",
            otel.kind = "client",
            amount = tracing::field::Empty
        );
        charge.record("amount", 12.5);
        charge.in_scope(|| {
            let e = std::io::Error::other("card declined");
            tracing::error!(error = &e as &dyn std::error::Error, "payment failed");
        });
    });
    insta::assert_snapshot!(spans.render(), @r#"
    trace
    └─ checkout [server]  order.id=7
       ├• INFO cart loaded  items=3
       ├─ reserve  sku=A-1
       │  └─ db.query  db.operation.name=UPDATE
       └─ charge [client] ERROR  amount=12.5 exception.message="card declined"
          └• ERROR payment failed  error="card declined" exception.message="card declined"
    "#);
}

#[test]
fn otel_fields_set_name_kind_and_status() {
    let (telemetry, spans) = capture();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!(
            "static_name",
            otel.name = "GET /users/{id}",
            otel.kind = "producer",
            otel.status_code = "ERROR",
            otel.status_description = "upstream failed"
        )
        .in_scope(|| {});
        tracing::info_span!("fine", otel.status_code = "OK").in_scope(|| {});
    });
    let s = spans.span("GET /users/{id}").expect("renamed span");
    assert_eq!(s.span_kind, SpanKind::Producer);
    assert_eq!(s.status, Status::error("upstream failed"));
    assert_eq!(spans.span("fine").unwrap().status, Status::Ok);
}

#[test]
fn spans_carry_code_location() {
    let (telemetry, spans) = capture();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("located").in_scope(|| {})
    });
    let s = spans.span("located").unwrap();
    let keys: Vec<&str> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert!(keys.contains(&"code.file.path"), "{keys:?}");
    assert!(keys.contains(&"code.line.number"), "{keys:?}");
    assert!(
        !keys.contains(&"code.filepath"),
        "deprecated keys are not used"
    );
}

#[test]
fn extension_trait_sets_parent_links_and_reads_context() {
    let (telemetry, spans) = capture();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    );
    let remote = telemetry.propagators().extract(&headers);
    tracing::subscriber::with_default(subscriber, || {
        let other = tracing::info_span!("other");
        let other_cx = other.context().span().span_context().clone();
        assert!(
            other_cx.is_valid(),
            "context() reads the OpenTelemetry span"
        );
        drop(other);
        let server = tracing::info_span!("server");
        server.set_parent(remote).unwrap();
        server.add_link(other_cx.clone());
        server.in_scope(|| {});
    });
    let server = spans.span("server").unwrap();
    assert_eq!(
        server.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(server.parent_span_is_remote);
    assert_eq!(server.links.len(), 1);
}

#[test]
fn composes_with_other_layers_and_per_layer_filters() {
    let (telemetry, spans) = capture();
    let other = InMemoryCount::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            telemetry
                .layer()
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .with(other.clone());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("kept").in_scope(|| {});
        tracing::debug_span!("filtered").in_scope(|| {});
    });
    assert!(spans.span("kept").is_some());
    assert!(
        spans.span("filtered").is_none(),
        "the per-layer filter applies to us"
    );
    assert_eq!(other.count(), 2, "and not to the other layer");
}

#[test]
fn disabled_records_nothing_but_propagation_still_works() {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .vars([("OTEL_SDK_DISABLED", "true")])
        .in_memory(&spans)
        .build()
        .unwrap();
    assert!(!telemetry.config().enabled());
    let layer = telemetry.layer();
    assert!(!layer.is_enabled());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("invisible").in_scope(|| {})
    });
    assert!(spans.spans().is_empty());

    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    );
    let cx = telemetry.propagators().extract(&headers);
    assert!(cx.span().span_context().is_valid());
    let mut out = HashMap::new();
    telemetry.propagators().inject_context(&cx, &mut out);
    assert_eq!(
        out.get("traceparent").map(String::as_str),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
}

#[test]
fn disabled_telemetry_leaves_other_layers_untouched() {
    let telemetry = Telemetry::builder().enabled(false).build().unwrap();
    let other = InMemoryCount::default();
    // Either order: the disabled layer filters only itself.
    let subscriber = tracing_subscriber::registry()
        .with(telemetry.layer())
        .with(other.clone());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("seen.by.the.other.layer").in_scope(|| {});
    });
    let subscriber = tracing_subscriber::registry()
        .with(other.clone())
        .with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("seen.again").in_scope(|| {});
    });
    assert_eq!(other.count(), 2);
}

#[test]
fn enabled_false_in_code_beats_the_environment() {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .vars([("OTEL_SDK_DISABLED", "false")])
        .enabled(false)
        .in_memory(&spans)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || tracing::info_span!("x").in_scope(|| {}));
    assert!(spans.spans().is_empty());
}

#[test]
fn bad_values_are_errors_that_name_them() {
    let err = Telemetry::builder()
        .sampler(telemetry::sampling::Sampler::TraceIdRatio(2.0))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sampler ratio = \"2\" is not accepted: expected a number between 0 and 1"
    );
    let err = Telemetry::builder()
        .endpoint("collector:4318/v1")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("endpoint = \"collector:4318/v1\""),
        "{err}"
    );
    let err = Telemetry::builder()
        .header("bad header", "x")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("header name = \"bad header\""),
        "{err}"
    );
    let err = Telemetry::builder()
        .vars([
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_BSP_SCHEDULE_DELAY", "-1"),
        ])
        .build();
    assert!(err.is_ok(), "builder() with vars() is lossy: {err:?}");
    let err = Telemetry::from_env()
        .vars([
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_BSP_SCHEDULE_DELAY", "-1"),
        ])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "2 invalid environment variables: OTEL_TRACES_EXPORTER=\"zipkin\" is not one of otlp, console, none; \
         OTEL_BSP_SCHEDULE_DELAY=\"-1\" is not a non-negative integer of milliseconds"
    );
    // A bad variable whose setting is made in code does not matter.
    assert!(Telemetry::from_env()
        .vars([("OTEL_TRACES_SAMPLER", "sometimes")])
        .sampler(telemetry::sampling::Sampler::AlwaysOn)
        .traces_exporter(telemetry::export::ExporterKind::None)
        .build()
        .is_ok());
}

/// A second layer that counts the spans it sees.
#[derive(Clone, Default)]
struct InMemoryCount(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl InMemoryCount {
    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for InMemoryCount {
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A span event as (name, sorted attributes), its timestamp aside.
type EventView = (String, Vec<(String, String)>);

/// Every span's events, by span name.
fn events_by_span(
    spans: &[opentelemetry_sdk::trace::SpanData],
) -> std::collections::BTreeMap<String, Vec<EventView>> {
    spans
        .iter()
        .map(|s| {
            let events = s
                .events
                .iter()
                .map(|e| {
                    let mut attrs: Vec<(String, String)> = e
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), format!("{:?}", kv.value)))
                        .collect();
                    attrs.sort();
                    (e.name.to_string(), attrs)
                })
                .collect();
            (s.name.to_string(), events)
        })
        .collect()
}

/// Events of every shape the layer may record itself: in the entered span, nested, with
/// no message, with a `Debug` field, after a context attached by hand, with an explicit
/// parent, on another thread, errors.
fn span_event_scenario(dispatch: &tracing::Dispatch) {
    let root = tracing::info_span!("root");
    let _root = root.enter();
    tracing::info!(n = 1, s = "x", f = 1.5, b = true, "plain");
    tracing::info!(list = ?vec![1, 2], "debug field");
    tracing::info!(answer = 42);
    tracing::info_span!("child").in_scope(|| {
        tracing::warn!(k = "v", "in child");
        tracing::info!(parent: &root, "explicit parent");
        let elsewhere = opentelemetry::Context::new().with_remote_span_context(
            opentelemetry::trace::SpanContext::new(
                opentelemetry::trace::TraceId::from(7),
                opentelemetry::trace::SpanId::from(9),
                opentelemetry::trace::TraceFlags::SAMPLED,
                true,
                Default::default(),
            ),
        );
        let _attached = elsewhere.attach();
        tracing::info!("after a context attached by hand");
    });
    let on_thread = root.clone();
    let dispatch = dispatch.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            let _entered = on_thread.enter();
            tracing::info!("other thread");
        })
    })
    .join()
    .unwrap();
    let e = std::io::Error::other("card declined");
    tracing::info!(cause = &e as &dyn std::error::Error, "retrying");
    tracing::error!(error = &e as &dyn std::error::Error, "payment failed");
    tracing::info!(error = "soft", "error field");
}

#[test]
fn span_events_match_tracing_opentelemetry() {
    use opentelemetry::trace::TracerProvider as _;

    let (telemetry, ours) = capture();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    tracing::dispatcher::with_default(&dispatch, || span_event_scenario(&dispatch));

    let theirs = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(theirs.clone())
        .build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("baseline"))),
    );
    tracing::dispatcher::with_default(&dispatch, || span_event_scenario(&dispatch));

    let ours = events_by_span(&ours.spans());
    let theirs = events_by_span(&theirs.get_finished_spans().unwrap());
    assert_eq!(ours["root"].len(), 8, "{ours:#?}");
    assert_eq!(ours["child"].len(), 2, "{ours:#?}");
    assert_eq!(ours, theirs);
}

/// Unsigned integers in span events stay integers (tracing-opentelemetry writes them as
/// strings).
#[test]
fn unsigned_event_fields_stay_integers() {
    let (telemetry, spans) = capture();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("s").in_scope(|| {
            tracing::info!(small = 7_u64, big = u64::MAX, "sizes");
        })
    });
    let s = spans.span("s").unwrap();
    let event = &s.events[0];
    let value = |k: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(event.name, "sizes");
    assert_eq!(value("small"), Some(opentelemetry::Value::I64(7)));
    assert_eq!(
        value("big"),
        Some(opentelemetry::Value::String(u64::MAX.to_string().into()))
    );
}
