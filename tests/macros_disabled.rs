//! The `macros-disabled` feature compiles the instrumentation out: every macro expands
//! to the bare function. Run both ways: `cargo test --test macros_disabled` (macros
//! on) and `.ci/macros-disabled.sh` (`--features telemetry/macros-disabled`, macros
//! off); each asserts what its build must do.

mod macros_support;

use macros_support::{harness, metrics};
use telemetry::prelude::*;

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

#[traced(err, ret)]
#[track_errors]
#[measure_performance(slow_ms = 1)]
fn work(fail: bool) -> Result<u8, Failed> {
    std::thread::sleep(std::time::Duration::from_millis(2));
    if fail {
        Err(Failed)
    } else {
        Ok(1)
    }
}

#[traced]
async fn work_later(n: u8) -> u8 {
    n
}

#[tokio::test]
async fn the_feature_decides_whether_anything_is_recorded() {
    metrics();
    let h = harness();
    assert_eq!(work(false).unwrap(), 1);
    assert!(work(true).is_err());
    assert_eq!(work_later(3).await, 3);
    let function = "macros_disabled::work";
    let errors = metrics().counter(
        "function.errors",
        &[
            ("code.function.name", function),
            ("error.type", "macros_disabled::Failed"),
        ],
    );
    let durations = metrics().histogram(
        "function.duration",
        &[("code.function.name", function), ("outcome", "ok")],
    );
    if telemetry::__macro_support::MACROS_DISABLED {
        assert!(h.spans.spans().is_empty(), "{}", h.spans.render());
        assert!(h.events.lines().is_empty(), "{:?}", h.events.lines());
        assert_eq!(errors, 0);
        assert_eq!(durations, None);
    } else {
        assert_eq!(h.spans.spans().len(), 3, "{}", h.spans.render());
        // The `ret` event and two slow-call warnings.
        assert_eq!(h.events.lines().len(), 3, "{:?}", h.events.lines());
        assert_eq!(errors, 1);
        assert_eq!(durations.map(|d| d.count), Some(1));
    }
}
