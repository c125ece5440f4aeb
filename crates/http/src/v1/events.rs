//! `POST /v1/events`: batch ingestion with per-event idempotency and per-event results.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::ports::Ingested;
use tally_domain::services::UsageService;
use tally_domain::usage::EventKind;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::event_input::EventInput;
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;

/// `POST /v1/events` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = v1::IngestRequest)]
pub struct IngestRequest {
    /// The events, validated whole before any is written.
    #[schema(min_items = 1, max_items = 1000)]
    events: Vec<EventInput>,
}

/// What happened to one event of the batch.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = v1::IngestStatus)]
pub enum IngestStatus {
    /// Recorded.
    Created,
    /// Its idempotency key was already used in the organisation: nothing recorded, `id` is
    /// the original event's.
    Duplicate,
}

/// One event's result.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::IngestResult)]
pub struct IngestResult {
    /// Its position in the batch.
    pub index: usize,
    /// The recorded event's id (the original's for a duplicate).
    pub id: Uuid,
    /// Created or duplicate.
    pub status: IngestStatus,
}

/// `POST /v1/events` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::IngestResponse)]
pub struct IngestResponse {
    /// One result per event, in order.
    pub results: Vec<IngestResult>,
}

/// `POST /v1/events {events: [...]}` (1-1,000 events): the whole batch is validated first
/// (any invalid event → 400 naming its index, nothing written), then written in one
/// transaction. Admins may place events anywhere; others record their own usage.
///
/// # Errors
/// 400, 401, 503.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "v1",
    operation_id = "v1_events_ingest",
    summary = "Record usage events in a batch",
    description = "1 to 1,000 events. Any invalid event is 400 naming its index and nothing is \
        written; otherwise the batch is written in one transaction, rollups included. Events \
        are facts: limits are not checked and key counters do not change (meter with \
        `POST /v1/verify`). `org_id`, `user_id` and `key_id` are for admins only (400 for \
        others, whose events are their own).",
    request_body = IngestRequest,
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses((status = 200, description = "One result per event, in order.", body = IngestResponse))
)]
pub async fn ingest(
    p: Principal,
    state: web::Data<AppState>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let r: IngestRequest = parse_json(&raw)?;
    let now = state.ports.clock.now();
    let events = r
        .events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            e.into_event(&p, EventKind::Request, None, now)
                .map_err(|m| ApiError::BadRequest(format!("event {i}: {m}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let service = UsageService::new(state.ports.clone());
    let results = run_blocking(move || service.ingest(events)).await?;
    let results = results
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let (e, status) = match r {
                Ingested::Created(e) => (e, IngestStatus::Created),
                Ingested::Duplicate(e) => (e, IngestStatus::Duplicate),
            };
            IngestResult {
                index,
                id: e.id,
                status,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(IngestResponse { results }))
}
