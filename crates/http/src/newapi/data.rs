//! `GET /api/data/self` and `GET /api/data/`: per (model, hour) sums of `count`, `quota` and
//! `token_used`, from the rollups.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::services::UsageService;
use tally_domain::tenancy::{UserId, Username};
use tally_domain::usage::{Dimension, Granularity, UsageFilters, UsageRow};
use time::{Duration, OffsetDateTime};

use super::envelope::{check_new_api_user, error, ok, sends_new_api_user};
use crate::error::ApiError;
use crate::principal::{resolve, Principal};
use crate::rollups::{dim_key, rows};
use crate::run_blocking;
use crate::state::AppState;

/// The longest window of `/api/data/self` (new-api's "one month").
pub const SELF_MAX_SPAN_SECS: i64 = 2_592_000;

/// The window when no timestamp is given.
pub const DEFAULT_WINDOW: Duration = Duration::days(7);

/// Query of both endpoints (all text, parsed here so errors name the parameter).
#[derive(Debug, Default, Deserialize)]
pub struct DataParams {
    start_timestamp: Option<String>,
    end_timestamp: Option<String>,
    username: Option<String>,
}

/// One row: a model's sums in one hour (`created_at` = the hour's start, unix seconds).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DataRow {
    model_name: String,
    count: i64,
    quota: i64,
    token_used: i64,
    created_at: i64,
    /// The user's number (new-api's ids are integers).
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

fn stamp(field: &str, v: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    v.map(|s| {
        s.trim()
            .parse::<i64>()
            .ok()
            .and_then(|n| OffsetDateTime::from_unix_timestamp(n).ok())
            .ok_or_else(|| ApiError::BadRequest(format!("{field} must be unix seconds")))
    })
    .transpose()
}

impl DataParams {
    /// The inclusive window `[start, end]`: the last 7 days by default; one bound alone
    /// spans 7 days from it (or to now).
    ///
    /// # Errors
    /// 400 for a bad timestamp, an end before the start, or a span above `max_span_secs`.
    pub fn window(
        &self,
        now: OffsetDateTime,
        max_span_secs: Option<i64>,
    ) -> Result<(OffsetDateTime, OffsetDateTime), ApiError> {
        let start = stamp("start_timestamp", self.start_timestamp.as_deref())?;
        let end = stamp("end_timestamp", self.end_timestamp.as_deref())?;
        let (start, end) = match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, now),
            (None, Some(e)) => (e - DEFAULT_WINDOW, e),
            (None, None) => (now - DEFAULT_WINDOW, now),
        };
        if end < start {
            return Err(ApiError::BadRequest(
                "end_timestamp must not be before start_timestamp".to_owned(),
            ));
        }
        if max_span_secs.is_some_and(|max| (end - start).whole_seconds() > max) {
            return Err(ApiError::BadRequest(
                "the time span must not exceed 30 days".to_owned(),
            ));
        }
        Ok((start, end))
    }
}

/// The rows of `rows` (grouped by model, hourly), tagged with the user when there is one.
#[must_use]
pub fn data_rows(rows: &[UsageRow], user: Option<(u64, &str)>) -> Vec<DataRow> {
    rows.iter()
        .map(|r| DataRow {
            model_name: r.dims.first().and_then(dim_key).unwrap_or_default(),
            count: r.totals.count,
            quota: r.totals.quota,
            token_used: r.totals.tokens,
            created_at: r.bucket.unix_timestamp(),
            user_id: user.map(|(id, _)| id),
            username: user.map(|(_, name)| name.to_owned()),
        })
        .collect()
}

async fn answer(
    state: web::Data<AppState>,
    user: Option<UserOrName>,
    (start, end): (OffsetDateTime, OffsetDateTime),
) -> Result<HttpResponse, ApiError> {
    let service = UsageService::new(state.ports.clone());
    let tenants = state.ports.stores.tenants.clone();
    let data = run_blocking(move || {
        let user = match user {
            None => None,
            Some(UserOrName::Id(id)) => Some(
                tenants
                    .get_user(id)?
                    .ok_or_else(|| ApiError::Unauthorized("unknown user".to_owned()))?,
            ),
            Some(UserOrName::Name(name)) => Some(
                tenants
                    .find_user(&name)?
                    .ok_or_else(|| ApiError::NotFound("user not found".to_owned()))?,
            ),
        };
        let filters = UsageFilters {
            user_id: user.as_ref().map(|u| u.id),
            ..UsageFilters::default()
        };
        // Both bounds are inclusive against the hour's start, as in new-api.
        let end = end + Duration::SECOND;
        let found = rows(
            &service,
            start,
            end,
            Granularity::Hour,
            &[Dimension::Model],
            &filters,
        )?;
        Ok::<_, ApiError>(data_rows(
            &found,
            user.as_ref().map(|u| (u.number, u.username.as_str())),
        ))
    })
    .await?;
    Ok(ok(&data))
}

enum UserOrName {
    Id(UserId),
    Name(Username),
}

fn query(req: &HttpRequest) -> Result<DataParams, ApiError> {
    web::Query::<DataParams>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
}

async fn caller(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let p = resolve(req).await?;
    if sends_new_api_user(req) {
        let user = match (&p, p.user_id()) {
            (Principal::User(u), _) => Some((u.id, u.number)),
            (_, Some(id)) => {
                let tenants = state.ports.stores.tenants.clone();
                run_blocking(move || tenants.get_user(id))
                    .await?
                    .map(|u| (u.id, u.number))
            }
            (_, None) => None,
        };
        check_new_api_user(req, user)?;
    }
    Ok(p)
}

/// `GET /api/data/self`: the caller's rows (a user, or a key bound to one); span ≤ 30 days.
/// Errors are `{success: false, message}` with 400, 401 (also a mismatched `New-Api-User`),
/// 403 (a credential that is no user) or 503.
pub async fn self_data(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let run = async {
        let p = caller(&req, &state).await?;
        let params = query(&req)?;
        let user = p.user_id().ok_or_else(|| {
            ApiError::Forbidden("this endpoint needs a user token or a key bound to a user".into())
        })?;
        let window = params.window(state.ports.clock.now(), Some(SELF_MAX_SPAN_SECS))?;
        answer(state.clone(), Some(UserOrName::Id(user)), window).await
    };
    run.await.unwrap_or_else(|e| error(&e))
}

/// `GET /api/data/` (admin): every user's rows per (model, hour), or one user's with
/// `username`. Errors as for [`self_data`], plus 403 for non-admins and 404 for an unknown
/// username.
pub async fn all_data(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let run = async {
        let p = caller(&req, &state).await?;
        p.require_admin()?;
        let params = query(&req)?;
        let window = params.window(state.ports.clock.now(), None)?;
        let user = params
            .username
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|u| {
                Username::parse(u)
                    .map(UserOrName::Name)
                    .map_err(|_| ApiError::NotFound("user not found".to_owned()))
            })
            .transpose()?;
        answer(state.clone(), user, window).await
    };
    run.await.unwrap_or_else(|e| error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::usage::{DimValue, Totals};
    use time::macros::datetime;

    fn params(start: Option<&str>, end: Option<&str>) -> DataParams {
        DataParams {
            start_timestamp: start.map(Into::into),
            end_timestamp: end.map(Into::into),
            username: None,
        }
    }

    #[test]
    fn windows() {
        let now = datetime!(2022-01-01 0:00 UTC);
        assert_eq!(
            params(None, None)
                .window(now, Some(SELF_MAX_SPAN_SECS))
                .unwrap(),
            (now - Duration::days(7), now)
        );
        let (s, e) = params(Some("1640908800"), Some("1640995200"))
            .window(now, None)
            .unwrap();
        assert_eq!(
            (s.unix_timestamp(), e.unix_timestamp()),
            (1_640_908_800, 1_640_995_200)
        );
        assert!(params(Some("abc"), None)
            .window(now, None)
            .unwrap_err()
            .to_string()
            .contains("start_timestamp"));
        assert!(params(Some("10"), Some("5")).window(now, None).is_err());
        let month = params(Some("0"), Some("2592001"));
        assert!(month.window(now, Some(SELF_MAX_SPAN_SECS)).is_err());
        assert!(month.window(now, None).is_ok());
        assert!(params(Some("0"), Some("2592000"))
            .window(now, Some(SELF_MAX_SPAN_SECS))
            .is_ok());
    }

    #[test]
    fn rows_carry_new_api_field_names() {
        let r = UsageRow {
            bucket: datetime!(2021-12-31 0:00 UTC),
            dims: vec![DimValue::Text("gpt-4".into())],
            totals: Totals {
                count: 10,
                quota: 30_000,
                tokens: 1_500,
                ..Totals::default()
            },
        };
        let rows = data_rows(std::slice::from_ref(&r), Some((1, "testuser")));
        assert_eq!(
            serde_json::to_value(&rows[0]).unwrap(),
            serde_json::json!({"model_name": "gpt-4", "count": 10, "quota": 30000,
                "token_used": 1500, "created_at": 1_640_908_800,
                "user_id": 1, "username": "testuser"})
        );
        let anon = UsageRow {
            dims: vec![DimValue::Null],
            ..r
        };
        let rows = data_rows(&[anon], None);
        assert_eq!(rows[0].model_name, "");
        assert!(serde_json::to_value(&rows[0])
            .unwrap()
            .get("user_id")
            .is_none());
    }
}
