//! `GET /api/data/self` and `GET /api/data/`: per (model, hour) sums of `count`, `quota` and
//! `token_used`, from the rollups.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::services::UsageService;
use tally_domain::tenancy::{UserId, Username};
use tally_domain::usage::{Dimension, Granularity, UsageFilters, UsageRow};
use time::{Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{check_new_api_user, error, ok, sends_new_api_user, Envelope, NewApiError};
use crate::error::ApiError;
use crate::principal::{resolve, Principal};
use crate::rollups::{dim_key, rows};
use crate::run_blocking;
use crate::state::AppState;

/// The longest window of `/api/data/self` (new-api's "one month").
pub const SELF_MAX_SPAN_SECS: i64 = 2_592_000;

/// The window when no timestamp is given.
pub const DEFAULT_WINDOW: Duration = Duration::days(7);

/// The earliest and latest unix seconds a window may name: from the epoch to the end of year
/// 9998, so that every bound the window and the rollup query derive from them is a date.
pub const TIMESTAMP_RANGE: (i64, i64) = (0, 253_370_764_799);

/// Query of both endpoints (all text, parsed here so errors name the parameter). The
/// document describes it as [`SelfDataParams`] and [`AllDataParams`].
#[derive(Debug, Default, Deserialize)]
pub struct DataParams {
    start_timestamp: Option<String>,
    end_timestamp: Option<String>,
    username: Option<String>,
}

/// Query of `GET /api/data/self` (schema only; read as [`DataParams`], which ignores
/// `username` here).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SelfDataParams {
    /// The window's start, unix seconds, inclusive (default: 7 days before the end).
    #[param(minimum = 0, maximum = 253_370_764_799_i64, example = 1_640_908_800)]
    pub start_timestamp: Option<i64>,
    /// The window's end, unix seconds, inclusive (default: now, or 7 days after the start);
    /// at most 30 days after the start.
    #[param(minimum = 0, maximum = 253_370_764_799_i64, example = 1_640_995_200)]
    pub end_timestamp: Option<i64>,
}

/// Query of `GET /api/data/` (schema only; read as [`DataParams`]).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllDataParams {
    /// The window's start, unix seconds, inclusive (default: 7 days before the end).
    #[param(minimum = 0, maximum = 253_370_764_799_i64, example = 1_640_908_800)]
    pub start_timestamp: Option<i64>,
    /// The window's end, unix seconds, inclusive (default: now, or 7 days after the start).
    #[param(minimum = 0, maximum = 253_370_764_799_i64, example = 1_640_995_200)]
    pub end_timestamp: Option<i64>,
    /// Only this user's rows (then with `user_id` and `username`); unknown: 404.
    #[param(example = "testuser")]
    pub username: Option<String>,
}

/// One row: a model's sums in one hour (`created_at` = the hour's start, unix seconds).
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct DataRow {
    /// The model (`""` for events without one).
    #[schema(example = "gpt-4")]
    model_name: String,
    /// Requests.
    count: i64,
    /// Quota used.
    quota: i64,
    /// Tokens used.
    token_used: i64,
    /// The hour's start, unix seconds.
    #[schema(example = 1_640_995_200)]
    created_at: i64,
    /// The user's number (new-api's ids are integers): on `/self`, and with `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    user_id: Option<u64>,
    /// The user's name, with `user_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    username: Option<String>,
}

fn stamp(field: &str, v: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    let (min, max) = TIMESTAMP_RANGE;
    v.map(|s| {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| OffsetDateTime::from_unix_timestamp(n).ok())
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "{field} must be unix seconds between {min} and {max}"
                ))
            })
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
    Ok(ok(data))
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

/// The header every new-api operation takes.
const NEW_API_USER_DOC: &str = "The caller's user: their number (the rows' `user_id`) or \
    UUID. Optional; when sent it must be the caller (401 otherwise), and the admin key, being \
    no user, must not send it.";

/// `GET /api/data/self`: the caller's rows (a user, or a key bound to one); span ≤ 30 days.
/// Errors are `{success: false, message}` with 400, 401 (also a mismatched `New-Api-User`),
/// 403 (a credential that is no user) or 503.
#[utoipa::path(
    get,
    path = "/api/data/self",
    tag = "new-api",
    operation_id = "newapi_data_self",
    summary = "The caller's hourly per-model usage",
    description = "One row per (model, UTC hour) with activity in the window, ordered by \
        `created_at` then `model_name`, from the rollups; failed events count unless refunded. \
        Both bounds are inclusive against the hour's start; the span may not exceed 30 days \
        (2,592,000 s). A user token, or a key bound to a user.",
    params(
        SelfDataParams,
        ("New-Api-User" = Option<String>, Header, nullable = false, description = NEW_API_USER_DOC),
    ),
    security(("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The rows (with `user_id` and `username`).", body = Envelope<Vec<DataRow>>),
        (status = 400, description = "A bad timestamp, an end before the start, or a span over 30 days.", body = NewApiError),
        (status = 401, description = "No or a bad credential, or `New-Api-User` is not the caller.", body = NewApiError),
        (status = 403, description = "A credential that is no user (the admin key, a key bound to no user).", body = NewApiError),
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/data/",
    tag = "new-api",
    operation_id = "newapi_data_all",
    summary = "Every user's hourly per-model usage (admin)",
    description = "One row per (model, UTC hour) over every user, or one user's rows (with \
        `user_id` and `username`) with `username`; no span limit.",
    params(
        AllDataParams,
        ("New-Api-User" = Option<String>, Header, nullable = false, description = NEW_API_USER_DOC),
    ),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The rows.", body = Envelope<Vec<DataRow>>),
        (status = 400, description = "A bad timestamp or an end before the start.", body = NewApiError),
        (status = 401, description = "No or a bad credential, or `New-Api-User` is not the caller.", body = NewApiError),
        (status = 403, description = "Not an admin.", body = NewApiError),
        (status = 404, description = "No user of that `username`.", body = NewApiError),
    )
)]
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

/// `GET /api/data`: [`all_data`] without the trailing slash, as new-api answers it.
#[utoipa::path(
    get,
    path = "/api/data",
    tag = "new-api",
    operation_id = "newapi_data_all_no_slash",
    summary = "Every user's hourly per-model usage (admin; `/api/data/` without the slash)",
    description = "The same operation as `GET /api/data/`.",
    params(
        AllDataParams,
        ("New-Api-User" = Option<String>, Header, nullable = false, description = NEW_API_USER_DOC),
    ),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The rows.", body = Envelope<Vec<DataRow>>),
        (status = 400, description = "A bad timestamp or an end before the start.", body = NewApiError),
        (status = 401, description = "No or a bad credential, or `New-Api-User` is not the caller.", body = NewApiError),
        (status = 403, description = "Not an admin.", body = NewApiError),
        (status = 404, description = "No user of that `username`.", body = NewApiError),
    )
)]
pub async fn all_data_no_slash(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    all_data(req, state).await
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
    fn timestamps_end_with_the_last_day_of_the_seed_surfaces() {
        let end = crate::rollups::day_start(crate::rollups::LAST_DAY) + Duration::DAY;
        assert_eq!(TIMESTAMP_RANGE.1 + 1, end.unix_timestamp());
        assert!(params(None, Some("253370764800"))
            .window(OffsetDateTime::UNIX_EPOCH, None)
            .is_err());
        assert!(params(Some("-1"), None)
            .window(OffsetDateTime::UNIX_EPOCH, None)
            .is_err());
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
