//! The settings of a batching processor: how long items wait, how many are held and
//! how many go in one request, with the `OTEL_BSP_*` (spans) and `OTEL_BLRP_*` (logs)
//! variable names and the specification's defaults.

use std::time::Duration;

use crate::error::ConfigError;

/// `OTEL_BSP_SCHEDULE_DELAY`: milliseconds between two span exports.
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// `OTEL_BSP_EXPORT_TIMEOUT`: milliseconds one span export may take.
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// `OTEL_BSP_MAX_QUEUE_SIZE`: spans held before new ones are dropped.
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`: spans per export request.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// `OTEL_BLRP_SCHEDULE_DELAY`: milliseconds between two log exports.
pub const OTEL_BLRP_SCHEDULE_DELAY: &str = "OTEL_BLRP_SCHEDULE_DELAY";
/// `OTEL_BLRP_EXPORT_TIMEOUT`: milliseconds one log export may take.
pub const OTEL_BLRP_EXPORT_TIMEOUT: &str = "OTEL_BLRP_EXPORT_TIMEOUT";
/// `OTEL_BLRP_MAX_QUEUE_SIZE`: log records held before new ones are dropped.
pub const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`: log records per export request.
pub const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE";

/// Settings of a batching processor (`OTEL_BSP_*` for spans, `OTEL_BLRP_*` for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Longest wait between two exports.
    pub schedule_delay: Duration,
    /// Longest time one export may take (retries included).
    pub export_timeout: Duration,
    /// Items held before new ones are dropped (and counted).
    pub max_queue_size: usize,
    /// Items per export request; at most `max_queue_size`.
    pub max_export_batch_size: usize,
}

impl BatchConfig {
    /// The span processor's defaults: 5 s, 30 s, 2048, 512.
    pub const TRACES: BatchConfig = BatchConfig {
        schedule_delay: Duration::from_millis(5000),
        export_timeout: Duration::from_millis(30_000),
        max_queue_size: 2048,
        max_export_batch_size: 512,
    };
    /// The log processor's defaults: 1 s, 30 s, 2048, 512.
    pub const LOGS: BatchConfig = BatchConfig {
        schedule_delay: Duration::from_millis(1000),
        export_timeout: Duration::from_millis(30_000),
        max_queue_size: 2048,
        max_export_batch_size: 512,
    };
}

impl BatchConfig {
    /// Checks settings made in code; `setting` names them in the error.
    pub(crate) fn validate(&self, setting: &'static str) -> Result<(), ConfigError> {
        if self.max_queue_size == 0 {
            return Err(ConfigError::InvalidSetting {
                setting,
                value: "max_queue_size = 0".into(),
                expected: "a queue of at least one item".into(),
            });
        }
        if self.max_export_batch_size == 0 || self.max_export_batch_size > self.max_queue_size {
            return Err(ConfigError::InvalidSetting {
                setting,
                value: format!(
                    "max_export_batch_size = {}, max_queue_size = {}",
                    self.max_export_batch_size, self.max_queue_size
                ),
                expected: "a batch size between 1 and the queue size".into(),
            });
        }
        Ok(())
    }
}

/// The four variables of one batching processor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchVars {
    pub(crate) schedule_delay: &'static str,
    pub(crate) export_timeout: &'static str,
    pub(crate) max_queue_size: &'static str,
    pub(crate) max_export_batch_size: &'static str,
}

impl BatchVars {
    /// The span processor's `OTEL_BSP_*`.
    pub(crate) const TRACES: BatchVars = BatchVars {
        schedule_delay: OTEL_BSP_SCHEDULE_DELAY,
        export_timeout: OTEL_BSP_EXPORT_TIMEOUT,
        max_queue_size: OTEL_BSP_MAX_QUEUE_SIZE,
        max_export_batch_size: OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    };
    /// The log processor's `OTEL_BLRP_*`.
    pub(crate) const LOGS: BatchVars = BatchVars {
        schedule_delay: OTEL_BLRP_SCHEDULE_DELAY,
        export_timeout: OTEL_BLRP_EXPORT_TIMEOUT,
        max_queue_size: OTEL_BLRP_MAX_QUEUE_SIZE,
        max_export_batch_size: OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    };

    /// Every variable of this set.
    pub(crate) const fn all(&self) -> [&'static str; 4] {
        [
            self.schedule_delay,
            self.export_timeout,
            self.max_queue_size,
            self.max_export_batch_size,
        ]
    }
}
