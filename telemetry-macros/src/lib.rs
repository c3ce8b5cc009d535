//! Attribute macros for the `telemetry` crate. Use them through `telemetry`'s
//! re-exports (`use telemetry::prelude::*;`), not from this crate directly.
//!
//! - [`macro@traced`]: a span around the function.
//! - [`macro@track_errors`]: errors and panics counted and recorded on the span.
//! - [`macro@measure_performance`]: the call's duration in a histogram, and a warning
//!   for slow calls.
//!
//! The three compose on one function in any order and expand together into one span,
//! one pair of clock readings and one classification of the result. With the
//! `disabled` feature (`telemetry/macros-disabled`) each macro checks its arguments and
//! returns the function unchanged.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use proc_macro::TokenStream;

mod args;
mod expand;
mod func;
mod measure;
mod traced;
mod track_errors;

use args::MacroKind;

/// Wraps the function's body in a `tracing` span that becomes an OpenTelemetry span.
///
/// Works on free functions, methods (`self` is never recorded), trait impl methods,
/// generic functions, functions returning `impl Trait`, `async fn` (the future is
/// instrumented, not its construction), functions returning an `async` block and
/// `#[async_trait]` methods. `?`, early `return` and other attributes keep working.
///
/// The span is named after the function (`Type::method` in impl blocks, set through
/// `otel.name`), and carries `code.function.name` (the full path, e.g.
/// `shop::Cart::add`), `code.file.path` and `code.line.number`, and the arguments as
/// attributes, recorded as `#[instrument]` records them: primitives and strings as
/// values, everything else with `Debug`.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `name = "checkout"` | the span's name (default: the function's) |
/// | `level = "debug"` | the span's level: `"trace"`, `"debug"`, `"info"` (default), `"warn"`, `"error"` or `Level::DEBUG` |
/// | `target = "shop::db"` | the span's target (default: the module path) |
/// | `kind = "server"` | the OpenTelemetry span kind: `"server"`, `"client"`, `"producer"`, `"consumer"`, `"internal"` |
/// | `skip(a, b)` | arguments not recorded |
/// | `skip_all` | no argument recorded |
/// | `fields(key = expr, ..)` | more attributes, written as in `tracing::span!` (`a.b = %x`, `c = ?y`, `d = tracing::field::Empty`) |
/// | `err`, `err(Debug)` | on `Err`: status Error with the error's message (`Display`, or `Debug`), `error.type`, and one `exception` event (`exception.type`, `exception.message`); no log line |
/// | `err(level = "warn")` | the same, plus a log event at that level |
/// | `ret`, `ret(Display)`, `ret(level = "debug")` | an event with the return value (the `Ok` value with `err`) |
/// | `parent = expr` | the span's parent (`None` for a root) |
/// | `follows_from = expr` | an iterable of span ids this span follows from |
/// | `crate = path` | where the `telemetry` crate is, if renamed |
///
/// # Examples
///
/// ```
/// use telemetry::prelude::*;
///
/// #[derive(Debug)]
/// struct Card;
///
/// #[traced(kind = "client", skip(card), fields(payment.amount = amount_cents), err)]
/// fn charge(card: &Card, amount_cents: u64) -> Result<(), std::io::Error> {
///     let _ = card;
///     Ok(())
/// }
/// # charge(&Card, 1250).unwrap();
/// ```
///
/// # What it expands to
///
/// For a plain `#[traced] fn f(id: u64) -> u64 { id + 1 }` (names shortened):
///
/// ```ignore
/// fn f(id: u64) -> u64 {
///     static SITE: Site = Site::new("f", /* .. */);
///     let span = tracing::span!(Level::INFO, "f",
///         otel.name = SITE.otel_name(),          // `Some("Type::method")` in impl blocks
///         code.function.name = SITE.path(),      // "my_crate::f"
///         id = id);
///     let _entered = span.enter();
///     { id + 1 }
/// }
/// ```
///
/// With `err` (or stacked with `#[track_errors]` / `#[measure_performance]`) the body
/// runs in a closure so its value can be seen, with a guard that notices panics:
///
/// ```ignore
/// let mut guard = Guard::new(&SITE, Some(&span));      // reads the clock if measured
/// let ret = (move || { /* body */ })();
/// let outcome = match as_result(&ret) {                // `err`: needs a `Result`
///     Ok(_) => Outcome::Ok,
///     Err(e) => Outcome::display(e),
/// };
/// guard.finish(outcome, Some(&span));  // status, error.type, exception event, metrics
/// ret
/// ```
///
/// An `async fn` keeps its signature; its body becomes an `async move` block polled
/// inside the span (`tracing::Instrument`), or inside `Watch`, a future that enters
/// the span, starts the clock at the first poll, notices panics during `poll`, and
/// runs the same `finish` when the body completes.
///
/// A span filtered out by level costs what a filtered `info_span!` costs: the
/// expansion's only other work is static.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Traced, args.into(), item.into()).into()
}

/// Counts the function's errors and panics, and records them on the current span.
///
/// On an `Err` return (and on a panic, noticed by a drop guard, without
/// `catch_unwind`; the panic continues unchanged) it:
///
/// - adds 1 to the counter `function.errors` (unit `{error}`, attributes
///   `code.function.name` and `error.type`: the error's type name, or `panic`);
/// - records one `exception` event (`exception.type`, `exception.message`) on the
///   current span (the `#[traced]` span when stacked), sets the span's status to Error
///   with the message, and its `error.type` attribute.
///
/// The message is the error's `Display`, else its `Debug`, else nothing. Functions
/// that do not return a `Result` only have their panics tracked, unless a classifier
/// says otherwise.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `ok_if = path` | a `fn(&ReturnType) -> bool`; `true` means success, even for an `Err` (errors that are expected, like "not found") |
/// | `error_if = path` | a `fn(&ReturnType) -> bool`; `true` means error, even for an `Ok` or a non-`Result` (then `error.type` is `_OTHER`) |
/// | `crate = path` | where the `telemetry` crate is, if renamed |
///
/// Metrics go through OpenTelemetry's global meter provider (scope `telemetry`).
///
/// # Examples
///
/// ```
/// use telemetry::prelude::*;
///
/// fn is_not_found(r: &Result<String, std::io::Error>) -> bool {
///     matches!(r, Err(e) if e.kind() == std::io::ErrorKind::NotFound)
/// }
///
/// #[track_errors(ok_if = is_not_found)]
/// fn read_config(path: &str) -> Result<String, std::io::Error> {
///     std::fs::read_to_string(path)
/// }
/// # let _ = read_config("/nonexistent");
/// ```
///
/// # What it expands to
///
/// ```ignore
/// fn read_config(path: &str) -> Result<String, std::io::Error> {
///     static SITE: Site = Site::new("read_config", /* .. */);
///     let mut guard = Guard::new(&SITE, None);   // records a panic when dropped unwinding
///     let ret = (move || { std::fs::read_to_string(path) })();
///     let outcome = if is_not_found(&ret) { Outcome::Ok } else { classify(&ret).or_other() };
///     guard.finish(outcome, None);               // counter, exception event, status
///     ret
/// }
/// ```
#[proc_macro_attribute]
pub fn track_errors(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(MacroKind::TrackErrors, args.into(), item.into()).into()
}

/// Records the call's duration, and warns about slow calls.
///
/// The duration goes into the histogram `function.duration` (unit `s`, buckets
/// `[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]`),
/// with attributes `code.function.name` and `outcome` (`ok` or `error`, plus
/// `error.type` on errors; an `Err` is an error, a panic too, with `error.type` =
/// `panic`). For an `async fn` it is the time from the first poll until the future
/// completes; a future dropped before completing is not recorded.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `slow_ms = 250` | a call slower than this logs a `WARN` event with `duration_ms` |
/// | `crate = path` | where the `telemetry` crate is, if renamed |
///
/// # Examples
///
/// ```
/// use telemetry::prelude::*;
///
/// #[measure_performance(slow_ms = 250)]
/// async fn fetch(id: u64) -> Result<u64, std::io::Error> {
///     Ok(id)
/// }
/// # let _ = fetch(1);
/// ```
///
/// # What it expands to
///
/// ```ignore
/// async fn fetch(id: u64) -> Result<u64, std::io::Error> {
///     static SITE: Site = Site::new("fetch", /* .. */);
///     let fut = async move { Ok(id) };
///     Watch::new(pin!(fut), None, &SITE, |ret, call, span| {
///         let outcome = classify(ret);
///         if let Some(took) = call.finish(outcome, span) {   // Some(..) when slow
///             tracing::warn!(duration_ms = .., slow_ms = 250, "slow call: ..");
///         }
///     })
///     .await
/// }
/// ```
#[proc_macro_attribute]
pub fn measure_performance(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Measure, args.into(), item.into()).into()
}
