//! `GET /v1/users/me/analytics?period=7d|30d|90d`: the caller's API calls (today, this month,
//! all time, one row per day of the period) and the period's usage and breakdowns — all
//! from the rollups.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_domain::limits::utc_day;
use tally_domain::services::UsageService;
use tally_domain::usage::{CostNanos, Dimension, Granularity, UsageFilters, UsageRow};
use time::Duration;
use utoipa::{IntoParams, ToSchema};

use super::blocks::{
    blocks, daily_series, BotsBlock, DayCount, Dims, RecordingsBlock, TranscriptionsBlock,
    WebhooksBlock,
};
use crate::error::{ApiError, Problem};
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

/// Query of the analytics endpoint. `period` is read as text by [`period_days`], so any other
/// value is a 400 naming it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// The period ending today (default `30d`).
    #[param(value_type = Option<Period>)]
    period: Option<String>,
}

/// The periods of the analytics endpoint (schema only: the handler reads the text).
#[derive(Debug, ToSchema)]
pub enum Period {
    /// The last 7 days.
    #[schema(rename = "7d")]
    Week,
    /// The last 30 days.
    #[schema(rename = "30d")]
    Month,
    /// The last 90 days.
    #[schema(rename = "90d")]
    Quarter,
}

/// The body of `GET /v1/users/me/analytics`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsResponse {
    /// The period, echoed (`7d`, `30d` or `90d`).
    #[schema(pattern = "^(7|30|90)d$")]
    pub period: String,
    /// API calls (usage events with an HTTP method).
    pub api_calls: ApiCalls,
    /// Bots (`api_name` `bots`) of the period.
    pub bots: BotsBlock,
    /// Recordings (`api_name` `recordings`) of the period.
    pub recordings: RecordingsBlock,
    /// Transcriptions (events with a language) of the period.
    pub transcriptions: TranscriptionsBlock,
    /// Webhook deliveries (`api_name` `webhooks`) of the period.
    pub webhooks: WebhooksBlock,
    /// The sums of every usage event of the period.
    pub usage: UsageSums,
    /// Event counts of the period by API name, model and HTTP status class.
    pub breakdown: Breakdown,
}

/// The `apiCalls` block.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiCalls {
    /// Today (UTC).
    pub today: i64,
    /// This UTC month.
    pub this_month: i64,
    /// All time.
    pub total: i64,
    /// Every day of the period, zeros included.
    pub daily_breakdown: Vec<DayCount>,
}

/// The `usage` block.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSums {
    /// Units.
    pub units: i64,
    /// Dollars, exact.
    #[schema(value_type = f64)]
    pub cost_usd: Value,
    /// Tokens.
    pub tokens: i64,
    /// Quota.
    pub quota: i64,
}

/// The `breakdown` block: counts per value; events without the value are left out.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    /// Per `api_name`.
    pub by_api_name: BTreeMap<String, i64>,
    /// Per `model`.
    pub by_model: BTreeMap<String, i64>,
    /// Per HTTP status class (`2xx`, `4xx`, …).
    pub by_status_class: BTreeMap<String, i64>,
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
#[utoipa::path(
    get,
    path = "/v1/users/me/analytics",
    tag = "meetbot",
    operation_id = "meetbot_analytics_get",
    summary = "The caller's analytics",
    description = "API calls today, this month, in all and per day of the period, meetbot's \
        product blocks by the conventions of docs/API.md, and the period's usage and \
        breakdowns, all from the hourly rollups. \"Me\" is the user, or the key when it is \
        bound to no user.",
    params(AnalyticsParams),
    security(("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The analytics.", body = AnalyticsResponse),
        (status = 403, description = "The admin key: it is nobody here.", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    let blocks = blocks(&grouped, BLOCK_DIMS, first, today);
    Ok(HttpResponse::Ok().json(AnalyticsResponse {
        period: format!("{days}d"),
        api_calls: ApiCalls {
            today: today_calls,
            this_month: month_calls,
            total: total_calls,
            daily_breakdown: daily_series(first, today, &daily),
        },
        bots: blocks.bots,
        recordings: blocks.recordings,
        transcriptions: blocks.transcriptions,
        webhooks: blocks.webhooks,
        usage: UsageSums {
            units: usage.units,
            cost_usd: usd(CostNanos(usage.cost_nanos)),
            tokens: usage.tokens,
            quota: usage.quota,
        },
        breakdown: Breakdown {
            by_api_name: breakdown(&grouped, BLOCK_DIMS.api_name),
            by_model: breakdown(&grouped, BLOCK_DIMS.model),
            by_status_class: breakdown(&grouped, 2),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::super::blocks::daily_series;
    use super::*;
    use serde_json::json;
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
            serde_json::to_value(s).unwrap(),
            json!([
                json!({"date": "2026-01-01", "count": 0}),
                json!({"date": "2026-01-02", "count": 5}),
                json!({"date": "2026-01-03", "count": 0}),
            ])
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
