//! What happens to every log record before it is written or exported.

use super::LogRecord;
use crate::fields::FieldValue;

/// The processors of every log record: static fields added, unwanted records dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LogProcessors {
    pub static_fields: Vec<(&'static str, FieldValue)>,
    pub drop_where: Vec<(String, String)>,
}

impl LogProcessors {
    /// Applies the processors; false means drop the record.
    #[inline]
    pub(crate) fn apply(&self, record: &mut LogRecord) -> bool {
        if self.drop_where.is_empty() && self.static_fields.is_empty() {
            return true;
        }
        self.apply_all(record)
    }

    #[inline(never)]
    fn apply_all(&self, record: &mut LogRecord) -> bool {
        for (field, value) in &self.drop_where {
            let matches = record
                .read
                .values
                .iter()
                .chain(record.spans.iter().flat_map(|s| s.fields.iter()))
                .any(|(k, v)| k == field && v.to_string() == *value);
            if matches {
                return false;
            }
        }
        if !self.static_fields.is_empty() {
            record
                .read
                .values
                .extend(self.static_fields.iter().cloned());
        }
        true
    }
}
