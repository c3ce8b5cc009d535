//! `#[measure_performance]`: each call's duration goes into `function.duration` (unit
//! `s`, the advised buckets, `code.function.name` and `outcome`, plus `error.type` on
//! errors); `slow_ms` logs a warning with the duration; async calls are timed until
//! the future completes; stacked with the others, one span and one record each.
//! (The metrics are those of the test's own telemetry instance.)
//!
//! Durations come from the real clock, so the timing tests only assert lower bounds
//! after short sleeps (a sleep never ends early).

mod macros_support;

use std::time::Duration;

use macros_support::{harness, metrics, HistogramPoint};
use telemetry::prelude::*;

const DURATION: &str = "function.duration";
const ADVISED_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

fn setup() -> macros_support::Harness {
    metrics();
    harness()
}

fn ok_point(function: &str) -> Option<HistogramPoint> {
    metrics().histogram(
        DURATION,
        &[("code.function.name", function), ("outcome", "ok")],
    )
}

fn error_point(function: &str, error_type: &str) -> Option<HistogramPoint> {
    metrics().histogram(
        DURATION,
        &[
            ("code.function.name", function),
            ("outcome", "error"),
            ("error.type", error_type),
        ],
    )
}

#[measure_performance]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[test]
fn each_call_is_recorded_in_seconds_with_the_advised_buckets_and_its_outcome() {
    let _h = setup();
    parse("1").unwrap();
    parse("2").unwrap();
    parse("x").unwrap_err();
    let function = "macros_measure::parse";
    let ok = ok_point(function).unwrap();
    assert_eq!(ok.count, 2);
    assert_eq!(ok.bounds, ADVISED_BUCKETS);
    assert!(
        ok.sum >= 0.0 && ok.sum < 1.0,
        "seconds, not nanoseconds: {}",
        ok.sum
    );
    let error = error_point(function, "core::num::error::ParseIntError").unwrap();
    assert_eq!(error.count, 1);
    assert_eq!(metrics().unit(DURATION).as_deref(), Some("s"));
}

#[measure_performance(slow_ms = 10)]
fn sometimes_slow(sleep_ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(sleep_ms));
    sleep_ms
}

#[measure_performance(slow_ms = 60000)]
fn never_slow() {}

#[test]
fn slow_calls_log_a_warning_with_their_duration() {
    let h = setup();
    sometimes_slow(20);
    never_slow();
    let lines = h.events.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].level, tracing::Level::WARN);
    assert_eq!(lines[0].target, "macros_measure");
    let text = &lines[0].text;
    assert!(
        text.starts_with("slow call: sometimes_slow took ")
            && text.contains("ms (threshold 10 ms)"),
        "{text}"
    );
    let duration_ms: f64 = text
        .split("duration_ms=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(duration_ms >= 20.0, "{duration_ms}");
    assert!(text.ends_with("slow_ms=10"), "{text}");
    let point = ok_point("macros_measure::sometimes_slow").unwrap();
    assert!(point.sum >= 0.020, "{}", point.sum);
}

#[measure_performance]
async fn wait(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[tokio::test]
async fn an_async_call_is_timed_until_its_future_completes() {
    let _h = setup();
    assert_eq!(wait(30).await, 30);
    let point = ok_point("macros_measure::wait").unwrap();
    assert_eq!(point.count, 1);
    assert!(
        point.sum >= 0.030,
        "covers the awaits, not only the first poll: {}",
        point.sum
    );
}

#[measure_performance]
async fn abandoned() {
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_future_dropped_before_completing_is_not_recorded() {
    let _h = setup();
    let timed_out = tokio::time::timeout(Duration::from_millis(1), abandoned()).await;
    assert!(timed_out.is_err());
    assert_eq!(ok_point("macros_measure::abandoned"), None);
    assert_eq!(error_point("macros_measure::abandoned", "panic"), None);
}

#[measure_performance]
fn crash() {
    panic!("crash");
}

#[test]
fn a_panic_is_recorded_as_an_error() {
    let _h = setup();
    assert!(std::panic::catch_unwind(crash).is_err());
    let point = error_point("macros_measure::crash", "panic").unwrap();
    assert_eq!(point.count, 1);
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

#[measure_performance(slow_ms = 60000)]
#[traced(err, kind = "client")]
#[track_errors]
async fn all_three(fail: bool) -> Result<u8, Refused> {
    tokio::task::yield_now().await;
    if fail {
        Err(Refused)
    } else {
        Ok(1)
    }
}

#[tokio::test]
async fn the_three_stacked_make_one_span_one_error_count_and_one_duration_per_call() {
    let h = setup();
    all_three(false).await.unwrap();
    all_three(true).await.unwrap_err();
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ all_three [client]  code.function.name=macros_measure::all_three fail=false
    trace
    └─ all_three [client] ERROR: refused  code.function.name=macros_measure::all_three error.type=macros_measure::Refused fail=true
       └• exception  exception.message=refused exception.type=macros_measure::Refused
    "#);
    let function = "macros_measure::all_three";
    assert_eq!(ok_point(function).unwrap().count, 1);
    assert_eq!(
        error_point(function, "macros_measure::Refused")
            .unwrap()
            .count,
        1
    );
    let errors = metrics().counter(
        "function.errors",
        &[
            ("code.function.name", function),
            ("error.type", "macros_measure::Refused"),
        ],
    );
    assert_eq!(errors, 1);
    assert!(h.events.lines().is_empty());
}
