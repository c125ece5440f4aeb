//! `GET /v1/analytics`: the generic `UsageQuery` over HTTP, answered from the rollups.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_domain::key::KeyId;
use tally_domain::origin::Domain;
use tally_domain::tenancy::{OrgId, UserId};
use tally_domain::usage::{
    CostNanos, DimValue, Dimension, Granularity, Metric, UsageFilters, UsageQuery,
};
use time::{Duration, OffsetDateTime};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::Schema;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::principal::Principal;
use crate::rollups::usd;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// Query of `GET /v1/analytics`. Any other parameter is 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Start, rounded down to the hour; default `to` minus 30 days.
    #[param(schema_with = super::schema::instant_param)]
    from: Option<String>,
    /// End (exclusive), rounded up to the hour; default now. At most 400 days after `from`
    /// for `hour` and `day`, 100 years for `month`.
    #[param(schema_with = super::schema::instant_param)]
    to: Option<String>,
    /// Bucket width; default `day`.
    #[param(schema_with = granularity_schema)]
    granularity: Option<String>,
    /// Comma list of dimensions; each row carries one member per dimension.
    #[param(schema_with = group_by_schema)]
    group_by: Option<String>,
    /// Comma list of metrics; default all.
    #[param(schema_with = metrics_schema)]
    metrics: Option<String>,
    /// Only this organisation.
    #[param(schema_with = super::schema::org_id_param)]
    org_id: Option<String>,
    /// Only this user.
    user_id: Option<Uuid>,
    /// Only this key.
    key_id: Option<i64>,
    /// Only this model.
    model: Option<String>,
    /// Only this API name.
    api_name: Option<String>,
    /// Only this language.
    language: Option<String>,
    /// Only this site (normalised as `POST /live` does).
    #[param(schema_with = crate::event_input::domain_schema)]
    domain: Option<String>,
    /// Only successes (`true`) or failures (`false`).
    success: Option<bool>,
    /// Only API calls (events with an HTTP method) or only the others.
    api_call: Option<bool>,
    /// Only this HTTP status class: `2` for 2xx, …
    status_class: Option<u16>,
}

const DIMENSIONS: &str =
    "org|user|key|model|api_name|language|domain|success|api_call|status_class";
const METRICS: &str = "count|units|cost_usd|tokens|quota|duration_ms";

/// A comma list of `names` as the handler reads it: items trimmed, empty items ignored.
fn list_schema(names: &str, description: &str) -> Schema {
    let item = format!(
        r"[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:{names})?[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*"
    );
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^{item}(?:,{item})*$")))
        .description(Some(description))
        .into()
}

fn group_by_schema() -> Schema {
    list_schema(
        DIMENSIONS,
        "Comma list of `org`, `user`, `key`, `model`, `api_name`, `language`, `domain`, \
         `success`, `api_call`, `status_class`; duplicates ignored.",
    )
}

fn metrics_schema() -> Schema {
    list_schema(
        METRICS,
        "Comma list of `count`, `units`, `cost_usd`, `tokens`, `quota`, `duration_ms`; \
         default all.",
    )
}

fn granularity_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["hour", "day", "month"]))
        .into()
}

fn dimension_names() -> Schema {
    let names = Dimension::ALL.map(Dimension::as_str);
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .into()
}

/// `GET /v1/analytics` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::Analytics)]
pub struct AnalyticsResponse {
    /// The start, rounded down to the hour.
    #[schema(schema_with = super::schema::time)]
    pub from: String,
    /// The end (exclusive), rounded up to the hour.
    #[schema(schema_with = super::schema::time)]
    pub to: String,
    /// The bucket width.
    #[schema(schema_with = granularity_schema)]
    pub granularity: &'static str,
    /// The dimensions, in order, without duplicates.
    #[schema(schema_with = dimension_names)]
    pub group_by: Vec<&'static str>,
    /// One row per bucket and combination of dimension values that has usage, ordered by
    /// bucket, then by the dimension values.
    pub rows: Vec<AnalyticsRow>,
}

/// One row: the bucket, one member per `group_by` dimension (only those) and the requested
/// metrics (only those).
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(as = v1::AnalyticsRow)]
pub struct AnalyticsRow {
    /// The start of the UTC hour, day or calendar month.
    #[schema(schema_with = super::schema::time)]
    pub bucket: String,
    /// Dimension `org`: the organisation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub org: Option<DimValue>,
    /// Dimension `user`: the user, `null` for none (or erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Uuid>)]
    pub user: Option<DimValue>,
    /// Dimension `key`: the key id, `null` for none (or erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub key: Option<DimValue>,
    /// Dimension `model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub model: Option<DimValue>,
    /// Dimension `api_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub api_name: Option<DimValue>,
    /// Dimension `language`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub language: Option<DimValue>,
    /// Dimension `domain`: the normalised origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub domain: Option<DimValue>,
    /// Dimension `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    pub success: Option<DimValue>,
    /// Dimension `api_call`: the events had an HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    pub api_call: Option<DimValue>,
    /// Dimension `status_class`: `2xx`, `4xx`, …, `null` without a status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[1-5]xx$")]
    pub status_class: Option<DimValue>,
    /// Events.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub count: Option<i64>,
    /// Units.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub units: Option<i64>,
    /// Cost in dollars, printed from the exact sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = f64, required = false, minimum = 0)]
    pub cost_usd: Option<Value>,
    /// Tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub tokens: Option<i64>,
    /// Quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub quota: Option<i64>,
    /// Duration in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub duration_ms: Option<i64>,
}

impl AnalyticsRow {
    /// Sets the member of dimension `d`.
    fn set(&mut self, d: Dimension, v: DimValue) {
        let slot = match d {
            Dimension::Org => &mut self.org,
            Dimension::User => &mut self.user,
            Dimension::Key => &mut self.key,
            Dimension::Model => &mut self.model,
            Dimension::ApiName => &mut self.api_name,
            Dimension::Language => &mut self.language,
            Dimension::Domain => &mut self.domain,
            Dimension::Success => &mut self.success,
            Dimension::ApiCall => &mut self.api_call,
            Dimension::StatusClass => &mut self.status_class,
        };
        *slot = Some(v);
    }
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
#[utoipa::path(
    get,
    path = "/v1/analytics",
    tag = "v1",
    operation_id = "v1_analytics_query",
    summary = "Query usage: totals per bucket and dimension",
    description = "Answered from the hourly rollups, so its cost grows with the rows \
        returned. Admins query anything; a user token (or a key bound to a user) sees that \
        user's usage, a key bound to no user its own. Naming someone else's `user_id`, \
        `key_id` or `org_id` is 403. Refunded or deleted events are not counted; erased keys' \
        usage stays in the totals with `user` and `key` `null`.",
    params(AnalyticsParams),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses((status = 200, description = "The rows.", body = AnalyticsResponse))
)]
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
    let rows = rows
        .iter()
        .map(|r| {
            let mut row = AnalyticsRow {
                bucket: iso(r.bucket),
                ..AnalyticsRow::default()
            };
            for (d, v) in query.group_by().iter().zip(&r.dims) {
                row.set(*d, v.clone());
            }
            let t = &r.totals;
            for metric in query.metrics() {
                match metric {
                    Metric::Count => row.count = Some(t.count),
                    Metric::Units => row.units = Some(t.units),
                    Metric::CostUsd => row.cost_usd = Some(usd(CostNanos(t.cost_nanos))),
                    Metric::Tokens => row.tokens = Some(t.tokens),
                    Metric::Quota => row.quota = Some(t.quota),
                    Metric::DurationMs => row.duration_ms = Some(t.duration_ms),
                }
            }
            row
        })
        .collect();
    Ok(HttpResponse::Ok().json(AnalyticsResponse {
        from: iso(query.from()),
        to: iso(query.to()),
        granularity: query.granularity().as_str(),
        group_by: query.group_by().iter().map(|d| d.as_str()).collect(),
        rows,
    }))
}
