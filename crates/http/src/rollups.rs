//! Reading the hourly rollups for the seed analytics surfaces (meetbot, lyrcs, new-api): a
//! window of any length, all-time totals, whole-day windows and money on the wire.
//!
//! Everything here asks [`UsageService::query`]; nothing reads raw events. A
//! [`UsageQuery`] spans at most [`Granularity::max_span`] (400 days of hours or days, a
//! century of months), so a longer window is asked in chunks and the rows of a bucket split
//! across chunks are merged; all-time totals are one monthly query.

use std::collections::BTreeMap;

use serde_json::{Number, Value};
use tally_domain::services::UsageService;
use tally_domain::usage::{
    CostNanos, DimValue, Dimension, Granularity, Totals, UsageFilters, UsageQuery, UsageRow,
};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

use crate::error::ApiError;

/// Where "all time" starts: events dated earlier count in no all-time total.
pub const ALL_TIME_START: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

/// The first day a query of the seed surfaces may name. With [`LAST_DAY`] it keeps every
/// instant derived from a query's bounds (the end of a day, of a bucket, of a chunk of
/// buckets) a date that `time` and Postgres can hold, so an extreme date is a 400, never an
/// overflow.
pub const FIRST_DAY: Date = date!(0001 - 01 - 01);

/// The last day a query of the seed surfaces may name (see [`FIRST_DAY`]).
pub const LAST_DAY: Date = date!(9998 - 12 - 31);

/// `t`, when it falls within [`FIRST_DAY`]..=[`LAST_DAY`].
///
/// # Errors
/// 400 naming `field`.
pub fn in_range(field: &str, t: OffsetDateTime) -> Result<OffsetDateTime, ApiError> {
    let end = day_start(LAST_DAY) + Duration::DAY;
    if day_start(FIRST_DAY) <= t && t < end {
        Ok(t)
    } else {
        Err(ApiError::BadRequest(format!(
            "{field} must be between {} and {}",
            crate::wire::ymd(FIRST_DAY),
            crate::wire::ymd(LAST_DAY)
        )))
    }
}

/// The rows of `[from, to)` at `granularity`, grouped by `group_by`, for any span: spans
/// above the query limit are asked in chunks and merged. An empty window has no rows.
///
/// # Errors
/// 503/500 from the store.
pub fn rows(
    usage: &UsageService,
    from: OffsetDateTime,
    to: OffsetDateTime,
    granularity: Granularity,
    group_by: &[Dimension],
    filters: &UsageFilters,
) -> Result<Vec<UsageRow>, ApiError> {
    let mut merged: BTreeMap<(OffsetDateTime, Vec<DimValue>), Totals> = BTreeMap::new();
    let mut start = tally_domain::usage::rollup::hour_floor(from);
    while start < to {
        // Near the end of time the chunk may not exist as a date; `to` is then the nearer.
        let end = start
            .checked_add(granularity.max_span())
            .map_or(to, |e| e.min(to));
        let query = UsageQuery::new(
            start,
            end,
            granularity,
            group_by.to_vec(),
            filters.clone(),
            Vec::new(),
        )
        .map_err(|e| ApiError::Internal(format!("analytics window: {}", e.0)))?;
        for row in usage.query(&query)? {
            *merged.entry((row.bucket, row.dims)).or_default() += row.totals;
        }
        start = end;
    }
    Ok(merged
        .into_iter()
        .map(|((bucket, dims), totals)| UsageRow {
            bucket,
            dims,
            totals,
        })
        .collect())
}

/// The sum of `rows`.
#[must_use]
pub fn sum<'a>(rows: impl IntoIterator<Item = &'a UsageRow>) -> Totals {
    let mut t = Totals::default();
    for r in rows {
        t += r.totals;
    }
    t
}

/// The totals of `[from, to)` (no grouping).
///
/// # Errors
/// 503/500 from the store.
pub fn totals(
    usage: &UsageService,
    from: OffsetDateTime,
    to: OffsetDateTime,
    filters: &UsageFilters,
) -> Result<Totals, ApiError> {
    let rows = rows(usage, from, to, Granularity::Month, &[], filters)?;
    Ok(sum(&rows))
}

/// All-time totals and this month's (UTC) at `now`, from one monthly pass.
///
/// # Errors
/// 503/500 from the store.
pub fn all_time_and_month(
    usage: &UsageService,
    now: OffsetDateTime,
    filters: &UsageFilters,
) -> Result<(Totals, Totals), ApiError> {
    let months = rows(
        usage,
        ALL_TIME_START,
        all_time_end(now),
        Granularity::Month,
        &[],
        filters,
    )?;
    let this_month = Granularity::Month.bucket_start(now);
    let month = sum(months.iter().filter(|r| r.bucket == this_month));
    Ok((sum(&months), month))
}

/// The end of all time as seen at `now`: the end of `now`'s UTC month, so every event that
/// counts for "today" or "this month" also counts for "all time".
#[must_use]
pub fn all_time_end(now: OffsetDateTime) -> OffsetDateTime {
    tally_domain::usage::query::next_month_start(now)
}

/// Midnight UTC at the start of `day`.
#[must_use]
pub fn day_start(day: Date) -> OffsetDateTime {
    day.midnight().assume_utc()
}

/// Midnight UTC at the start of `day`'s month.
#[must_use]
pub fn month_start(day: Date) -> OffsetDateTime {
    Granularity::Month.bucket_start(day_start(day))
}

/// Dollars as a JSON number, from the exact decimal (`0.0043`, `12`).
#[must_use]
pub fn usd(cost: CostNanos) -> Value {
    let text = cost.to_usd_string();
    if let Ok(n) = text.parse::<i64>() {
        return Value::Number(n.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Milliseconds as a number of seconds: an integer when whole (`49320`), else a decimal.
#[must_use]
pub fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::Number((ms / 1000).into())
    } else {
        usd(CostNanos(ms.saturating_mul(1_000_000)))
    }
}

/// A dimension value as an object key; `None` for rows without that dimension.
#[must_use]
pub fn dim_key(v: &DimValue) -> Option<String> {
    match v {
        DimValue::Null => None,
        DimValue::Bool(b) => Some(b.to_string()),
        DimValue::Int(i) => Some(i.to_string()),
        DimValue::Text(t) => Some(t.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    #[test]
    fn money_and_seconds_are_plain_numbers() {
        assert_eq!(usd(CostNanos(4_300_000)), json!(0.0043));
        assert_eq!(usd(CostNanos(12_000_000_000)), json!(12));
        assert_eq!(usd(CostNanos(0)), json!(0));
        assert_eq!(seconds(49_320_000), json!(49320));
        assert_eq!(seconds(1_500), json!(1.5));
    }

    #[test]
    fn day_and_month_bounds() {
        assert_eq!(
            month_start(date!(2026 - 11 - 22)),
            datetime!(2026-11-01 0:00 UTC)
        );
        assert_eq!(
            all_time_end(datetime!(2026-11-22 13:05 UTC)),
            datetime!(2026-12-01 0:00 UTC)
        );
        assert_eq!(dim_key(&DimValue::Null), None);
        assert!(in_range(
            "to",
            day_start(LAST_DAY) + Duration::DAY - Duration::NANOSECOND
        )
        .is_ok());
        assert!(in_range("to", day_start(LAST_DAY) + Duration::DAY)
            .unwrap_err()
            .to_string()
            .contains("to must be between 0001-01-01 and 9998-12-31"));
        assert!(in_range("from", day_start(FIRST_DAY) - Duration::NANOSECOND).is_err());
        assert_eq!(
            dim_key(&DimValue::Text("gpt-4".into())),
            Some("gpt-4".into())
        );
    }
}
