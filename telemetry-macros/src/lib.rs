//! Attribute macros for the `telemetry` crate. Use them through `telemetry`'s
//! re-exports (`use telemetry::prelude::*;`), not from this crate directly.
//!
//! - [`macro@traced`]: a span around the function.
//! - [`macro@track_errors`]: errors and panics counted and recorded on the span.
//! - [`macro@measure_performance`]: the call's duration in a histogram, and a warning
//!   for slow calls.
//!
//! The three compose on one function in any order: the first to expand reads the
//! others' arguments and removes them, and writes one expansion with one span, one
//! pair of clock readings and one classification of the result.
//!
//! With the `disabled` feature (`telemetry`'s `macros-disabled`) each macro checks its
//! arguments, so mistakes are still reported, and returns the function unchanged.
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
mod plan;
mod traced;
mod track_errors;

use args::MacroKind;

/// Wraps the function's body in a `tracing` span that becomes an OpenTelemetry span.
///
/// Works on free functions, methods (`self` is never recorded), trait impl methods,
/// generic functions, functions returning `impl Trait`, `async fn` (the future is
/// instrumented, not its construction), functions whose last expression is an `async`
/// block (`-> impl Future`, `-> Pin<Box<dyn Future>>`) and `#[async_trait]` methods.
/// `?`, early `return` and other attributes keep working.
///
/// The span is named after the function, `Type::method` in impl blocks (given to
/// OpenTelemetry through `otel.name`; `tracing` layers see the function's name). It
/// carries `code.function.name` (the full path: `module_path!()`, then `Type::` for a
/// method, then the function's name: `shop::cart::add`, `shop::cart::Cart::add`, also
/// in a trait impl), `code.file.path` and
/// `code.line.number` (the attribute's line), and the arguments as `#[instrument]`
/// records them: integers, floats, `bool`, `str` and `String` as values (through
/// references too), everything else with `Debug`.
///
/// The module path and the function's name are fixed at compile time. The type of a
/// method, which an attribute on the method cannot see, is read once from
/// `std::any::type_name`; should a compiler spell that differently, the names lose
/// `Type::` and keep the rest. `error.type` is the error's type name as `type_name`
/// spells it (`std::io::error::Error`): best effort, the same for one compiler but not
/// promised across compiler versions.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `name = "checkout"` | the span's name (default: the function's, `Type::method` in impl blocks) |
/// | `level = "debug"` | the span's level: `"trace"`, `"debug"`, `"info"` (default), `"warn"`, `"error"`, or `Level::DEBUG` |
/// | `target = "shop::db"` | the span's target and its events' (default: the module path) |
/// | `kind = "server"` | the OpenTelemetry span kind: `"server"`, `"client"`, `"producer"`, `"consumer"`, `"internal"` |
/// | `skip(a, b)` | arguments not recorded (`self` never is) |
/// | `skip_all` | no argument recorded |
/// | `fields(key = expr, ..)` | more attributes, written as in `tracing::span!`: `a.b = x`, `c = %x`, `d = ?x`, `e = tracing::field::Empty` (recorded later); a field named like an argument replaces it |
/// | `err`, `err(Debug)` | on `Err`: status Error with the error's message (`Display`, or `Debug`) as description, the `error.type` attribute (the error's type name), and one `exception` event with `exception.type` and `exception.message`; no log line |
/// | `err(level = "warn")` | the same, plus one log event at that level |
/// | `ret`, `ret(Display)`, `ret(level = "debug")` | an event with the return value (`Debug` unless `Display`; the `Ok` value when `err` is given), at the span's level unless given |
/// | `parent = expr` | the span's parent: `None` for a root, or a span or id |
/// | `follows_from = expr` | an iterable of `Option<Id>` (or spans' ids) this span follows from: OpenTelemetry links |
/// | `crate = path` | the path of the `telemetry` crate, if renamed or re-exported |
///
/// Mistakes are compile errors at the offending token that say what is accepted:
/// unknown or repeated options, values of the wrong type, `err` on a function that
/// does not return a `Result`, `skip` of an argument that does not exist, the
/// attribute on something that is not a function.
///
/// # Examples
///
/// ```
/// use telemetry::prelude::*;
///
/// #[derive(Debug)]
/// struct Card;
///
/// #[traced(kind = "client", skip(card), fields(payment.currency = "EUR"), err)]
/// fn charge(card: &Card, amount_cents: u64) -> Result<u64, std::io::Error> {
///     let _ = card;
///     Ok(amount_cents)
/// }
///
/// struct Cart;
///
/// impl Cart {
///     #[traced(level = "debug", ret)] // span "Cart::total"
///     async fn total(&self, items: u32) -> u64 {
///         u64::from(items) * 250
///     }
/// }
/// # charge(&Card, 1250).unwrap();
/// # let _ = Cart.total(2);
/// ```
///
/// # What it expands to
///
/// `#[traced] fn add(a: u64, b: u64) -> u64 { a + b }` becomes (paths shortened;
/// `__macro_support` is `telemetry::__macro_support`):
///
/// ```ignore
/// fn add(a: u64, b: u64) -> u64 {
///     struct __TelemetryHere; // its `type_name` tells a method's type, once
///     static __TELEMETRY_SITE: __macro_support::Site = __macro_support::Site::new(
///         "add", false, module_path!(), "add", type_name::<__TelemetryHere>,
///         __macro_support::Options { .. },
///     );
///     let span = tracing::span!(Level::INFO, "add",
///         otel.name = __TELEMETRY_SITE.otel_name(),    // Some("Type::method") in impls
///         code.function.name = __TELEMETRY_SITE.path(), // "my_crate::add"
///         a = a, b = b);
///     let _entered = span.enter();
///     { a + b }
/// }
/// ```
///
/// Filtered out by level, `span!` returns a disabled span without evaluating any
/// field, so the function costs what a filtered `info_span!` costs.
///
/// With `err` or `ret` (or stacked with [`macro@track_errors`] or
/// [`macro@measure_performance`]) the body runs in a closure so its value can be
/// seen, and a guard notices a panic unwinding through the call:
///
/// ```ignore
///     let mut guard = __macro_support::Guard::new(&__TELEMETRY_SITE, Some(&span));
///     let ret = __macro_support::call_once(move || { a + b });
///     {
///         let (call, span) = guard.parts();
///         let outcome = match __macro_support::as_result(&ret) {  // `err`: needs a `Result`
///             Ok(_) => __macro_support::Outcome::Ok,
///             Err(e) => __macro_support::Outcome::display(e),    // `err(Debug)`: ::debug(e)
///         };
///         call.finish(outcome, span); // status, error.type, exception event, metrics
///     }
///     ret
/// ```
///
/// An `async fn` keeps its signature. Its body becomes a future polled inside the span
/// (`tracing::Instrument`), or, when the value is needed, inside `__macro_support::Watch`,
/// which enters the span at each poll, notices a panic during a poll, and runs the same
/// epilogue when the body completes:
///
/// ```ignore
/// async fn load(id: u64) -> Result<Row, Error> {
///     static __TELEMETRY_SITE: /* .. */;
///     let span = tracing::span!(/* .. */);
///     let fut = async move { /* body */ };
///     __macro_support::Watch::new(pin!(fut), Some(span), &__TELEMETRY_SITE, |ret, call, span| {
///         let outcome = /* as above */;
///         call.finish(outcome, span);
///     })
///     .await
/// }
/// ```
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Traced, args.into(), item.into()).into()
}

/// Counts the function's errors and panics, and records them on the current span.
///
/// On an `Err` return, and on a panic (seen by a drop guard, without `catch_unwind`,
/// so the panic continues unchanged), it:
///
/// - adds 1 to the counter `function.errors` (unit `{error}`) with the attributes
///   `code.function.name` (the full path) and `error.type` (the error's type name,
///   `panic`, or `_OTHER`);
/// - records one `exception` event (`exception.type`, `exception.message`) on the
///   current span (the [`macro@traced`] span when stacked: still one event), sets the
///   span's status to Error with the message as description, and its `error.type`
///   attribute. No log line is emitted.
///
/// The message is the error's `Display`, else its `Debug`, else none. Any return type
/// is accepted: for types other than `Result` only panics count, unless a classifier
/// says otherwise. A future dropped before completing (cancelled) is not an error.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `ok_if = path` | a `fn(&ReturnType) -> bool` (or a closure); `true` means success, even for an `Err`: errors that are expected, like "not found" |
/// | `error_if = path` | a `fn(&ReturnType) -> bool` (or a closure); `true` means error, `false` success, whatever the value (a non-`Err` error has `error.type` `_OTHER`) |
/// | `crate = path` | the path of the `telemetry` crate, if renamed or re-exported |
///
/// One classification serves every stacked attribute: with `ok_if`, an expected `Err`
/// also leaves `#[traced(err)]`'s span status alone and counts as `outcome = ok` in
/// `#[measure_performance]`.
///
/// The counter is recorded into the meter provider of the `Telemetry` whose layer
/// records the call (scope `telemetry`), found through the `tracing` dispatcher; with
/// no telemetry layer installed, into OpenTelemetry's global meter provider.
/// `error.type` is best effort: see [`macro@traced`].
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
///
/// #[track_errors(error_if = |status| *status >= 500)]
/// fn respond(status: u16) -> u16 {
///     status
/// }
/// # let _ = read_config("/nonexistent");
/// # let _ = respond(503);
/// ```
///
/// # What it expands to
///
/// ```ignore
/// fn read_config(path: &str) -> Result<String, std::io::Error> {
///     static __TELEMETRY_SITE: __macro_support::Site = /* .. */;
///     // Records a panic if dropped while unwinding before `finish`.
///     let mut guard = __macro_support::Guard::new(&__TELEMETRY_SITE, None);
///     let ret = __macro_support::call_once(move || { std::fs::read_to_string(path) });
///     {
///         let (call, span) = guard.parts();
///         let outcome = if __macro_support::holds(is_not_found, &ret) {
///             __macro_support::Outcome::Ok
///         } else {
///             // `Err` described by `Display`, else `Debug`, else its type only.
///             classify(&ret).or_other()
///         };
///         call.finish(outcome, span); // counter; exception + status on the current span
///     }
///     ret
/// }
/// ```
#[proc_macro_attribute]
pub fn track_errors(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(MacroKind::TrackErrors, args.into(), item.into()).into()
}

/// Records the call's duration in a histogram, and warns about slow calls.
///
/// The duration goes into the histogram `function.duration` (unit `s`, explicit
/// buckets `[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5,
/// 10]`, the ones the semantic conventions advise) with the attributes
/// `code.function.name` and `outcome` (`ok` or `error`), plus `error.type` on errors
/// (an `Err`'s type name, or `panic`). For an `async fn` it is the time from the first
/// poll until the future completes; a future dropped before completing is not
/// recorded.
///
/// The clock is read once when the call starts and once when it ends, however many of
/// the three attributes are stacked.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `slow_ms = 250` | a call that takes longer logs a `WARN` event, in the span if traced, with `duration_ms` and `slow_ms` |
/// | `crate = path` | the path of the `telemetry` crate, if renamed or re-exported |
///
/// The histogram is recorded into the meter provider of the `Telemetry` whose layer
/// records the call (scope `telemetry`), found through the `tracing` dispatcher; with
/// no telemetry layer installed, into OpenTelemetry's global meter provider. Each
/// function binds its `outcome = ok` series once, so a successful call's record hashes
/// no attributes.
///
/// # Examples
///
/// ```
/// use telemetry::prelude::*;
///
/// #[measure_performance(slow_ms = 250)]
/// #[traced(err)]
/// #[track_errors]
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
///     static __TELEMETRY_SITE: __macro_support::Site = /* .. */;
///     let fut = async move { Ok(id) };
///     // Starts the clock at the first poll and stops it when `fut` completes.
///     __macro_support::Watch::new(pin!(fut), None, &__TELEMETRY_SITE, |ret, call, span| {
///         let outcome = classify(ret);
///         if let Some(took) = call.finish(outcome, span) { // `Some` when slower
///             tracing::warn!(duration_ms = .., slow_ms = 250, "slow call: fetch took ..");
///         }
///     })
///     .await
/// }
/// ```
#[proc_macro_attribute]
pub fn measure_performance(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Measure, args.into(), item.into()).into()
}
