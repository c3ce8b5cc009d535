//! The arguments of the three macros: parsing, validation and the messages that say
//! what to write instead.
//!
//! Every option is parsed from a [`syn::Meta`] and checked on its own, so one
//! attribute can report several mistakes at once, each at its own tokens.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Meta, Path, Token};

mod fields;
pub(crate) use fields::Field;

/// Which macro an attribute is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacroKind {
    Traced,
    TrackErrors,
    Measure,
}

impl MacroKind {
    /// The attribute's name as users write it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            MacroKind::Traced => "traced",
            MacroKind::TrackErrors => "track_errors",
            MacroKind::Measure => "measure_performance",
        }
    }

    /// Recognises one of our attributes by the last segment of its path, so
    /// `#[traced]`, `#[telemetry::traced]` and a re-export under another crate all count.
    pub(crate) fn of_path(path: &Path) -> Option<MacroKind> {
        let last = path.segments.last()?;
        if !last.arguments.is_none() {
            return None;
        }
        match last.ident.to_string().as_str() {
            "traced" => Some(MacroKind::Traced),
            "track_errors" => Some(MacroKind::TrackErrors),
            "measure_performance" => Some(MacroKind::Measure),
            _ => None,
        }
    }

    fn accepted(self) -> &'static str {
        match self {
            MacroKind::Traced => {
                "`name`, `level`, `target`, `kind`, `skip(..)`, `skip_all`, `fields(..)`, \
                 `err`, `ret`, `parent`, `follows_from` and `crate`"
            }
            MacroKind::TrackErrors => "`ok_if`, `error_if` and `crate`",
            MacroKind::Measure => "`slow_ms` and `crate`",
        }
    }
}

/// Gathers errors so that one attribute reports all its mistakes.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
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

fn path_name(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// The key of an option as a plain string (`crate` included), or `None` for paths
/// like `a::b`.
fn key_of(path: &Path) -> Option<String> {
    if path.leading_colon.is_none() && path.segments.len() == 1 {
        path.segments
            .first()
            .filter(|s| s.arguments.is_none())
            .map(|s| s.ident.to_string())
    } else {
        None
    }
}

fn unknown(kind: MacroKind, key: &Path, errors: &mut Errors) {
    errors.at(
        key,
        format_args!(
            "unknown option `{}` of `#[{}]`; it accepts {}",
            path_name(key),
            kind.name(),
            kind.accepted()
        ),
    );
}

/// `key = value` or an error saying how the option is written.
fn name_value<'m>(meta: &'m Meta, example: &str, errors: &mut Errors) -> Option<&'m Expr> {
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
fn flag(meta: &Meta, errors: &mut Errors) -> bool {
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

fn string_option(meta: &Meta, example: &str, errors: &mut Errors) -> Option<LitStr> {
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

fn crate_option(meta: &Meta, errors: &mut Errors) -> Option<Path> {
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

fn level_option(meta: &Meta, errors: &mut Errors) -> Option<Level> {
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

fn kind_option(meta: &Meta, errors: &mut Errors) -> Option<Kind> {
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

fn event_option(meta: &Meta, errors: &mut Errors) -> Option<EventArgs> {
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
            (_, Some("level")) => {
                if let Some(l) = level_option(item, errors) {
                    set_once(&mut level, l, item.path(), errors);
                }
            }
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

fn skip_option(meta: &Meta, errors: &mut Errors) -> Option<Skip> {
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

fn fields_option(meta: &Meta, errors: &mut Errors) -> Option<Vec<Field>> {
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
fn function_option(meta: &Meta, errors: &mut Errors) -> Option<Expr> {
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

fn parse_metas(input: ParseStream<'_>) -> syn::Result<Punctuated<Meta, Token![,]>> {
    Punctuated::<Meta, Token![,]>::parse_terminated(input)
}

/// `#[traced(..)]`.
#[derive(Default, Clone)]
pub(crate) struct TracedArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) level: Option<Level>,
    pub(crate) target: Option<LitStr>,
    pub(crate) kind: Option<Kind>,
    pub(crate) skip: Option<Skip>,
    pub(crate) skip_all: Option<Path>,
    pub(crate) fields: Option<Vec<Field>>,
    pub(crate) err: Option<EventArgs>,
    pub(crate) ret: Option<EventArgs>,
    pub(crate) parent: Option<Expr>,
    pub(crate) follows_from: Option<Expr>,
    pub(crate) krate: Option<Path>,
}

impl Parse for TracedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let metas = parse_metas(input)?;
        let mut args = TracedArgs::default();
        let mut errors = Errors::default();
        for meta in &metas {
            let key = meta.path();
            match key_of(key).as_deref() {
                Some("name") => {
                    if let Some(v) = string_option(meta, "name = \"checkout\"", &mut errors) {
                        if v.value().is_empty() {
                            errors.at(&v, "`name` cannot be empty");
                        }
                        set_once(&mut args.name, v, key, &mut errors);
                    }
                }
                Some("target") => {
                    if let Some(v) = string_option(meta, "target = \"my_app::db\"", &mut errors) {
                        set_once(&mut args.target, v, key, &mut errors);
                    }
                }
                Some("level") => {
                    if let Some(v) = level_option(meta, &mut errors) {
                        set_once(&mut args.level, v, key, &mut errors);
                    }
                }
                Some("kind") => {
                    if let Some(v) = kind_option(meta, &mut errors) {
                        set_once(&mut args.kind, v, key, &mut errors);
                    }
                }
                Some("skip") => {
                    if let Some(v) = skip_option(meta, &mut errors) {
                        set_once(&mut args.skip, v, key, &mut errors);
                    }
                }
                Some("skip_all") => {
                    if flag(meta, &mut errors) {
                        set_once(&mut args.skip_all, key.clone(), key, &mut errors);
                    }
                }
                Some("fields") => {
                    if let Some(v) = fields_option(meta, &mut errors) {
                        set_once(&mut args.fields, v, key, &mut errors);
                    }
                }
                Some("err") => {
                    if let Some(v) = event_option(meta, &mut errors) {
                        set_once(&mut args.err, v, key, &mut errors);
                    }
                }
                Some("ret") => {
                    if let Some(v) = event_option(meta, &mut errors) {
                        set_once(&mut args.ret, v, key, &mut errors);
                    }
                }
                Some("parent") => {
                    if let Some(v) = name_value(meta, "parent = &span", &mut errors) {
                        set_once(&mut args.parent, v.clone(), key, &mut errors);
                    }
                }
                Some("follows_from") => {
                    if let Some(v) = name_value(meta, "follows_from = [id]", &mut errors) {
                        set_once(&mut args.follows_from, v.clone(), key, &mut errors);
                    }
                }
                Some("crate") => {
                    if let Some(v) = crate_option(meta, &mut errors) {
                        set_once(&mut args.krate, v, key, &mut errors);
                    }
                }
                _ => unknown(MacroKind::Traced, key, &mut errors),
            }
        }
        if let (Some(skip_all), Some(_)) = (&args.skip_all, &args.skip) {
            errors.at(
                skip_all,
                "`skip_all` already skips every argument; remove `skip(..)` or `skip_all`",
            );
        }
        errors.finish()?;
        Ok(args)
    }
}

/// `#[track_errors(..)]`.
#[derive(Default, Clone)]
pub(crate) struct TrackArgs {
    /// `fn(&R) -> bool`: true when the call counts as a success, even an `Err`.
    pub(crate) ok_if: Option<Expr>,
    /// `fn(&R) -> bool`: true when the call counts as an error, even an `Ok`.
    pub(crate) error_if: Option<Expr>,
    pub(crate) krate: Option<Path>,
}

impl Parse for TrackArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let metas = parse_metas(input)?;
        let mut args = TrackArgs::default();
        let mut errors = Errors::default();
        for meta in &metas {
            let key = meta.path();
            match key_of(key).as_deref() {
                Some("ok_if") => {
                    if let Some(v) = function_option(meta, &mut errors) {
                        set_once(&mut args.ok_if, v, key, &mut errors);
                    }
                }
                Some("error_if") => {
                    if let Some(v) = function_option(meta, &mut errors) {
                        set_once(&mut args.error_if, v, key, &mut errors);
                    }
                }
                Some("crate") => {
                    if let Some(v) = crate_option(meta, &mut errors) {
                        set_once(&mut args.krate, v, key, &mut errors);
                    }
                }
                _ => unknown(MacroKind::TrackErrors, key, &mut errors),
            }
        }
        if let (Some(_), Some(error_if)) = (&args.ok_if, &args.error_if) {
            errors.at(
                error_if,
                "give either `ok_if` or `error_if`, not both: one function classifies the call",
            );
        }
        errors.finish()?;
        Ok(args)
    }
}

/// `#[measure_performance(..)]`.
#[derive(Default, Clone)]
pub(crate) struct MeasureArgs {
    /// Calls slower than this many milliseconds log a warning.
    pub(crate) slow_ms: Option<u64>,
    pub(crate) krate: Option<Path>,
}

impl Parse for MeasureArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        const HELP: &str = "`slow_ms` takes an integer of milliseconds, like `slow_ms = 250`";
        let metas = parse_metas(input)?;
        let mut args = MeasureArgs::default();
        let mut errors = Errors::default();
        for meta in &metas {
            let key = meta.path();
            match key_of(key).as_deref() {
                Some("slow_ms") => {
                    let Some(value) = name_value(meta, "slow_ms = 250", &mut errors) else {
                        continue;
                    };
                    let ms = match value {
                        Expr::Lit(ExprLit {
                            lit: Lit::Int(i), ..
                        }) if i.suffix().is_empty() || i.suffix() == "u64" => {
                            i.base10_parse::<u64>().ok()
                        }
                        _ => None,
                    };
                    match ms {
                        Some(0) => errors.at(value, "`slow_ms` must be at least 1 millisecond"),
                        Some(ms) => set_once(&mut args.slow_ms, ms, key, &mut errors),
                        None => errors.at(value, HELP),
                    }
                }
                Some("crate") => {
                    if let Some(v) = crate_option(meta, &mut errors) {
                        set_once(&mut args.krate, v, key, &mut errors);
                    }
                }
                _ => unknown(MacroKind::Measure, key, &mut errors),
            }
        }
        errors.finish()?;
        Ok(args)
    }
}

/// The arguments of one of our attributes, whichever it is.
#[derive(Clone)]
pub(crate) enum AnyArgs {
    Traced(TracedArgs),
    Track(TrackArgs),
    Measure(MeasureArgs),
}

impl AnyArgs {
    /// Parses the arguments of `kind` from the attribute's tokens (empty for `#[traced]`).
    pub(crate) fn parse(kind: MacroKind, tokens: TokenStream) -> syn::Result<AnyArgs> {
        Ok(match kind {
            MacroKind::Traced => AnyArgs::Traced(syn::parse2(tokens)?),
            MacroKind::TrackErrors => AnyArgs::Track(syn::parse2(tokens)?),
            MacroKind::Measure => AnyArgs::Measure(syn::parse2(tokens)?),
        })
    }

    pub(crate) fn krate(&self) -> Option<&Path> {
        match self {
            AnyArgs::Traced(a) => a.krate.as_ref(),
            AnyArgs::Track(a) => a.krate.as_ref(),
            AnyArgs::Measure(a) => a.krate.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests;
