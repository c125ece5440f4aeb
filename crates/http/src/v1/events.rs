//! `POST /v1/events`: batch ingestion with per-event idempotency and per-event results.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use tally_domain::ports::Ingested;
use tally_domain::services::UsageService;
use tally_domain::usage::EventKind;

use crate::error::ApiError;
use crate::event_input::EventInput;
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;

/// `POST /v1/events` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    events: Vec<EventInput>,
}

/// `POST /v1/events {events: [...]}` (1-1,000 events): the whole batch is validated first
/// (any invalid event → 400 naming its index, nothing written), then written in one
/// transaction. Admins may place events anywhere; others record their own usage.
///
/// # Errors
/// 400, 401, 503.
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
    let shaped: Vec<_> = results
        .iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ingested::Created(e) => json!({ "index": index, "id": e.id, "status": "created" }),
            Ingested::Duplicate(e) => json!({ "index": index, "id": e.id, "status": "duplicate" }),
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "results": shaped })))
}
