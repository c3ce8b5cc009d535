//! The crate's own warnings, on stderr: rate-limited ones ([`warn`], [`warn_for`]: at
//! most one line per kind of trouble (and signal) every few seconds, so a dead collector never floods the
//! application's output), and ones printed always: configuration problems
//! ([`config_warning`]) and a pipeline's changes of state while it runs
//! ([`pipeline_state_change`]).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::signal::Signal;

/// How long one kind of warning stays quiet after it was printed.
const QUIET: Duration = Duration::from_secs(10);

struct Entry {
    key: &'static str,
    signal: Option<Signal>,
    last: Instant,
    suppressed: u64,
}

static SEEN: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Prints `telemetry: warning: <message>` unless a warning of the same `key` was
/// printed less than ten seconds ago; the next line then says how many were held back.
pub(crate) fn warn(key: &'static str, message: fmt::Arguments<'_>) {
    throttled(key, None, message);
}

/// Like [`warn`], throttled per kind of trouble *and signal*: a failing log export
/// never holds back the first warning about traces.
pub(crate) fn warn_for(signal: Signal, key: &'static str, message: fmt::Arguments<'_>) {
    throttled(key, Some(signal), message);
}

fn throttled(key: &'static str, signal: Option<Signal>, message: fmt::Arguments<'_>) {
    let mut seen = match SEEN.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let Some(suppressed) = admit(&mut seen, key, signal, Instant::now()) else {
        return;
    };
    drop(seen);
    if suppressed > 0 {
        eprintln!("telemetry: warning: {message} ({suppressed} similar warning(s) held back)");
    } else {
        eprintln!("telemetry: warning: {message}");
    }
}

/// Whether a warning of `key` (and `signal`) prints now: `Some(held back since the
/// last one)`, or `None` when one printed less than [`QUIET`] ago.
fn admit(
    seen: &mut Vec<Entry>,
    key: &'static str,
    signal: Option<Signal>,
    now: Instant,
) -> Option<u64> {
    match seen.iter_mut().find(|e| e.key == key && e.signal == signal) {
        Some(entry) if now.saturating_duration_since(entry.last) < QUIET => {
            entry.suppressed += 1;
            None
        }
        Some(entry) => {
            entry.last = now;
            Some(std::mem::take(&mut entry.suppressed))
        }
        None => {
            seen.push(Entry {
                key,
                signal,
                last: now,
                suppressed: 0,
            });
            Some(0)
        }
    }
}

/// Prints a warning about configuration, always (these come once, at start-up).
pub(crate) fn config_warning(message: fmt::Arguments<'_>) {
    print_always(message);
}

/// Prints a change of state of a running export pipeline, always: a circuit breaker
/// opening, half-opening or closing, an export thread stopping, items left undelivered
/// at shutdown. These are rare by construction (one line per transition), so they are
/// not rate-limited.
pub(crate) fn pipeline_state_change(message: fmt::Arguments<'_>) {
    print_always(message);
}

/// The one line of a warning that is never held back.
fn print_always(message: fmt::Arguments<'_>) {
    eprintln!("telemetry: warning: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_throttled_per_kind_and_signal() {
        let mut seen = Vec::new();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let retry = |seen: &mut Vec<Entry>, signal, s| admit(seen, "retry", Some(signal), at(s));
        assert_eq!(retry(&mut seen, Signal::Logs, 0), Some(0));
        // Logs failing does not hold back the first traces warning.
        assert_eq!(retry(&mut seen, Signal::Traces, 1), Some(0));
        assert_eq!(retry(&mut seen, Signal::Logs, 2), None);
        assert_eq!(retry(&mut seen, Signal::Logs, 3), None);
        assert_eq!(retry(&mut seen, Signal::Traces, 4), None);
        // Another kind for the same signal is not held back either.
        assert_eq!(
            admit(&mut seen, "buffer-full", Some(Signal::Logs), at(5)),
            Some(0)
        );
        // After the quiet time, the next line counts what was held back, per signal.
        assert_eq!(retry(&mut seen, Signal::Logs, 11), Some(2));
        assert_eq!(retry(&mut seen, Signal::Traces, 11), Some(1));
    }
}
