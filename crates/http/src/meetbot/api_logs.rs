//! `GET /v1/users/me/api-logs`: the caller's request log, newest first, a page at a time,
//! with meetbot's filters. Refunded events are not listed. `total` is exact when the rollups
//! can count it (no `method`, `status_code` or `path` filter); otherwise the count stops after
//! [`LOG_COUNT_LIMIT`] matches and `total_exact` says it is a lower bound. Either way its cost
//! does not grow with the history.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tally_domain::key::{ApiKey, KeyId};
use tally_domain::services::UsageService;
use tally_domain::usage::{LogCount, LogQuery, UsageEvent, LOG_COUNT_LIMIT};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::error::ApiError;
use crate::principal::Principal;
use crate::run_blocking;
use crate::scope::{keys_of, Scope};
use crate::state::AppState;
use crate::wire::{iso, parse_ymd};

/// The largest page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Query of the api-logs endpoint (all text, parsed here so errors name the parameter).
#[derive(Debug, Default, Deserialize)]
pub struct ApiLogParams {
    page: Option<String>,
    page_size: Option<String>,
    method: Option<String>,
    status_code: Option<String>,
    path: Option<String>,
    api_key_id: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
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
        // An instant given as the end is inclusive; the log query's end is exclusive.
        return Ok(if end { t + Duration::MICROSECOND } else { t });
    }
    let day = parse_ymd(field, s).map_err(|_| {
        ApiError::BadRequest(format!(
            "{field} must be an ISO date (YYYY-MM-DD) or date-time"
        ))
    })?;
    let start = day.midnight().assume_utc();
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
pub fn log_row(number: u64, e: &UsageEvent, keys: &HashMap<KeyId, ApiKey>) -> Value {
    let d = &e.data;
    let key = d.key_id.and_then(|k| keys.get(&k));
    json!({
        "id": number,
        "method": d.method,
        "path": d.path,
        "statusCode": d.status_code,
        "responseTimeMs": d.response_time_ms,
        "apiKeyId": d.key_id.map(|k| k.0),
        "apiKeyName": key.map(|k| k.name.clone().unwrap_or_else(|| k.alias.clone())),
        "ipAddress": d.ip,
        "userAgent": d.user_agent,
        "createdAt": iso(d.occurred_at),
    })
}

/// `GET /v1/users/me/api-logs` → `{logs, total, total_exact, page, page_size}`.
///
/// # Errors
/// 400 naming the parameter, 401, 403 for the admin key (it is nobody), 503.
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
            let retained_from = UsageService::new(state.ports.clone())
                .logs_reach_back_to()
                .map(iso);
            return Ok(HttpResponse::Ok().json(json!({
                "logs": [], "total": 0, "total_exact": true, "page": page, "page_size": size,
                "retained_from": retained_from,
            })));
        }
    }
    let q = scope.logs(q);
    let service = UsageService::new(state.ports.clone());
    // How far back the log reaches (the raw-event retention), `null` when it keeps all.
    let retained_from = service.logs_reach_back_to().map(iso);
    let keys = state.ports.stores.keys.clone();
    let (logs, total, exact) = run_blocking(move || {
        let found = service.logs(&q)?;
        let keys = keys_of(keys.as_ref(), &found.events)?;
        let logs: Vec<Value> = found
            .numbers
            .iter()
            .zip(&found.events)
            .map(|(n, e)| log_row(*n, e, &keys))
            .collect();
        Ok::<_, ApiError>((logs, found.total, found.total_exact))
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "logs": logs,
        "total": total,
        "total_exact": exact,
        "page": page,
        "page_size": size,
        "retained_from": retained_from,
    })))
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
