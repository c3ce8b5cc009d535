//! Wall-clock times of the native path's instants. A span's start and end are read once
//! each on the application thread, as monotonic [`Instant`]s (the same readings give the
//! span duration metric), and become wall-clock times when the span is encoded, on the
//! export thread: against an anchor, an instant and the wall-clock time read beside it.
//! Each thread renews its anchor once the instants it converts run a second past it, so
//! a step of the system clock reaches span times within a second of it, and a span's end
//! is never before its start. A span's events are read on the same clock and converted
//! after its end, against the same anchor: they fall within the span.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

/// How far past its anchor a thread converts instants before it reads the clocks again.
const RENEW: Duration = Duration::from_secs(1);

/// An instant and the wall-clock time then, in nanoseconds since the Unix epoch.
type Anchor = (Instant, u64);

thread_local! {
    static ANCHOR: Cell<Option<Anchor>> = const { Cell::new(None) };
}

/// Nanoseconds since the Unix epoch (0 before it) at the instant `t`, as OTLP counts
/// time.
pub(crate) fn nanos(t: Instant) -> u64 {
    ANCHOR
        .try_with(|cell| {
            if let Some(anchor) = cell.get() {
                if let Some(n) = on(anchor, t) {
                    return n;
                }
            }
            let anchor = read();
            cell.set(Some(anchor));
            before_or_on(anchor, t)
        })
        .unwrap_or_else(|_| before_or_on(read(), t))
}

/// The wall-clock time at the instant `t`.
pub(crate) fn wall(t: Instant) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos(t))
}

/// [`nanos`] of a span's start and end, against one anchor: the end is converted first,
/// so the start (never after it) cannot renew the anchor between the two.
pub(crate) fn span_nanos(start: Instant, end: Instant) -> (u64, u64) {
    let end = nanos(end);
    (nanos(start), end)
}

/// The wall-clock times of a span's start and end (see [`span_nanos`]).
pub(crate) fn span_wall(start: Instant, end: Instant) -> (SystemTime, SystemTime) {
    let (start, end) = span_nanos(start, end);
    let at = |n| SystemTime::UNIX_EPOCH + Duration::from_nanos(n);
    (at(start), at(end))
}

/// Both clocks, now.
fn read() -> Anchor {
    let at = Instant::now();
    let wall = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, as_nanos);
    (at, wall)
}

/// `t` on the anchor's wall clock, unless `t` is more than [`RENEW`] past the anchor
/// (then the anchor is renewed first).
#[inline]
fn on((at, wall): Anchor, t: Instant) -> Option<u64> {
    match t.checked_duration_since(at) {
        Some(after) if after >= RENEW => None,
        Some(after) => Some(wall.saturating_add(as_nanos(after))),
        None => Some(wall.saturating_sub(as_nanos(at.duration_since(t)))),
    }
}

/// `t` on the anchor's wall clock, however far from it.
fn before_or_on((at, wall): Anchor, t: Instant) -> u64 {
    match t.checked_duration_since(at) {
        Some(after) => wall.saturating_add(as_nanos(after)),
        None => wall.saturating_sub(as_nanos(at.duration_since(t))),
    }
}

fn as_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_nanos() -> u64 {
        as_nanos(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap(),
        )
    }

    #[test]
    fn an_instant_becomes_the_wall_clock_time_then() {
        let before = system_nanos();
        let t = Instant::now();
        let after = system_nanos();
        let n = nanos(t);
        // The two clocks are read apart: allow a little either way.
        let slack = 50_000_000;
        assert!(
            n + slack >= before && n <= after + slack,
            "{n} not near [{before}, {after}]"
        );
        let (start, end) = span_wall(t, t);
        assert_eq!(start, SystemTime::UNIX_EPOCH + Duration::from_nanos(n));
        assert_eq!(start, end);
    }

    #[test]
    fn a_span_keeps_its_duration() {
        let start = Instant::now();
        // Past any anchor: the end renews it, and the start is read against the same.
        let end = start + RENEW * 2 + Duration::from_millis(3);
        let (s, e) = span_nanos(start, end);
        assert_eq!(e - s, 2_003_000_000);
        if let Some(earlier) = start.checked_sub(Duration::from_secs(10)) {
            let (s, e) = span_nanos(earlier, start);
            assert_eq!(e - s, 10_000_000_000);
        }
    }

    #[test]
    fn an_anchor_serves_until_a_second_past_it() {
        let at = Instant::now();
        let anchor = (at, 5_000_000_000);
        assert_eq!(on(anchor, at), Some(5_000_000_000));
        assert_eq!(
            on(anchor, at + Duration::from_millis(999)),
            Some(5_999_000_000)
        );
        assert_eq!(on(anchor, at + RENEW), None);
        // Far past it, a renewed anchor is used; without one, the distance still holds.
        assert_eq!(before_or_on(anchor, at + RENEW * 3), 8_000_000_000);
        if let Some(earlier) = at.checked_sub(Duration::from_secs(2)) {
            // Before the anchor, however long ago (a long span's start).
            assert_eq!(on(anchor, earlier), Some(3_000_000_000));
        }
        // Never below the epoch.
        assert_eq!(before_or_on((at, 10), at + Duration::ZERO), 10);
        if let Some(earlier) = at.checked_sub(Duration::from_secs(1)) {
            assert_eq!(on((at, 10), earlier), Some(0));
        }
    }
}
