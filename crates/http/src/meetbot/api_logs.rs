//! `GET /v1/users/me/api-logs`: the caller's request log, newest first, a page at a time,
//! with meetbot's filters. Refunded events are not listed. `total` is exact when the rollups
//! can count it (no `method`, `status_code` or `path` filter); otherwise the count stops after
//! [`LOG_COUNT_LIMIT`] matches and `total_exact` says it is a lower bound. Either way its cost
//! does not grow with the history.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::key::{ApiKey, KeyId};
use tally_domain::services::UsageService;
use tally_domain::usage::{LogCount, LogQuery, UsageEvent, LOG_COUNT_LIMIT};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat};
use utoipa::openapi::{RefOr, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::{ApiError, Problem};
use crate::principal::Principal;
use crate::rollups::{day_start, in_range};
use crate::run_blocking;
use crate::scope::{keys_of, Scope};
use crate::state::AppState;
use crate::wire::{iso, parse_ymd};

/// The largest page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Query of the api-logs endpoint (all text, parsed here so errors name the parameter; the
/// document shows the types they must be).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiLogParams {
    /// The page, from 1 (default 1).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    page: Option<String>,
    /// Rows per page (default 20, 1-100; never clamped).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    page_size: Option<String>,
    /// Only this HTTP method (case-insensitive).
    #[param(example = "POST")]
    method: Option<String>,
    /// Only this HTTP status.
    #[param(value_type = Option<u16>, minimum = 100, maximum = 599)]
    status_code: Option<String>,
    /// Only paths containing this text.
    path: Option<String>,
    /// Only this key's requests (another key's id gives an empty page).
    #[param(value_type = Option<i64>)]
    api_key_id: Option<String>,
    /// From this UTC day (`YYYY-MM-DD`) or instant (RFC 3339), inclusive.
    #[param(value_type = Option<DateOrInstant>)]
    start_date: Option<String>,
    /// To this UTC day (the whole day) or instant, inclusive; not before `start_date`.
    #[param(value_type = Option<DateOrInstant>)]
    end_date: Option<String>,
}

/// The schema of `start_date`/`end_date` (schema only: they are read as text): a calendar
/// date or an RFC 3339 date-time.
pub struct DateOrInstant;

impl PartialSchema for DateOrInstant {
    fn schema() -> RefOr<Schema> {
        let string = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .description(Some("A UTC day (`YYYY-MM-DD`) or an RFC 3339 instant."))
            .into()
    }
}

impl ToSchema for DateOrInstant {}

/// One row of the request log in meetbot's shape. Fields the event did not record are `null`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogRow {
    /// The event's number (its UUID is the ledger's `usage_id`).
    pub id: u64,
    /// HTTP method.
    #[schema(required = true)]
    pub method: Option<String>,
    /// HTTP path.
    #[schema(required = true)]
    pub path: Option<String>,
    /// HTTP status.
    #[schema(required = true, minimum = 100, maximum = 599)]
    pub status_code: Option<u16>,
    /// Response time.
    #[schema(required = true)]
    pub response_time_ms: Option<u64>,
    /// The key's id.
    #[schema(required = true)]
    pub api_key_id: Option<i64>,
    /// The key's name, else its alias.
    #[schema(required = true)]
    pub api_key_name: Option<String>,
    /// Client IP.
    #[schema(required = true)]
    pub ip_address: Option<String>,
    /// Client user agent.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// When it happened.
    #[schema(format = DateTime, example = "2024-01-15T10:30:00.000Z")]
    pub created_at: String,
}

/// The body of `GET /v1/users/me/api-logs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiLogsResponse {
    /// The page, newest first.
    pub logs: Vec<LogRow>,
    /// Matching rows in all pages: exact when `total_exact`, else a lower bound.
    pub total: u64,
    /// Whether `total` is exact.
    pub total_exact: bool,
    /// The page, echoed.
    #[schema(minimum = 1)]
    pub page: u64,
    /// The page size, echoed.
    #[schema(minimum = 1, maximum = 100)]
    pub page_size: u32,
}

fn int<T: std::str::FromStr>(
    field: &str,
    v: Option<&str>,
    rule: &str,
) -> Result<Option<T>, ApiError> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|_| ApiError::BadRequest(format!("{field} must be {rule}")))
    })
    .transpose()
}

/// A date (the whole UTC day) or an RFC 3339 date-time; `end` selects the day's end.
fn instant(field: &str, s: &str, end: bool) -> Result<OffsetDateTime, ApiError> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        let t = in_range(field, t)?;
        // An instant given as the end is inclusive; the log query's end is exclusive.
        return Ok(if end { t + Duration::MICROSECOND } else { t });
    }
    let day = parse_ymd(field, s).map_err(|_| {
        ApiError::BadRequest(format!(
            "{field} must be an ISO date (YYYY-MM-DD) or date-time"
        ))
    })?;
    let start = in_range(field, day_start(day))?;
    Ok(if end { start + Duration::DAY } else { start })
}

impl ApiLogParams {
    /// The page number, page size and unscoped log query.
    ///
    /// # Errors
    /// 400 naming the parameter: `page` < 1, `page_size` outside 1-100 (never clamped), a
    /// status outside 100-599, a bad date or `start_date` after `end_date`.
    pub fn query(&self) -> Result<(u64, u32, LogQuery), ApiError> {
        let page =
            int::<u64>("page", self.page.as_deref(), "an integer of at least 1")?.unwrap_or(1);
        let size = int::<u32>(
            "page_size",
            self.page_size.as_deref(),
            "an integer between 1 and 100",
        )?
        .unwrap_or(20);
        if page < 1 {
            return Err(ApiError::BadRequest(
                "page must be an integer of at least 1".into(),
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::BadRequest(
                "page_size must be an integer between 1 and 100".into(),
            ));
        }
        let mut q = LogQuery::new(size).map_err(|e| ApiError::BadRequest(e.0))?;
        q.offset = (page - 1).saturating_mul(u64::from(size));
        q.include_inactive = false;
        q.count = LogCount::AtMost(LOG_COUNT_LIMIT);
        // Request logs list API calls only (events with an HTTP method), as `apiCalls` counts.
        q.api_call = Some(true);
        q.method = self.method.as_deref().map(str::to_ascii_uppercase);
        q.status_code = int::<u16>(
            "status_code",
            self.status_code.as_deref(),
            "an HTTP status (100-599)",
        )?;
        if q.status_code.is_some_and(|s| !(100..=599).contains(&s)) {
            return Err(ApiError::BadRequest(
                "status_code must be an HTTP status (100-599)".into(),
            ));
        }
        q.path_contains = self.path.clone().filter(|p| !p.is_empty());
        q.key_id = int::<i64>("api_key_id", self.api_key_id.as_deref(), "an integer")?.map(KeyId);
        q.start = self
            .start_date
            .as_deref()
            .map(|s| instant("start_date", s, false))
            .transpose()?;
        q.end = self
            .end_date
            .as_deref()
            .map(|s| instant("end_date", s, true))
            .transpose()?;
        if let (Some(s), Some(e)) = (q.start, q.end) {
            if s >= e {
                return Err(ApiError::BadRequest(
                    "start_date must not be after end_date".into(),
                ));
            }
        }
        Ok((page, size, q))
    }
}

/// One log row in meetbot's shape: `id` is the event's number; the key's name is its name,
/// else its alias.
#[must_use]
pub fn log_row(number: u64, e: &UsageEvent, keys: &HashMap<KeyId, ApiKey>) -> LogRow {
    let d = &e.data;
    let key = d.key_id.and_then(|k| keys.get(&k));
    LogRow {
        id: number,
        method: d.method.clone(),
        path: d.path.clone(),
        status_code: d.status_code,
        response_time_ms: d.response_time_ms,
        api_key_id: d.key_id.map(|k| k.0),
        api_key_name: key.map(|k| k.name.clone().unwrap_or_else(|| k.alias.clone())),
        ip_address: d.ip.clone(),
        user_agent: d.user_agent.clone(),
        created_at: iso(d.occurred_at),
    }
}

/// `GET /v1/users/me/api-logs` → `{logs, total, total_exact, page, page_size}`.
///
/// # Errors
/// 400 naming the parameter, 401, 403 for the admin key (it is nobody), 503.
#[utoipa::path(
    get,
    path = "/v1/users/me/api-logs",
    tag = "meetbot",
    operation_id = "meetbot_api_logs_list",
    summary = "The caller's request log",
    description = "The caller's API calls (usage events with an HTTP method), newest first, a \
        page at a time; refunded events are not listed. Without `method`, `status_code` and \
        `path` filters `total` is exact (from the rollups); with any of them the count stops \
        10,000 beyond the page and `total_exact` says whether it is a lower bound.",
    params(ApiLogParams),
    security(("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "A page of the log.", body = ApiLogsResponse),
        (status = 403, description = "The admin key: it is nobody here.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn api_logs(
    p: Principal,
    state: web::Data<AppState>,
    params: web::Query<ApiLogParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = Scope::me(&p)?;
    let (page, size, q) = params.query()?;
    if let (Scope::Key(own), Some(asked)) = (scope, q.key_id) {
        if own != asked {
            // Another key's log is not this key's to see: an empty page, like any other filter.
            return Ok(HttpResponse::Ok().json(ApiLogsResponse {
                logs: Vec::new(),
                total: 0,
                total_exact: true,
                page,
                page_size: size,
            }));
        }
    }
    let q = scope.logs(q);
    let service = UsageService::new(state.ports.clone());
    let keys = state.ports.stores.keys.clone();
    let (logs, total, exact) = run_blocking(move || {
        let found = service.logs(&q)?;
        let keys = keys_of(keys.as_ref(), &found.events)?;
        let logs: Vec<LogRow> = found
            .numbers
            .iter()
            .zip(&found.events)
            .map(|(n, e)| log_row(*n, e, &keys))
            .collect();
        Ok::<_, ApiError>((logs, found.total, found.total_exact))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ApiLogsResponse {
        logs,
        total,
        total_exact: exact,
        page,
        page_size: size,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn params(pairs: &[(&str, &str)]) -> ApiLogParams {
        let qs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        web::Query::<ApiLogParams>::from_query(&qs.join("&"))
            .unwrap()
            .into_inner()
    }

    #[test]
    fn paging_is_checked_never_clamped() {
        let (page, size, q) = params(&[]).query().unwrap();
        assert_eq!(
            (page, size, q.offset, q.limit, q.include_inactive),
            (1, 20, 0, 20, false)
        );
        let (_, _, q) = params(&[("page", "3"), ("page_size", "100")])
            .query()
            .unwrap();
        assert_eq!((q.offset, q.limit), (200, 100));
        for bad in [
            ("page", "0"),
            ("page", "-1"),
            ("page_size", "101"),
            ("page_size", "0"),
            ("status_code", "99"),
            ("status_code", "x"),
            ("api_key_id", "k"),
            ("start_date", "2026-02-30"),
            ("end_date", "9999-12-31"),
            ("end_date", "9999-12-31T23:59:59.999999999Z"),
            ("start_date", "0000-12-31T23:59:59Z"),
        ] {
            let err = params(&[bad]).query().unwrap_err();
            assert!(err.to_string().contains(bad.0), "{bad:?}: {err}");
        }
    }

    #[test]
    fn filters_and_an_inclusive_end_day() {
        let (_, _, q) = params(&[
            ("method", "post"),
            ("status_code", "201"),
            ("path", "/bots"),
            ("api_key_id", "4"),
            ("start_date", "2026-01-01"),
            ("end_date", "2026-01-02"),
        ])
        .query()
        .unwrap();
        assert_eq!(q.method.as_deref(), Some("POST"));
        assert_eq!(q.status_code, Some(201));
        assert_eq!(q.path_contains.as_deref(), Some("/bots"));
        assert_eq!(q.key_id, Some(KeyId(4)));
        assert_eq!(q.start, Some(datetime!(2026-01-01 0:00 UTC)));
        assert_eq!(q.end, Some(datetime!(2026-01-03 0:00 UTC)));
        assert!(
            params(&[("start_date", "2026-01-03"), ("end_date", "2026-01-02")])
                .query()
                .is_err()
        );
    }
}
