//! The usage rollups of `MemStore`, partitioned by the rows' hour so an aggregation runs
//! without holding the store's lock.
//!
//! Each hour's rows (a compacted day's rows sit at its midnight) are one `HashMap` behind an
//! `Arc`. A query takes the hours of its window under the lock — one pointer per hour, 720
//! for 30 days — and sums them after releasing it, so the aggregation (tens of thousands of
//! rows) never holds up a meter. A writer changing an hour that a query still holds copies
//! that hour's rows first (`Arc::make_mut`); meters write the current hour, so that is the
//! only one they copy, at most once per query. A query sees the rollups as they were when it
//! took the hours, as a transaction's snapshot would be.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tally_domain::usage::{RollupKey, Totals};
use time::OffsetDateTime;

type Hour = HashMap<RollupKey, Totals>;

/// Rollup rows by hour (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct RollupTable {
    /// No hour is empty and no row is zero.
    hours: BTreeMap<OffsetDateTime, Arc<Hour>>,
}

impl RollupTable {
    /// Adds (or subtracts) `delta` to a row, dropping rows that become empty.
    pub fn add(&mut self, key: RollupKey, delta: Totals, subtract: bool) {
        let apply = |row: &mut Totals| {
            if subtract {
                *row -= delta;
            } else {
                *row += delta;
            }
        };
        let hour = key.hour;
        let rows = Arc::make_mut(self.hours.entry(hour).or_default());
        match rows.get_mut(&key) {
            Some(row) => {
                apply(row);
                if row.is_zero() {
                    rows.remove(&key);
                }
            }
            None => {
                let mut row = Totals::default();
                apply(&mut row);
                if !row.is_zero() {
                    rows.insert(key, row);
                }
            }
        }
        if rows.is_empty() {
            self.hours.remove(&hour);
        }
    }

    /// Takes a row out.
    pub fn remove(&mut self, key: &RollupKey) -> Option<Totals> {
        let rows = self.hours.get_mut(&key.hour)?;
        if !rows.contains_key(key) {
            return None;
        }
        let rows = Arc::make_mut(rows);
        let totals = rows.remove(key);
        if rows.is_empty() {
            self.hours.remove(&key.hour);
        }
        totals
    }

    /// The keys of every row matching `which`.
    pub fn keys_where(&self, which: impl Fn(&RollupKey) -> bool) -> Vec<RollupKey> {
        self.hours
            .values()
            .flat_map(|rows| rows.keys())
            .filter(|k| which(k))
            .cloned()
            .collect()
    }

    /// The keys of the rows before `before` matching `which`.
    pub fn keys_before(
        &self,
        before: OffsetDateTime,
        which: impl Fn(&RollupKey) -> bool,
    ) -> Vec<RollupKey> {
        self.hours
            .range(..before)
            .flat_map(|(_, rows)| rows.keys())
            .filter(|k| which(k))
            .cloned()
            .collect()
    }

    /// The hours `[from, to)`, to aggregate after the lock is released.
    pub fn snapshot(&self, from: OffsetDateTime, to: OffsetDateTime) -> RollupSnapshot {
        if from >= to {
            return RollupSnapshot(Vec::new());
        }
        RollupSnapshot(
            self.hours
                .range(from..to)
                .map(|(_, h)| Arc::clone(h))
                .collect(),
        )
    }
}

/// Some hours of the rollups, as they were when taken.
#[derive(Debug)]
pub(crate) struct RollupSnapshot(Vec<Arc<Hour>>);

impl RollupSnapshot {
    /// Every row of the hours taken.
    pub fn rows(&self) -> impl Iterator<Item = (&RollupKey, &Totals)> {
        self.0.iter().flat_map(|rows| rows.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::tenancy::OrgId;
    use time::Duration;

    fn key(hour: i64, model: &str) -> RollupKey {
        RollupKey {
            hour: OffsetDateTime::UNIX_EPOCH + Duration::hours(hour),
            org_id: OrgId::default_org(),
            user_id: None,
            key_id: None,
            model: Some(model.to_owned()),
            api_name: None,
            language: None,
            domain: None,
            success: true,
            api_call: false,
            status_class: None,
        }
    }

    fn units(n: i64) -> Totals {
        Totals {
            count: n,
            units: n,
            ..Totals::default()
        }
    }

    fn sum(s: &RollupSnapshot) -> i64 {
        s.rows().map(|(_, t)| t.units).sum()
    }

    /// A snapshot keeps the sums it saw while rows change under it, and covers only its
    /// window; rows and hours that reach zero are gone.
    #[test]
    fn snapshots_keep_their_sums_and_window() {
        let mut t = RollupTable::default();
        for h in 0..48 {
            t.add(key(h, "a"), units(2), false);
            t.add(key(h, "b"), units(1), false);
        }
        let at = |h| OffsetDateTime::UNIX_EPOCH + Duration::hours(h);
        let day = t.snapshot(at(0), at(24));
        assert_eq!(sum(&day), 72);
        t.add(key(3, "a"), units(2), true);
        t.add(key(3, "b"), units(1), true);
        t.add(key(5, "a"), units(10), false);
        assert_eq!(sum(&day), 72, "taken before the changes");
        assert_eq!(sum(&t.snapshot(at(0), at(24))), 72 - 3 + 10);
        assert!(
            !t.hours.contains_key(&at(3)),
            "an hour with no rows is dropped"
        );
        assert_eq!(t.remove(&key(5, "a")), Some(units(12)));
        assert_eq!(t.remove(&key(5, "a")), None);
        assert_eq!(t.keys_before(at(2), |_| true).len(), 4);
        assert_eq!(t.keys_where(|k| k.model.as_deref() == Some("b")).len(), 47);
        assert_eq!(sum(&t.snapshot(at(24), at(24))), 0);
    }
}
