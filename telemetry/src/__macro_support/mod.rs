//! Items the attribute macros' expansions call. Not a public API: no stability promise.
//!
//! The expansions of `#[traced]`, `#[track_errors]` and `#[measure_performance]` share
//! one [`Site`] per function (names computed once, options fixed at compile time) and
//! one [`Call`] per call (one clock reading at each end, one classification of the
//! result), whatever the number of stacked attributes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::metrics::ERROR_TYPE;
use crate::TelemetrySpanExt as _;
use opentelemetry::trace::Status;
use opentelemetry::KeyValue;

pub use opentelemetry;
pub use tracing;

mod call_metrics;
mod names;
mod outcome;

use call_metrics::{count_error, record_duration};
pub use outcome::{
    as_result, ErrorInfo, IsResult, Outcome, Probe, ProbeAny, ProbeDebug, ProbeDisplay, ProbeResult,
};

/// Whether the `macros-disabled` feature compiled the macros out.
pub const MACROS_DISABLED: bool = cfg!(feature = "macros-disabled");

/// `error.type` of a panic.
pub const ERROR_TYPE_PANIC: &str = "panic";

/// What the stacked attributes ask for, fixed at compile time.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Errors set the span's status, `error.type` and one exception event.
    pub mark_span: bool,
    /// Errors and panics add to [`FUNCTION_ERRORS`](crate::metrics::FUNCTION_ERRORS).
    pub count_errors: bool,
    /// Durations go to [`FUNCTION_DURATION`](crate::metrics::FUNCTION_DURATION).
    pub measure: bool,
    /// Calls slower than this (in ms) are reported to the expansion; 0 = never.
    pub slow_ms: u64,
}

/// One instrumented function: a `static` in its body.
pub struct Site {
    name: &'static str,
    named: bool,
    module: &'static str,
    function: &'static str,
    here: fn() -> &'static str,
    names: OnceLock<Names>,
    /// The successful-call duration series, bound on first use.
    series: OnceLock<call_metrics::Series>,
    options: Options,
}

struct Names {
    /// `crate::module::Type::method` (`code.function.name`).
    path: String,
    /// `Type::method`, or the given name.
    display: String,
    /// Whether `display` differs from the span's static name.
    rename: bool,
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("name", &self.name)
            .field("module", &self.module)
            .field("function", &self.function)
            .field("options", &self.options)
            .finish()
    }
}

impl Site {
    /// `name` is the span's static name (the function's, or the one given when
    /// `named`); `module` is `module_path!()` where the function is written and
    /// `function` its name. `here` is `type_name::<T>` of a type declared in the
    /// function's body, read only for the type that owns a method (`Type::` in
    /// `Type::method`), which an attribute on the method cannot see.
    pub const fn new(
        name: &'static str,
        named: bool,
        module: &'static str,
        function: &'static str,
        here: fn() -> &'static str,
        options: Options,
    ) -> Site {
        Site {
            name,
            named,
            module,
            function,
            here,
            names: OnceLock::new(),
            series: OnceLock::new(),
            options,
        }
    }

    fn names(&self) -> &Names {
        self.names.get_or_init(|| {
            let owner = names::owner((self.here)(), self.function);
            let (path, display) =
                names::function_names(self.module, self.function, owner.as_deref());
            let display = if self.named {
                self.name.to_string()
            } else {
                display
            };
            Names {
                rename: display != self.name,
                path,
                display,
            }
        })
    }

    /// The function's full path, e.g. `shop::cart::Cart::add` (`code.function.name`):
    /// the module path and the name as written, and the type for methods.
    pub fn path(&'static self) -> &'static str {
        &self.names().path
    }

    /// The name shown: `Type::method` in impl blocks, else the span's name.
    pub fn name(&'static self) -> &'static str {
        &self.names().display
    }

    /// The `otel.name` to record: `Some("Type::method")` when it differs from the
    /// span's static name, `None` (nothing recorded) otherwise.
    pub fn otel_name(&'static self) -> Option<&'static str> {
        let names = self.names();
        names.rename.then_some(names.display.as_str())
    }
}

/// Runs the body of a synchronous function, moved into a closure so its value is seen
/// before it is returned. Taking `FnOnce` (rather than calling the closure in place)
/// lets the body return borrows of captured `&mut` arguments.
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Asks a classifier (`ok_if`, `error_if`) about the return value. A function
/// rather than `(f)(ret)` so closures need no type annotation.
#[inline(always)]
pub fn holds<R, F: FnOnce(&R) -> bool>(classifier: F, ret: &R) -> bool {
    classifier(ret)
}

/// One call of an instrumented function.
#[derive(Debug)]
pub struct Call {
    site: &'static Site,
    start: Option<Instant>,
    done: bool,
}

impl Call {
    fn new(site: &'static Site) -> Call {
        Call {
            site,
            start: None,
            done: false,
        }
    }

    /// Reads the clock, once, if the duration is wanted.
    #[inline]
    fn start(&mut self) {
        if self.site.options.measure && self.start.is_none() {
            self.start = Some(Instant::now());
        }
    }

    /// Records the outcome: on the span (`span`, else the current one), in the
    /// metrics, as asked. Returns the duration when the call was slower than
    /// `slow_ms`, for the expansion to log.
    pub fn finish(
        &mut self,
        outcome: Outcome<'_>,
        span: Option<&tracing::Span>,
    ) -> Option<Duration> {
        if self.done {
            return None;
        }
        self.done = true;
        let options = self.site.options;
        let elapsed = match (options.measure, self.start) {
            (true, Some(start)) => Some(start.elapsed()),
            _ => None,
        };
        if let Outcome::Error(error) = &outcome {
            if options.mark_span {
                let message = error.message();
                with_span(span, |s| {
                    record_exception(s, error.kind, message.as_deref())
                });
            }
            if options.count_errors {
                count_error(self.site, span, error.kind);
            }
        }
        let elapsed = elapsed?;
        let error_kind = match &outcome {
            Outcome::Ok => None,
            Outcome::Error(e) => Some(e.kind),
        };
        record_duration(self.site, span, elapsed, error_kind);
        (options.slow_ms > 0 && elapsed > Duration::from_millis(options.slow_ms)).then_some(elapsed)
    }

    /// Records a panic that is unwinding through the call.
    fn panicked(&mut self, span: Option<&tracing::Span>) {
        if self.done {
            return;
        }
        self.done = true;
        let options = self.site.options;
        if options.mark_span || options.count_errors {
            with_span(span, |s| record_exception(s, ERROR_TYPE_PANIC, None));
        }
        if options.count_errors {
            count_error(self.site, span, ERROR_TYPE_PANIC);
        }
        if let (true, Some(start)) = (options.measure, self.start) {
            record_duration(self.site, span, start.elapsed(), Some(ERROR_TYPE_PANIC));
        }
    }
}

/// The call of a synchronous function: reads the clock when made, and records a
/// panic if dropped while unwinding before [`Call::finish`].
#[derive(Debug)]
#[must_use = "the guard watches the call until it is dropped"]
pub struct Guard<'a> {
    call: Call,
    span: Option<&'a tracing::Span>,
}

impl<'a> Guard<'a> {
    /// Starts watching a call (and its clock, if measured).
    #[inline]
    pub fn new(site: &'static Site, span: Option<&'a tracing::Span>) -> Guard<'a> {
        let mut call = Call::new(site);
        call.start();
        Guard { call, span }
    }

    /// The call and the span, for the expansion's epilogue.
    #[inline]
    pub fn parts(&mut self) -> (&mut Call, Option<&'a tracing::Span>) {
        (&mut self.call, self.span)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if !self.call.done && std::thread::panicking() {
            self.call.panicked(self.span);
        }
    }
}

/// Records a panic unwinding through `poll` (the future itself is dropped later, by
/// whoever caught the panic, when `panicking()` is false again).
struct Unwinding<'a> {
    call: &'a mut Call,
    span: Option<&'a tracing::Span>,
}

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.call.panicked(self.span);
        }
    }
}

/// The body of an instrumented async function: polls it inside the span, starts the
/// clock at the first poll, notices panics, and runs the expansion's epilogue with the
/// output before returning it.
pub struct Watch<'f, F: Future, Fin> {
    future: Pin<&'f mut F>,
    span: Option<tracing::Span>,
    call: Call,
    finish: Option<Fin>,
}

impl<F: Future, Fin> fmt::Debug for Watch<'_, F, Fin> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("span", &self.span)
            .field("call", &self.call)
            .finish()
    }
}

impl<'f, F, Fin> Watch<'f, F, Fin>
where
    F: Future,
    Fin: FnOnce(&F::Output, &mut Call, Option<&tracing::Span>),
{
    /// Watches `future` (pinned by the caller, so no allocation and no `unsafe`).
    #[inline]
    pub fn new(
        future: Pin<&'f mut F>,
        span: Option<tracing::Span>,
        site: &'static Site,
        finish: Fin,
    ) -> Watch<'f, F, Fin> {
        Watch {
            future,
            span,
            call: Call::new(site),
            finish: Some(finish),
        }
    }
}

impl<F, Fin> Future for Watch<'_, F, Fin>
where
    F: Future,
    Fin: FnOnce(&F::Output, &mut Call, Option<&tracing::Span>) + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _entered = this.span.as_ref().map(tracing::Span::enter);
        this.call.start();
        let poll = {
            let _unwinding = Unwinding {
                call: &mut this.call,
                span: this.span.as_ref(),
            };
            this.future.as_mut().poll(cx)
        };
        match poll {
            Poll::Ready(output) => {
                if let Some(finish) = this.finish.take() {
                    finish(&output, &mut this.call, this.span.as_ref());
                }
                Poll::Ready(output)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn with_span(span: Option<&tracing::Span>, f: impl FnOnce(&tracing::Span)) {
    match span {
        Some(span) => f(span),
        None => f(&tracing::Span::current()),
    }
}

/// Status Error with the message, `error.type`, and one `exception` event: straight
/// on the OpenTelemetry span, so no log line is emitted.
fn record_exception(span: &tracing::Span, kind: &'static str, message: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    let description = message.unwrap_or(kind).to_string();
    let mut attributes = Vec::with_capacity(2);
    attributes.push(KeyValue::new("exception.type", kind));
    if let Some(message) = message {
        attributes.push(KeyValue::new("exception.message", message.to_string()));
    }
    span.set_attribute(ERROR_TYPE, kind);
    // The span's duration metric gets `outcome = error` and this `error.type`.
    span.with_subscriber(|(id, dispatch)| crate::layer::mark_error(dispatch, id, kind));
    span.add_event("exception", attributes);
    span.set_status(Status::error(description));
}
