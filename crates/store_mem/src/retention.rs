//! Retention on the memory store: the same policy as Postgres, so both pass one contract.
//! Events before the raw cutoff (a month start) are removed, exactly the months Postgres
//! drops as partitions; hourly rollup rows before the hourly cutoff are re-keyed to their
//! day's midnight and merged.

use std::collections::BTreeSet;

use tally_domain::usage::{Granularity, RetentionPolicy, RetentionReport};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::state::State;

impl State {
    /// Applies `policy` at `now` (see [`tally_domain::UsageStore::apply_retention`]).
    pub fn apply_retention(
        &mut self,
        policy: RetentionPolicy,
        now: OffsetDateTime,
    ) -> RetentionReport {
        let mut report = RetentionReport::default();
        if let Some(cutoff) = policy.raw_cutoff(now) {
            let expired: Vec<Uuid> = self.events_by_time.ids_before(cutoff);
            let mut months = BTreeSet::new();
            for id in &expired {
                if let Some(e) = self.remove_event(id) {
                    if let Some(k) = &e.data.idempotency_key {
                        self.idempotency.remove(&(e.data.org_id.clone(), k.clone()));
                    }
                    months.insert(Granularity::Month.bucket_start(e.data.occurred_at));
                }
            }
            report.months_removed = months.len() as u64;
        }
        if let Some(cutoff) = policy.hourly_cutoff(now) {
            for key in self.rollups.keys_before(cutoff, |k| k.compacted() != *k) {
                let totals = self.rollups.remove(&key).unwrap_or_default();
                self.add_rollup(key.compacted(), totals, false);
                report.rollups_compacted += 1;
            }
        }
        report
    }
}
