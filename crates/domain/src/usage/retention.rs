//! Retention: how long raw events and hourly rollup rows are kept.
//!
//! Raw events are removed a whole UTC calendar month at a time (on Postgres, by dropping the
//! month's partition): a month goes once all of it is older than the raw window. Hourly
//! rollup rows older than the hourly window are compacted into one row per UTC day (the
//! row's `hour` becomes the day's midnight), and daily rows are kept for good. Compaction
//! moves sums between rows and never changes a sum, so a usage query over whole days answers
//! the same before and after it; over a compacted day the precision is the day (its row
//! counts where its midnight falls).

use time::{Duration, OffsetDateTime, Time};

use super::query::Granularity;
use crate::tenancy::InvalidValue;

/// The default raw window: 400 days, so the longest range a request log or an hourly query
/// may ask for (400 days) is still whole.
pub const DEFAULT_RAW_DAYS: u32 = 400;
/// The default hourly window: 90 days (lcyt compacts hourly rows older than 90 days).
pub const DEFAULT_HOURLY_DAYS: u32 = 90;

/// How long raw events and hourly rollups are kept. `None` keeps them for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    raw_days: Option<u32>,
    hourly_days: Option<u32>,
}

impl Default for RetentionPolicy {
    /// Keeps everything: what a store does unless it is given a policy.
    fn default() -> Self {
        Self::KEEP_EVERYTHING
    }
}

impl RetentionPolicy {
    /// Nothing is removed or compacted.
    pub const KEEP_EVERYTHING: Self = Self {
        raw_days: None,
        hourly_days: None,
    };

    /// Raw events kept `raw_days`, hourly rows `hourly_days` (`None`: for good).
    ///
    /// # Errors
    /// A window of 0 days.
    pub fn new(raw_days: Option<u32>, hourly_days: Option<u32>) -> Result<Self, InvalidValue> {
        if raw_days == Some(0) || hourly_days == Some(0) {
            return Err(InvalidValue::new(
                "a retention window must be at least 1 day",
            ));
        }
        Ok(Self {
            raw_days,
            hourly_days,
        })
    }

    /// Days raw events are kept, if bounded.
    #[must_use]
    pub fn raw_days(&self) -> Option<u32> {
        self.raw_days
    }

    /// Days hourly rollup rows are kept before compaction, if bounded.
    #[must_use]
    pub fn hourly_days(&self) -> Option<u32> {
        self.hourly_days
    }

    /// The oldest instant whose raw events are kept at `now`: the start of the UTC month
    /// holding the instant `raw_days` before `now`'s midnight. Events dated before it are
    /// removed (whole months); request logs reach back to it.
    #[must_use]
    pub fn raw_cutoff(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let days = self.raw_days?;
        Some(Granularity::Month.bucket_start(midnight(now) - Duration::days(days.into())))
    }

    /// The midnight before which hourly rollup rows are compacted into daily rows at `now`.
    #[must_use]
    pub fn hourly_cutoff(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let days = self.hourly_days?;
        Some(midnight(now) - Duration::days(days.into()))
    }
}

/// The UTC midnight starting `t`'s day.
fn midnight(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.date().with_time(Time::MIDNIGHT).assume_utc()
}

/// What one retention run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Calendar months whose raw events were removed (on Postgres: partitions dropped).
    pub months_removed: u64,
    /// Hourly rollup rows folded into daily rows.
    pub rollups_compacted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn raw_events_go_a_whole_month_at_a_time() {
        let p = RetentionPolicy::new(Some(400), Some(90)).unwrap();
        let now = datetime!(2026-12-01 16:30 UTC);
        // 400 days before 2026-12-01 is 2025-10-27: October 2025 is still kept.
        assert_eq!(p.raw_cutoff(now), Some(datetime!(2025-10-01 0:00 UTC)));
        assert_eq!(p.hourly_cutoff(now), Some(datetime!(2026-09-02 0:00 UTC)));
        assert_eq!(RetentionPolicy::default().raw_cutoff(now), None);
        assert_eq!(RetentionPolicy::KEEP_EVERYTHING.hourly_cutoff(now), None);
        assert!(RetentionPolicy::new(Some(0), None).is_err());
    }
}
