//! The lcyt domain rollup: per (organisation, UTC date, hour, site) session and caption
//! counters.

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};

use crate::origin::Domain;
use crate::tenancy::{InvalidValue, OrgId};

/// The row a piece of site activity lands in, within its organisation (stores keep the rows
/// of each organisation apart: `(org, DomainRollupKey)`).
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
    /// Most sessions of this site open at once within the organisation, as seen in the hour.
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
    org: Option<OrgId>,
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
            org: None,
        })
    }

    /// The same question about one organisation's rows only (its sessions on the sites),
    /// which a store can answer from that organisation's shard.
    #[must_use]
    pub fn within(mut self, org: OrgId) -> Self {
        self.org = Some(org);
        self
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
    /// One organisation's rows only.
    #[must_use]
    pub fn org(&self) -> Option<&OrgId> {
        self.org.as_ref()
    }

    /// Whether organisation `org`'s row `k` is selected.
    #[must_use]
    pub fn selects(&self, org: &OrgId, k: &DomainRollupKey) -> bool {
        self.org.as_ref().is_none_or(|o| o == org)
            && k.date >= self.from
            && k.date <= self.to
            && self.domain.as_ref().is_none_or(|d| *d == k.domain)
            && self
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|d| d.same_site(&k.domain)))
    }

    /// The reference evaluation over `(org, row, counters)`: hour rows ordered (date, hour,
    /// domain), or day rows summed per (date, domain) with the largest peak, ordered (date,
    /// domain). Rows of several organisations on one site merge the same way (sums, the
    /// largest peak).
    pub fn evaluate<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a OrgId, &'a DomainRollupKey, &'a DomainCounters)>,
    ) -> Vec<DomainUsageRow> {
        let mut out: BTreeMap<(Date, Option<u8>, Domain), DomainCounters> = BTreeMap::new();
        for (_, k, c) in rows.into_iter().filter(|(o, k, _)| self.selects(o, k)) {
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
#[path = "domain_rollup_tests.rs"]
mod tests;
