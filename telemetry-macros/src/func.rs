//! The function being instrumented: its shape (sync, `async fn`, a returned async
//! block as in `impl Future` and async-trait methods), its arguments as `tracing`
//! records them, and what its body evaluates to.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{
    Expr, ExprAsync, FnArg, GenericArgument, Ident, ItemFn, Pat, PatType, Path, PathArguments,
    ReturnType, Signature, Stmt, Type, TypeParamBound,
};

/// How the body runs.
pub(crate) enum Shape {
    /// A plain function: the body runs inside the call.
    Sync,
    /// `async fn`: the body runs when the future is polled.
    AsyncFn,
    /// A function whose last expression is an async block, maybe `Box::pin`-ed: what
    /// `-> impl Future` functions and async-trait methods look like. The future is
    /// instrumented, not its construction.
    AsyncBlock { index: usize, boxed: bool },
}

fn path_ends_with_box_pin(path: &Path) -> bool {
    let n = path.segments.len();
    n >= 2 && path.segments[n - 1].ident == "pin" && path.segments[n - 2].ident == "Box"
}

pub(crate) fn shape(item: &ItemFn) -> Shape {
    if item.sig.asyncness.is_some() {
        return Shape::AsyncFn;
    }
    let Some((index, Stmt::Expr(last, None))) = item.block.stmts.iter().enumerate().next_back()
    else {
        return Shape::Sync;
    };
    match last {
        Expr::Async(_) => Shape::AsyncBlock {
            index,
            boxed: false,
        },
        Expr::Call(call) if call.args.len() == 1 => {
            let is_box_pin =
                matches!(&*call.func, Expr::Path(p) if path_ends_with_box_pin(&p.path));
            if is_box_pin && matches!(call.args.first(), Some(Expr::Async(_))) {
                Shape::AsyncBlock { index, boxed: true }
            } else {
                Shape::Sync
            }
        }
        _ => Shape::Sync,
    }
}

pub(crate) fn async_block_of(item: &ItemFn, index: usize) -> Option<&ExprAsync> {
    match item.block.stmts.get(index)? {
        Stmt::Expr(Expr::Async(a), None) => Some(a),
        Stmt::Expr(Expr::Call(call), None) => match call.args.first()? {
            Expr::Async(a) => Some(a),
            _ => None,
        },
        _ => None,
    }
}

/// The `Output` of `impl Future<Output = X>` or `Pin<Box<dyn Future<Output = X> ..>>`.
fn future_output(ty: &Type) -> Option<&Type> {
    let bounds = match ty {
        Type::ImplTrait(t) => &t.bounds,
        Type::TraitObject(t) => &t.bounds,
        Type::Paren(p) => return future_output(&p.elem),
        Type::Group(g) => return future_output(&g.elem),
        Type::Path(p) => {
            // Pin<Box<..>>
            let last = p.path.segments.last()?;
            if last.ident != "Pin" && last.ident != "Box" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            return args.args.iter().find_map(|a| match a {
                GenericArgument::Type(t) => future_output(t),
                _ => None,
            });
        }
        _ => return None,
    };
    bounds.iter().find_map(|b| match b {
        TypeParamBound::Trait(t) => {
            let last = t.path.segments.last()?;
            if last.ident != "Future" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            args.args.iter().find_map(|a| match a {
                GenericArgument::AssocType(at) if at.ident == "Output" => Some(&at.ty),
                _ => None,
            })
        }
        _ => None,
    })
}

/// What the body evaluates to: `Some(None)` for `()`, `None` when unknown.
pub(crate) fn body_output(item: &ItemFn, shape: &Shape) -> Option<Option<Type>> {
    match (&item.sig.output, shape) {
        (ReturnType::Default, Shape::Sync | Shape::AsyncFn) => Some(None),
        (ReturnType::Type(_, ty), Shape::Sync | Shape::AsyncFn) => Some(Some((**ty).clone())),
        (ReturnType::Type(_, ty), Shape::AsyncBlock { .. }) => {
            future_output(ty).map(|t| Some(t.clone()))
        }
        (ReturnType::Default, Shape::AsyncBlock { .. }) => None,
    }
}

/// Why a type cannot be a `Result`, when that is plain from its syntax.
pub(crate) fn not_a_result(ty: Option<&Type>) -> Option<String> {
    let Some(ty) = ty else {
        return Some("returns `()`".into());
    };
    let shown = || {
        format!(
            "returns `{}`",
            ty.to_token_stream()
                .to_string()
                .replace(" < ", "<")
                .replace(" >", ">")
        )
    };
    match ty {
        Type::Tuple(_)
        | Type::Reference(_)
        | Type::Slice(_)
        | Type::Array(_)
        | Type::Ptr(_)
        | Type::Never(_)
        | Type::BareFn(_)
        | Type::TraitObject(_)
        | Type::ImplTrait(_) => Some(shown()),
        Type::Paren(p) => not_a_result(Some(&p.elem)),
        Type::Group(g) => not_a_result(Some(&g.elem)),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?.ident.to_string();
            const NOT: &[&str] = &[
                "bool", "char", "str", "String", "u8", "u16", "u32", "u64", "u128", "usize", "i8",
                "i16", "i32", "i64", "i128", "isize", "f32", "f64", "Option", "Vec", "Box", "Self",
            ];
            NOT.contains(&last.as_str()).then(shown)
        }
        _ => None,
    }
}

/// An argument of the function and how `tracing` records it.
pub(crate) struct Arg {
    pub(crate) ident: Ident,
    /// Primitive and string types are recorded as values, the rest with `Debug`.
    pub(crate) as_value: bool,
}

const VALUE_TYPES: &[&str] = &[
    "bool",
    "str",
    "u8",
    "i8",
    "u16",
    "i16",
    "u32",
    "i32",
    "u64",
    "i64",
    "u128",
    "i128",
    "f32",
    "f64",
    "usize",
    "isize",
    "String",
    "NonZeroU8",
    "NonZeroI8",
    "NonZeroU16",
    "NonZeroI16",
    "NonZeroU32",
    "NonZeroI32",
    "NonZeroU64",
    "NonZeroI64",
    "NonZeroU128",
    "NonZeroI128",
    "NonZeroUsize",
    "NonZeroIsize",
    "Wrapping",
];

fn records_as_value(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| VALUE_TYPES.contains(&s.ident.to_string().as_str())),
        Type::Reference(r) => records_as_value(&r.elem),
        Type::Paren(p) => records_as_value(&p.elem),
        Type::Group(g) => records_as_value(&g.elem),
        _ => false,
    }
}

fn pattern_idents(pat: &Pat, as_value: bool, out: &mut Vec<Arg>) {
    match pat {
        Pat::Ident(p) => out.push(Arg {
            ident: p.ident.clone(),
            as_value,
        }),
        Pat::Reference(r) => pattern_idents(&r.pat, as_value, out),
        Pat::Struct(s) => s
            .fields
            .iter()
            .for_each(|f| pattern_idents(&f.pat, false, out)),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pattern_idents(p, false, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pattern_idents(p, false, out)),
        Pat::Paren(p) => pattern_idents(&p.pat, as_value, out),
        Pat::Type(t) => pattern_idents(&t.pat, records_as_value(&t.ty), out),
        _ => {}
    }
}

/// The named arguments, `self` excluded.
pub(crate) fn arguments(sig: &Signature) -> Vec<Arg> {
    let mut out = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(PatType { pat, ty, .. }) = input {
            pattern_idents(pat, records_as_value(ty), &mut out);
        }
    }
    out
}

pub(crate) fn has_receiver(sig: &Signature) -> bool {
    matches!(sig.inputs.first(), Some(FnArg::Receiver(_)))
}

/// Replaces `impl Trait` with `_` so the type can annotate a `let`.
struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(t) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::token::Underscore(t.span()),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

pub(crate) fn erase_impl_trait(ty: &Type) -> Type {
    let mut ty = ty.clone();
    EraseImplTrait.visit_type_mut(&mut ty);
    ty
}

/// A `return` that never runs but makes the compiler infer the declared return type
/// for the closure or async block the body is moved into (the trick
/// `#[instrument]` uses).
pub(crate) fn fake_return(output: Option<&Option<Type>>, at: Span) -> TokenStream {
    let ty = match output {
        Some(Some(Type::Never(_))) | None => return TokenStream::new(),
        Some(Some(ty)) => erase_impl_trait(ty).into_token_stream(),
        Some(None) => quote!(()),
    };
    quote_spanned! {at=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __telemetry_fake_return: #ty = loop {};
            return __telemetry_fake_return;
        }
    }
}

#[cfg(test)]
mod tests;
