//! The lcyt domain rollup: per (UTC date, hour, site) session and caption counters.

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};

use crate::origin::Domain;
use crate::tenancy::InvalidValue;

/// The row a piece of site activity lands in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainRollupKey {
    /// UTC date.
    pub date: Date,
    /// UTC hour, 0-23.
    pub hour: u8,
    /// Site.
    pub domain: Domain,
}

impl DomainRollupKey {
    /// The row for `domain` at instant `at`.
    #[must_use]
    pub fn at(domain: Domain, at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        Self {
            date: at.date(),
            hour: at.hour(),
            domain,
        }
    }
}

/// The counters of one domain rollup row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DomainCounters {
    /// Sessions opened (not joined).
    pub sessions_started: u64,
    /// Sessions ended (not by erasure).
    pub sessions_ended: u64,
    /// Captions delivered.
    pub captions_sent: u64,
    /// Captions whose delivery failed.
    pub captions_failed: u64,
    /// Delivered batches of more than one caption.
    pub batches_sent: u64,
    /// Sum of the durations of the sessions that ended.
    pub total_duration_ms: u64,
    /// Most sessions of this site open at once, as seen in the hour.
    pub peak_sessions: u64,
}

/// Something that happened on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainActivity {
    /// A new session opened; `open_sessions` of this site are now open (itself included).
    SessionStarted {
        /// Open sessions of the site after the start.
        open_sessions: u64,
    },
    /// A session ended (not by erasure).
    SessionEnded {
        /// Its duration.
        duration_ms: u64,
    },
    /// A batch was delivered.
    Delivered {
        /// Captions in it.
        batch_size: u64,
    },
    /// A batch failed.
    Failed {
        /// Captions in it.
        batch_size: u64,
    },
}

impl DomainCounters {
    /// Applies one piece of activity.
    pub fn apply(&mut self, activity: DomainActivity) {
        match activity {
            DomainActivity::SessionStarted { open_sessions } => {
                self.sessions_started += 1;
                self.peak_sessions = self.peak_sessions.max(open_sessions);
            }
            DomainActivity::SessionEnded { duration_ms } => {
                self.sessions_ended += 1;
                self.total_duration_ms += duration_ms;
            }
            DomainActivity::Delivered { batch_size } => {
                self.captions_sent += batch_size;
                if batch_size > 1 {
                    self.batches_sent += 1;
                }
            }
            DomainActivity::Failed { batch_size } => self.captions_failed += batch_size,
        }
    }

    /// Merges hourly rows into a day row: sums, and the largest peak.
    pub fn merge(&mut self, o: &Self) {
        self.sessions_started += o.sessions_started;
        self.sessions_ended += o.sessions_ended;
        self.captions_sent += o.captions_sent;
        self.captions_failed += o.captions_failed;
        self.batches_sent += o.batches_sent;
        self.total_duration_ms += o.total_duration_ms;
        self.peak_sessions = self.peak_sessions.max(o.peak_sessions);
    }
}

/// The most days `GET /usage` may span (inclusive count).
pub const MAX_DOMAIN_USAGE_DAYS: i64 = 366;

/// A `GET /usage` question: dates inclusive, optionally one domain or a set of allowed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainUsageQuery {
    from: Date,
    to: Date,
    hourly: bool,
    domain: Option<Domain>,
    only: Option<Vec<Domain>>,
}

impl DomainUsageQuery {
    /// Builds a query over `from..=to`; `hourly` keeps hour rows, else rows are per day.
    /// `only`, when set, restricts rows to those sites (a restricted `ALLOWED_DOMAINS`).
    ///
    /// # Errors
    /// `from` after `to`, or more than 366 days.
    pub fn new(
        from: Date,
        to: Date,
        hourly: bool,
        domain: Option<Domain>,
        only: Option<Vec<Domain>>,
    ) -> Result<Self, InvalidValue> {
        if from > to {
            return Err(InvalidValue::new("from must be <= to"));
        }
        if (to - from).whole_days() + 1 > MAX_DOMAIN_USAGE_DAYS {
            return Err(InvalidValue::new("the range must not exceed 366 days"));
        }
        Ok(Self {
            from,
            to,
            hourly,
            domain,
            only,
        })
    }

    /// First date.
    #[must_use]
    pub fn from(&self) -> Date {
        self.from
    }
    /// Last date (inclusive).
    #[must_use]
    pub fn to(&self) -> Date {
        self.to
    }
    /// Hour rows or day rows.
    #[must_use]
    pub fn hourly(&self) -> bool {
        self.hourly
    }
    /// One domain only.
    #[must_use]
    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }
    /// Allowed domains only.
    #[must_use]
    pub fn only(&self) -> Option<&[Domain]> {
        self.only.as_deref()
    }

    /// Whether a row is selected.
    #[must_use]
    pub fn selects(&self, k: &DomainRollupKey) -> bool {
        k.date >= self.from
            && k.date <= self.to
            && self.domain.as_ref().is_none_or(|d| *d == k.domain)
            && self
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|d| d.same_site(&k.domain)))
    }

    /// The reference evaluation: hour rows ordered (date, hour, domain), or day rows summed per
    /// (date, domain) with the largest peak, ordered (date, domain).
    pub fn evaluate<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a DomainRollupKey, &'a DomainCounters)>,
    ) -> Vec<DomainUsageRow> {
        let mut out: BTreeMap<(Date, Option<u8>, Domain), DomainCounters> = BTreeMap::new();
        for (k, c) in rows.into_iter().filter(|(k, _)| self.selects(k)) {
            let hour = self.hourly.then_some(k.hour);
            out.entry((k.date, hour, k.domain.clone()))
                .or_default()
                .merge(c);
        }
        out.into_iter()
            .map(|((date, hour, domain), counters)| DomainUsageRow {
                date,
                hour,
                domain,
                counters,
            })
            .collect()
    }
}

/// One `GET /usage` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainUsageRow {
    /// Date.
    pub date: Date,
    /// Hour, for hour rows.
    pub hour: Option<u8>,
    /// Site.
    pub domain: Domain,
    /// Counters.
    pub counters: DomainCounters,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn d(s: &str) -> Domain {
        Domain::parse(s).unwrap()
    }

    #[test]
    fn captions_count_per_caption_and_batches_only_above_one() {
        let mut c = DomainCounters::default();
        c.apply(DomainActivity::Delivered { batch_size: 2 });
        c.apply(DomainActivity::Delivered { batch_size: 1 });
        c.apply(DomainActivity::Failed { batch_size: 5 });
        assert_eq!(
            (c.captions_sent, c.batches_sent, c.captions_failed),
            (3, 1, 5)
        );
    }

    #[test]
    fn peak_is_the_largest_concurrency_seen() {
        let mut c = DomainCounters::default();
        for open in [1, 3, 2] {
            c.apply(DomainActivity::SessionStarted {
                open_sessions: open,
            });
        }
        c.apply(DomainActivity::SessionEnded { duration_ms: 500 });
        assert_eq!(
            (
                c.sessions_started,
                c.peak_sessions,
                c.sessions_ended,
                c.total_duration_ms
            ),
            (3, 3, 1, 500)
        );
    }

    #[test]
    fn rows_land_in_the_utc_hour() {
        let k = DomainRollupKey::at(d("a.example"), datetime!(2026-01-01 23:59:59 UTC));
        assert_eq!((k.date, k.hour), (date!(2026 - 01 - 01), 23));
        let k = DomainRollupKey::at(d("a.example"), datetime!(2026-01-02 0:00 UTC));
        assert_eq!((k.date, k.hour), (date!(2026 - 01 - 02), 0));
    }

    #[test]
    fn day_rows_sum_and_keep_max_peak() {
        let a = d("a.example");
        let rows = [
            (
                DomainRollupKey {
                    date: date!(2026 - 01 - 01),
                    hour: 1,
                    domain: a.clone(),
                },
                DomainCounters {
                    captions_sent: 2,
                    peak_sessions: 4,
                    ..DomainCounters::default()
                },
            ),
            (
                DomainRollupKey {
                    date: date!(2026 - 01 - 01),
                    hour: 5,
                    domain: a.clone(),
                },
                DomainCounters {
                    captions_sent: 3,
                    peak_sessions: 2,
                    ..DomainCounters::default()
                },
            ),
            (
                DomainRollupKey {
                    date: date!(2026 - 01 - 03),
                    hour: 5,
                    domain: a.clone(),
                },
                DomainCounters {
                    captions_sent: 9,
                    ..DomainCounters::default()
                },
            ),
            (
                DomainRollupKey {
                    date: date!(2026 - 01 - 01),
                    hour: 5,
                    domain: d("b.example"),
                },
                DomainCounters {
                    captions_sent: 1,
                    ..DomainCounters::default()
                },
            ),
        ];
        let q = DomainUsageQuery::new(
            date!(2026 - 01 - 01),
            date!(2026 - 01 - 02),
            false,
            None,
            Some(vec![d("http://a.example")]),
        )
        .unwrap();
        let out = q.evaluate(rows.iter().map(|(k, v)| (k, v)));
        assert_eq!(out.len(), 1);
        assert_eq!(
            (
                out[0].counters.captions_sent,
                out[0].counters.peak_sessions,
                out[0].hour
            ),
            (5, 4, None)
        );
        let q = DomainUsageQuery::new(
            date!(2026 - 01 - 01),
            date!(2026 - 01 - 03),
            true,
            Some(a),
            None,
        )
        .unwrap();
        assert_eq!(q.evaluate(rows.iter().map(|(k, v)| (k, v))).len(), 3);
    }

    #[test]
    fn range_rules() {
        assert!(DomainUsageQuery::new(
            date!(2026 - 01 - 02),
            date!(2026 - 01 - 01),
            false,
            None,
            None
        )
        .is_err());
        assert!(DomainUsageQuery::new(
            date!(2025 - 01 - 01),
            date!(2026 - 01 - 01),
            false,
            None,
            None
        )
        .is_ok());
        assert!(DomainUsageQuery::new(
            date!(2024 - 01 - 01),
            date!(2024 - 12 - 31),
            false,
            None,
            None
        )
        .is_ok());
        assert!(DomainUsageQuery::new(
            date!(2024 - 01 - 01),
            date!(2025 - 01 - 01),
            false,
            None,
            None
        )
        .is_err());
    }
}
