//! The grammar of `fields(..)`: fields written as `tracing::span!` writes them.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Token};

/// One entry of `fields(..)`, written as `tracing` writes fields: `a.b = expr`,
/// `a = %expr`, `a = ?expr`, `a` (a local of that name), `%a`, `?a`, and
/// `a = tracing::field::Empty`.
#[derive(Clone)]
pub(crate) struct Field {
    /// The dotted name as written (`http.request.method`).
    pub(crate) name: Vec<Ident>,
    /// `%` or `?` before the name (shorthand form).
    pub(crate) sigil_before: Option<TokenStream>,
    /// `= [%|?] expr`.
    pub(crate) value: Option<(Option<TokenStream>, Expr)>,
}

impl Field {
    /// The dotted name as text, for comparisons.
    pub(crate) fn name_string(&self) -> String {
        self.name
            .iter()
            .map(Ident::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn parse_sigil(input: ParseStream<'_>) -> syn::Result<Option<TokenStream>> {
    if input.peek(Token![%]) {
        let t: Token![%] = input.parse()?;
        Ok(Some(t.into_token_stream()))
    } else if input.peek(Token![?]) {
        let t: Token![?] = input.parse()?;
        Ok(Some(t.into_token_stream()))
    } else {
        Ok(None)
    }
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let sigil_before = parse_sigil(input)?;
        let mut name = vec![input.call(Ident::parse_any).map_err(|e| {
            syn::Error::new(
                e.span(),
                "a field is written `name = value`, like `fields(user.id = id, body = ?body)`",
            )
        })?];
        while input.peek(Token![.]) {
            let _: Token![.] = input.parse()?;
            name.push(input.call(Ident::parse_any)?);
        }
        let value = if sigil_before.is_none() && input.peek(Token![=]) {
            let _: Token![=] = input.parse()?;
            let sigil = parse_sigil(input)?;
            Some((sigil, input.parse::<Expr>()?))
        } else {
            None
        };
        Ok(Field {
            name,
            sigil_before,
            value,
        })
    }
}

impl ToTokens for Field {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let sigil_before = &self.sigil_before;
        let mut name = TokenStream::new();
        for (i, part) in self.name.iter().enumerate() {
            if i > 0 {
                name.extend(quote!(.));
            }
            part.to_tokens(&mut name);
        }
        match &self.value {
            Some((sigil, expr)) => tokens.extend(quote!(#name = #sigil #expr)),
            None => tokens.extend(quote!(#sigil_before #name)),
        }
    }
}
