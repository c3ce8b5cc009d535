//! `#[measure_performance]`'s piece: the slow-call warning. (The clock and the
//! duration histogram live in the runtime's `__macro_support::Call`, shared by all three
//! attributes, so stacking them reads the clock once at each end.)

use proc_macro2::TokenStream;
use quote::quote;

use crate::plan::Ctx;

/// `warn!` with the duration when `slow_ms` is set and the call took longer.
pub(crate) fn slow_warning(ctx: &Ctx<'_>) -> TokenStream {
    let Some(slow_ms) = ctx.plan.measure.as_ref().and_then(|m| m.slow_ms) else {
        return TokenStream::new();
    };
    let krate = ctx.krate;
    let site = &ctx.site;
    let slow = &ctx.locals.slow;
    let target = ctx.target();
    quote! {
        if let ::core::option::Option::Some(__telemetry_elapsed) = #slow {
            let __telemetry_ms = __telemetry_elapsed.as_secs_f64() * 1000.0;
            #krate::__macro_support::tracing::event!(
                target: #target,
                #krate::__macro_support::tracing::Level::WARN,
                duration_ms = __telemetry_ms,
                slow_ms = #slow_ms,
                "slow call: {} took {:.1} ms (threshold {} ms)",
                #site.name(),
                __telemetry_ms,
                #slow_ms
            );
        }
    }
}
