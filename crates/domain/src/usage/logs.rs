//! Request logs: raw events read through indexes, newest first, a page at a time, with a
//! total that is exact from the rollups when the filters allow it and bounded otherwise.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::event::UsageEvent;
use super::query::Granularity;
use super::query::UsageFilters;
use crate::key::KeyId;
use crate::tenancy::{InvalidValue, OrgId, UserId};

/// Most events one page may hold.
pub const MAX_PAGE_LIMIT: u32 = 1_000;

/// How many matching events a bounded count ([`LogCount::AtMost`]) goes through before it
/// stops and reports "at least this many".
pub const LOG_COUNT_LIMIT: u64 = 10_000;

/// The span of time the rollups answer a log total for; events dated outside it are counted
/// one by one (there are normally none).
pub const ROLLUP_TOTAL_START: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);
/// See [`ROLLUP_TOTAL_START`].
pub const ROLLUP_TOTAL_END: OffsetDateTime = datetime!(2100-01-01 0:00 UTC);

/// How a store counts the events matching a log query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogCount {
    /// Every matching event: `total` is exact. Costs a pass over every match.
    Exact,
    /// At most `n` matches beyond what the page needs: with `m = max(n, offset + limit)`,
    /// `total` is the number of matches when there are at most `m` (then `total_exact`),
    /// else `m` with `total_exact: false` ("at least `m`").
    AtMost(u64),
    /// No count: `total` is `offset + events` and `total_exact` is false. For callers that
    /// take the total from elsewhere (the rollups).
    Skip,
}

/// Which raw events to list. Scope fields (`org_id`, `user_id`, `key_id`) say whose events
/// the caller may see; the rest are the log filters. Events are ordered newest first
/// (`occurred_at`, then id, descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Only this organisation.
    pub org_id: Option<OrgId>,
    /// Only this user.
    pub user_id: Option<UserId>,
    /// Only this key.
    pub key_id: Option<KeyId>,
    /// Only this HTTP method.
    pub method: Option<String>,
    /// Only this status.
    pub status_code: Option<u16>,
    /// Only paths containing this text.
    pub path_contains: Option<String>,
    /// Only API calls (events with an HTTP method), or only the others.
    pub api_call: Option<bool>,
    /// Only events at or after this instant.
    pub start: Option<OffsetDateTime>,
    /// Only events before this instant.
    pub end: Option<OffsetDateTime>,
    /// Include refunded/voided events.
    pub include_inactive: bool,
    /// Events to skip.
    pub offset: u64,
    /// Events to return (0 only for a count).
    pub limit: u32,
    /// How matches are counted.
    pub count: LogCount,
}

impl LogQuery {
    /// A query for everything, first page of `limit`.
    ///
    /// # Errors
    /// A limit of 0 or above 1,000.
    pub fn new(limit: u32) -> Result<Self, InvalidValue> {
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(InvalidValue(format!(
                "limit must be between 1 and {MAX_PAGE_LIMIT}"
            )));
        }
        Ok(Self {
            org_id: None,
            user_id: None,
            key_id: None,
            method: None,
            status_code: None,
            path_contains: None,
            api_call: None,
            start: None,
            end: None,
            include_inactive: true,
            offset: 0,
            limit,
            count: LogCount::Exact,
        })
    }

    /// The rollup filters whose count is this query's total, when every filter is a rollup
    /// dimension: active events only (rollups hold nothing of refunded ones), and no method,
    /// status or path filter (rollups keep only the status class, no method or path).
    #[must_use]
    pub fn rollup_filters(&self) -> Option<UsageFilters> {
        let rollups_know = !self.include_inactive
            && self.method.is_none()
            && self.status_code.is_none()
            && self.path_contains.is_none();
        rollups_know.then(|| UsageFilters {
            org_id: self.org_id.clone(),
            user_id: self.user_id,
            key_id: self.key_id,
            api_call: self.api_call,
            ..UsageFilters::default()
        })
    }

    /// How the range `[start, end)` splits for a rollup-backed total: the whole UTC days
    /// inside it (within [`ROLLUP_TOTAL_START`]..[`ROLLUP_TOTAL_END`]), which the rollups
    /// count, and the parts outside them (partial days at either end, times outside that
    /// span), whose events are counted one by one. Days, not hours: rollup rows older than
    /// the hourly window are daily rows ([`super::retention`]), which only a whole day counts
    /// right. `None` bounds are open.
    #[must_use]
    pub fn total_plan(&self) -> TotalPlan {
        let start = self
            .start
            .map_or(ROLLUP_TOTAL_START, |s| s.max(ROLLUP_TOTAL_START));
        let end = self
            .end
            .map_or(ROLLUP_TOTAL_END, |e| e.min(ROLLUP_TOTAL_END));
        let first = day_ceil(start);
        let last = Granularity::Day.bucket_start(end);
        if first >= last {
            return TotalPlan {
                days: None,
                edges: vec![(self.start, self.end)],
            };
        }
        let mut edges = Vec::new();
        if self.start.is_none_or(|s| s < first) {
            edges.push((self.start, Some(first)));
        }
        if self.end.is_none_or(|e| e > last) {
            edges.push((Some(last), self.end));
        }
        TotalPlan {
            days: Some((first, last)),
            edges,
        }
    }

    /// Whether an event passes the scope and filters.
    #[must_use]
    pub fn matches(&self, e: &UsageEvent) -> bool {
        let d = &e.data;
        (self.include_inactive || e.active)
            && self.org_id.as_ref().is_none_or(|o| *o == d.org_id)
            && self.user_id.is_none_or(|u| d.user_id == Some(u))
            && self.key_id.is_none_or(|k| d.key_id == Some(k))
            && self
                .method
                .as_ref()
                .is_none_or(|m| d.method.as_ref() == Some(m))
            && self.status_code.is_none_or(|s| d.status_code == Some(s))
            && self.path_contains.as_ref().is_none_or(|p| {
                d.path
                    .as_ref()
                    .is_some_and(|path| path.contains(p.as_str()))
            })
            && self.api_call.is_none_or(|c| d.method.is_some() == c)
            && self.start.is_none_or(|s| d.occurred_at >= s)
            && self.end.is_none_or(|end| d.occurred_at < end)
    }

    /// The reference evaluation over `(number, event)` pairs: filter, order newest first,
    /// cut the page and count as [`Self::count`] says.
    pub fn evaluate<'a>(&self, events: impl IntoIterator<Item = (u64, &'a UsageEvent)>) -> LogPage {
        let mut all: Vec<(u64, &UsageEvent)> = events.into_iter().collect();
        all.sort_by_key(|(_, e)| std::cmp::Reverse((e.data.occurred_at, e.id)));
        self.page_of_newest(all)
    }

    /// The page and count from candidates already ordered newest first (`occurred_at`, then
    /// id, descending); candidates that do not match are skipped. Stops reading as soon as
    /// the page and the count are complete, so a store can feed it from an ordered index.
    pub fn page_of_newest<'a>(
        &self,
        ordered: impl IntoIterator<Item = (u64, &'a UsageEvent)>,
    ) -> LogPage {
        let skip = self.offset;
        let take = u64::from(self.limit);
        let page_end = skip.saturating_add(take);
        let wanted = match self.count {
            LogCount::Exact => u64::MAX,
            LogCount::AtMost(n) => n.max(page_end).saturating_add(1),
            LogCount::Skip => page_end,
        };
        let mut seen = 0u64;
        let mut events = Vec::new();
        let mut numbers = Vec::new();
        for (number, e) in ordered {
            if seen >= wanted {
                break;
            }
            if !self.matches(e) {
                continue;
            }
            if seen >= skip && seen < page_end {
                events.push(e.clone());
                numbers.push(number);
            }
            seen += 1;
        }
        let (total, total_exact) = match self.count {
            LogCount::Exact => (seen, true),
            LogCount::AtMost(_) if seen == wanted => (wanted - 1, false),
            LogCount::AtMost(_) => (seen, true),
            LogCount::Skip => (skip.saturating_add(events.len() as u64), false),
        };
        LogPage {
            events,
            numbers,
            total,
            total_exact,
        }
    }
}

/// The start of the first whole UTC day at or after `t`.
fn day_ceil(t: OffsetDateTime) -> OffsetDateTime {
    let floor = Granularity::Day.bucket_start(t);
    if floor == t {
        t
    } else {
        floor + Duration::DAY
    }
}

/// How a log total is assembled from the rollups ([`LogQuery::total_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalPlan {
    /// The whole days `[from, to)` the rollups count, if any.
    pub days: Option<(OffsetDateTime, OffsetDateTime)>,
    /// The ranges `[start, end)` (open when `None`) whose events are counted one by one.
    pub edges: Vec<(Option<OffsetDateTime>, Option<OffsetDateTime>)>,
}

/// One page of events and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// The page, newest first.
    pub events: Vec<UsageEvent>,
    /// The events' numbers (`numbers[i]` is `events[i]`'s): the stable numeric identity the
    /// seed surfaces show (meetbot's log `id`).
    pub numbers: Vec<u64>,
    /// Matching events in all pages: exact when `total_exact`, else a lower bound.
    pub total: u64,
    /// Whether `total` is exact (see [`LogCount`]).
    pub total_exact: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::event::{EventKind, NewUsageEvent};
    use uuid::Uuid;

    const T: OffsetDateTime = datetime!(2026-03-10 12:00 UTC);

    fn events(n: u128) -> Vec<UsageEvent> {
        (0..n)
            .map(|i| {
                let at = T + Duration::minutes(i64::try_from(i).unwrap() * 10);
                let mut data = NewUsageEvent::new(OrgId::default_org(), EventKind::Request, at);
                data.method = (i % 2 == 0).then(|| "GET".to_owned());
                UsageEvent {
                    id: Uuid::from_u128(i + 1),
                    created_at: at,
                    active: true,
                    data,
                }
            })
            .collect()
    }

    #[test]
    fn the_total_plan_splits_whole_days_from_partial_ones() {
        let day = |n: i64| datetime!(2026-03-10 0:00 UTC) + Duration::days(n);
        let mut q = LogQuery::new(10).unwrap();
        q.start = Some(T + Duration::minutes(30));
        q.end = Some(day(2) + Duration::hours(5));
        assert_eq!(
            q.total_plan(),
            TotalPlan {
                days: Some((day(1), day(2))),
                edges: vec![(q.start, Some(day(1))), (Some(day(2)), q.end)],
            }
        );
        q.start = Some(day(0));
        q.end = Some(day(2));
        assert_eq!(q.total_plan().edges, vec![]);
        q.start = Some(T);
        q.end = Some(T + Duration::hours(2));
        assert_eq!(
            q.total_plan(),
            TotalPlan {
                days: None,
                edges: vec![(q.start, q.end)]
            }
        );
        q.start = None;
        q.end = None;
        assert_eq!(
            q.total_plan(),
            TotalPlan {
                days: Some((ROLLUP_TOTAL_START, ROLLUP_TOTAL_END)),
                edges: vec![
                    (None, Some(ROLLUP_TOTAL_START)),
                    (Some(ROLLUP_TOTAL_END), None)
                ],
            }
        );
        assert!(q.rollup_filters().is_none(), "inactive events are listed");
        q.include_inactive = false;
        assert!(q.rollup_filters().is_some());
        q.status_code = Some(500);
        assert!(q.rollup_filters().is_none());
    }

    #[test]
    fn counts_are_exact_bounded_or_skipped() {
        let all = events(10);
        let numbered = || all.iter().enumerate().map(|(i, e)| (i as u64 + 1, e));
        let mut q = LogQuery::new(2).unwrap();
        q.api_call = Some(true);
        let page = q.evaluate(numbered());
        assert_eq!((page.total, page.total_exact), (5, true));
        assert_eq!(page.numbers, vec![9, 7]);
        assert_eq!(page.events[0].id, Uuid::from_u128(9));
        q.count = LogCount::AtMost(3);
        let page = q.evaluate(numbered());
        assert_eq!((page.total, page.total_exact), (3, false));
        q.count = LogCount::AtMost(5);
        assert!(q.evaluate(numbered()).total_exact);
        q.offset = 4;
        q.count = LogCount::AtMost(1);
        let page = q.evaluate(numbered());
        assert_eq!(
            (page.numbers.clone(), page.total, page.total_exact),
            (vec![1], 5, true)
        );
        q.count = LogCount::Skip;
        let page = q.evaluate(numbered());
        assert_eq!((page.total, page.total_exact), (5, false));
    }
}
