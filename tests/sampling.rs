//! Sampling: trace-id ratio statistics and the subset property, the five parent-based
//! cases through real spans, the rate limiter exact on a manual clock (also under
//! concurrency), and the samplers chosen from `OTEL_TRACES_SAMPLER`.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::Context;
use telemetry::export::ExporterKind;
use telemetry::otel::sdk::trace::{SamplingDecision, ShouldSample as _};
use telemetry::sampling::{RateLimitingSampler, Sampler};
use telemetry::testing::InMemorySpans;
use telemetry::testing::ManualClock;
use telemetry::{OpenTelemetrySpanExt as _, Telemetry};
use tracing_subscriber::prelude::*;

/// splitmix64: reproducible "random" trace ids without a dependency.
struct Ids(u64);

impl Iterator for Ids {
    type Item = TraceId;
    fn next(&mut self) -> Option<TraceId> {
        let mut next = || {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let (hi, lo) = (next(), next());
        Some(TraceId::from((u128::from(hi) << 64) | u128::from(lo)))
    }
}

/// Whether the configured sampler samples a span of trace `id`: the span gets a remote
/// parent carrying `id` (the ratio sampler ignores the parent's decision).
struct Decider {
    _telemetry: Telemetry,
    tracer: opentelemetry_sdk::trace::Tracer,
}

impl Decider {
    fn new(sampler: Sampler) -> Decider {
        let telemetry = Telemetry::builder()
            .sampler(sampler)
            .traces_exporter(ExporterKind::None)
            .build()
            .unwrap();
        let tracer = telemetry.tracer_provider().unwrap().tracer("sampling-test");
        Decider {
            _telemetry: telemetry,
            tracer,
        }
    }

    fn sampled(&self, id: TraceId) -> bool {
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            id,
            SpanId::from(1),
            TraceFlags::default(),
            true,
            TraceState::default(),
        ));
        let span = self.tracer.start_with_context("s", &parent);
        opentelemetry::trace::Span::span_context(&span).is_sampled()
    }
}

#[test]
fn trace_id_ratio_samples_its_share_of_100_000_ids() {
    const N: usize = 100_000;
    for ratio in [0.01, 0.1, 0.25, 0.5, 0.9] {
        let d = Decider::new(Sampler::TraceIdRatio(ratio));
        let got = Ids(ratio.to_bits())
            .take(N)
            .filter(|id| d.sampled(*id))
            .count();
        // Binomial standard deviation; 5 sigma fails once in ~3.5 million runs.
        let sigma = (N as f64 * ratio * (1.0 - ratio)).sqrt();
        let expected = N as f64 * ratio;
        assert!(
            (got as f64 - expected).abs() < 5.0 * sigma,
            "ratio {ratio}: {got} sampled of {N}, expected {expected} ± {}",
            5.0 * sigma
        );
    }
}

#[test]
fn ratio_extremes_and_the_subset_property() {
    const N: usize = 20_000;
    let none = Decider::new(Sampler::TraceIdRatio(0.0));
    let all = Decider::new(Sampler::TraceIdRatio(1.0));
    let low = Decider::new(Sampler::TraceIdRatio(0.1));
    let high = Decider::new(Sampler::TraceIdRatio(0.5));
    let (mut in_low, mut in_high) = (0, 0);
    for id in Ids(42).take(N) {
        assert!(!none.sampled(id));
        assert!(all.sampled(id));
        let (l, h) = (low.sampled(id), high.sampled(id));
        assert!(!l || h, "{id} is sampled at 0.1 but not at 0.5");
        assert_eq!(l, low.sampled(id), "deterministic");
        in_low += usize::from(l);
        in_high += usize::from(h);
    }
    assert!(in_low > 0 && in_high > in_low);
    // The boundary the specification describes: the low 63 bits against ratio·2^63.
    let half = Decider::new(Sampler::TraceIdRatio(0.5));
    assert!(half.sampled(TraceId::from(0x3fff_ffff_ffff_ffff_u128 << 1)));
    assert!(!half.sampled(TraceId::from(0x4000_0000_0000_0000_u128 << 1)));
}

/// Runs one parent-based case: a span under `parent` (remote, or a local span that is
/// itself under `parent`), and reports whether the innermost span was exported.
fn parent_based_case(root: Sampler, parent: Option<(bool, bool)>) -> bool {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .sampler(Sampler::ParentBased(Box::new(root)))
        .in_memory(&spans)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || match parent {
        None => tracing::info_span!("subject").in_scope(|| {}),
        Some((remote, sampled)) => {
            let flags = if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            };
            let cx = Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from(0xabc),
                SpanId::from(0xdef),
                flags,
                true,
                TraceState::default(),
            ));
            if remote {
                let subject = tracing::info_span!("subject");
                subject.set_parent(cx).unwrap();
                subject.in_scope(|| {});
            } else {
                // A local parent that inherited the decision of the remote one.
                let local = tracing::info_span!("local parent");
                local.set_parent(cx).unwrap();
                local.in_scope(|| tracing::info_span!("subject").in_scope(|| {}));
            }
        }
    });
    spans.span("subject").is_some()
}

#[test]
fn parent_based_follows_all_five_cases() {
    use Sampler::{AlwaysOff, AlwaysOn};
    // (case, root sampler, parent (remote?, sampled?), exported?)
    type Case = (&'static str, Sampler, Option<(bool, bool)>, bool);
    let table: &[Case] = &[
        ("no parent, root on", AlwaysOn, None, true),
        ("no parent, root off", AlwaysOff, None, false),
        (
            "remote sampled, root off",
            AlwaysOff,
            Some((true, true)),
            true,
        ),
        (
            "remote not sampled, root on",
            AlwaysOn,
            Some((true, false)),
            false,
        ),
        (
            "local sampled, root off",
            AlwaysOff,
            Some((false, true)),
            true,
        ),
        (
            "local not sampled, root on",
            AlwaysOn,
            Some((false, false)),
            false,
        ),
        (
            "no parent, ratio 0",
            Sampler::TraceIdRatio(0.0),
            None,
            false,
        ),
        (
            "remote sampled, ratio 0",
            Sampler::TraceIdRatio(0.0),
            Some((true, true)),
            true,
        ),
        (
            "remote not sampled, rate limited",
            Sampler::RateLimited { per_second: 100.0 },
            Some((true, false)),
            false,
        ),
    ];
    for (case, root, parent, exported) in table {
        assert_eq!(
            parent_based_case(root.clone(), *parent),
            *exported,
            "{case}"
        );
    }
}

fn decide(s: &RateLimitingSampler) -> bool {
    s.should_sample(None, TraceId::from(1), "root", &SpanKind::Server, &[], &[])
        .decision
        == SamplingDecision::RecordAndSample
}

#[test]
fn rate_limiter_is_exact_on_a_manual_clock() {
    let clock = ManualClock::new();
    let s = RateLimitingSampler::with_clock(5.0, clock.clone()).unwrap();
    let burst: Vec<bool> = (0..8).map(|_| decide(&s)).collect();
    assert_eq!(burst, [true, true, true, true, true, false, false, false]);
    // One token every 200 ms.
    clock.advance(Duration::from_millis(199));
    assert!(!decide(&s));
    clock.advance(Duration::from_millis(1));
    assert!(decide(&s));
    assert!(!decide(&s));
    // 1.1 s later: 5.5 tokens, capped at the burst of 5.
    clock.advance(Duration::from_millis(1100));
    assert_eq!((0..10).filter(|_| decide(&s)).count(), 5);
    // Half a token, then the other half: exactly one.
    clock.advance(Duration::from_millis(100));
    assert!(!decide(&s));
    clock.advance(Duration::from_millis(100));
    assert!(decide(&s));
}

#[test]
fn rate_limiter_is_exact_under_concurrency() {
    let clock = ManualClock::new();
    let s = Arc::new(RateLimitingSampler::with_clock(100.0, clock.clone()).unwrap());
    let run = |s: &Arc<RateLimitingSampler>| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = Arc::clone(s);
                std::thread::spawn(move || (0..2_000).filter(|_| decide(&s)).count())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum::<usize>()
    };
    assert_eq!(run(&s), 100, "the initial burst, exactly");
    clock.advance(Duration::from_millis(250));
    assert_eq!(run(&s), 25, "a quarter of a second later");
    // Clones share the bucket.
    let clone = (*s).clone();
    clock.advance(Duration::from_millis(10));
    assert!(decide(&clone));
    assert!(!decide(&s));
}

#[test]
fn parent_based_rate_limit_counts_traces_not_spans() {
    let spans = InMemorySpans::default();
    let telemetry = Telemetry::builder()
        .vars([
            ("OTEL_TRACES_SAMPLER", "parentbased_ratelimited"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .in_memory(&spans)
        .build()
        .unwrap();
    assert_eq!(
        telemetry.config().sampler(),
        &Sampler::ParentBased(Box::new(Sampler::RateLimited { per_second: 2.0 }))
    );
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..20 {
            tracing::info_span!("root").in_scope(|| {
                for _ in 0..3 {
                    tracing::info_span!("child").in_scope(|| {});
                }
            });
        }
    });
    let roots = spans.spans().iter().filter(|s| s.name == "root").count();
    let children = spans.spans().iter().filter(|s| s.name == "child").count();
    // Two tokens at start; a third only if the loop took over 500 ms.
    assert!((2..=3).contains(&roots), "{roots} roots sampled");
    assert_eq!(children, roots * 3, "children follow their sampled root");
}

#[test]
fn samplers_from_the_environment() {
    let cases: &[(&str, &str, Sampler)] = &[
        ("always_on", "", Sampler::AlwaysOn),
        ("always_off", "", Sampler::AlwaysOff),
        ("traceidratio", "0.3", Sampler::TraceIdRatio(0.3)),
        (
            "parentbased_traceidratio",
            "0.3",
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.3))),
        ),
        (
            "parentbased_always_off",
            "",
            Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        ),
        (
            "ratelimited",
            "50",
            Sampler::RateLimited { per_second: 50.0 },
        ),
        (
            "parentbased_ratelimited",
            "50",
            Sampler::ParentBased(Box::new(Sampler::RateLimited { per_second: 50.0 })),
        ),
    ];
    for (name, arg, expected) in cases {
        let telemetry = Telemetry::from_env()
            .vars([
                ("OTEL_TRACES_SAMPLER", *name),
                ("OTEL_TRACES_SAMPLER_ARG", *arg),
            ])
            .traces_exporter(ExporterKind::None)
            .build()
            .unwrap();
        assert_eq!(telemetry.config().sampler(), expected, "{name}");
    }
    let err = Telemetry::from_env()
        .vars([
            ("OTEL_TRACES_SAMPLER", "ratelimited"),
            ("OTEL_TRACES_SAMPLER_ARG", "fast"),
        ])
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "OTEL_TRACES_SAMPLER_ARG=\"fast\" is not a positive number of traces per second"
        ),
        "{err}"
    );
    let err = Telemetry::builder()
        .sampler(Sampler::RateLimited { per_second: -1.0 })
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sampler rate = \"-1\" is not accepted: expected a positive number of traces per second \
         (at most 10^12)"
    );
}
