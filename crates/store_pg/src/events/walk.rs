//! Request logs read as walks: when one index holds, in the log's order, exactly the events a
//! query matches, the page and the count read that index from its newest entry and stop at
//! their limit, so they cost the entries they read whatever the history holds.
//!
//! A plain `LIMIT` is not enough: the planner picks its plan from estimates, and it
//! underestimates the matches of correlated filters (one user's share of `500`s, say) and
//! answers with a bitmap scan that collects every match before the first is counted, or a
//! sort of all of them — a cost that grows with history. So every statement of a walk, the
//! counts included, asks for the log's order (`occurred_at DESC, id DESC`) and runs in a
//! read-only transaction that rules out sequential, bitmap and sorted plans ([`PINNED`]).
//! What is left is an index scan that yields that order by itself, and of those the walk's
//! own index is the cheapest by construction: its equality columns and its predicate are the
//! query's, so every entry it reads is a match (another index in that order would read the
//! same entries and filter them on the heap). This holds for custom and generic plans alike;
//! the tests below check both for every statement of every walk.

use diesel::connection::SimpleConnection;
use diesel::pg::data_types::PgTimestamp;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Timestamptz, Uuid as SqlUuid};
use tally_domain::usage::{LogCount, LogPage, LogQuery};
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

use super::page::{bounded_total, count_cap, page_of, Numbered};
use crate::convert::{from_db, micros};
use crate::error::Fail;
use crate::fixed::Fixed;
use crate::rows::events::event_columns;

/// The planner settings of a walk's transaction (see the module docs). Parallel plans are
/// ruled out too: a walk reads a bounded range, where starting workers only adds latency.
/// And the generic plan is used from the first run: it is the same walk (runtime pruning
/// drops the months outside the window), and planning a custom one took longer than running
/// it (~1 ms for the page over five partitions of ten indexes each, measured at 3 M events).
pub(super) const PINNED: &str = "SET LOCAL enable_seqscan = off; \
     SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; \
     SET LOCAL enable_incremental_sort = off; SET LOCAL max_parallel_workers_per_gather = 0; \
     SET LOCAL plan_cache_mode = force_generic_plan";

/// Postgres' epoch for timestamps.
const PG_EPOCH: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

/// A log query that one index answers exactly, with the values of that index's leading
/// columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Walk {
    /// `usage_events_user_status_idx`: one user's active API calls of one status.
    UserStatus(Uuid, i32),
    /// `usage_events_user_calls_idx`: one user's active API calls.
    UserCalls(Uuid),
    /// `usage_events_key_calls_idx`: one key's active API calls.
    KeyCalls(i64),
    /// `usage_events_user_time_idx`: every event of one user, refunded ones included.
    UserEvents(Uuid),
    /// `usage_events_key_time_idx`: every event of one key, refunded ones included.
    KeyEvents(i64),
}

/// A walk's three statements. Parameters: the walk's keys first (`$1…`), then the window's
/// start and end, then the page's offset and limit or the count's cap.
struct Statements {
    page: &'static str,
    capped: &'static str,
    exact: &'static str,
}

/// The statements of a walk whose filter is `$filter` (binding the keys), with the window at
/// parameters `$start`, `$end` and the offset (or cap) and limit at `$n`, `$limit`.
macro_rules! statements {
    ($filter:literal, $start:literal, $end:literal, $n:literal, $limit:literal) => {
        Statements {
            page: concat!(
                "SELECT number, ",
                event_columns!(),
                " FROM usage_events WHERE ",
                $filter,
                " AND occurred_at >= ",
                $start,
                "::timestamptz AND occurred_at < ",
                $end,
                "::timestamptz ORDER BY occurred_at DESC, id DESC OFFSET ",
                $n,
                "::bigint LIMIT ",
                $limit,
                "::bigint"
            ),
            capped: concat!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM usage_events WHERE ",
                $filter,
                " AND occurred_at >= ",
                $start,
                "::timestamptz AND occurred_at < ",
                $end,
                "::timestamptz ORDER BY occurred_at DESC, id DESC LIMIT ",
                $n,
                "::bigint) AS capped"
            ),
            exact: concat!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM usage_events WHERE ",
                $filter,
                " AND occurred_at >= ",
                $start,
                "::timestamptz AND occurred_at < ",
                $end,
                "::timestamptz ORDER BY occurred_at DESC, id DESC) AS walked"
            ),
        }
    };
}

// `method IS NOT NULL AND active` are written out, not bound, so the partial indexes' predicates
// match every plan of the statements, generic ones included.
const USER_STATUS: Statements = statements!(
    "user_id = $1::uuid AND status_code = $2::integer AND method IS NOT NULL AND active",
    "$3",
    "$4",
    "$5",
    "$6"
);
const USER_CALLS: Statements = statements!(
    "user_id = $1::uuid AND method IS NOT NULL AND active",
    "$2",
    "$3",
    "$4",
    "$5"
);
const KEY_CALLS: Statements = statements!(
    "key_id = $1::bigint AND method IS NOT NULL AND active",
    "$2",
    "$3",
    "$4",
    "$5"
);
const USER_EVENTS: Statements = statements!("user_id = $1::uuid", "$2", "$3", "$4", "$5");
const KEY_EVENTS: Statements = statements!("key_id = $1::bigint", "$2", "$3", "$4", "$5");

/// A count's result.
#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Walk {
    /// The walk that answers `q` exactly, if one does: a user or a key (not both), either
    /// its active API calls (optionally of one status, for a user) or all its events, and
    /// no organisation, method or path filter. Other queries are left to the planner.
    pub(super) fn of(q: &LogQuery) -> Option<Self> {
        if q.org_id.is_some() || q.method.is_some() || q.path_contains.is_some() {
            return None;
        }
        let calls = q.api_call == Some(true) && !q.include_inactive;
        let everything = q.api_call.is_none() && q.include_inactive;
        match (q.user_id, q.key_id, q.status_code) {
            (Some(u), None, Some(s)) if calls => Some(Self::UserStatus(u.0, i32::from(s))),
            (Some(u), None, None) if calls => Some(Self::UserCalls(u.0)),
            (None, Some(k), None) if calls => Some(Self::KeyCalls(k.0)),
            (Some(u), None, None) if everything => Some(Self::UserEvents(u.0)),
            (None, Some(k), None) if everything => Some(Self::KeyEvents(k.0)),
            _ => None,
        }
    }

    /// The partitioned index the walk reads.
    #[cfg(test)]
    fn index(self) -> &'static str {
        match self {
            Self::UserStatus(..) => "usage_events_user_status_idx",
            Self::UserCalls(_) => "usage_events_user_calls_idx",
            Self::KeyCalls(_) => "usage_events_key_calls_idx",
            Self::UserEvents(_) => "usage_events_user_time_idx",
            Self::KeyEvents(_) => "usage_events_key_time_idx",
        }
    }

    /// The walk's statements.
    fn statements(self) -> &'static Statements {
        match self {
            Self::UserStatus(..) => &USER_STATUS,
            Self::UserCalls(_) => &USER_CALLS,
            Self::KeyCalls(_) => &KEY_CALLS,
            Self::UserEvents(_) => &USER_EVENTS,
            Self::KeyEvents(_) => &KEY_EVENTS,
        }
    }

    /// `sql` with the walk's keys and `q`'s window bound.
    fn bound(self, sql: &'static str, q: &LogQuery) -> Result<Fixed<'static>, Fail> {
        let with_keys = match self {
            Self::UserStatus(user, status) => Fixed::new(sql)
                .bind::<SqlUuid, _>(user)
                .bind::<Integer, _>(status),
            Self::UserCalls(user) | Self::UserEvents(user) => {
                Fixed::new(sql).bind::<SqlUuid, _>(user)
            }
            Self::KeyCalls(key) | Self::KeyEvents(key) => Fixed::new(sql).bind::<BigInt, _>(key),
        };
        Ok(with_keys
            .bind::<Timestamptz, _>(instant(q.start, i64::MIN)?)
            .bind::<Timestamptz, _>(instant(q.end, i64::MAX)?))
    }

    /// The page and count of `q` (see [`super::list`]), in one pinned read-only transaction.
    pub(super) fn list(self, c: &mut PgConnection, q: &LogQuery) -> Result<LogPage, Fail> {
        let sql = self.statements();
        c.build_transaction().read_only().run(|c| {
            c.batch_execute(PINNED)?;
            let rows: Vec<Numbered> = if q.limit > 0 {
                self.bound(sql.page, q)?
                    .bind::<BigInt, _>(i64::try_from(q.offset).unwrap_or(i64::MAX))
                    .bind::<BigInt, _>(i64::from(q.limit))
                    .load(c)?
            } else {
                Vec::new()
            };
            let (events, numbers) = page_of(rows)?;
            let (total, total_exact) = match q.count {
                LogCount::Exact => {
                    let n = self.bound(sql.exact, q)?.get_result::<Count>(c)?.n;
                    (from_db(n, "event count")?, true)
                }
                LogCount::AtMost(n) => {
                    let (most, cap) = count_cap(q, n);
                    let seen = self
                        .bound(sql.capped, q)?
                        .bind::<BigInt, _>(cap)
                        .get_result::<Count>(c)?
                        .n;
                    bounded_total(from_db(seen, "event count")?, most)
                }
                LogCount::Skip => (q.offset.saturating_add(events.len() as u64), false),
            };
            Ok(LogPage {
                events,
                numbers,
                total,
                total_exact,
            })
        })
    }
}

/// A window bound as Postgres' microseconds since its epoch (at the precision events are
/// stored at); an open bound is `open`, which Postgres reads as ±infinity (`i64::MIN`,
/// `i64::MAX`).
fn instant(t: Option<OffsetDateTime>, open: i64) -> Result<PgTimestamp, Fail> {
    let Some(t) = t else {
        return Ok(PgTimestamp(open));
    };
    let us = (micros(t) - PG_EPOCH).whole_microseconds();
    i64::try_from(us).map(PgTimestamp).map_err(|_| {
        Fail::Store(tally_domain::StoreError::Internal(format!(
            "log window bound {t} is out of Postgres' range"
        )))
    })
}

#[cfg(test)]
mod tests;
