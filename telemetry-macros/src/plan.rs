//! What one function needs, shared by the three expansions and the driver: the
//! [`Plan`] (every stacked attribute of ours, parsed and merged), the [`Locals`] the
//! expansion declares, and the [`Ctx`] each piece reads.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;
use syn::{Attribute, Ident, Path, Signature, Type};

use crate::args::{AnyArgs, Errors, EventArgs, MacroKind, MeasureArgs, TracedArgs, TrackArgs};
use crate::func::{arguments, Arg};

/// Every stacked attribute of ours, parsed, plus what all expansions share.
pub(crate) struct Plan {
    pub(crate) krate: Path,
    pub(crate) traced: Option<TracedArgs>,
    pub(crate) track: Option<TrackArgs>,
    pub(crate) measure: Option<MeasureArgs>,
}

impl Plan {
    /// Parses this attribute's arguments and those of our other attributes on the same
    /// function (removing them: the first of ours to expand does the work of all).
    pub(crate) fn collect(
        kind: MacroKind,
        args: TokenStream,
        attrs: &mut Vec<Attribute>,
    ) -> syn::Result<Plan> {
        let mut errors = Errors::default();
        let mut all: Vec<(MacroKind, Option<AnyArgs>, Span)> = Vec::new();
        match AnyArgs::parse(kind, args) {
            Ok(a) => all.push((kind, Some(a), Span::call_site())),
            Err(e) => {
                errors.push(e);
                all.push((kind, None, Span::call_site()));
            }
        }
        let mut kept = Vec::with_capacity(attrs.len());
        for attr in attrs.drain(..) {
            let Some(other) = MacroKind::of_path(attr.path()) else {
                kept.push(attr);
                continue;
            };
            let tokens = match &attr.meta {
                syn::Meta::Path(_) => TokenStream::new(),
                syn::Meta::List(l) => l.tokens.clone(),
                syn::Meta::NameValue(nv) => {
                    errors.at(
                        nv,
                        format_args!("write `#[{0}]` or `#[{0}(..)]`", other.name()),
                    );
                    continue;
                }
            };
            if all.iter().any(|(k, _, _)| *k == other) {
                errors.at(
                    &attr,
                    format_args!("`#[{}]` is applied twice; merge the two", other.name()),
                );
                continue;
            }
            match AnyArgs::parse(other, tokens) {
                Ok(a) => all.push((other, Some(a), attr.span())),
                Err(e) => {
                    errors.push(e);
                    all.push((other, None, attr.span()));
                }
            }
        }
        *attrs = kept;

        let mut krate: Option<Path> = None;
        let mut plan = Plan {
            krate: syn::parse_quote!(::telemetry),
            traced: None,
            track: None,
            measure: None,
        };
        for (_, args, _) in all {
            let Some(args) = args else { continue };
            if let Some(k) = args.krate() {
                match &krate {
                    Some(first) if first != k => errors.at(
                        k,
                        "stacked attributes name different `crate` paths; give the same one",
                    ),
                    _ => krate = Some(k.clone()),
                }
            }
            match args {
                AnyArgs::Traced(a) => plan.traced = Some(a),
                AnyArgs::Track(a) => plan.track = Some(a),
                AnyArgs::Measure(a) => plan.measure = Some(a),
            }
        }
        if let Some(k) = krate {
            plan.krate = k;
        }
        errors.finish()?;
        Ok(plan)
    }

    /// Whether the body must run in a closure (or be awaited) so its value is seen.
    pub(crate) fn sees_return(&self) -> bool {
        self.track.is_some()
            || self.measure.is_some()
            || self
                .traced
                .as_ref()
                .is_some_and(|t| t.err.is_some() || t.ret.is_some())
    }

    /// Whether errors are recorded on the span (status, `error.type`, exception event).
    pub(crate) fn marks_span(&self) -> bool {
        self.track.is_some() || self.traced.as_ref().is_some_and(|t| t.err.is_some())
    }
}

/// Names of the locals of the expansion. `mixed_site` hygiene: the user's body can
/// neither see nor shadow them.
pub(crate) struct Locals {
    pub(crate) span: Ident,
    pub(crate) ret: Ident,
    pub(crate) call: Ident,
    pub(crate) span_ref: Ident,
    pub(crate) fut: Ident,
    pub(crate) guard: Ident,
    pub(crate) entered: Ident,
    pub(crate) outcome: Ident,
    pub(crate) slow: Ident,
}

impl Locals {
    fn new() -> Locals {
        let at = Span::mixed_site();
        Locals {
            span: Ident::new("__telemetry_span", at),
            ret: Ident::new("__telemetry_ret", at),
            call: Ident::new("__telemetry_call", at),
            span_ref: Ident::new("__telemetry_span_ref", at),
            fut: Ident::new("__telemetry_fut", at),
            guard: Ident::new("__telemetry_guard", at),
            entered: Ident::new("__telemetry_entered", at),
            outcome: Ident::new("__telemetry_outcome", at),
            slow: Ident::new("__telemetry_slow", at),
        }
    }
}

/// What the pieces need to know about the function.
pub(crate) struct Ctx<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) krate: &'a Path,
    pub(crate) sig: &'a Signature,
    pub(crate) args: Vec<Arg>,
    pub(crate) locals: Locals,
    /// The static that names the function and caches its call-site data.
    pub(crate) site: Ident,
    /// The declared type the body evaluates to, when it is written out.
    pub(crate) output: Option<Option<Type>>,
}

impl<'a> Ctx<'a> {
    /// The context of `sig`, instrumented as `plan` says; `output` as
    /// [`body_output`](crate::func::body_output) found it.
    pub(crate) fn new(plan: &'a Plan, sig: &'a Signature, output: Option<Option<Type>>) -> Self {
        Ctx {
            plan,
            krate: &plan.krate,
            sig,
            args: arguments(sig),
            locals: Locals::new(),
            site: format_ident!("__TELEMETRY_SITE"),
            output,
        }
    }

    /// The `target` of events: the one given to `#[traced]`, else the module.
    pub(crate) fn target(&self) -> TokenStream {
        match self.plan.traced.as_ref().and_then(|t| t.target.as_ref()) {
            Some(t) => t.to_token_stream(),
            None => quote!(::core::module_path!()),
        }
    }

    /// `Result<&T, &E>` from the return value, for `#[traced(err)]`'s events and the
    /// classification; a type error at `err` when the function does not return a
    /// `Result`.
    pub(crate) fn as_result(&self, err: &EventArgs) -> TokenStream {
        let krate = self.krate;
        let ret = &self.locals.ret;
        quote_spanned! {err.key.span()=> #krate::__macro_support::as_result(#ret) }
    }

    /// The function's name as written, without `r#`.
    pub(crate) fn function_name(&self) -> String {
        self.sig
            .ident
            .to_string()
            .trim_start_matches("r#")
            .to_string()
    }

    /// The span's name, the one given to `#[traced(name = ..)]` else the function's,
    /// and whether it was given.
    pub(crate) fn span_name(&self) -> (String, bool) {
        match self.plan.traced.as_ref().and_then(|t| t.name.as_ref()) {
            Some(n) => (n.value(), true),
            None => (self.function_name(), false),
        }
    }
}
