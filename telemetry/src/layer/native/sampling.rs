//! The decisions of the default samplers made without a call through `dyn
//! ShouldSample` ([`Shortcut`]): the same decisions and trace state as the SDK's
//! samplers give (tested), for the samplers that read neither the span's name, kind,
//! attributes nor links.

use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceState};
use opentelemetry::Context;

use crate::sampling::Sampler;

/// How a native span's sampling is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shortcut {
    /// By the configured SDK sampler.
    None,
    /// `always_on`: every span.
    AlwaysOn,
    /// `parentbased_always_on` (the default): the parent's decision, every root.
    ParentOrOn,
}

impl Shortcut {
    /// The shortcut of a configured sampler, if it has one.
    pub(crate) fn of(sampler: &Sampler) -> Shortcut {
        match sampler {
            Sampler::AlwaysOn => Shortcut::AlwaysOn,
            Sampler::ParentBased(root) if **root == Sampler::AlwaysOn => Shortcut::ParentOrOn,
            _ => Shortcut::None,
        }
    }

    /// Whether a span under `parent` (whose valid span context is `of_parent`) is
    /// sampled, and its trace state; `None` when the SDK sampler must decide.
    #[inline]
    pub(super) fn decide(
        self,
        parent: &Context,
        of_parent: Option<&SpanContext>,
    ) -> Option<(bool, TraceState)> {
        let sampled = match self {
            Shortcut::None => return None,
            Shortcut::AlwaysOn => true,
            Shortcut::ParentOrOn => of_parent.is_none_or(SpanContext::is_sampled),
        };
        // As the SDK's samplers give it: the parent span's trace state.
        let state = match of_parent {
            Some(sc) => sc.trace_state().clone(),
            None => parent.span().span_context().trace_state().clone(),
        };
        Some((sampled, state))
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

    #[test]
    fn the_shortcuts_decide_as_the_sdk_samplers_do() {
        for sampler in [
            Sampler::AlwaysOn,
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        ] {
            let shortcut = Shortcut::of(&sampler);
            assert_ne!(shortcut, Shortcut::None, "{sampler:?}");
            let sdk = crate::sampling::sdk_sampler(&sampler);
            for parent in parents() {
                let of_parent =
                    Some(parent.span().span_context().clone()).filter(|sc| sc.is_valid());
                let result = sdk.should_sample(
                    Some(&parent),
                    TraceId::from(9_u128),
                    "name",
                    &SpanKind::Internal,
                    &[],
                    &[],
                );
                let (sampled, state) = shortcut.decide(&parent, of_parent.as_ref()).unwrap();
                assert_eq!(
                    sampled,
                    result.decision == SamplingDecision::RecordAndSample,
                    "{sampler:?} under {:?}",
                    of_parent
                );
                assert_eq!(state, result.trace_state);
                assert!(result.attributes.is_empty());
            }
        }
    }

    #[test]
    fn other_samplers_have_no_shortcut() {
        for sampler in [
            Sampler::AlwaysOff,
            Sampler::TraceIdRatio(0.5),
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.5))),
            Sampler::RateLimited { per_second: 5.0 },
        ] {
            assert_eq!(Shortcut::of(&sampler), Shortcut::None, "{sampler:?}");
            assert!(Shortcut::of(&sampler)
                .decide(&Context::new(), None)
                .is_none());
        }
    }
}
