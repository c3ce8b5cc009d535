//! The driver: tells a function from other items, gathers the [`Plan`] of every
//! stacked attribute of ours, validates it against the function, and composes the
//! pieces (the span from `traced.rs`, the classification from `track_errors.rs`, the
//! slow-call warning from `measure.rs`, the clock and records in the runtime's
//! `__macro_support::Call`) into one body for each shape of function.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned as _;
use syn::{Attribute, Block, Expr, ExprAsync, ItemFn, Stmt, Type};

use crate::args::{Errors, MacroKind};
use crate::func::{
    arguments, async_block_of, body_output, erase_impl_trait, fake_return, has_receiver,
    not_a_result, shape, Shape,
};
use crate::plan::{Ctx, Plan};

/// What the attribute was put on.
enum Input {
    Fn(ItemFn),
    /// A trait method without a body.
    Declaration(syn::TraitItemFn),
    Other(syn::Item),
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let fork = input.fork();
        if fork.parse::<ItemFn>().is_ok() && fork.is_empty() {
            return input.parse().map(Input::Fn);
        }
        let fork = input.fork();
        if let Ok(f) = fork.parse::<syn::TraitItemFn>() {
            if fork.is_empty() && f.default.is_none() {
                return input.parse().map(Input::Declaration);
            }
        }
        input.parse().map(Input::Other)
    }
}

/// What the item is and where to point, for "applies to functions, not to a struct".
fn describe(item: &syn::Item) -> (&'static str, TokenStream) {
    use syn::Item as I;
    fn two(a: &impl ToTokens, b: &impl ToTokens) -> TokenStream {
        let mut t = a.to_token_stream();
        b.to_tokens(&mut t);
        t
    }
    match item {
        I::Struct(i) => ("a struct", two(&i.struct_token, &i.ident)),
        I::Enum(i) => ("an enum", two(&i.enum_token, &i.ident)),
        I::Union(i) => ("a union", two(&i.union_token, &i.ident)),
        I::Trait(i) => ("a trait", two(&i.trait_token, &i.ident)),
        I::Impl(i) => ("an impl block", i.impl_token.to_token_stream()),
        I::Mod(i) => ("a module", two(&i.mod_token, &i.ident)),
        I::Const(i) => ("a constant", two(&i.const_token, &i.ident)),
        I::Static(i) => ("a static", two(&i.static_token, &i.ident)),
        I::Type(i) => ("a type alias", two(&i.type_token, &i.ident)),
        I::Use(i) => ("a `use` declaration", i.use_token.to_token_stream()),
        I::Macro(i) => ("a macro invocation", i.mac.path.to_token_stream()),
        I::ForeignMod(i) => ("an extern block", i.abi.to_token_stream()),
        other => ("this item", other.to_token_stream()),
    }
}

/// Entry point shared by the three attributes.
pub(crate) fn entry(kind: MacroKind, args: TokenStream, item: TokenStream) -> TokenStream {
    let input = match syn::parse2::<Input>(item.clone()) {
        Ok(input) => input,
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(item);
            return out;
        }
    };
    match input {
        Input::Fn(mut func) => {
            let collected = Plan::collect(kind, args, &mut func.attrs);
            match collected.and_then(|plan| expand(plan, &func)) {
                Ok(tokens) => tokens,
                Err(e) => {
                    // The item as written, less our attributes (their mistakes are all in
                    // `e` already), so the rest of the program still type-checks.
                    let mut out = e.to_compile_error();
                    out.extend(func.into_token_stream());
                    out
                }
            }
        }
        Input::Declaration(decl) => {
            let mut out = syn::Error::new_spanned(
                &decl.sig,
                format_args!(
                    "`#[{}]` needs a function body; put it on the implementations of `{}`",
                    kind.name(),
                    decl.sig.ident
                ),
            )
            .to_compile_error();
            out.extend(decl.into_token_stream());
            out
        }
        Input::Other(other) => {
            let (what, at) = describe(&other);
            let mut out = syn::Error::new_spanned(
                at,
                format_args!(
                    "`#[{}]` applies to functions and methods, not to {what}",
                    kind.name()
                ),
            )
            .to_compile_error();
            out.extend(other.into_token_stream());
            out
        }
    }
}

/// Checks what needs the function as well as the arguments.
fn validate(
    plan: &Plan,
    func: &ItemFn,
    shape: &Shape,
    output: Option<&Option<Type>>,
) -> syn::Result<()> {
    let mut errors = Errors::default();
    if let Some(c) = &func.sig.constness {
        errors.at(
            c,
            "a `const fn` cannot be instrumented: remove `const` or the attribute",
        );
    }
    if let Some(traced) = &plan.traced {
        for field in traced.fields.iter().flatten() {
            let (option, given) = match field.name_string().as_str() {
                "otel.kind" => ("kind", traced.kind.is_some()),
                "otel.name" => ("name", traced.name.is_some()),
                _ => continue,
            };
            if given {
                errors.at(
                    &field.name[0],
                    format_args!(
                        "`{option}` is set twice, by `{option} = ..` and by this field; keep one"
                    ),
                );
            }
        }
        if let Some(skip) = &traced.skip {
            let names = arguments(&func.sig);
            for s in &skip.names {
                if s == "self" && has_receiver(&func.sig) {
                    continue; // `self` is never recorded; skipping it is harmless.
                }
                if !names.iter().any(|a| a.ident == *s) {
                    let list = names
                        .iter()
                        .map(|a| format!("`{}`", a.ident))
                        .collect::<Vec<_>>();
                    let known = if list.is_empty() {
                        "it has no named arguments".to_string()
                    } else {
                        format!("its arguments are {}", list.join(", "))
                    };
                    errors.at(
                        s,
                        format_args!(
                            "`skip` names `{s}`, which is not an argument of `{}`; {known}",
                            func.sig.ident
                        ),
                    );
                }
            }
        }
        if let Some(err) = &traced.err {
            let why = match output {
                Some(o) => not_a_result(o.as_ref()),
                None => None,
            };
            if let Some(why) = why {
                let what = match shape {
                    Shape::Sync => "",
                    _ => " (its future's output)",
                };
                errors.at(
                    &err.key,
                    format_args!(
                        "`err` needs a function that returns `Result<T, E>`; `{}`{what} {why}",
                        func.sig.ident
                    ),
                );
            }
        }
    }
    errors.finish()
}

/// The expansion: the item with its body instrumented, or, with the `disabled`
/// feature, the item unchanged.
fn expand(plan: Plan, func: &ItemFn) -> syn::Result<TokenStream> {
    let shape = shape(func);
    let output = body_output(func, &shape);
    validate(&plan, func, &shape, output.as_ref())?;
    if cfg!(feature = "disabled") {
        return Ok(func.into_token_stream());
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ctx = Ctx::new(&plan, sig, output);
    let site = site_static(&ctx);
    let (outer, inner) = split_inner_attrs(attrs);
    let body = match shape {
        Shape::Sync => {
            let b = sync_body(&ctx, block);
            quote!(#site #b)
        }
        Shape::AsyncFn => {
            let b = async_body(&ctx, block, None);
            quote!(#site #b)
        }
        Shape::AsyncBlock { index, boxed } => {
            let Some(async_expr) = async_block_of(func, index) else {
                return Err(syn::Error::new_spanned(
                    block,
                    "internal: async block not found",
                ));
            };
            let instrumented = async_body(&ctx, &async_expr.block, Some(async_expr));
            let capture = &async_expr.capture;
            let async_attrs = &async_expr.attrs;
            let fut = quote!(#(#async_attrs)* async #capture { #instrumented });
            let last = if boxed {
                let Stmt::Expr(Expr::Call(call), None) = &block.stmts[index] else {
                    return Err(syn::Error::new_spanned(
                        block,
                        "internal: Box::pin not found",
                    ));
                };
                let f = &call.func;
                quote!(#f(#fut))
            } else {
                fut
            };
            let before = &block.stmts[..index];
            quote!(#site #(#before)* #last)
        }
    };
    Ok(quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #body
        }
    })
}

/// Inner attributes (`#![allow(..)]`) stay at the top of the body.
fn split_inner_attrs(attrs: &[Attribute]) -> (Vec<&Attribute>, Vec<&Attribute>) {
    attrs
        .iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Outer))
}

/// `static __TELEMETRY_SITE: Site = ..;`: the module path and the function's name,
/// which make `code.function.name`, and a type declared in the function, whose
/// `type_name` tells the type that owns a method (read once, best effort).
fn site_static(ctx: &Ctx<'_>) -> TokenStream {
    let krate = ctx.krate;
    let site = &ctx.site;
    let plan = ctx.plan;
    let function = ctx.function_name();
    let (name, named) = ctx.span_name();
    let mark_span = plan.marks_span();
    let count_errors = plan.track.is_some();
    let measure = plan.measure.is_some();
    let slow_ms = plan.measure.as_ref().and_then(|m| m.slow_ms).unwrap_or(0);
    quote! {
        #[allow(dead_code, non_camel_case_types)]
        struct __TelemetryHere;
        static #site: #krate::__macro_support::Site = #krate::__macro_support::Site::new(
            #name,
            #named,
            ::core::module_path!(),
            #function,
            ::core::any::type_name::<__TelemetryHere>,
            #krate::__macro_support::Options {
                mark_span: #mark_span,
                count_errors: #count_errors,
                measure: #measure,
                slow_ms: #slow_ms,
            },
        );
    }
}

/// The body of a plain function.
fn sync_body(ctx: &Ctx<'_>, block: &Block) -> TokenStream {
    let krate = ctx.krate;
    let l = &ctx.locals;
    let site = &ctx.site;
    let (span_setup, has_span) = match crate::traced::span(ctx) {
        Some(span) => {
            let (s, entered) = (&l.span, &l.entered);
            (
                quote! {
                    #span
                    let #entered = #s.enter();
                },
                true,
            )
        }
        None => (TokenStream::new(), false),
    };
    if !ctx.plan.sees_return() {
        return quote! {
            #span_setup
            #[allow(clippy::suspicious_else_formatting)]
            {
                #[warn(clippy::suspicious_else_formatting)]
                #block
            }
        };
    }
    let span_arg = if has_span {
        let s = &l.span;
        quote!(::core::option::Option::Some(&#s))
    } else {
        quote!(::core::option::Option::None)
    };
    let (guard, ret, call, span_ref) = (&l.guard, &l.ret, &l.call, &l.span_ref);
    let fake = fake_return(ctx.output.as_ref(), block.span());
    // The statements, not the block: braces around a lone expression would trip
    // `unused_braces` at the user's braces.
    let stmts = &block.stmts;
    let epilogue = epilogue(ctx);
    quote! {
        #span_setup
        let mut #guard = #krate::__macro_support::Guard::new(&#site, #span_arg);
        // `call_once` makes the closure `FnOnce`, so a body returning a borrow of a
        // captured `&mut` (`Ok(&mut self.n)`) compiles, as it did without the macro.
        #[allow(clippy::let_unit_value)]
        let #ret = #krate::__macro_support::call_once(move || {
            #fake
            #(#stmts)*
        });
        {
            let (#call, #span_ref) = #guard.parts();
            let #ret = &#ret;
            #epilogue
        }
        #ret
    }
}

/// The body of an `async fn`, or the inside of a returned async block.
fn async_body(ctx: &Ctx<'_>, block: &Block, async_expr: Option<&ExprAsync>) -> TokenStream {
    let krate = ctx.krate;
    let l = &ctx.locals;
    let site = &ctx.site;
    let (fut, s) = (&l.fut, &l.span);
    let capture = match async_expr {
        Some(a) => a.capture.to_token_stream(),
        None => quote!(move),
    };
    let fake = fake_return(ctx.output.as_ref(), block.span());
    let stmts = &block.stmts;
    let make_fut = quote! {
        let #fut = async #capture {
            #fake
            #(#stmts)*
        };
    };
    let span = crate::traced::span(ctx);
    if !ctx.plan.sees_return() {
        let Some(span) = span else {
            return quote!(#make_fut #fut.await);
        };
        return quote! {
            #span
            #make_fut
            if !#s.is_disabled() {
                #krate::__macro_support::tracing::Instrument::instrument(#fut, #s).await
            } else {
                #fut.await
            }
        };
    }
    let (span_setup, span_arg) = match span {
        Some(span) => (quote!(#span), quote!(::core::option::Option::Some(#s))),
        None => (TokenStream::new(), quote!(::core::option::Option::None)),
    };
    let (ret, call, span_ref) = (&l.ret, &l.call, &l.span_ref);
    let ret_ty = match &ctx.output {
        Some(Some(ty)) => {
            let ty = erase_impl_trait(ty);
            quote!(: &#ty)
        }
        Some(None) => quote!(: &()),
        None => TokenStream::new(),
    };
    let epilogue = epilogue(ctx);
    quote! {
        #span_setup
        #make_fut
        #krate::__macro_support::Watch::new(
            ::core::pin::pin!(#fut),
            #span_arg,
            &#site,
            |#ret #ret_ty,
             #call: &mut #krate::__macro_support::Call,
             #span_ref: ::core::option::Option<&#krate::__macro_support::tracing::Span>| {
                #epilogue
            },
        )
        .await
    }
}

/// What runs once the body's value is known, with the span (if any) entered:
/// `ret`/`err` events, the classification, the records, the slow-call warning.
fn epilogue(ctx: &Ctx<'_>) -> TokenStream {
    let l = &ctx.locals;
    let (call, span_ref, outcome, slow) = (&l.call, &l.span_ref, &l.outcome, &l.slow);
    let events = crate::traced::return_events(ctx);
    let classify = crate::track_errors::classify(ctx);
    let warn = crate::measure::slow_warning(ctx);
    quote! {
        #events
        let #outcome = #classify;
        #[allow(unused_variables)]
        let #slow = #call.finish(#outcome, #span_ref);
        #warn
    }
}
