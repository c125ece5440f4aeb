//! `GET /api/v1/usage`: the caller's organisation totals in lyrcs.ai's shape, all time or
//! over `from..to` (whole UTC days, inclusive).

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_domain::services::UsageService;
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{DimValue, Dimension, Granularity, UsageFilters, UsageRow};
use time::{Date, Duration};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::principal::Principal;
use crate::rollups::{all_time_end, day_start, dim_key, in_range, rows, seconds, ALL_TIME_START};
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{parse_ymd, ymd};

/// The longest `from..to` range, in days (inclusive count).
pub const MAX_RANGE_DAYS: i64 = 366;

/// Query of `GET /api/v1/usage` (text, parsed by [`period`] so errors name the parameter).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LyrcsUsageParams {
    /// The first UTC day (with `to`; at most 366 days, inclusive).
    #[param(format = Date, example = "2026-01-01")]
    from: Option<String>,
    /// The last UTC day (with `from`; not before it).
    #[param(format = Date, example = "2026-01-31")]
    to: Option<String>,
    /// Another organisation (admins only; others get 404, as does an unknown one).
    #[param(example = "org_default")]
    org_id: Option<String>,
}

/// The body of `GET /api/v1/usage`.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub struct LyrcsUsageResponse {
    /// The organisation.
    #[schema(value_type = String, example = "org_default")]
    pub org_id: OrgId,
    /// `all_time`, or `<from>..<to>` when dates were given.
    #[schema(pattern = r"^(all_time|[-+]?\d{4,}-\d{2}-\d{2}\.\.[-+]?\d{4,}-\d{2}-\d{2})$")]
    pub period: String,
    /// Usage events.
    pub total_jobs: i64,
    /// Successful usage events.
    pub completed_jobs: i64,
    /// Their duration in seconds (an integer when whole, else a decimal).
    #[schema(value_type = f64)]
    pub total_duration_seconds: Value,
    /// Events per language as recorded (events without one are left out).
    pub jobs_by_language: BTreeMap<String, i64>,
    /// API calls (events with an HTTP method).
    pub api_calls: i64,
}

/// The period asked for: both dates, or neither (all time).
///
/// # Errors
/// 400 for a bad date, only one of the two, `from` after `to`, or more than 366 days.
pub fn period(from: Option<&str>, to: Option<&str>) -> Result<Option<(Date, Date)>, ApiError> {
    let (from, to) = match (from, to) {
        (None, None) => return Ok(None),
        (Some(f), Some(t)) => (parse_ymd("from", f)?, parse_ymd("to", t)?),
        (None, Some(_)) => return Err(ApiError::BadRequest("from is required with to".into())),
        (Some(_), None) => return Err(ApiError::BadRequest("to is required with from".into())),
    };
    in_range("from", day_start(from))?;
    in_range("to", day_start(to))?;
    if from > to {
        return Err(ApiError::BadRequest("from must not be after to".into()));
    }
    if (to - from).whole_days() + 1 > MAX_RANGE_DAYS {
        return Err(ApiError::BadRequest(format!(
            "the range must not exceed {MAX_RANGE_DAYS} days"
        )));
    }
    Ok(Some((from, to)))
}

/// Folds rows grouped by (language, success, api_call) into the seed's body.
#[must_use]
pub fn summary(org: &OrgId, period: &str, rows: &[UsageRow]) -> LyrcsUsageResponse {
    let (mut jobs, mut completed, mut calls, mut ms) = (0i64, 0i64, 0i64, 0i64);
    let mut by_language: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        let t = r.totals;
        jobs += t.count;
        ms += t.duration_ms;
        if r.dims.get(1) == Some(&DimValue::Bool(true)) {
            completed += t.count;
        }
        if r.dims.get(2) == Some(&DimValue::Bool(true)) {
            calls += t.count;
        }
        if let Some(lang) = r.dims.first().and_then(dim_key) {
            *by_language.entry(lang).or_insert(0) += t.count;
        }
    }
    LyrcsUsageResponse {
        org_id: org.clone(),
        period: period.to_owned(),
        total_jobs: jobs,
        completed_jobs: completed,
        total_duration_seconds: seconds(ms),
        jobs_by_language: by_language,
        api_calls: calls,
    }
}

/// `GET /api/v1/usage[?from=YYYY-MM-DD&to=YYYY-MM-DD]`. Non-admins get their own
/// organisation (asking for another is 404, as lyrcs answers cross-org access); the admin key
/// may name one with `org_id` (default: the default organisation).
///
/// # Errors
/// 400, 401, 404, 503.
#[utoipa::path(
    get,
    path = "/api/v1/usage",
    tag = "lyrcs",
    operation_id = "lyrcs_usage_get",
    summary = "The organisation's usage totals",
    description = "Jobs (usage events), completed jobs, their duration, jobs per language and \
        API calls of the caller's organisation, all time or over `from..to` (whole UTC days, \
        both or neither), from the rollups. The admin key reads the default organisation \
        unless `org_id` names one.",
    params(LyrcsUsageParams),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The totals.", body = LyrcsUsageResponse),
        (status = 404, description = "Another organisation than the caller's (non-admins), or an unknown one (`Organisation not found`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn usage(
    p: Principal,
    state: web::Data<AppState>,
    params: web::Query<LyrcsUsageParams>,
) -> Result<HttpResponse, ApiError> {
    let asked = params
        .org_id
        .as_deref()
        .map(|o| OrgId::parse(o).map_err(|_| ApiError::NotFound("Organisation not found".into())))
        .transpose()?;
    let org = match (p.org_id(), asked) {
        (Some(own), Some(a)) if own != a && !p.is_admin() => {
            return Err(ApiError::NotFound("Organisation not found".into()))
        }
        (_, Some(a)) => a,
        (Some(own), None) => own,
        (None, None) => OrgId::default_org(),
    };
    let span = period(params.from.as_deref(), params.to.as_deref())?;
    let now = state.ports.clock.now();
    let (from, to, label) = match span {
        Some((f, t)) => (
            day_start(f),
            day_start(t) + Duration::DAY,
            format!("{}..{}", ymd(f), ymd(t)),
        ),
        None => (ALL_TIME_START, all_time_end(now), "all_time".to_owned()),
    };
    let service = UsageService::new(state.ports.clone());
    let tenants = state.ports.stores.tenants.clone();
    let filters = UsageFilters {
        org_id: Some(org.clone()),
        ..UsageFilters::default()
    };
    let org_for_check = org.clone();
    let grouped = run_blocking(move || {
        tenants
            .get_org(&org_for_check)?
            .ok_or_else(|| ApiError::NotFound("Organisation not found".into()))?;
        rows(
            &service,
            from,
            to,
            Granularity::Month,
            &[Dimension::Language, Dimension::Success, Dimension::ApiCall],
            &filters,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(summary(&org, &label, &grouped)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tally_domain::usage::Totals;
    use time::macros::{date, datetime};

    #[test]
    fn period_rules() {
        assert_eq!(period(None, None).unwrap(), None);
        assert_eq!(
            period(Some("2026-01-01"), Some("2026-01-31")).unwrap(),
            Some((date!(2026 - 01 - 01), date!(2026 - 01 - 31)))
        );
        assert!(period(Some("2026-01-01"), Some("2027-01-01")).is_ok());
        assert!(period(Some("2026-01-01"), Some("2027-01-02")).is_err());
        assert!(period(Some("2026-02-01"), Some("2026-01-01")).is_err());
        assert!(period(Some("2026-02-30"), Some("2026-03-01")).is_err());
        assert!(period(None, Some("2026-01-01")).is_err());
        assert!(period(Some("9999-12-31"), Some("9999-12-31")).is_err());
        assert!(period(Some("-0001-01-01"), Some("-0001-01-02")).is_err());
    }

    #[test]
    fn summary_folds_languages_success_and_calls() {
        let row = |lang: Option<&str>, ok: bool, call: bool, count: i64, ms: i64| UsageRow {
            bucket: datetime!(2026-01-01 0:00 UTC),
            dims: vec![
                lang.map_or(DimValue::Null, |l| DimValue::Text(l.into())),
                DimValue::Bool(ok),
                DimValue::Bool(call),
            ],
            totals: Totals {
                count,
                duration_ms: ms,
                ..Totals::default()
            },
        };
        let rows = [
            row(Some("Hindi"), true, true, 3, 3_000),
            row(Some("Hindi"), false, true, 1, 500),
            row(Some("Tamil"), true, false, 2, 0),
            row(None, true, true, 4, 0),
        ];
        let s = serde_json::to_value(summary(&OrgId::default_org(), "all_time", &rows)).unwrap();
        assert_eq!(s["total_jobs"], 10);
        assert_eq!(s["completed_jobs"], 9);
        assert_eq!(s["api_calls"], 8);
        assert_eq!(s["total_duration_seconds"], json!(3.5));
        assert_eq!(s["jobs_by_language"], json!({"Hindi": 4, "Tamil": 2}));
    }
}
