//! `GET /v1/users/me/analytics?period=7d|30d|90d`: the caller's API calls (today, this month,
//! all time, one row per day of the period) and the period's usage and breakdowns — all
//! from the rollups.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use tally_domain::limits::utc_day;
use tally_domain::services::UsageService;
use tally_domain::usage::{CostNanos, Dimension, Granularity, UsageFilters, UsageRow};
use time::Duration;

use super::blocks::{blocks, daily_series, Dims};
use crate::error::ApiError;
use crate::principal::Principal;
use crate::rollups::{all_time_and_month, day_start, dim_key, rows, sum, totals, usd};
use crate::run_blocking;
use crate::scope::Scope;
use crate::state::AppState;

/// How the period's rows are grouped: by day and by these dimensions (positions in
/// [`BLOCK_DIMS`]; the status class is at 2).
const GROUPED: [Dimension; 5] = [
    Dimension::ApiName,
    Dimension::Model,
    Dimension::StatusClass,
    Dimension::Language,
    Dimension::Success,
];

const BLOCK_DIMS: Dims = Dims {
    api_name: 0,
    model: 1,
    language: 3,
    success: 4,
};

/// Query of the analytics endpoint.
#[derive(Debug, Deserialize)]
pub struct AnalyticsParams {
    period: Option<String>,
}

/// The number of days of a period (`7d`, `30d`, `90d`; default `30d`).
///
/// # Errors
/// 400 for any other value.
pub fn period_days(period: Option<&str>) -> Result<i64, ApiError> {
    match period.unwrap_or("30d") {
        "7d" => Ok(7),
        "30d" => Ok(30),
        "90d" => Ok(90),
        _ => Err(ApiError::BadRequest(
            "period must be 7d, 30d or 90d".to_owned(),
        )),
    }
}

/// Counts per value of the `i`-th grouping dimension; rows without that dimension are left
/// out.
#[must_use]
pub fn breakdown(rows: &[UsageRow], i: usize) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for r in rows {
        if let Some(k) = r.dims.get(i).and_then(dim_key) {
            *out.entry(k).or_insert(0) += r.totals.count;
        }
    }
    out
}

/// `GET /v1/users/me/analytics`.
///
/// # Errors
/// 400 for a bad period, 401, 403 for the admin key (it is nobody), 503.
pub async fn analytics(
    p: Principal,
    state: web::Data<AppState>,
    params: web::Query<AnalyticsParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = Scope::me(&p)?;
    let days = period_days(params.period.as_deref())?;
    let now = state.ports.clock.now();
    let today = utc_day(now);
    let first = today - Duration::days(days - 1);
    let service = UsageService::new(state.ports.clone());
    let (today_calls, month_calls, total_calls, daily, grouped) = run_blocking(move || {
        let calls = scope.filters(UsageFilters {
            api_call: Some(true),
            ..UsageFilters::default()
        });
        let everything = scope.filters(UsageFilters::default());
        let tomorrow = day_start(today) + Duration::DAY;
        let (all, month) = all_time_and_month(&service, now, &calls)?;
        Ok::<_, ApiError>((
            totals(&service, day_start(today), tomorrow, &calls)?.count,
            month.count,
            all.count,
            rows(
                &service,
                day_start(first),
                tomorrow,
                Granularity::Day,
                &[],
                &calls,
            )?,
            rows(
                &service,
                day_start(first),
                tomorrow,
                Granularity::Day,
                &GROUPED,
                &everything,
            )?,
        ))
    })
    .await?;
    let usage = sum(&grouped);
    let mut blocks = blocks(&grouped, BLOCK_DIMS, first, today);
    Ok(HttpResponse::Ok().json(json!({
        "period": format!("{days}d"),
        "apiCalls": {
            "today": today_calls,
            "thisMonth": month_calls,
            "total": total_calls,
            "dailyBreakdown": daily_series(first, today, &daily),
        },
        "bots": blocks.remove("bots"),
        "recordings": blocks.remove("recordings"),
        "transcriptions": blocks.remove("transcriptions"),
        "webhooks": blocks.remove("webhooks"),
        "usage": {
            "units": usage.units,
            "costUsd": usd(CostNanos(usage.cost_nanos)),
            "tokens": usage.tokens,
            "quota": usage.quota,
        },
        "breakdown": {
            "byApiName": breakdown(&grouped, BLOCK_DIMS.api_name),
            "byModel": breakdown(&grouped, BLOCK_DIMS.model),
            "byStatusClass": breakdown(&grouped, 2),
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::super::blocks::daily_series;
    use super::*;
    use tally_domain::usage::{DimValue, Totals};
    use time::macros::{date, datetime};
    use time::Date;

    fn row(day: Date, count: i64, dims: Vec<DimValue>) -> UsageRow {
        UsageRow {
            bucket: day_start(day),
            dims,
            totals: Totals {
                count,
                ..Totals::default()
            },
        }
    }

    #[test]
    fn periods() {
        assert_eq!(period_days(None).unwrap(), 30);
        assert_eq!(period_days(Some("7d")).unwrap(), 7);
        assert!(period_days(Some("1y")).is_err());
        assert!(period_days(Some("")).is_err());
    }

    #[test]
    fn every_day_is_listed_with_zeros() {
        let rows = [row(date!(2026 - 01 - 02), 5, vec![])];
        let s = daily_series(date!(2026 - 01 - 01), date!(2026 - 01 - 03), &rows);
        assert_eq!(
            s,
            vec![
                json!({"date": "2026-01-01", "count": 0}),
                json!({"date": "2026-01-02", "count": 5}),
                json!({"date": "2026-01-03", "count": 0}),
            ]
        );
        assert_eq!(
            day_start(date!(2026 - 01 - 02)),
            datetime!(2026-01-02 0:00 UTC)
        );
    }

    #[test]
    fn breakdowns_sum_per_value_and_skip_missing() {
        let d = date!(2026 - 01 - 01);
        let rows = [
            row(
                d,
                2,
                vec![DimValue::Text("gpt-4".into()), DimValue::Text("2xx".into())],
            ),
            row(d, 3, vec![DimValue::Text("gpt-4".into()), DimValue::Null]),
            row(d, 1, vec![DimValue::Null, DimValue::Text("4xx".into())]),
        ];
        assert_eq!(breakdown(&rows, 0), BTreeMap::from([("gpt-4".into(), 5)]));
        assert_eq!(
            breakdown(&rows, 1),
            BTreeMap::from([("2xx".into(), 2), ("4xx".into(), 1)])
        );
    }
}
