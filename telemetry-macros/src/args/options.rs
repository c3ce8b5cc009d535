//! One parser per option: each reads its [`Meta`], checks the value on its own and
//! says how to write it when it is wrong; and the one helper ([`once`]) that stores an
//! option and reports a repetition.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Meta, Path, Token};

use super::errors::Errors;
use super::fields::Field;

/// An option's key as the user wrote it, for messages.
pub(super) fn path_name(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// The key of an option as a plain string (`crate` included), or `None` for paths
/// like `a::b`.
pub(super) fn key_of(path: &Path) -> Option<String> {
    if path.leading_colon.is_none() && path.segments.len() == 1 {
        path.segments
            .first()
            .filter(|s| s.arguments.is_none())
            .map(|s| s.ident.to_string())
    } else {
        None
    }
}

/// Stores an option the first time it is given and reports any repetition at the
/// repeated key: the one helper every option goes through.
fn set_once<T>(slot: &mut Option<T>, value: T, key: &Path, errors: &mut Errors) {
    if slot.is_some() {
        errors.at(
            key,
            format_args!("`{}` is given twice; keep one", path_name(key)),
        );
    } else {
        *slot = Some(value);
    }
}

/// Parses `meta` with `parse` and stores the value with [`set_once`]: how every
/// option is read.
pub(super) fn once<T>(
    slot: &mut Option<T>,
    meta: &Meta,
    errors: &mut Errors,
    parse: impl FnOnce(&Meta, &mut Errors) -> Option<T>,
) {
    if let Some(value) = parse(meta, errors) {
        set_once(slot, value, meta.path(), errors);
    }
}

/// `key = value` or an error saying how the option is written.
pub(super) fn name_value<'m>(
    meta: &'m Meta,
    example: &str,
    errors: &mut Errors,
) -> Option<&'m Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        other => {
            errors.at(
                other,
                format_args!(
                    "`{}` takes a value, like `{example}`",
                    path_name(other.path())
                ),
            );
            None
        }
    }
}

/// A bare flag (`skip_all`), or an error.
pub(super) fn flag(meta: &Meta, errors: &mut Errors) -> bool {
    match meta {
        Meta::Path(_) => true,
        other => {
            errors.at(
                other,
                format_args!(
                    "`{0}` takes no value; write just `{0}`",
                    path_name(other.path())
                ),
            );
            false
        }
    }
}

fn lit_str(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        Expr::Group(g) => lit_str(&g.expr),
        _ => None,
    }
}

/// `key = "text"`.
pub(super) fn string_option(meta: &Meta, example: &str, errors: &mut Errors) -> Option<LitStr> {
    let value = name_value(meta, example, errors)?;
    match lit_str(value) {
        Some(s) => Some(s.clone()),
        None => {
            errors.at(
                value,
                format_args!(
                    "`{}` takes a string literal, like `{example}`",
                    path_name(meta.path())
                ),
            );
            None
        }
    }
}

/// `name = "checkout"`: a string, not empty.
pub(super) fn name_option(meta: &Meta, errors: &mut Errors) -> Option<LitStr> {
    let name = string_option(meta, "name = \"checkout\"", errors)?;
    if name.value().is_empty() {
        errors.at(&name, "`name` cannot be empty");
    }
    Some(name)
}

/// `crate = path`, which every attribute accepts.
pub(super) fn crate_option(meta: &Meta, errors: &mut Errors) -> Option<Path> {
    let value = name_value(meta, "crate = telemetry", errors)?;
    match value {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some(p.path.clone()),
        other => {
            errors.at(
                other,
                "`crate` takes the path of the telemetry crate, like `crate = ::my_telemetry`",
            );
            None
        }
    }
}

/// A `tracing` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LevelKind {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A level, as written.
#[derive(Clone)]
pub(crate) struct Level {
    pub(crate) kind: LevelKind,
}

impl LevelKind {
    fn parse_str(s: &str) -> Option<LevelKind> {
        match s.to_ascii_lowercase().as_str() {
            "trace" => Some(LevelKind::Trace),
            "debug" => Some(LevelKind::Debug),
            "info" => Some(LevelKind::Info),
            "warn" => Some(LevelKind::Warn),
            "error" => Some(LevelKind::Error),
            _ => None,
        }
    }

    /// `Level::INFO` and friends, as a path under `tracing`.
    pub(crate) fn tokens(self, krate: &Path) -> TokenStream {
        let ident = Ident::new(
            match self {
                LevelKind::Trace => "TRACE",
                LevelKind::Debug => "DEBUG",
                LevelKind::Info => "INFO",
                LevelKind::Warn => "WARN",
                LevelKind::Error => "ERROR",
            },
            Span::call_site(),
        );
        quote!(#krate::__macro_support::tracing::Level::#ident)
    }
}

const LEVEL_HELP: &str =
    "`level` takes one of \"trace\", \"debug\", \"info\", \"warn\" or \"error\", \
                          like `level = \"debug\"`";

/// `level = "debug"` or `level = Level::DEBUG`.
pub(super) fn level_option(meta: &Meta, errors: &mut Errors) -> Option<Level> {
    let value = name_value(meta, "level = \"debug\"", errors)?;
    let kind = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => LevelKind::parse_str(&s.value()),
        // `Level::DEBUG`, `tracing::Level::DEBUG`.
        Expr::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .and_then(|s| LevelKind::parse_str(&s.ident.to_string())),
        _ => None,
    };
    match kind {
        Some(kind) => Some(Level { kind }),
        None => {
            errors.at(value, LEVEL_HELP);
            None
        }
    }
}

/// An OpenTelemetry span kind, as `tracing-opentelemetry` reads it from `otel.kind`.
#[derive(Clone)]
pub(crate) struct Kind {
    pub(crate) lit: LitStr,
}

const KINDS: [&str; 5] = ["server", "client", "producer", "consumer", "internal"];

/// `kind = "server"`.
pub(super) fn kind_option(meta: &Meta, errors: &mut Errors) -> Option<Kind> {
    const HELP: &str = "`kind` takes one of \"server\", \"client\", \"producer\", \"consumer\" or \
                        \"internal\", like `kind = \"server\"`";
    let value = name_value(meta, "kind = \"server\"", errors)?;
    match lit_str(value) {
        Some(lit) if KINDS.contains(&lit.value().as_str()) => Some(Kind { lit: lit.clone() }),
        _ => {
            errors.at(value, HELP);
            None
        }
    }
}

/// How a value is formatted for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Not said: `Display` for errors, `Debug` for return values.
    Default,
    Display,
    Debug,
}

/// The options of `err` and `ret`: `err`, `err(Debug)`, `err(level = "warn")`.
#[derive(Clone)]
pub(crate) struct EventArgs {
    /// The `err` or `ret` keyword, where related errors point.
    pub(crate) key: Ident,
    pub(crate) mode: Mode,
    /// A level asks for a log event as well (`err`) or sets its level (`ret`).
    pub(crate) level: Option<Level>,
}

/// `err` / `ret`, bare or with `(Debug | Display, level = "..")`.
pub(super) fn event_option(meta: &Meta, errors: &mut Errors) -> Option<EventArgs> {
    let key = meta.path().get_ident()?.clone();
    let name = key.to_string();
    let list = match meta {
        Meta::Path(_) => {
            return Some(EventArgs {
                key,
                mode: Mode::Default,
                level: None,
            })
        }
        Meta::List(list) => list,
        Meta::NameValue(nv) => {
            errors.at(
                &nv.value,
                format_args!(
                    "`{name}` takes no `= value`; write `{name}`, `{name}(Debug)`, \
                     `{name}(Display)` or `{name}(level = \"warn\")`"
                ),
            );
            return None;
        }
    };
    let inner = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(inner) => inner,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let mut mode: Option<Mode> = None;
    let mut level: Option<Level> = None;
    for item in &inner {
        match (item, key_of(item.path()).as_deref()) {
            (Meta::Path(p), Some("Debug")) => set_once(&mut mode, Mode::Debug, p, errors),
            (Meta::Path(p), Some("Display")) => set_once(&mut mode, Mode::Display, p, errors),
            (_, Some("level")) => once(&mut level, item, errors, level_option),
            _ => errors.at(
                item,
                format_args!(
                    "`{name}(..)` accepts `Debug`, `Display` and `level = \"..\"`, like \
                     `{name}(Debug, level = \"warn\")`"
                ),
            ),
        }
    }
    Some(EventArgs {
        key,
        mode: mode.unwrap_or(Mode::Default),
        level,
    })
}

/// `skip(a, b)`.
#[derive(Clone)]
pub(crate) struct Skip {
    pub(crate) names: Vec<Ident>,
}

/// `skip(a, b)`: the names of arguments.
pub(super) fn skip_option(meta: &Meta, errors: &mut Errors) -> Option<Skip> {
    const HELP: &str = "`skip` takes the names of arguments, like `skip(password, body)`";
    let Meta::List(list) = meta else {
        errors.at(meta, HELP);
        return None;
    };
    // `parse_any`: `skip(self)` is accepted (and harmless: `self` is never recorded).
    let parser = |input: ParseStream<'_>| {
        Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any)
    };
    match list.parse_args_with(parser) {
        Ok(names) => Some(Skip {
            names: names.into_iter().collect(),
        }),
        Err(e) => {
            errors.push(syn::Error::new(e.span(), HELP));
            None
        }
    }
}

/// `fields(..)`, each field named once.
pub(super) fn fields_option(meta: &Meta, errors: &mut Errors) -> Option<Vec<Field>> {
    let Meta::List(list) = meta else {
        errors.at(
            meta,
            "`fields` takes a list of fields, like `fields(user.id = id, body = ?body)`",
        );
        return None;
    };
    match list.parse_args_with(Punctuated::<Field, Token![,]>::parse_terminated) {
        Ok(fields) => {
            let fields: Vec<Field> = fields.into_iter().collect();
            let mut seen = std::collections::BTreeSet::new();
            for f in &fields {
                if !seen.insert(f.name_string()) {
                    errors.at(
                        f.name.first(),
                        format_args!("field `{}` is given twice; keep one", f.name_string()),
                    );
                }
            }
            Some(fields)
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// A value that names a function: a path (`ok_if = is_expected`) or a closure.
pub(super) fn function_option(meta: &Meta, errors: &mut Errors) -> Option<Expr> {
    let key = path_name(meta.path());
    let example = format!("{key} = is_expected");
    let value = name_value(meta, &example, errors)?;
    match value {
        Expr::Path(_) | Expr::Closure(_) => Some(value.clone()),
        other => {
            errors.at(
                other,
                format_args!(
                    "`{key}` takes a function `fn(&ReturnType) -> bool` by path, like `{example}`"
                ),
            );
            None
        }
    }
}

/// `slow_ms = 250`: a whole number of milliseconds, at least 1.
pub(super) fn slow_ms_option(meta: &Meta, errors: &mut Errors) -> Option<u64> {
    const HELP: &str = "`slow_ms` takes an integer of milliseconds, like `slow_ms = 250`";
    let value = name_value(meta, "slow_ms = 250", errors)?;
    let ms = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) if i.suffix().is_empty() || i.suffix() == "u64" => i.base10_parse::<u64>().ok(),
        _ => None,
    };
    match ms {
        Some(0) => errors.at(value, "`slow_ms` must be at least 1 millisecond"),
        Some(ms) => return Some(ms),
        None => errors.at(value, HELP),
    }
    None
}
