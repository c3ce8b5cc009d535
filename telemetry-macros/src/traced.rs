//! `#[traced]`'s pieces: the span (name, kind, code attributes, arguments, fields,
//! parent, follows-from) and the `ret` / `err(level = ..)` events.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::args::{EventArgs, LevelKind, Mode};
use crate::plan::Ctx;

/// Field names the expansion sets itself; a user field of the same name wins.
const OTEL_NAME: &str = "otel.name";
const OTEL_KIND: &str = "otel.kind";
const CODE_FUNCTION_NAME: &str = "code.function.name";

/// `let __telemetry_span = span!(..);` plus its follows-from links, or `None` without
/// `#[traced]`.
pub(crate) fn span(ctx: &Ctx<'_>) -> Option<TokenStream> {
    let traced = ctx.plan.traced.as_ref()?;
    let krate = ctx.krate;
    let site = &ctx.site;
    let s = &ctx.locals.span;
    let user_fields = traced.fields.as_deref().unwrap_or_default();
    let user_names: Vec<String> = user_fields.iter().map(|f| f.name_string()).collect();
    let user_has = |name: &str| user_names.iter().any(|n| n == name);

    let mut fields: Vec<TokenStream> = Vec::new();
    if traced.name.is_none() && !user_has(OTEL_NAME) {
        // `Type::method` in impl blocks; `None` (nothing recorded) for free functions,
        // whose span name is already right.
        fields.push(quote!(otel.name = #site.otel_name()));
    }
    if let Some(kind) = &traced.kind {
        if !user_has(OTEL_KIND) {
            let lit = &kind.lit;
            fields.push(quote!(otel.kind = #lit));
        }
    }
    if !user_has(CODE_FUNCTION_NAME) {
        fields.push(quote!(code.function.name = #site.path()));
    }
    if traced.skip_all.is_none() {
        let skipped = traced
            .skip
            .as_ref()
            .map(|s| s.names.as_slice())
            .unwrap_or_default();
        for arg in &ctx.args {
            let ident = &arg.ident;
            let name = ident.to_string();
            if skipped.iter().any(|s| *s == name) || user_has(&name) {
                continue;
            }
            // Spanned at the argument: "doesn't implement `Debug`" points at it.
            if arg.as_value {
                fields.push(quote_spanned!(ident.span()=> #ident = #ident));
            } else {
                fields.push(quote_spanned! {ident.span()=>
                    #ident = #krate::__macro_support::tracing::field::debug(&#ident)
                });
            }
        }
    }
    for f in user_fields {
        fields.push(quote!(#f));
    }

    let level = level_tokens(ctx, traced.level.as_ref().map(|l| l.kind), LevelKind::Info);
    let target = traced.target.as_ref().map(|t| quote!(target: #t,));
    let parent = traced.parent.as_ref().map(|p| quote!(parent: #p,));
    let (name, _) = ctx.span_name();
    // `file!()` and `line!()` in `span!` give `code.file.path` and `code.line.number`:
    // the attribute's line, as with `#[instrument]`.
    let make = quote! {
        #krate::__macro_support::tracing::span!(#target #parent #level, #name, #(#fields),*)
    };
    let follows = traced.follows_from.as_ref().map(|causes| {
        quote! {
            if !#s.is_disabled() {
                for __telemetry_cause in #causes {
                    #s.follows_from(__telemetry_cause);
                }
            }
        }
    });
    Some(quote! {
        let #s = #make;
        #follows
    })
}

fn level_tokens(ctx: &Ctx<'_>, given: Option<LevelKind>, default: LevelKind) -> TokenStream {
    given.unwrap_or(default).tokens(ctx.krate)
}

fn sigil(mode: Mode, default_display: bool) -> TokenStream {
    match (mode, default_display) {
        (Mode::Display, _) | (Mode::Default, true) => quote!(%),
        (Mode::Debug, _) | (Mode::Default, false) => quote!(?),
    }
}

/// `ret`: an event with the return value (the `Ok` value with `err`), at the span's
/// level unless given. `err(level = ..)`: a log event for the error, which is asked
/// for and so not an exception (the one exception event is recorded by the runtime).
pub(crate) fn return_events(ctx: &Ctx<'_>) -> TokenStream {
    let Some(traced) = ctx.plan.traced.as_ref() else {
        return TokenStream::new();
    };
    let krate = ctx.krate;
    let ret = &ctx.locals.ret;
    let target = ctx.target();
    let span_level = traced.level.as_ref().map(|l| l.kind);
    let mut out = TokenStream::new();
    if let Some(EventArgs { key, mode, level }) = &traced.ret {
        let level = level_tokens(
            ctx,
            level.as_ref().map(|l| l.kind).or(span_level),
            LevelKind::Info,
        );
        let sigil = sigil(*mode, false);
        if let Some(err) = &traced.err {
            let as_result = ctx.as_result(err);
            out.extend(quote_spanned! {key.span()=>
                if let ::core::result::Result::Ok(__telemetry_value) = #as_result {
                    #krate::__macro_support::tracing::event!(target: #target, #level, return = #sigil __telemetry_value);
                }
            });
        } else {
            out.extend(quote_spanned! {key.span()=>
                #krate::__macro_support::tracing::event!(target: #target, #level, return = #sigil #ret);
            });
        }
    }
    if let Some(err) = &traced.err {
        if let Some(level) = &err.level {
            let level = level.kind.tokens(krate);
            let sigil = sigil(err.mode, true);
            let as_result = ctx.as_result(err);
            let site = &ctx.site;
            out.extend(quote_spanned! {err.key.span()=>
                if let ::core::result::Result::Err(__telemetry_error) = #as_result {
                    #krate::__macro_support::tracing::event!(
                        target: #target,
                        #level,
                        error = #sigil __telemetry_error,
                        "{} returned an error",
                        #site.name()
                    );
                }
            });
        }
    }
    out
}
