//! `#[track_errors]`: an `Err` or a panic adds 1 to `function.errors` (with
//! `code.function.name` and `error.type`), records one exception event on the current
//! span and sets its status to Error; panics continue unchanged; `ok_if` / `error_if`
//! classify. (The metrics are those of the test's own telemetry instance.)

mod macros_support;

use std::fmt;

use macros_support::{harness, metrics};
use opentelemetry::trace::Status;
use telemetry::prelude::*;

const ERRORS: &str = "function.errors";

/// Installs the metrics pipeline (before anything is recorded) and the subscriber.
fn setup() -> macros_support::Harness {
    metrics();
    harness()
}

fn errors(function: &str, error_type: &str) -> u64 {
    metrics().counter(
        ERRORS,
        &[("code.function.name", function), ("error.type", error_type)],
    )
}

#[derive(Debug)]
struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("upstream timed out")
    }
}

#[track_errors]
fn call_upstream(fail: bool) -> Result<u8, Timeout> {
    if fail {
        Err(Timeout)
    } else {
        Ok(1)
    }
}

#[test]
fn an_err_is_counted_and_recorded_on_the_current_span_without_a_log_line() {
    let h = setup();
    tracing::info_span!("request").in_scope(|| {
        assert_eq!(call_upstream(false).unwrap(), 1);
    });
    tracing::info_span!("request").in_scope(|| {
        assert!(call_upstream(true).is_err());
    });
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ request
    trace
    └─ request ERROR: upstream timed out  error.type=macros_track_errors::Timeout
       └• exception  exception.message="upstream timed out" exception.type=macros_track_errors::Timeout
    "#);
    assert!(h.events.lines().is_empty());
    let function = "macros_track_errors::call_upstream";
    assert_eq!(errors(function, "macros_track_errors::Timeout"), 1);
    assert_eq!(metrics().unit(ERRORS).as_deref(), Some("{error}"));
}

#[traced]
#[track_errors]
fn explode(n: u32) -> u32 {
    if n == 0 {
        panic!("n must not be zero");
    }
    10 / n
}

#[test]
fn a_panic_is_counted_and_recorded_and_continues_unchanged() {
    let h = setup();
    assert_eq!(explode(5), 2);
    let caught = std::panic::catch_unwind(|| explode(0)).unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"n must not be zero"));
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ explode  code.function.name=macros_track_errors::explode n=5
    trace
    └─ explode ERROR: panic  code.function.name=macros_track_errors::explode error.type=panic n=0
       └• exception  exception.type=panic
    ");
    assert_eq!(errors("macros_track_errors::explode", "panic"), 1);
}

#[traced]
#[track_errors]
async fn explode_later(n: u32) -> u32 {
    tokio::task::yield_now().await;
    if n == 0 {
        panic!("async boom");
    }
    n
}

#[tokio::test]
async fn a_panic_in_an_async_fn_is_seen_during_the_poll() {
    let h = setup();
    // The test runtime has one thread: the task is polled here, under the harness.
    // Tokio catches the panic, then drops the future (no longer panicking by then).
    let joined = tokio::spawn(explode_later(0)).await.unwrap_err();
    assert!(joined.is_panic());
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ explode_later ERROR: panic  code.function.name=macros_track_errors::explode_later error.type=panic n=0
       └• exception  exception.type=panic
    ");
    assert_eq!(errors("macros_track_errors::explode_later", "panic"), 1);
}

// Used only by the macro: unused when `telemetry/macros-disabled` compiles it out.
#[allow(dead_code)]
fn is_not_found(r: &Result<String, std::io::Error>) -> bool {
    matches!(r, Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

#[track_errors(ok_if = is_not_found)]
fn lookup(kind: std::io::ErrorKind) -> Result<String, std::io::Error> {
    Err(std::io::Error::new(kind, "lookup failed"))
}

#[test]
fn ok_if_declares_expected_errors_successes() {
    let h = setup();
    tracing::info_span!("expected").in_scope(|| {
        let _ = lookup(std::io::ErrorKind::NotFound);
    });
    tracing::info_span!("unexpected").in_scope(|| {
        let _ = lookup(std::io::ErrorKind::PermissionDenied);
    });
    let function = "macros_track_errors::lookup";
    assert_eq!(errors(function, "std::io::error::Error"), 1);
    assert_eq!(h.spans.span("expected").unwrap().status, Status::Unset);
    assert_eq!(
        h.spans.span("unexpected").unwrap().status,
        Status::error("lookup failed")
    );
}

#[track_errors(error_if = |status| *status >= 500)]
fn respond(status: u16) -> u16 {
    status
}

#[test]
fn error_if_classifies_values_that_are_not_results() {
    let h = setup();
    tracing::info_span!("ok").in_scope(|| respond(200));
    tracing::info_span!("failed").in_scope(|| respond(503));
    assert_eq!(errors("macros_track_errors::respond", "_OTHER"), 1);
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ ok
    trace
    └─ failed ERROR: _OTHER  error.type=_OTHER
       └• exception  exception.type=_OTHER
    ");
}

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug`
struct OnlyDebug {
    field: u8,
}

struct Opaque;

#[track_errors]
fn fails_debug() -> Result<(), OnlyDebug> {
    Err(OnlyDebug { field: 3 })
}

#[track_errors]
fn fails_opaque() -> Result<(), Opaque> {
    Err(Opaque)
}

#[track_errors]
fn not_a_result(n: u8) -> u8 {
    n
}

#[test]
fn messages_use_display_else_debug_else_nothing_and_other_types_only_track_panics() {
    let h = setup();
    tracing::info_span!("debug").in_scope(|| fails_debug().unwrap_err());
    tracing::info_span!("opaque").in_scope(|| {
        let _ = fails_opaque();
    });
    tracing::info_span!("plain").in_scope(|| not_a_result(1));
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ debug ERROR: OnlyDebug { field: 3 }  error.type=macros_track_errors::OnlyDebug
       └• exception  exception.message="OnlyDebug { field: 3 }" exception.type=macros_track_errors::OnlyDebug
    trace
    └─ opaque ERROR: macros_track_errors::Opaque  error.type=macros_track_errors::Opaque
       └• exception  exception.type=macros_track_errors::Opaque
    trace
    └─ plain
    "#);
    assert_eq!(
        errors(
            "macros_track_errors::fails_opaque",
            "macros_track_errors::Opaque"
        ),
        1
    );
}

#[track_errors]
#[traced(err)]
fn both_orders_a(fail: bool) -> Result<(), Timeout> {
    if fail {
        return Err(Timeout);
    }
    Ok(())
}

#[traced(err)]
#[track_errors]
async fn both_orders_b(fail: bool) -> Result<(), Timeout> {
    tokio::task::yield_now().await;
    if fail {
        return Err(Timeout);
    }
    Ok(())
}

#[tokio::test]
async fn stacked_with_traced_err_there_is_one_span_and_one_exception_event() {
    let h = setup();
    let _ = both_orders_a(true);
    let _ = both_orders_b(true).await;
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ both_orders_a ERROR: upstream timed out  code.function.name=macros_track_errors::both_orders_a error.type=macros_track_errors::Timeout fail=true
       └• exception  exception.message="upstream timed out" exception.type=macros_track_errors::Timeout
    trace
    └─ both_orders_b ERROR: upstream timed out  code.function.name=macros_track_errors::both_orders_b error.type=macros_track_errors::Timeout fail=true
       └• exception  exception.message="upstream timed out" exception.type=macros_track_errors::Timeout
    "#);
    assert_eq!(
        errors(
            "macros_track_errors::both_orders_a",
            "macros_track_errors::Timeout"
        ),
        1
    );
    assert_eq!(
        errors(
            "macros_track_errors::both_orders_b",
            "macros_track_errors::Timeout"
        ),
        1
    );
    assert!(h.events.lines().is_empty());
}
