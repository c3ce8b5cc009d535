//! Samplers: the mapping from [`Sampler`] settings to the SDK's samplers,
//! and [`RateLimitingSampler`], a token bucket of N traces per second.
//!
//! Every sampler here decides once per span, when the span starts:
//!
//! | setting | `OTEL_TRACES_SAMPLER` | decision |
//! |---|---|---|
//! | `AlwaysOn` | `always_on` | record and sample |
//! | `AlwaysOff` | `always_off` | drop |
//! | `TraceIdRatio(r)` | `traceidratio` | sample when the low 63 bits of the trace id are below `r·2^63`: deterministic, so every service samples the same traces and a higher ratio samples a superset of a lower one |
//! | `RateLimited { per_second }` | `ratelimited` | sample while the token bucket has a token |
//! | `ParentBased(root)` | `parentbased_*` | no (valid) parent: `root`; remote or local parent: the parent's sampled flag |
//!
//! A dropped span still gets ids (children and outgoing requests carry the trace), is
//! never exported, and its duration still counts in the RED metrics.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    ParentBasedSampler, Sampler as SdkSampler, SamplingDecision, SamplingResult, ShouldSample,
};

use crate::error::ConfigError;

/// `OTEL_TRACES_SAMPLER`: the sampler's name.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// `OTEL_TRACES_SAMPLER_ARG`: the ratio of the `traceidratio` samplers.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";

/// How root spans are sampled; see the OpenTelemetry trace SDK specification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Sampler {
    /// Record and sample every span.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample a fixed ratio of traces, decided deterministically from the trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; use the inner sampler for root spans.
    ParentBased(Box<Sampler>),
    /// Sample at most `per_second` spans per second (a token bucket with bursts of
    /// `max(per_second, 1)`). As the root of [`ParentBased`](Sampler::ParentBased) it
    /// limits traces per second. Env: `ratelimited` / `parentbased_ratelimited` with
    /// `OTEL_TRACES_SAMPLER_ARG` = traces per second (default 1). See
    /// [`RateLimitingSampler`].
    RateLimited {
        /// Spans (or, parent-based, traces) per second; positive.
        per_second: f64,
    },
    /// Follow the parent's decision with a sampler of its own for each kind of parent:
    /// the configuration file's `parent_based` with its five branches.
    /// [`ParentBased`](Sampler::ParentBased) is this with the specification's
    /// defaults for the four parent cases.
    ParentBasedBranches(Box<ParentBranches>),
}

/// The five samplers of a parent-based sampler, one per case: no parent, a remote or
/// local parent that is sampled or not.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentBranches {
    /// No (valid) parent. Default: always on.
    pub root: Sampler,
    /// A remote parent that is sampled. Default: always on.
    pub remote_parent_sampled: Sampler,
    /// A remote parent that is not sampled. Default: always off.
    pub remote_parent_not_sampled: Sampler,
    /// A local parent that is sampled. Default: always on.
    pub local_parent_sampled: Sampler,
    /// A local parent that is not sampled. Default: always off.
    pub local_parent_not_sampled: Sampler,
}

impl ParentBranches {
    /// The specification's defaults around `root`.
    pub fn new(root: Sampler) -> ParentBranches {
        ParentBranches {
            root,
            remote_parent_sampled: Sampler::AlwaysOn,
            remote_parent_not_sampled: Sampler::AlwaysOff,
            local_parent_sampled: Sampler::AlwaysOn,
            local_parent_not_sampled: Sampler::AlwaysOff,
        }
    }

    /// The simplest equal sampler: [`Sampler::ParentBased`] when the four parent
    /// cases keep their defaults.
    pub(crate) fn simplest(self) -> Sampler {
        let root = self.root.clone();
        if self == ParentBranches::new(root.clone()) {
            Sampler::ParentBased(Box::new(root))
        } else {
            Sampler::ParentBasedBranches(Box::new(self))
        }
    }
}

impl Sampler {
    /// Checks a sampler set in code (a ratio in 0..=1, a positive rate).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Sampler::TraceIdRatio(r) if !(0.0..=1.0).contains(r) => {
                Err(ConfigError::InvalidSetting {
                    setting: "sampler ratio",
                    value: r.to_string(),
                    expected: "a number between 0 and 1".into(),
                })
            }
            Sampler::ParentBased(inner) => inner.validate(),
            Sampler::ParentBasedBranches(b) => {
                b.root.validate()?;
                b.remote_parent_sampled.validate()?;
                b.remote_parent_not_sampled.validate()?;
                b.local_parent_sampled.validate()?;
                b.local_parent_not_sampled.validate()
            }
            Sampler::RateLimited { per_second } => check_rate(*per_second),
            _ => Ok(()),
        }
    }
}

impl Default for Sampler {
    /// `parentbased_always_on`, the specification's default.
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

pub(crate) mod clock;

use clock::{lock, Clock, SystemClock};

/// One token in bucket units: the bucket counts in 10^-15 tokens so that refilling
/// `elapsed_ns · per_second` is exact integer arithmetic (see [`Bucket::refill_per_ns`]).
const UNITS_PER_TOKEN: u128 = 1_000_000_000_000_000;

/// Samples at most `per_second` spans per second, with bursts of up to
/// `max(per_second, 1)` spans: a token bucket that starts full and refills continuously.
///
/// Used as the root sampler of [`Sampler::ParentBased`] (the
/// `parentbased_ratelimited` setting), it limits **traces** per second: only root spans
/// ask it, children follow their parent. Used alone (`ratelimited`) it limits every span,
/// so children of a sampled span may be dropped; prefer the parent-based form.
///
/// The count is exact under any concurrency: decisions take a short lock, and over any
/// interval `[t0, t1]` at most `burst + (t1 - t0)·per_second` spans are sampled (the rate
/// is kept to a millionth of a trace per second).
///
/// Clones share one bucket.
///
/// # Examples
///
/// ```
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use telemetry::otel::sdk::trace::{SamplingDecision, ShouldSample as _};
/// use telemetry::sampling::RateLimitingSampler;
///
/// let sampler = RateLimitingSampler::new(2.0)?;
/// let decide = || {
///     sampler
///         .should_sample(None, TraceId::from(7), "GET /", &SpanKind::Server, &[], &[])
///         .decision
/// };
/// assert_eq!(decide(), SamplingDecision::RecordAndSample);
/// assert_eq!(decide(), SamplingDecision::RecordAndSample);
/// assert_eq!(decide(), SamplingDecision::Drop); // the burst of 2 is spent for 500 ms
///
/// // Or from the configuration: at most 2 traces per second.
/// let telemetry = telemetry::Telemetry::builder()
///     .sampler(telemetry::sampling::Sampler::ParentBased(Box::new(
///         telemetry::sampling::Sampler::RateLimited { per_second: 2.0 },
///     )))
///     .build()?;
/// # Ok::<(), telemetry::Error>(())
/// ```
#[derive(Clone)]
pub struct RateLimitingSampler {
    bucket: Arc<Bucket>,
}

struct Bucket {
    per_second: f64,
    /// Units added per elapsed nanosecond: `per_second · 10^6` (10^15 units per token,
    /// 10^9 ns per second).
    refill_per_ns: u128,
    capacity: u128,
    clock: Box<dyn Clock>,
    state: Mutex<BucketState>,
}

struct BucketState {
    units: u128,
    last: Instant,
}

impl fmt::Debug for RateLimitingSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitingSampler")
            .field("per_second", &self.bucket.per_second)
            .field("clock", &self.bucket.clock)
            .finish()
    }
}

impl RateLimitingSampler {
    /// A limiter of `per_second` spans per second on the system clock.
    ///
    /// # Errors
    /// [`ConfigError::InvalidSetting`] when `per_second` is not a positive, finite number.
    pub fn new(per_second: f64) -> Result<RateLimitingSampler, ConfigError> {
        check_rate(per_second)?;
        Ok(RateLimitingSampler::build(
            per_second,
            Box::new(SystemClock),
        ))
    }

    /// A limiter on the given clock (a [`ManualClock`](crate::testing::ManualClock) in
    /// tests; feature `testing`).
    ///
    /// # Errors
    /// [`ConfigError::InvalidSetting`] when `per_second` is not a positive, finite number.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn with_clock(
        per_second: f64,
        clock: impl Clock + 'static,
    ) -> Result<RateLimitingSampler, ConfigError> {
        check_rate(per_second)?;
        Ok(RateLimitingSampler::build(per_second, Box::new(clock)))
    }

    /// The configured rate.
    pub fn per_second(&self) -> f64 {
        self.bucket.per_second
    }

    fn build(per_second: f64, clock: Box<dyn Clock>) -> RateLimitingSampler {
        // `check_rate` bounds `per_second`, so the product fits (and `as` saturates).
        let refill_per_ns = ((per_second * 1e6).round() as u128).max(1);
        let burst_tokens = per_second.max(1.0);
        let capacity = ((burst_tokens * 1e6).round() as u128).saturating_mul(1_000_000_000);
        let now = clock.now();
        RateLimitingSampler {
            bucket: Arc::new(Bucket {
                per_second,
                refill_per_ns,
                capacity,
                clock,
                state: Mutex::new(BucketState {
                    units: capacity,
                    last: now,
                }),
            }),
        }
    }

    /// Takes a token if one is there.
    fn try_acquire(&self) -> bool {
        let b = &*self.bucket;
        let mut state = lock(&b.state);
        // Read the clock under the lock, so instants are seen in order.
        let now = b.clock.now();
        let elapsed = now.saturating_duration_since(state.last).as_nanos();
        if elapsed > 0 {
            state.units = state
                .units
                .saturating_add(elapsed.saturating_mul(b.refill_per_ns))
                .min(b.capacity);
            state.last = now;
        }
        if state.units >= UNITS_PER_TOKEN {
            state.units -= UNITS_PER_TOKEN;
            true
        } else {
            false
        }
    }
}

/// The largest rate accepted: far above any real trace rate, and small enough for the
/// bucket's fixed-point arithmetic.
const MAX_RATE: f64 = 1e12;

pub(crate) fn check_rate(per_second: f64) -> Result<(), ConfigError> {
    if per_second.is_finite() && per_second > 0.0 && per_second <= MAX_RATE {
        Ok(())
    } else {
        Err(ConfigError::InvalidSetting {
            setting: "sampler rate",
            value: per_second.to_string(),
            expected: "a positive number of traces per second (at most 10^12)".into(),
        })
    }
}

impl ShouldSample for RateLimitingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let decision = if self.try_acquire() {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        };
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: parent_trace_state(parent_context),
        }
    }
}

fn parent_trace_state(parent: Option<&Context>) -> TraceState {
    match parent {
        Some(cx) if cx.has_active_span() => cx.span().span_context().trace_state().clone(),
        _ => TraceState::default(),
    }
}

/// The SDK sampler for a [`Sampler`] setting. `ParentBased` maps to the SDK's
/// [`ParentBasedSampler`], which follows the specification: a parent context that is
/// not valid counts as no parent (the root sampler decides), and the four parent cases
/// keep their defaults (remote/local sampled: sample; not sampled: drop).
///
/// A rate outside the accepted range (which `build()` rejects before getting here) falls
/// back to the nearest accepted value rather than failing.
pub(crate) fn sdk_sampler(s: &Sampler) -> Box<dyn ShouldSample> {
    match s {
        Sampler::AlwaysOn => Box::new(SdkSampler::AlwaysOn),
        Sampler::AlwaysOff => Box::new(SdkSampler::AlwaysOff),
        Sampler::TraceIdRatio(r) => Box::new(SdkSampler::TraceIdRatioBased(*r)),
        Sampler::RateLimited { per_second } => {
            let rate = if per_second.is_nan() {
                1.0
            } else {
                per_second.clamp(1e-6, MAX_RATE)
            };
            Box::new(RateLimitingSampler::build(rate, Box::new(SystemClock)))
        }
        Sampler::ParentBased(root) => Box::new(ParentBasedSampler::new(sdk_sampler(root))),
        Sampler::ParentBasedBranches(b) => Box::new(
            ParentBasedSampler::new(sdk_sampler(&b.root))
                .with_remote_parent_sampled(sdk_sampler(&b.remote_parent_sampled))
                .with_remote_parent_not_sampled(sdk_sampler(&b.remote_parent_not_sampled))
                .with_local_parent_sampled(sdk_sampler(&b.local_parent_sampled))
                .with_local_parent_not_sampled(sdk_sampler(&b.local_parent_not_sampled)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};
    use std::time::Duration;

    #[derive(Debug, Clone)]
    struct TestClock(Arc<Mutex<Instant>>);

    impl TestClock {
        fn new() -> TestClock {
            TestClock(Arc::new(Mutex::new(Instant::now())))
        }
        fn advance(&self, d: Duration) {
            *self.0.lock().unwrap() += d;
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn decide(s: &dyn ShouldSample, parent: Option<&Context>, id: u128) -> SamplingDecision {
        s.should_sample(
            parent,
            TraceId::from(id),
            "span",
            &SpanKind::Internal,
            &[],
            &[],
        )
        .decision
    }

    fn sampled(n: usize, s: &dyn ShouldSample) -> usize {
        (0..n)
            .filter(|_| decide(s, None, 1) == SamplingDecision::RecordAndSample)
            .count()
    }

    #[test]
    fn bucket_starts_full_and_refills_exactly() {
        let clock = TestClock::new();
        let s = RateLimitingSampler::with_clock(10.0, clock.clone()).unwrap();
        assert_eq!(sampled(100, &s), 10);
        clock.advance(Duration::from_millis(99));
        assert_eq!(sampled(100, &s), 0, "0.99 of a token");
        clock.advance(Duration::from_millis(1));
        assert_eq!(sampled(100, &s), 1);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(sampled(100, &s), 10, "the burst is capped");
    }

    #[test]
    fn fractional_rates_allow_one_at_a_time() {
        let clock = TestClock::new();
        let s = RateLimitingSampler::with_clock(0.5, clock.clone()).unwrap();
        assert_eq!(sampled(10, &s), 1);
        clock.advance(Duration::from_millis(1999));
        assert_eq!(sampled(10, &s), 0);
        clock.advance(Duration::from_millis(1));
        assert_eq!(sampled(10, &s), 1);
    }

    #[test]
    fn a_clock_going_backwards_adds_nothing() {
        let clock = TestClock::new();
        let s = RateLimitingSampler::with_clock(1.0, clock.clone()).unwrap();
        clock.advance(Duration::from_secs(5));
        assert_eq!(sampled(5, &s), 1);
        *clock.0.lock().unwrap() -= Duration::from_secs(10);
        assert_eq!(sampled(5, &s), 0);
    }

    #[test]
    fn rates_are_validated() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e13] {
            let err = RateLimitingSampler::new(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("sampler rate = "),
                "{bad}: {err}"
            );
        }
        assert_eq!(RateLimitingSampler::new(2.5).unwrap().per_second(), 2.5);
    }

    #[test]
    fn parent_based_mapping_treats_an_invalid_parent_as_none() {
        let s = sdk_sampler(&Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let invalid = Context::new().with_remote_span_context(SpanContext::empty_context());
        assert_eq!(
            decide(&*s, Some(&invalid), 1),
            SamplingDecision::RecordAndSample
        );
        let unsampled = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(1),
            SpanId::from(1),
            TraceFlags::default(),
            true,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        ));
        assert_eq!(decide(&*s, Some(&unsampled), 1), SamplingDecision::Drop);
    }

    #[test]
    fn rate_limited_keeps_the_parent_trace_state() {
        let s = sdk_sampler(&Sampler::RateLimited { per_second: 1.0 });
        let state = TraceState::from_key_value([("vendor", "x")]).unwrap();
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(1),
            SpanId::from(1),
            TraceFlags::SAMPLED,
            true,
            state.clone(),
        ));
        let r = s.should_sample(
            Some(&parent),
            TraceId::from(1),
            "x",
            &SpanKind::Internal,
            &[],
            &[],
        );
        assert_eq!(r.trace_state, state);
    }
}
