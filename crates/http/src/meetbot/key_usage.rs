//! `GET /v1/api-keys/{key_id}/usage`: one key's API calls today, this month and in all, and
//! its most recent requests.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use tally_domain::key::KeyId;
use tally_domain::limits::utc_day;
use tally_domain::services::UsageService;
use tally_domain::usage::{LogCount, LogQuery, UsageFilters};
use time::Duration;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::principal::Principal;
use crate::rollups::{all_time_and_month, day_start, totals};
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// How many recent requests are listed.
pub const RECENT: u32 = 10;

/// The body of `GET /v1/api-keys/{key_id}/usage`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyUsageResponse {
    /// The key's API calls today (UTC).
    pub requests_today: i64,
    /// This UTC month.
    pub requests_this_month: i64,
    /// All time.
    pub requests_total: i64,
    /// Its newest active API calls, newest first.
    #[schema(max_items = 10)]
    pub recent_requests: Vec<RecentRequest>,
}

/// One of a key's recent requests; fields the event did not record are `null`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentRequest {
    /// HTTP method.
    #[schema(required = true)]
    pub method: Option<String>,
    /// HTTP path.
    #[schema(required = true)]
    pub path: Option<String>,
    /// HTTP status.
    #[schema(required = true, minimum = 100, maximum = 599)]
    pub status_code: Option<u16>,
    /// When it happened.
    #[schema(format = DateTime, example = "2024-01-15T10:30:00.000Z")]
    pub created_at: String,
}

/// `GET /v1/api-keys/{key_id}/usage` → `{requestsToday, requestsThisMonth, requestsTotal,
/// recentRequests: [{method, path, statusCode, createdAt}]}`. Requests are API calls (events
/// with an HTTP method), counted from the rollups; refunded ones never count.
///
/// # Errors
/// 400 for a non-numeric id, 401, 404 for an unknown key or one the caller may not see (no
/// enumeration of key ids), 503.
#[utoipa::path(
    get,
    path = "/v1/api-keys/{key_id}/usage",
    tag = "meetbot",
    operation_id = "meetbot_key_usage_get",
    summary = "One key's usage",
    description = "The key's API calls today, this month and in all (from the rollups; \
        refunded ones never count) and its 10 newest. Admins, the key itself, or its user.",
    params(("key_id" = i64, Path, description = "The key's numeric id.")),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The key's usage.", body = KeyUsageResponse),
        (status = 404, description = "No such key, or one the caller may not see (`API key not found`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn key_usage(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path
        .parse::<i64>()
        .map(KeyId)
        .map_err(|_| ApiError::BadRequest("key_id must be an integer".to_owned()))?;
    let now = state.ports.clock.now();
    let today = utc_day(now);
    let keys = state.ports.stores.keys.clone();
    let service = UsageService::new(state.ports.clone());
    let (today_n, month_n, total_n, recent) = run_blocking(move || {
        keys.get_key(id)?
            .filter(|k| p.may_see_key(k))
            .ok_or_else(|| ApiError::NotFound("API key not found".to_owned()))?;
        let calls = UsageFilters {
            key_id: Some(id),
            api_call: Some(true),
            ..UsageFilters::default()
        };
        let mut q = LogQuery::new(RECENT).map_err(|e| ApiError::Internal(e.0))?;
        q.key_id = Some(id);
        q.include_inactive = false;
        // The counts come from the rollups; the list needs none.
        q.count = LogCount::Skip;
        // Request logs list API calls only (events with an HTTP method), as `apiCalls` counts.
        q.api_call = Some(true);
        let (all, month) = all_time_and_month(&service, now, &calls)?;
        let tomorrow = day_start(today) + Duration::DAY;
        Ok::<_, ApiError>((
            totals(&service, day_start(today), tomorrow, &calls)?.count,
            month.count,
            all.count,
            service.logs(&q)?.events,
        ))
    })
    .await?;
    let recent_requests = recent
        .into_iter()
        .map(|e| RecentRequest {
            method: e.data.method,
            path: e.data.path,
            status_code: e.data.status_code,
            created_at: iso(e.data.occurred_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(KeyUsageResponse {
        requests_today: today_n,
        requests_this_month: month_n,
        requests_total: total_n,
        recent_requests,
    }))
}
