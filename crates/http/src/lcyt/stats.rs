//! `GET /stats` (the key's statistics, seed shape) and `DELETE /stats` (GDPR erasure).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use tally_domain::limits::utc_day;
use tally_domain::services::ErasureService;
use utoipa::ToSchema;

use super::auth::SessionAuth;
use crate::error::ApiError;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{iso, ymd};

/// Most rows of each history list.
const HISTORY: u32 = 100;
/// Most rows of `viewerStats` (a year of one viewer key).
const VIEWER_DAYS: u32 = 366;

/// The answer of `GET /stats` (the seed's shape).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    /// The key's alias, never its secret.
    pub api_key: String,
    /// The key's owner.
    pub owner: String,
    /// The owner's address; `null` when none.
    #[schema(required = true, format = "email")]
    pub email: Option<String>,
    /// When the key expires; `null`: never.
    #[schema(required = true, format = DateTime)]
    pub expires: Option<String>,
    /// The key's counters and limits.
    pub usage: StatsUsage,
    /// Records of the key's ended sessions, newest first.
    #[schema(max_items = 100)]
    pub sessions: Vec<SessionRecordItem>,
    /// The key's caption delivery failures, newest first.
    #[schema(max_items = 100)]
    pub caption_errors: Vec<CaptionErrorItem>,
    /// The key's authentication events, newest first.
    #[schema(max_items = 100)]
    pub auth_events: Vec<AuthEventItem>,
    /// Opens of `GET /viewer/{key}` per day and viewer key, newest day first.
    #[schema(max_items = 366)]
    pub viewer_stats: Vec<ViewerStatItem>,
}

/// The `usage` of `GET /stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsUsage {
    /// Units over the key's life.
    pub lifetime_used: u64,
    /// Units of the current UTC day.
    pub daily_used: u64,
    /// `null`: unlimited.
    #[schema(required = true)]
    pub daily_limit: Option<u64>,
    /// `null`: unlimited.
    #[schema(required = true)]
    pub lifetime_limit: Option<u64>,
}

/// One ended session of `GET /stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecordItem {
    /// The session id.
    pub session_id: String,
    /// The session's site, normalised.
    pub domain: String,
    /// When it started.
    #[schema(format = DateTime)]
    pub started_at: String,
    /// When it ended.
    #[schema(format = DateTime)]
    pub ended_at: String,
    /// How long it was open, in ms.
    pub duration_ms: u64,
    /// Captions delivered.
    pub captions_sent: u64,
    /// Captions whose delivery failed.
    pub captions_failed: u64,
    /// Its sequence when it ended.
    pub final_sequence: u64,
    /// Who ended it.
    #[schema(pattern = "^(client|ttl|revoked|erased)$")]
    pub ended_by: &'static str,
}

/// One caption delivery failure of `GET /stats`, with the seed's names and lcyt-backend's
/// (`timestamp`, `errorCode`, `errorMsg`), which lcyt-web's statistics dialog reads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptionErrorItem {
    /// The session whose batch failed.
    pub session_id: String,
    /// What went wrong (`HTTP 403`, `Failed to send: …`).
    pub error: String,
    /// The target's status; `null` for a network error.
    #[schema(required = true)]
    pub status_code: Option<u16>,
    /// Captions in the batch.
    pub batch_size: u64,
    /// When it failed.
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// `occurredAt` under lcyt-backend's name.
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// The status, 502 for a network error (lcyt-backend's name).
    pub error_code: u16,
    /// `error` under lcyt-backend's name.
    pub error_msg: String,
}

/// One authentication event of `GET /stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthEventItem {
    /// What happened.
    #[schema(
        pattern = "^(session_start|unknown_key|revoked|expired|domain_not_allowed|daily_limit_exceeded|lifetime_limit_exceeded)$"
    )]
    pub event: &'static str,
    /// The site it came from; `null` when unknown.
    #[schema(required = true)]
    pub domain: Option<String>,
    /// When it happened.
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// `occurredAt` under lcyt-backend's name.
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// `event` under lcyt-backend's name.
    pub event_type: &'static str,
}

/// One day of one viewer key in `GET /stats` (lcyt's column names).
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewerStatItem {
    /// The UTC day.
    #[schema(format = Date)]
    pub date: String,
    /// The viewer key.
    pub viewer_key: String,
    /// Opens of its stream that day.
    pub views: u64,
}

/// The answer of `DELETE /stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedResponse {
    /// Always `true`.
    pub ok: bool,
    /// `Your data has been anonymised and deleted.`
    pub message: &'static str,
}

/// `GET /stats`: the key's usage and its recent sessions, caption errors and auth events.
///
/// # Errors
/// 401, 503.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "lcyt",
    operation_id = "lcyt_stats_get",
    summary = "The key's usage, recent sessions, caption errors and auth events",
    description = "For the key of the token's (open) session; `Cache-Control: private, \
        no-store`. Each list holds at most 100 entries (`viewerStats` 366), newest first.",
    security(("session_token" = [])),
    responses(
        (status = 200, description = "The key's statistics.", body = StatsResponse),
    )
)]
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
    let sessions = records
        .iter()
        .map(|r| SessionRecordItem {
            session_id: r.session_id.as_str().to_owned(),
            domain: r.domain.as_str().to_owned(),
            started_at: iso(r.started_at),
            ended_at: iso(r.ended_at),
            duration_ms: r.duration_ms,
            captions_sent: r.captions_sent,
            captions_failed: r.captions_failed,
            final_sequence: r.final_sequence,
            ended_by: r.ended_by.as_str(),
        })
        .collect();
    let caption_errors = errors
        .iter()
        .map(|e| CaptionErrorItem {
            session_id: e.session_id.as_str().to_owned(),
            error: e.error.clone(),
            status_code: e.status_code,
            batch_size: e.batch_size,
            occurred_at: iso(e.occurred_at),
            timestamp: iso(e.occurred_at),
            error_code: e.status_code.unwrap_or(502),
            error_msg: e.error.clone(),
        })
        .collect();
    let auth_events = events
        .iter()
        .map(|e| AuthEventItem {
            event: e.kind.as_str(),
            domain: e.domain.as_ref().map(|d| d.as_str().to_owned()),
            occurred_at: iso(e.occurred_at),
            timestamp: iso(e.occurred_at),
            event_type: e.kind.as_str(),
        })
        .collect();
    let viewer_stats = viewers
        .iter()
        .map(|v| ViewerStatItem {
            date: ymd(v.date),
            viewer_key: v.viewer_key.as_str().to_owned(),
            views: v.views,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(StatsResponse {
            api_key: k.alias.clone(),
            owner: k.owner.clone(),
            email: k.email.as_ref().map(|e| e.as_str().to_owned()),
            expires: k.expires_at.map(iso),
            usage: StatsUsage {
                lifetime_used: usage.lifetime_used,
                daily_used: usage.daily_used,
                daily_limit: k.limits.daily,
                lifetime_limit: k.limits.lifetime,
            },
            sessions,
            caption_errors,
            auth_events,
            viewer_stats,
        }))
}

/// `DELETE /stats`: erases the key's personal data in one transaction; its tokens die.
///
/// # Errors
/// 401, 503.
#[utoipa::path(
    delete,
    path = "/stats",
    tag = "lcyt",
    operation_id = "lcyt_stats_erase",
    summary = "Erase the key's personal data (GDPR)",
    description = "In one transaction: owner and email replaced (`[erased]`, `null`), the key \
        deactivated, its open sessions ended, its session records, caption errors, auth events \
        and raw usage events deleted, its rollups moved to the anonymous bucket, and an \
        erasure receipt kept. Every token of the key is refused from then on (a second call \
        is 401).",
    security(("session_token" = [])),
    responses(
        (status = 200, description = "The key's data was erased.", body = ErasedResponse),
    )
)]
pub async fn erase(
    auth: SessionAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let service = ErasureService::new(state.ports.clone());
    let id = auth.key.id;
    run_blocking(move || service.erase_key(id)).await?;
    crate::observe::erasure("key");
    Ok(HttpResponse::Ok().json(ErasedResponse {
        ok: true,
        message: "Your data has been anonymised and deleted.",
    }))
}
