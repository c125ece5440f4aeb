//! `/usage` records: create, list (all / by user), get, correct (refund) and delete.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use tally_domain::key::{ApiKey, KeyId, KeySecret};
use tally_domain::ports::{Ingested, KeyStore};
use tally_domain::services::UsageService;
use tally_domain::tenancy::UserId;
use tally_domain::usage::{LogQuery, UsageEvent};
use uuid::Uuid;

use super::wire::{apply_key, CreateUsageRequest, UpdateUsageRequest, UsageRecord};
use crate::error::{ApiError, Problem};
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::run_blocking;
use crate::scope::{keys_of, may_see_event, Scope};
use crate::state::AppState;

/// The header that makes `POST /usage` idempotent (as does the `idempotency_key` field).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Default page size of the lists (FastAPI's convention, which Billix follows).
const DEFAULT_LIMIT: u32 = 100;

/// `skip` and `limit` of the lists. Read as text and parsed by [`PageParams::query`], so a bad
/// value is a 400 naming the parameter; the document shows the integers they must be.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Records to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    skip: Option<String>,
    /// Records to return (default 100, 1-1,000; never clamped).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

impl PageParams {
    /// An unscoped log query for this page, inactive (refunded) records included.
    ///
    /// # Errors
    /// 400 for a negative `skip` or a `limit` outside 1-1,000 (never clamped).
    pub fn query(&self) -> Result<LogQuery, ApiError> {
        let skip = match self.skip.as_deref() {
            None => 0,
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| ApiError::BadRequest("skip must be a non-negative integer".into()))?,
        };
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(s) => s.parse::<u32>().map_err(|_| {
                ApiError::BadRequest("limit must be an integer between 1 and 1000".into())
            })?,
        };
        let mut q = LogQuery::new(limit).map_err(|e| ApiError::BadRequest(e.0))?;
        q.offset = skip;
        q.include_inactive = true;
        Ok(q)
    }
}

fn records(keys: &dyn KeyStore, events: &[UsageEvent]) -> Result<Vec<UsageRecord>, ApiError> {
    let aliases: HashMap<KeyId, String> = keys_of(keys, events)?
        .into_iter()
        .map(|(id, k)| (id, k.alias))
        .collect();
    Ok(events
        .iter()
        .map(|e| UsageRecord::of(e, &aliases))
        .collect())
}

fn usage_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest("usage_id must be a UUID".to_owned()))
}

/// `POST /usage`: records one usage event. 201 with the record; a replay of an idempotency
/// key answers 200 with the original record.
///
/// # Errors
/// 400 (naming the field, or an unknown `api_key_used`), 401, 403 (someone else's key),
/// 409 (the idempotency key was used for a record the caller may not see).
#[utoipa::path(
    post,
    path = "/usage",
    tag = "ledger",
    operation_id = "ledger_usage_create",
    summary = "Record usage",
    description = "Records one usage event, charged to `api_key_used` when given (else to the \
        calling key). With an idempotency key (field or header) already used in the caller's \
        organisation, answers 200 with the original record and records nothing.",
    request_body = CreateUsageRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            pattern = "^[!-~]{1,255}$",
            description = "Makes the call idempotent (the `idempotency_key` field wins)."),
    ),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 201, description = "Recorded.", body = UsageRecord),
        (status = 200, description = "A replay of an idempotency key: the original record.", body = UsageRecord),
        (status = 403, description = "`api_key_used` is not one of the caller's keys.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The idempotency key was already used for a record the caller may not see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let r: CreateUsageRequest = parse_json(&body)?;
    let header = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::BadRequest("Idempotency-Key must be visible ASCII".into()))
        })
        .transpose()?;
    let raw_key = r.api_key_used().map(ToOwned::to_owned);
    let mut event = r.into_event(&p, header, state.ports.clock.now())?;
    let service = UsageService::new(state.ports.clone());
    let keys = state.ports.stores.keys.clone();
    let (created, record) = run_blocking(move || {
        if let Some(raw) = raw_key {
            let key: ApiKey = keys
                .find_key(&KeySecret::presented(&raw).hash())?
                .ok_or_else(|| {
                    ApiError::BadRequest("api_key_used is not a known API key".into())
                })?;
            apply_key(&p, &mut event, &key)?;
        }
        let (created, e) = match service.ingest(vec![event])?.pop() {
            Some(Ingested::Created(e)) => (true, e),
            Some(Ingested::Duplicate(e)) => (false, e),
            None => return Err(ApiError::Internal("ingest returned no result".into())),
        };
        if !may_see_event(&p, &e) {
            return Err(ApiError::Conflict(
                "this idempotency key was already used".to_owned(),
            ));
        }
        let record = records(keys.as_ref(), std::slice::from_ref(&e))?;
        Ok((created, record))
    })
    .await?;
    let mut res = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(res.json(&record[0]))
}

/// `GET /usage` with a Bearer credential: a page of records (`skip`, `limit` ≤ 1,000), newest
/// first; admins see every record, others their own.
///
/// # Errors
/// 400, 401.
pub async fn list(
    p: Principal,
    state: web::Data<AppState>,
    page: PageParams,
) -> Result<HttpResponse, ApiError> {
    let q = Scope::own(&p).logs(page.query()?);
    page_of(&state, q).await
}

/// `GET /usage/user/{user_id}`: a user's records (admin or that user; keys bound to them).
///
/// # Errors
/// 400, 401, 403 for another user, 404 for an unknown user (admins).
#[utoipa::path(
    get,
    path = "/usage/user/{user_id}",
    tag = "ledger",
    operation_id = "ledger_usage_list_by_user",
    summary = "One user's usage records",
    description = "A page of the user's records, newest first, refunded ones included. Admins, \
        the user, or a key bound to the user.",
    params(("user_id" = Uuid, Path, description = "The user's id."), PageParams),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The records.", body = Vec<UsageRecord>,
            headers(("X-Total-Count" = u64, description = "The number of matching records."))),
        (status = 403, description = "Another user's records.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user (`User not found`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn by_user(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let user = Uuid::parse_str(&path)
        .map(UserId)
        .map_err(|_| ApiError::BadRequest("user_id must be a UUID".to_owned()))?;
    if !p.may_see_user(user) {
        return Err(ApiError::Forbidden(
            "You may only see your own usage".to_owned(),
        ));
    }
    let mut q = page.query()?;
    q.user_id = Some(user);
    let tenants = state.ports.stores.tenants.clone();
    if run_blocking(move || tenants.get_user(user))
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("User not found".to_owned()));
    }
    page_of(&state, q).await
}

async fn page_of(state: &AppState, q: LogQuery) -> Result<HttpResponse, ApiError> {
    let service = UsageService::new(state.ports.clone());
    let keys = state.ports.stores.keys.clone();
    let (records, total) = run_blocking(move || {
        let page = service.logs(&q)?;
        Ok::<_, ApiError>((records(keys.as_ref(), &page.events)?, page.total))
    })
    .await?;
    // The seed's body is a bare array; the total travels in a header.
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(records))
}

/// `GET /usage/{usage_id}`: one record. Records the caller may not see are 404, as if they
/// did not exist (no enumeration).
///
/// # Errors
/// 401, 404.
#[utoipa::path(
    get,
    path = "/usage/{usage_id}",
    tag = "ledger",
    operation_id = "ledger_usage_get",
    summary = "One usage record",
    description = "Any credential; a record the caller may not see answers 404, as if it did \
        not exist.",
    params(("usage_id" = Uuid, Path, description = "The record's id.")),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The record.", body = UsageRecord),
        (status = 404, description = "No such record, or one the caller may not see (`Usage record not found`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = usage_id(&path)?;
    let usage = state.ports.stores.usage.clone();
    let keys = state.ports.stores.keys.clone();
    let record = run_blocking(move || {
        let e = usage
            .get_event(id)?
            .filter(|e| may_see_event(&p, e))
            .ok_or_else(|| ApiError::NotFound("Usage record not found".to_owned()))?;
        records(keys.as_ref(), std::slice::from_ref(&e))
    })
    .await?;
    Ok(HttpResponse::Ok().json(&record[0]))
}

/// `PUT /usage/{usage_id}` (admin): corrects units, cost, tokens or `status_active`. Units and
/// cost both zero, or `status_active: false`, is a refund: the record stays listed with
/// `status_active: false` and leaves every analytics result.
///
/// # Errors
/// 400, 401, 403 for non-admins, 404.
#[utoipa::path(
    put,
    path = "/usage/{usage_id}",
    tag = "ledger",
    operation_id = "ledger_usage_update",
    summary = "Correct or refund a usage record (admin)",
    description = "Changes the given fields; the rollups follow in the same transaction. Units \
        and cost both 0, or `status_active: false`, refunds the record: it stays listed with \
        `status_active: false` and leaves every analytics result.",
    params(("usage_id" = Uuid, Path, description = "The record's id.")),
    request_body = UpdateUsageRequest,
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The corrected record.", body = UsageRecord),
        (status = 403, description = "Not an admin (checked before any lookup).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record (`Usage record not found`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let id = usage_id(&path)?;
    let patch = parse_json::<UpdateUsageRequest>(&body)?.into_patch()?;
    let usage = state.ports.stores.usage.clone();
    let keys = state.ports.stores.keys.clone();
    let record = run_blocking(move || {
        let e = usage
            .update_event(id, &patch)?
            .ok_or_else(|| ApiError::NotFound("Usage record not found".to_owned()))?;
        records(keys.as_ref(), std::slice::from_ref(&e))
    })
    .await?;
    Ok(HttpResponse::Ok().json(&record[0]))
}

/// `DELETE /usage/{usage_id}` (admin): deletes the record and its analytics contribution.
/// 204.
///
/// # Errors
/// 401, 403 for non-admins, 404.
#[utoipa::path(
    delete,
    path = "/usage/{usage_id}",
    tag = "ledger",
    operation_id = "ledger_usage_delete",
    summary = "Delete a usage record (admin)",
    description = "Deletes the record and its analytics contribution.",
    params(("usage_id" = Uuid, Path, description = "The record's id.")),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 204, description = "Deleted, with its analytics contribution."),
        (status = 403, description = "Not an admin (checked before any lookup).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record (`Usage record not found`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let id = usage_id(&path)?;
    let usage = state.ports.stores.usage.clone();
    if run_blocking(move || usage.delete_event(id)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("Usage record not found".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(skip: Option<&str>, limit: Option<&str>) -> PageParams {
        PageParams {
            skip: skip.map(Into::into),
            limit: limit.map(Into::into),
        }
    }

    #[test]
    fn skip_and_limit_are_checked_never_clamped() {
        let q = page(None, None).query().unwrap();
        assert_eq!((q.offset, q.limit, q.include_inactive), (0, 100, true));
        let q = page(Some("20"), Some("1000")).query().unwrap();
        assert_eq!((q.offset, q.limit), (20, 1000));
        for (s, l) in [
            (Some("-1"), None),
            (None, Some("1001")),
            (None, Some("0")),
            (Some("x"), None),
        ] {
            assert!(page(s, l).query().is_err(), "{s:?} {l:?}");
        }
    }
}
