//! The crate's own warnings, on stderr: rate-limited ones ([`warn`]: at most one line
//! per kind of trouble every few seconds, so a dead collector never floods the
//! application's output), and ones printed always: configuration problems
//! ([`config_warning`]) and a pipeline's changes of state while it runs
//! ([`pipeline_state_change`]).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one kind of warning stays quiet after it was printed.
const QUIET: Duration = Duration::from_secs(10);

struct Entry {
    key: &'static str,
    last: Instant,
    suppressed: u64,
}

static SEEN: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Prints `telemetry: warning: <message>` unless a warning of the same `key` was
/// printed less than ten seconds ago; the next line then says how many were held back.
pub(crate) fn warn(key: &'static str, message: fmt::Arguments<'_>) {
    let now = Instant::now();
    let suppressed = {
        let mut seen = match SEEN.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        match seen.iter_mut().find(|e| e.key == key) {
            Some(entry) if now.duration_since(entry.last) < QUIET => {
                entry.suppressed += 1;
                return;
            }
            Some(entry) => {
                entry.last = now;
                std::mem::take(&mut entry.suppressed)
            }
            None => {
                seen.push(Entry {
                    key,
                    last: now,
                    suppressed: 0,
                });
                0
            }
        }
    };
    if suppressed > 0 {
        eprintln!("telemetry: warning: {message} ({suppressed} similar warning(s) held back)");
    } else {
        eprintln!("telemetry: warning: {message}");
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
