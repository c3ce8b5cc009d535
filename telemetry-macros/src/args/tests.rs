//! Unit tests of `args/`, with `parse_quote!`.
use super::*;
use quote::{quote, ToTokens};
use syn::parse_quote;

fn traced(tokens: TokenStream) -> syn::Result<TracedArgs> {
    syn::parse2(tokens)
}

fn message(result: syn::Result<impl Sized>) -> String {
    match result {
        Ok(_) => String::from("<ok>"),
        Err(e) => e
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

#[test]
fn empty_arguments_are_the_defaults() {
    let args = traced(TokenStream::new()).unwrap();
    assert!(args.name.is_none() && args.level.is_none() && args.err.is_none());
    let track: TrackArgs = syn::parse2(TokenStream::new()).unwrap();
    assert!(track.ok_if.is_none());
    let measure: MeasureArgs = syn::parse2(TokenStream::new()).unwrap();
    assert!(measure.slow_ms.is_none());
}

#[test]
fn every_traced_option_parses() {
    let args = traced(parse_quote!(
        name = "checkout",
        level = "debug",
        target = "shop::db",
        kind = "server",
        skip(password),
        fields(user.id = id, body = ?body, %shown, http.request.method = "GET", pending = tracing::field::Empty),
        err(Debug),
        ret(level = "trace"),
        parent = None,
        follows_from = [cause],
        crate = ::telemetry,
    ))
    .unwrap();
    assert_eq!(args.name.unwrap().value(), "checkout");
    assert_eq!(args.level.unwrap().kind, LevelKind::Debug);
    assert_eq!(args.target.unwrap().value(), "shop::db");
    assert_eq!(args.kind.unwrap().lit.value(), "server");
    assert_eq!(args.skip.unwrap().names[0], "password");
    let fields = args.fields.unwrap();
    let names: Vec<String> = fields.iter().map(Field::name_string).collect();
    assert_eq!(
        names,
        ["user.id", "body", "shown", "http.request.method", "pending"]
    );
    assert_eq!(fields[1].to_token_stream().to_string(), "body = ? body");
    assert_eq!(fields[2].to_token_stream().to_string(), "% shown");
    let err = args.err.unwrap();
    assert_eq!((err.mode, err.level.is_none()), (Mode::Debug, true));
    let ret = args.ret.unwrap();
    assert_eq!(
        (ret.mode, ret.level.map(|l| l.kind)),
        (Mode::Default, Some(LevelKind::Trace))
    );
    assert!(args.parent.is_some() && args.follows_from.is_some());
    assert_eq!(
        args.krate.unwrap().to_token_stream().to_string(),
        ":: telemetry"
    );
}

#[test]
fn levels_are_strings_or_level_paths() {
    let a = traced(parse_quote!(level = "WARN")).unwrap();
    assert_eq!(a.level.unwrap().kind, LevelKind::Warn);
    let a = traced(parse_quote!(level = tracing::Level::ERROR)).unwrap();
    assert_eq!(a.level.unwrap().kind, LevelKind::Error);
    assert!(message(traced(parse_quote!(level = "loud"))).contains("`level` takes one of"));
    assert!(message(traced(parse_quote!(level = 3))).contains("`level` takes one of"));
}

#[test]
fn keyword_field_names_parse() {
    let a = traced(parse_quote!(fields(error.type = "io", r#type = 1))).unwrap();
    let names: Vec<String> = a.fields.unwrap().iter().map(Field::name_string).collect();
    assert_eq!(names, ["error.type", "r#type"]);
}

#[test]
fn unknown_options_say_what_is_accepted() {
    let m = message(traced(parse_quote!(nmae = "x")));
    assert!(
        m.starts_with("unknown option `nmae` of `#[traced]`; it accepts `name`"),
        "{m}"
    );
    let m = message(syn::parse2::<TrackArgs>(parse_quote!(skip(x))));
    assert!(
        m.contains("it accepts `ok_if`, `error_if` and `crate`"),
        "{m}"
    );
    let m = message(syn::parse2::<MeasureArgs>(parse_quote!(slow = 3)));
    assert!(m.contains("it accepts `slow_ms` and `crate`"), "{m}");
}

#[test]
fn repeated_options_are_reported_at_the_repetition() {
    let e = traced(parse_quote!(name = "a", level = "info", name = "b"))
        .err()
        .unwrap();
    assert_eq!(e.to_string(), "`name` is given twice; keep one");
    let m = message(traced(parse_quote!(err, err(Debug))));
    assert_eq!(m, "`err` is given twice; keep one");
    let m = message(traced(parse_quote!(fields(a = 1, a = 2))));
    assert_eq!(m, "field `a` is given twice; keep one");
    let m = message(syn::parse2::<MeasureArgs>(parse_quote!(
        slow_ms = 1,
        slow_ms = 2
    )));
    assert_eq!(m, "`slow_ms` is given twice; keep one");
}

#[test]
fn several_mistakes_are_reported_together() {
    let m = message(traced(parse_quote!(name = 1, kind = "serverr", bogus)));
    assert_eq!(
        m.matches(" | ").count(),
        2,
        "three errors expected, got: {m}"
    );
    assert!(m.contains("`name` takes a string literal, like `name = \"checkout\"`"));
    assert!(m.contains("`kind` takes one of \"server\""));
    assert!(m.contains("unknown option `bogus`"));
}

#[test]
fn wrong_value_types_say_how_to_write_them() {
    let m = message(traced(parse_quote!(target = some::path)));
    assert_eq!(
        m,
        "`target` takes a string literal, like `target = \"my_app::db\"`"
    );
    let m = message(traced(parse_quote!(skip_all = true)));
    assert_eq!(m, "`skip_all` takes no value; write just `skip_all`");
    let m = message(traced(parse_quote!(name)));
    assert_eq!(m, "`name` takes a value, like `name = \"checkout\"`");
    let m = message(traced(parse_quote!(err = true)));
    assert!(m.starts_with("`err` takes no `= value`"), "{m}");
    let m = message(traced(parse_quote!(err(Pretty))));
    assert!(m.starts_with("`err(..)` accepts `Debug`, `Display`"), "{m}");
    let m = message(traced(parse_quote!(skip("a"))));
    assert_eq!(
        m,
        "`skip` takes the names of arguments, like `skip(password, body)`"
    );
    let m = message(traced(parse_quote!(crate = "telemetry")));
    assert!(m.starts_with("`crate` takes the path"), "{m}");
}

#[test]
fn skip_and_skip_all_conflict() {
    let m = message(traced(parse_quote!(skip(a), skip_all)));
    assert!(
        m.starts_with("`skip_all` already skips every argument"),
        "{m}"
    );
}

#[test]
fn track_errors_takes_one_classifier() {
    let a: TrackArgs = syn::parse2(parse_quote!(ok_if = is_expected)).unwrap();
    assert!(a.ok_if.is_some());
    let a: TrackArgs = syn::parse2(parse_quote!(error_if = |r: &u8| *r > 3)).unwrap();
    assert!(a.error_if.is_some());
    let m = message(syn::parse2::<TrackArgs>(parse_quote!(
        ok_if = a,
        error_if = b
    )));
    assert!(m.starts_with("give either `ok_if` or `error_if`"), "{m}");
    let m = message(syn::parse2::<TrackArgs>(parse_quote!(ok_if = "a")));
    assert!(
        m.contains("takes a function `fn(&ReturnType) -> bool`"),
        "{m}"
    );
}

#[test]
fn slow_ms_is_a_positive_integer() {
    let a: MeasureArgs = syn::parse2(parse_quote!(slow_ms = 250)).unwrap();
    assert_eq!(a.slow_ms, Some(250));
    for bad in [
        quote!(slow_ms = "250"),
        quote!(slow_ms = 2.5),
        quote!(slow_ms = -1),
        quote!(slow_ms = 250ms),
    ] {
        let m = message(syn::parse2::<MeasureArgs>(bad.clone()));
        assert_eq!(
            m, "`slow_ms` takes an integer of milliseconds, like `slow_ms = 250`",
            "{bad}"
        );
    }
    let m = message(syn::parse2::<MeasureArgs>(quote!(slow_ms = 0)));
    assert_eq!(m, "`slow_ms` must be at least 1 millisecond");
}

#[test]
fn our_attributes_are_recognised_by_their_last_segment() {
    let p: Path = parse_quote!(telemetry::traced);
    assert_eq!(MacroKind::of_path(&p), Some(MacroKind::Traced));
    let p: Path = parse_quote!(measure_performance);
    assert_eq!(MacroKind::of_path(&p), Some(MacroKind::Measure));
    let p: Path = parse_quote!(tracing::instrument);
    assert_eq!(MacroKind::of_path(&p), None);
}
