//! `#[track_errors]`'s piece: classifying the return value as a success or an error
//! (the counter, the span's status and exception event, and the duration's
//! `outcome` all follow this one classification).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens as _};
use syn::spanned::Spanned as _;

use crate::args::Mode;
use crate::plan::Ctx;

/// An expression of type `__macro_support::Outcome` for `__telemetry_ret: &R`.
pub(crate) fn classify(ctx: &Ctx<'_>) -> TokenStream {
    let krate = ctx.krate;
    let ret = &ctx.locals.ret;
    let plan = ctx.plan;
    if !(plan.marks_span() || plan.track.is_some() || plan.measure.is_some()) {
        return quote!(#krate::__macro_support::Outcome::Ok);
    }
    let err = plan.traced.as_ref().and_then(|t| t.err.as_ref());
    let base = match err {
        // `#[traced(err)]` says how to format the error, and requires a `Result`.
        Some(err) => {
            let as_result = ctx.as_result(err);
            let make = match err.mode {
                Mode::Default | Mode::Display => quote!(display),
                Mode::Debug => quote!(debug),
            };
            quote_spanned! {err.key.span()=>
                match #as_result {
                    ::core::result::Result::Ok(_) => #krate::__macro_support::Outcome::Ok,
                    ::core::result::Result::Err(__telemetry_error) => {
                        #krate::__macro_support::Outcome::#make(__telemetry_error)
                    }
                }
            }
        }
        // Otherwise any return type works: an `Err` is an error, described with its
        // `Display` (else `Debug`, else its type only); other types are successes.
        None => quote! {{
            #[allow(unused_imports)]
            use #krate::__macro_support::{
                ProbeAny as _, ProbeDebug as _, ProbeDisplay as _, ProbeResult as _,
            };
            (&&&&#krate::__macro_support::Probe(#ret)).__telemetry_outcome()
        }},
    };
    let track = plan.track.as_ref();
    if let Some(ok_if) = track.and_then(|t| t.ok_if.as_ref()) {
        let test = ask(ctx, ok_if);
        quote! {
            if #test {
                #krate::__macro_support::Outcome::Ok
            } else {
                (#base).or_other()
            }
        }
    } else if let Some(error_if) = track.and_then(|t| t.error_if.as_ref()) {
        let test = ask(ctx, error_if);
        quote! {
            if #test {
                (#base).or_other()
            } else {
                #krate::__macro_support::Outcome::Ok
            }
        }
    } else {
        base
    }
}

/// `classifier(__telemetry_ret)`. When the return type is written out plainly, the
/// classifier is first bound as `fn(&ReturnType) -> bool`, so a classifier of the wrong
/// type is reported at the classifier, in the user's terms; otherwise (references,
/// `impl Trait`, inferred types) through `holds`, which lets closures go unannotated.
fn ask(ctx: &Ctx<'_>, classifier: &syn::Expr) -> TokenStream {
    let krate = ctx.krate;
    let ret = &ctx.locals.ret;
    let plain = ctx
        .output
        .as_ref()
        .and_then(Option::as_ref)
        .filter(|ty| writable_as_is(ty.to_token_stream()));
    match plain {
        Some(ty) => {
            let bound = quote_spanned!(classifier.span()=>
                let __telemetry_classifier: fn(&#ty) -> bool = #classifier;
            );
            quote! {{
                #bound
                __telemetry_classifier(#ret)
            }}
        }
        None => {
            quote_spanned!(classifier.span()=> #krate::__macro_support::holds(#classifier, #ret))
        }
    }
}

/// Whether a type can be written again as is inside the body: no reference or lifetime
/// (their elision would mean something else there), no `impl Trait`, no `_`.
fn writable_as_is(tokens: TokenStream) -> bool {
    tokens.into_iter().all(|tree| match tree {
        proc_macro2::TokenTree::Punct(p) => !matches!(p.as_char(), '&' | '\''),
        proc_macro2::TokenTree::Ident(i) => i != "impl" && i != "_",
        proc_macro2::TokenTree::Group(g) => writable_as_is(g.stream()),
        proc_macro2::TokenTree::Literal(_) => true,
    })
}
