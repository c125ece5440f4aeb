//! Partition maintenance of `usage_events` (one partition per UTC month, `usage_events_pYYYYMM`,
//! and `usage_events_default` for events dated where no month partition exists yet), and
//! the raw-event side of retention: months entirely older than the raw cutoff are dropped,
//! never deleted row by row.
//!
//! One run, in one transaction under an advisory lock (instances sharing the database take
//! turns): move the default partition's rows into their months' partitions (created for
//! them), create this month's and the next [`AHEAD_MONTHS`] partitions, drop the expired
//! months and delete their idempotency records. The bulk seeder covers its history's months
//! the same way before writing it. DDL on a partitioned table locks it, so the
//! run waits at most [`LOCK_TIMEOUT`] for a lock (the meter's inserts would queue behind a
//! waiting `DROP`) and gives up until the next run when it cannot get one.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamptz};
use time::{Date, Month, OffsetDateTime, Time};

use crate::error::Fail;

/// Months created ahead of the current one.
pub(crate) const AHEAD_MONTHS: u32 = 2;
/// Longest wait for a lock on `usage_events` (a DDL statement's).
pub(crate) const LOCK_TIMEOUT: &str = "1s";
/// Advisory-lock key of the maintenance run ("tally_pm").
const MAINTENANCE_LOCK: i64 = 0x7461_6c6c_795f_706d;
/// The name every month partition starts with.
const PREFIX: &str = "usage_events_p";

/// A UTC calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct YearMonth {
    year: i32,
    month: Month,
}

impl YearMonth {
    /// The month holding `t` (UTC).
    pub(crate) fn of(t: OffsetDateTime) -> Self {
        let t = t.to_offset(time::UtcOffset::UTC);
        Self {
            year: t.year(),
            month: t.month(),
        }
    }

    /// The month after this one.
    fn next(self) -> Self {
        match self.month {
            Month::December => Self {
                year: self.year + 1,
                month: Month::January,
            },
            m => Self {
                year: self.year,
                month: m.next(),
            },
        }
    }

    /// Its first instant.
    fn start(self) -> OffsetDateTime {
        Date::from_calendar_date(self.year, self.month, 1)
            .unwrap_or(Date::MIN)
            .with_time(Time::MIDNIGHT)
            .assume_utc()
    }

    /// Its partition's name.
    fn table(self) -> String {
        format!("{PREFIX}{:04}{:02}", self.year, u8::from(self.month))
    }

    /// The month a partition name stands for (`None` for the default partition or a table
    /// Tally did not name).
    fn parse(table: &str) -> Option<Self> {
        let digits = table.strip_prefix(PREFIX)?;
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year = digits[..4].parse().ok()?;
        let month = Month::try_from(digits[4..].parse::<u8>().ok()?).ok()?;
        Some(Self { year, month })
    }

    /// `FOR VALUES FROM (…) TO (…)` of its partition. Only digits of our own making are
    /// spliced in.
    fn bounds(self) -> String {
        let lit = |m: Self| format!("'{:04}-{:02}-01 00:00:00+00'", m.year, u8::from(m.month));
        format!("FOR VALUES FROM ({}) TO ({})", lit(self), lit(self.next()))
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Start {
    #[diesel(sql_type = Timestamptz)]
    start: OffsetDateTime,
}

/// The months that have a partition.
fn months(c: &mut PgConnection) -> Result<Vec<YearMonth>, Fail> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'usage_events'::regclass",
    )
    .load(c)?;
    let mut months: Vec<YearMonth> = names
        .iter()
        .filter_map(|n| YearMonth::parse(&n.name))
        .collect();
    months.sort();
    Ok(months)
}

/// Moves the default partition's rows of `month` into a new partition of their own.
fn settle(c: &mut PgConnection, month: YearMonth) -> Result<(), Fail> {
    let table = month.table();
    c.batch_execute(&format!(
        "CREATE TABLE {table} (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    ))?;
    diesel::sql_query(format!(
        "WITH moved AS (DELETE FROM usage_events_default \
             WHERE occurred_at >= $1 AND occurred_at < $2 RETURNING *) \
         INSERT INTO {table} SELECT * FROM moved"
    ))
    .bind::<Timestamptz, _>(month.start())
    .bind::<Timestamptz, _>(month.next().start())
    .execute(c)?;
    c.batch_execute(&format!(
        "ALTER TABLE usage_events ATTACH PARTITION {table} {}",
        month.bounds()
    ))?;
    Ok(())
}

/// Creates the missing partitions of the months `first..=last` (on an empty default
/// partition: call after the stray rows were settled) and returns every month that has one.
fn cover(c: &mut PgConnection, first: YearMonth, last: YearMonth) -> Result<Vec<YearMonth>, Fail> {
    let mut existing = months(c)?;
    let mut month = first;
    while month <= last {
        if !existing.contains(&month) {
            c.batch_execute(&format!(
                "CREATE TABLE {} PARTITION OF usage_events {}",
                month.table(),
                month.bounds()
            ))?;
            existing.push(month);
        }
        month = month.next();
    }
    Ok(existing)
}

/// Creates the partitions of every month from `from` to `to` that has none, in the
/// caller's transaction (the bulk seeder, before writing a long history), settling stray
/// rows of those months first.
pub(crate) fn cover_range(
    c: &mut PgConnection,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<(), Fail> {
    c.batch_execute(&format!("SELECT pg_advisory_xact_lock({MAINTENANCE_LOCK})"))?;
    settle_strays(c)?;
    cover(c, YearMonth::of(from), YearMonth::of(to))?;
    Ok(())
}

/// Moves every row of the default partition into its month's partition.
fn settle_strays(c: &mut PgConnection) -> Result<(), Fail> {
    let stray: Vec<Start> = diesel::sql_query(
        "SELECT DISTINCT date_trunc('month', occurred_at, 'UTC') AS start FROM usage_events_default",
    )
    .load(c)?;
    for s in stray {
        settle(c, YearMonth::of(s.start))?;
    }
    Ok(())
}

/// One maintenance run at `now` (see the module docs): returns the months dropped. With
/// `raw_cutoff` `None` nothing is dropped.
pub(crate) fn maintain(
    c: &mut PgConnection,
    now: OffsetDateTime,
    raw_cutoff: Option<OffsetDateTime>,
) -> Result<u64, Fail> {
    c.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; SELECT pg_advisory_xact_lock({MAINTENANCE_LOCK})"
    ))?;
    settle_strays(c)?;
    let ahead = (0..AHEAD_MONTHS).fold(YearMonth::of(now), |m, _| m.next());
    let existing = cover(c, YearMonth::of(now), ahead)?;

    let Some(cutoff) = raw_cutoff else {
        return Ok(0);
    };
    let mut dropped = 0;
    for month in existing.iter().filter(|m| m.next().start() <= cutoff) {
        c.batch_execute(&format!("DROP TABLE {}", month.table()))?;
        dropped += 1;
    }
    // Every event before the cutoff is gone (this run's months and any earlier ones), so
    // their idempotency keys may be used again.
    diesel::sql_query("DELETE FROM idempotency_keys WHERE event_occurred_at < $1")
        .bind::<Timestamptz, _>(cutoff)
        .execute(c)?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn month_partitions_are_named_and_bounded() {
        let m = YearMonth::of(datetime!(2026-12-31 23:59 UTC));
        assert_eq!(m.table(), "usage_events_p202612");
        assert_eq!(m.next().start(), datetime!(2027-01-01 0:00 UTC));
        assert_eq!(
            m.bounds(),
            "FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')"
        );
        assert_eq!(YearMonth::parse("usage_events_p202612"), Some(m));
        assert_eq!(YearMonth::parse("usage_events_default"), None);
        assert_eq!(YearMonth::parse("usage_events_p202613"), None);
    }
}
