//! `GET /v1/api-keys/{key_id}/usage`: one key's API calls today, this month and in all, and
//! its most recent requests.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use tally_domain::key::KeyId;
use tally_domain::limits::utc_day;
use tally_domain::services::UsageService;
use tally_domain::usage::{LogCount, LogQuery, UsageFilters};
use time::Duration;

use crate::error::ApiError;
use crate::principal::Principal;
use crate::rollups::{all_time_and_month, day_start, totals};
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// How many recent requests are listed.
pub const RECENT: u32 = 10;

/// `GET /v1/api-keys/{key_id}/usage` → `{requestsToday, requestsThisMonth, requestsTotal,
/// recentRequests: [{method, path, statusCode, createdAt}]}`. Requests are API calls (events
/// with an HTTP method), counted from the rollups; refunded ones never count.
///
/// # Errors
/// 400 for a non-numeric id, 401, 404 for an unknown key or one the caller may not see (no
/// enumeration of key ids), 503.
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
    let recent: Vec<Value> = recent
        .iter()
        .map(|e| {
            json!({
                "method": e.data.method,
                "path": e.data.path,
                "statusCode": e.data.status_code,
                "createdAt": iso(e.data.occurred_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "requestsToday": today_n,
        "requestsThisMonth": month_n,
        "requestsTotal": total_n,
        "recentRequests": recent,
    })))
}
