//! `GET /stats` (the key's statistics, seed shape) and `DELETE /stats` (GDPR erasure).

use actix_web::{web, HttpResponse};
use serde_json::json;
use tally_domain::limits::utc_day;
use tally_domain::services::ErasureService;

use super::auth::SessionAuth;
use crate::error::ApiError;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{iso, ymd};

/// Most rows of each history list.
const HISTORY: u32 = 100;
/// Most rows of `viewerStats` (a year of one viewer key).
const VIEWER_DAYS: u32 = 366;

/// `GET /stats`: the key's usage and its recent sessions, caption errors and auth events.
///
/// # Errors
/// 401, 503.
pub async fn get(auth: SessionAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stores = state.ports.stores.clone();
    let key = auth.key.clone();
    let today = utc_day(state.ports.clock.now());
    let (usage, records, errors, events, viewers) = run_blocking(move || {
        Ok::<_, tally_domain::StoreError>((
            stores.keys.key_usage(key.id, today)?.unwrap_or_default(),
            stores.sessions.list_session_records(key.id, HISTORY)?,
            stores.sessions.list_caption_errors(key.id, HISTORY)?,
            stores.keys.list_auth_events(key.id, HISTORY)?,
            stores.sessions.list_viewer_stats(key.id, VIEWER_DAYS)?,
        ))
    })
    .await?;
    let k = &auth.key;
    let sessions: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "sessionId": r.session_id,
                "domain": r.domain,
                "startedAt": iso(r.started_at),
                "endedAt": iso(r.ended_at),
                "durationMs": r.duration_ms,
                "captionsSent": r.captions_sent,
                "captionsFailed": r.captions_failed,
                "finalSequence": r.final_sequence,
                "endedBy": r.ended_by.as_str(),
            })
        })
        .collect();
    let caption_errors: Vec<_> = errors
        .iter()
        .map(|e| {
            json!({
                "sessionId": e.session_id,
                "error": e.error,
                "statusCode": e.status_code,
                "batchSize": e.batch_size,
                "occurredAt": iso(e.occurred_at),
                // lcyt-web's StatsModal reads lcyt-backend's names.
                "timestamp": iso(e.occurred_at),
                "errorCode": e.status_code.unwrap_or(502),
                "errorMsg": e.error,
            })
        })
        .collect();
    let auth_events: Vec<_> = events
        .iter()
        .map(|e| {
            json!({
                "event": e.kind.as_str(),
                "domain": e.domain,
                "occurredAt": iso(e.occurred_at),
                "timestamp": iso(e.occurred_at),
                "eventType": e.kind.as_str(),
            })
        })
        .collect();
    let viewer_stats: Vec<_> = viewers
        .iter()
        .map(|v| json!({ "date": ymd(v.date), "viewer_key": v.viewer_key, "views": v.views }))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(json!({
            "apiKey": k.alias,
            "owner": k.owner,
            "email": k.email.as_ref().map(tally_domain::tenancy::Email::as_str),
            "expires": k.expires_at.map(iso),
            "usage": {
                "lifetimeUsed": usage.lifetime_used,
                "dailyUsed": usage.daily_used,
                "dailyLimit": k.limits.daily,
                "lifetimeLimit": k.limits.lifetime,
            },
            "sessions": sessions,
            "captionErrors": caption_errors,
            "authEvents": auth_events,
            "viewerStats": viewer_stats,
        })))
}

/// `DELETE /stats`: erases the key's personal data in one transaction; its tokens die.
///
/// # Errors
/// 401, 503.
pub async fn erase(
    auth: SessionAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let service = ErasureService::new(state.ports.clone());
    let id = auth.key.id;
    run_blocking(move || service.erase_key(id)).await?;
    crate::observe::erasure("key");
    Ok(HttpResponse::Ok()
        .json(json!({ "ok": true, "message": "Your data has been anonymised and deleted." })))
}
