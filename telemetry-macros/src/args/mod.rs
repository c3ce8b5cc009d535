//! The arguments of the three macros: parsing, validation and the messages that say
//! what to write instead.
//!
//! Every option is parsed from a [`syn::Meta`] and checked on its own (`options.rs`),
//! so one attribute can report several mistakes at once, each at its own tokens
//! (`errors.rs`). This file holds what each attribute accepts, the one loop that reads
//! any attribute's list of options, and the conflicts between options.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Meta, Path, Token};

mod errors;
mod fields;
mod options;

pub(crate) use errors::Errors;
pub(crate) use fields::Field;
use options::{
    crate_option, event_option, fields_option, flag, function_option, key_of, kind_option,
    level_option, name_option, name_value, once, path_name, skip_option, slow_ms_option,
    string_option, Kind, Level, Skip,
};
pub(crate) use options::{EventArgs, LevelKind, Mode};

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

/// What one attribute accepts, read by [`parse_options`].
trait Options: Default {
    const KIND: MacroKind;

    /// Where `crate = path`, which every attribute accepts, goes.
    fn krate(&mut self) -> &mut Option<Path>;

    /// Reads the option named `key`; `false` when the attribute has no such option.
    fn option(&mut self, key: &str, meta: &Meta, errors: &mut Errors) -> bool;

    /// Reports options that contradict each other, once all are read.
    fn conflicts(&self, _errors: &mut Errors) {}
}

/// An attribute's comma-separated options, each read once, an unknown one reported,
/// all mistakes together.
fn parse_options<A: Options>(input: ParseStream<'_>) -> syn::Result<A> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
    let mut args = A::default();
    let mut errors = Errors::default();
    for meta in &metas {
        let key = meta.path();
        match key_of(key).as_deref() {
            Some("crate") => once(args.krate(), meta, &mut errors, crate_option),
            Some(name) if args.option(name, meta, &mut errors) => {}
            _ => unknown(A::KIND, key, &mut errors),
        }
    }
    args.conflicts(&mut errors);
    errors.finish()?;
    Ok(args)
}

/// `Parse` for each attribute's arguments is [`parse_options`] (a blanket impl over
/// [`Options`] is not allowed for syn's trait).
macro_rules! parse_with_options {
    ($($args:ty),*) => {$(
        impl Parse for $args {
            fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
                parse_options(input)
            }
        }
    )*};
}

parse_with_options!(TracedArgs, TrackArgs, MeasureArgs);

/// Two options that exclude each other: `message` at `at` when `other` is given too.
fn excludes<T>(errors: &mut Errors, at: Option<&impl ToTokens>, other: Option<&T>, message: &str) {
    if let (Some(at), Some(_)) = (at, other) {
        errors.at(at, message);
    }
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

impl Options for TracedArgs {
    const KIND: MacroKind = MacroKind::Traced;

    fn krate(&mut self) -> &mut Option<Path> {
        &mut self.krate
    }

    fn option(&mut self, key: &str, meta: &Meta, errors: &mut Errors) -> bool {
        match key {
            "name" => once(&mut self.name, meta, errors, name_option),
            "target" => once(&mut self.target, meta, errors, |m, e| {
                string_option(m, "target = \"my_app::db\"", e)
            }),
            "level" => once(&mut self.level, meta, errors, level_option),
            "kind" => once(&mut self.kind, meta, errors, kind_option),
            "skip" => once(&mut self.skip, meta, errors, skip_option),
            "skip_all" => once(&mut self.skip_all, meta, errors, |m, e| {
                flag(m, e).then(|| m.path().clone())
            }),
            "fields" => once(&mut self.fields, meta, errors, fields_option),
            "err" => once(&mut self.err, meta, errors, event_option),
            "ret" => once(&mut self.ret, meta, errors, event_option),
            "parent" => once(&mut self.parent, meta, errors, |m, e| {
                name_value(m, "parent = &span", e).cloned()
            }),
            "follows_from" => once(&mut self.follows_from, meta, errors, |m, e| {
                name_value(m, "follows_from = [id]", e).cloned()
            }),
            _ => return false,
        }
        true
    }

    fn conflicts(&self, errors: &mut Errors) {
        excludes(
            errors,
            self.skip_all.as_ref(),
            self.skip.as_ref(),
            "`skip_all` already skips every argument; remove `skip(..)` or `skip_all`",
        );
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

impl Options for TrackArgs {
    const KIND: MacroKind = MacroKind::TrackErrors;

    fn krate(&mut self) -> &mut Option<Path> {
        &mut self.krate
    }

    fn option(&mut self, key: &str, meta: &Meta, errors: &mut Errors) -> bool {
        match key {
            "ok_if" => once(&mut self.ok_if, meta, errors, function_option),
            "error_if" => once(&mut self.error_if, meta, errors, function_option),
            _ => return false,
        }
        true
    }

    fn conflicts(&self, errors: &mut Errors) {
        excludes(
            errors,
            self.error_if.as_ref(),
            self.ok_if.as_ref(),
            "give either `ok_if` or `error_if`, not both: one function classifies the call",
        );
    }
}

/// `#[measure_performance(..)]`.
#[derive(Default, Clone)]
pub(crate) struct MeasureArgs {
    /// Calls slower than this many milliseconds log a warning.
    pub(crate) slow_ms: Option<u64>,
    pub(crate) krate: Option<Path>,
}

impl Options for MeasureArgs {
    const KIND: MacroKind = MacroKind::Measure;

    fn krate(&mut self) -> &mut Option<Path> {
        &mut self.krate
    }

    fn option(&mut self, key: &str, meta: &Meta, errors: &mut Errors) -> bool {
        match key {
            "slow_ms" => once(&mut self.slow_ms, meta, errors, slow_ms_option),
            _ => return false,
        }
        true
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
