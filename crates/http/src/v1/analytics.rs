//! `GET /v1/analytics`: the generic `UsageQuery` over HTTP, answered from the rollups.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tally_domain::key::KeyId;
use tally_domain::origin::Domain;
use tally_domain::tenancy::{OrgId, UserId};
use tally_domain::usage::{CostNanos, Dimension, Granularity, Metric, UsageFilters, UsageQuery};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::ApiError;
use crate::principal::Principal;
use crate::rollups::usd;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// Query of `GET /v1/analytics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsParams {
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
    group_by: Option<String>,
    metrics: Option<String>,
    org_id: Option<String>,
    user_id: Option<Uuid>,
    key_id: Option<i64>,
    model: Option<String>,
    api_name: Option<String>,
    language: Option<String>,
    domain: Option<String>,
    success: Option<bool>,
    api_call: Option<bool>,
    status_class: Option<u16>,
}

fn instant(field: &str, s: &str) -> Result<OffsetDateTime, ApiError> {
    crate::wire::instant(s).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{field} must be an RFC 3339 date-time or YYYY-MM-DD"
        ))
    })
}

fn list<T>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, tally_domain::tenancy::InvalidValue>,
) -> Result<Vec<T>, ApiError> {
    raw.map_or(Ok(Vec::new()), |s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| parse(x).map_err(|e| ApiError::BadRequest(e.0)))
            .collect()
    })
}

/// Narrows the filters to what the caller may see: admins anything; a user (or a key bound
/// to one) their user; a key without a user itself.
fn scope(p: &Principal, mut f: UsageFilters) -> Result<UsageFilters, ApiError> {
    if p.is_admin() {
        return Ok(f);
    }
    let forbidden = || ApiError::Forbidden("you may only query your own usage".to_owned());
    if let Some(user) = p.user_id() {
        if f.user_id.is_some_and(|u| u != user) {
            return Err(forbidden());
        }
        f.user_id = Some(user);
    } else if let Some(key) = p.key() {
        if f.key_id.is_some_and(|k| k != key.id) {
            return Err(forbidden());
        }
        f.key_id = Some(key.id);
    }
    if let Some(own) = p.org_id() {
        if f.org_id.as_ref().is_some_and(|o| *o != own) {
            return Err(forbidden());
        }
        f.org_id = Some(own);
    }
    Ok(f)
}

/// `GET /v1/analytics?from&to&granularity&group_by&metrics&<filters>` →
/// `{from, to, granularity, group_by, rows: [{bucket, <dimensions>, <metrics>}]}`.
///
/// # Errors
/// 400 naming the bad parameter, 401, 403 for someone else's usage.
pub async fn query(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<AnalyticsParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let now = state.ports.clock.now();
    let to =
        q.to.as_deref()
            .map(|s| instant("to", s))
            .transpose()?
            .unwrap_or(now);
    let from = q
        .from
        .as_deref()
        .map(|s| instant("from", s))
        .transpose()?
        .unwrap_or(to - Duration::days(30));
    let granularity = Granularity::parse(q.granularity.as_deref().unwrap_or("day"))
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let group_by = list(q.group_by.as_deref(), Dimension::parse)?;
    let metrics = list(q.metrics.as_deref(), Metric::parse)?;
    let filters = UsageFilters {
        org_id: q
            .org_id
            .as_deref()
            .map(OrgId::parse)
            .transpose()
            .map_err(|e| ApiError::BadRequest(format!("org_id: {}", e.0)))?,
        user_id: q.user_id.map(UserId),
        key_id: q.key_id.map(KeyId),
        model: q.model,
        api_name: q.api_name,
        language: q.language,
        domain: q
            .domain
            .as_deref()
            .map(|d| {
                Domain::parse(d)
                    .map_err(|_| ApiError::BadRequest("domain is not a valid domain".to_owned()))
            })
            .transpose()?,
        success: q.success,
        api_call: q.api_call,
        status_class: q.status_class,
    };
    let filters = scope(&p, filters)?;
    let query = UsageQuery::new(from, to, granularity, group_by, filters, metrics)
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let usage = state.ports.stores.usage.clone();
    let q2 = query.clone();
    let rows = run_blocking(move || usage.aggregate(&q2)).await?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("bucket".into(), json!(iso(r.bucket)));
            for (d, v) in query.group_by().iter().zip(&r.dims) {
                m.insert(d.as_str().into(), json!(v));
            }
            for metric in query.metrics() {
                let (name, value) = match metric {
                    Metric::Count => ("count", json!(r.totals.count)),
                    Metric::Units => ("units", json!(r.totals.units)),
                    Metric::CostUsd => ("cost_usd", usd(CostNanos(r.totals.cost_nanos))),
                    Metric::Tokens => ("tokens", json!(r.totals.tokens)),
                    Metric::Quota => ("quota", json!(r.totals.quota)),
                    Metric::DurationMs => ("duration_ms", json!(r.totals.duration_ms)),
                };
                m.insert(name.into(), value);
            }
            Value::Object(m)
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "from": iso(query.from()),
        "to": iso(query.to()),
        "granularity": query.granularity().as_str(),
        "group_by": query.group_by().iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "rows": rows,
    })))
}
