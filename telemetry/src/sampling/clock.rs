//! Time for the parts that depend on it (the rate limiter): a [`Clock`] is injected,
//! so tests drive them with a [`ManualClock`] instead of sleeping. Reached by users as
//! `telemetry::testing::{Clock, ManualClock, SystemClock}` (feature `testing`).

use std::fmt;
#[cfg(feature = "testing")]
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// A source of monotonic time. Time-dependent parts of the crate (the rate limiter)
/// take one, so tests can drive them with a manual clock instead of sleeping.
// Public through `testing` only.
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real clock: [`Instant::now`].
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to (feature `testing`). Clones share the same
/// time.
///
/// ```
/// use std::time::Duration;
/// use telemetry::testing::{Clock as _, ManualClock};
///
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(clock.now() - t0, Duration::from_millis(250));
/// ```
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

#[cfg(feature = "testing")]
impl ManualClock {
    /// A clock stopped at the current instant.
    pub fn new() -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = lock(&self.now);
        *now += by;
    }
}

#[cfg(feature = "testing")]
impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

#[cfg(feature = "testing")]
impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *lock(&self.now)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
