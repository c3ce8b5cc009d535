//! The decisions of this crate's samplers made without a call through `dyn
//! ShouldSample` ([`Shortcut`]): the same decisions and trace state as the SDK's
//! samplers give (tested), for every sampler that reads nothing but the parent and the
//! trace id: `always_on`, `always_off`, `traceidratio`, and parent-based ones made of
//! them. (`RateLimited` keeps state of its own, so it is always called.)

use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceId, TraceState};
use opentelemetry::Context;

use crate::sampling::{ParentBranches, Sampler};

/// How a native span's sampling is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shortcut {
    /// By the configured SDK sampler.
    None,
    /// Whatever the parent.
    Always(Leaf),
    /// By the parent's decision: a sampler for each case, as the SDK's
    /// `ParentBasedSampler` (a parent whose span context is not valid is no parent).
    ParentBased {
        root: Leaf,
        remote_sampled: Leaf,
        remote_not_sampled: Leaf,
        local_sampled: Leaf,
        local_not_sampled: Leaf,
    },
}

/// A sampler that reads nothing but the trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    On,
    Off,
    /// `traceidratio`: a trace is sampled when the low 64 bits of its id, shifted right
    /// by one, are below this bound (the SDK's rule, with the bound it works out from
    /// the ratio).
    Below(u64),
}

impl Leaf {
    fn of(sampler: &Sampler) -> Option<Leaf> {
        match sampler {
            Sampler::AlwaysOn => Some(Leaf::On),
            Sampler::AlwaysOff => Some(Leaf::Off),
            // The SDK samples every trace from a ratio of 1 up (and, as here, none for a
            // ratio that is NaN or below 0).
            Sampler::TraceIdRatio(ratio) if *ratio >= 1.0 => Some(Leaf::On),
            Sampler::TraceIdRatio(ratio) => {
                Some(Leaf::Below((ratio.max(0.0) * (1_u64 << 63) as f64) as u64))
            }
            _ => None,
        }
    }

    #[inline]
    fn samples(self, trace_id: TraceId) -> bool {
        match self {
            Leaf::On => true,
            Leaf::Off => false,
            Leaf::Below(bound) => {
                let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
                (low >> 1) < bound
            }
        }
    }
}

impl Shortcut {
    /// The shortcut of a configured sampler, if it has one.
    pub(crate) fn of(sampler: &Sampler) -> Shortcut {
        let shortcut = match sampler {
            // The specification's defaults for the four parent cases, as the SDK has them.
            Sampler::ParentBased(root) => Self::branches(&ParentBranches::new((**root).clone())),
            Sampler::ParentBasedBranches(b) => Self::branches(b),
            other => Leaf::of(other).map(Shortcut::Always),
        };
        shortcut.unwrap_or(Shortcut::None)
    }

    /// A parent-based sampler's shortcut, when each of its five samplers is a leaf.
    fn branches(b: &ParentBranches) -> Option<Shortcut> {
        Some(Shortcut::ParentBased {
            root: Leaf::of(&b.root)?,
            remote_sampled: Leaf::of(&b.remote_parent_sampled)?,
            remote_not_sampled: Leaf::of(&b.remote_parent_not_sampled)?,
            local_sampled: Leaf::of(&b.local_parent_sampled)?,
            local_not_sampled: Leaf::of(&b.local_parent_not_sampled)?,
        })
    }

    /// Whether a span of `trace_id` under `parent` (whose valid span context is
    /// `of_parent`) is sampled, and its trace state; `None` when the SDK sampler must
    /// decide.
    #[inline]
    pub(super) fn decide(
        &self,
        parent: &Context,
        of_parent: Option<&SpanContext>,
        trace_id: TraceId,
    ) -> Option<(bool, TraceState)> {
        let leaf = match (self, of_parent) {
            (Shortcut::None, _) => return None,
            (Shortcut::Always(leaf), _) => *leaf,
            (Shortcut::ParentBased { root, .. }, None) => *root,
            (
                Shortcut::ParentBased {
                    remote_sampled,
                    remote_not_sampled,
                    local_sampled,
                    local_not_sampled,
                    ..
                },
                Some(sc),
            ) => match (sc.is_remote(), sc.is_sampled()) {
                (true, true) => *remote_sampled,
                (true, false) => *remote_not_sampled,
                (false, true) => *local_sampled,
                (false, false) => *local_not_sampled,
            },
        };
        // As the SDK's samplers give it: the parent span's trace state.
        let state = match of_parent {
            Some(sc) => sc.trace_state().clone(),
            None => parent.span().span_context().trace_state().clone(),
        };
        Some((leaf.samples(trace_id), state))
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, SpanKind, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::trace::SamplingDecision;

    use super::*;

    /// Parents of every kind: none, local and remote, sampled and not, with a trace
    /// state.
    fn parents() -> Vec<Context> {
        let state = TraceState::from_key_value([("k", "v")]).unwrap();
        let mut parents = vec![Context::new()];
        for remote in [false, true] {
            for flags in [TraceFlags::SAMPLED, TraceFlags::default()] {
                let sc = SpanContext::new(
                    TraceId::from(5_u128),
                    SpanId::from(6_u64),
                    flags,
                    remote,
                    state.clone(),
                );
                parents.push(Context::new().with_remote_span_context(sc));
            }
        }
        parents
    }

    /// Trace ids on both sides of every ratio's bound, and a spread of others.
    fn trace_ids() -> Vec<TraceId> {
        let mut lows = vec![
            0,
            1,
            u64::MAX,
            1 << 63,
            (1 << 63) - 1,
            1 << 62,
            (1 << 62) - 1,
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            lows.push(x);
        }
        let mut ids = Vec::new();
        for (i, low) in lows.into_iter().enumerate() {
            let high = (i as u128) << 64;
            ids.push(TraceId::from(high | u128::from(low)));
        }
        ids
    }

    /// Samplers of every shape the shortcut covers.
    fn covered() -> Vec<Sampler> {
        let mut leaves = vec![Sampler::AlwaysOn, Sampler::AlwaysOff];
        for ratio in [0.1, 0.5, 0.25, 1e-9, 0.999_999, 1.0, 2.0, -1.0, f64::NAN] {
            leaves.push(Sampler::TraceIdRatio(ratio));
        }
        let mut samplers = leaves.clone();
        samplers.extend(
            leaves
                .iter()
                .map(|l| Sampler::ParentBased(Box::new(l.clone()))),
        );
        samplers.push(Sampler::ParentBasedBranches(Box::new(
            crate::sampling::ParentBranches {
                root: Sampler::TraceIdRatio(0.25),
                remote_parent_sampled: Sampler::AlwaysOff,
                remote_parent_not_sampled: Sampler::AlwaysOn,
                local_parent_sampled: Sampler::TraceIdRatio(0.5),
                local_parent_not_sampled: Sampler::TraceIdRatio(0.75),
            },
        )));
        samplers
    }

    #[test]
    fn the_shortcuts_decide_as_the_sdk_samplers_do() {
        let ids = trace_ids();
        for sampler in covered() {
            let shortcut = Shortcut::of(&sampler);
            assert_ne!(shortcut, Shortcut::None, "{sampler:?}");
            let sdk = crate::sampling::sdk_sampler(&sampler);
            let parents = parents();
            let mut sampled_count = 0;
            for parent in &parents {
                let of_parent =
                    Some(parent.span().span_context().clone()).filter(|sc| sc.is_valid());
                for &trace_id in &ids {
                    let result = sdk.should_sample(
                        Some(parent),
                        trace_id,
                        "name",
                        &SpanKind::Internal,
                        &[],
                        &[],
                    );
                    let (sampled, state) = shortcut
                        .decide(parent, of_parent.as_ref(), trace_id)
                        .unwrap();
                    assert_eq!(
                        sampled,
                        result.decision == SamplingDecision::RecordAndSample,
                        "{sampler:?} for {trace_id} under {of_parent:?}",
                    );
                    assert_ne!(result.decision, SamplingDecision::RecordOnly);
                    assert_eq!(state, result.trace_state);
                    assert!(result.attributes.is_empty());
                    sampled_count += usize::from(sampled);
                }
            }
            // A ratio strictly between 0 and 1 both samples and drops among these ids.
            if let Sampler::TraceIdRatio(r) = sampler {
                if r > 1e-6 && r < 0.99 {
                    assert!(
                        sampled_count > 0 && sampled_count < ids.len() * parents.len(),
                        "{r}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_ratio_bound_is_the_sdks() {
        // Ratio 0.5: trace ids whose low 64 bits are below 2^63.
        let shortcut = Shortcut::of(&Sampler::TraceIdRatio(0.5));
        let decide = |low: u64| {
            shortcut
                .decide(&Context::new(), None, TraceId::from(u128::from(low)))
                .unwrap()
                .0
        };
        assert!(decide((1 << 63) - 1));
        assert!(!decide(1 << 63));
        assert!(decide(0));
        assert!(!decide(u64::MAX));
    }

    #[test]
    fn other_samplers_have_no_shortcut() {
        let limited = || Sampler::RateLimited { per_second: 5.0 };
        for sampler in [
            limited(),
            Sampler::ParentBased(Box::new(limited())),
            Sampler::ParentBased(Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))),
            Sampler::ParentBasedBranches(Box::new(crate::sampling::ParentBranches {
                root: Sampler::AlwaysOn,
                remote_parent_sampled: Sampler::AlwaysOn,
                remote_parent_not_sampled: Sampler::AlwaysOff,
                local_parent_sampled: limited(),
                local_parent_not_sampled: Sampler::AlwaysOff,
            })),
        ] {
            assert_eq!(Shortcut::of(&sampler), Shortcut::None, "{sampler:?}");
            assert!(Shortcut::of(&sampler)
                .decide(&Context::new(), None, TraceId::from(1_u128))
                .is_none());
        }
    }
}
