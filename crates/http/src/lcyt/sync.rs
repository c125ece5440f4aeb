//! `POST /sync`: measures the session's clock offset against YouTube with an empty-body
//! ingestion POST (lcyt-clients reference §2.6, §5) and stores it with the session.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::Serialize;
use tally_domain::session::{Session, SessionPatch};
use utoipa::ToSchema;

use super::auth::SessionAuth;
use crate::error::{ApiError, PROBLEM_JSON};
use crate::run_short;
use crate::state::{session_service, AppState};
use crate::webhook::webhook_client;
use crate::youtube;

/// The answer of one sync.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The session with its new offset.
    pub session: Session,
    /// Round trip of the POST, in ms.
    pub round_trip_ms: i64,
    /// YouTube's answer body, when not empty.
    pub server_timestamp: Option<String>,
    /// YouTube's status (not checked, as in lcyt: only the body's time matters).
    pub status_code: u16,
}

/// Why a sync could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The session was opened without a `streamKey`: there is no YouTube sender to sync.
    #[error("No YouTube sender to sync: the session was opened without a streamKey")]
    NoSender,
    /// The POST did not reach YouTube.
    #[error("{0}")]
    Transport(String),
    /// Storing the offset failed.
    #[error("{0}")]
    Store(ApiError),
}

/// Syncs a session's primary YouTube sender at the session's current `seq` (a sync never
/// advances it). An answer without a parseable time leaves the offset as it was.
///
/// # Errors
/// [`SyncError`].
pub async fn sync_session(state: &AppState, session: &Session) -> Result<Synced, SyncError> {
    let key = session.primary_stream_key().ok_or(SyncError::NoSender)?;
    let url = youtube::ingestion_url(state.delivery.youtube_url(), key.as_str(), session.sequence);
    let sent = state.ports.clock.now();
    let answer = youtube::post(&webhook_client(), &url, String::new())
        .await
        .map_err(SyncError::Transport)?;
    let answered = state.ports.clock.now();
    let offset = answer
        .server_timestamp
        .as_deref()
        .and_then(youtube::server_time)
        .and_then(|server| youtube::sync_offset_ms(sent, answered, server));
    let session = match offset {
        Some(ms) => {
            let service = session_service(state);
            let at = session.reference();
            let patch = SessionPatch {
                sync_offset_ms: Some(ms),
                ..SessionPatch::default()
            };
            run_short(state, move || service.update(&at, &patch))
                .await
                .map_err(SyncError::Store)?
                .unwrap_or_else(|| session.clone())
        }
        None => session.clone(),
    };
    Ok(Synced {
        session,
        round_trip_ms: i64::try_from((answered - sent).whole_milliseconds()).unwrap_or(0),
        server_timestamp: answer.server_timestamp,
        status_code: answer.status,
    })
}

/// The answer of `POST /sync`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResponse {
    /// The stored offset of YouTube's clock against ours, in ms (unchanged when YouTube's
    /// answer held no time).
    pub sync_offset: i64,
    /// Round trip of the POST, in ms.
    pub round_trip_time: i64,
    /// YouTube's answer body (its receive time, UTC without a zone); `null` when empty.
    #[schema(required = true)]
    pub server_timestamp: Option<String>,
    /// YouTube's HTTP status (not checked: a 403 from YouTube still answers 200 here).
    pub status_code: u16,
}

/// The refusal of `POST /sync` (409 without a YouTube sender, 502 when YouTube cannot be
/// reached): a problem document with lcyt's `statusCode` member.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncFailure {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase (`Conflict`, `Bad Gateway`).
    pub title: &'static str,
    /// The HTTP status: 409 or 502.
    #[schema(minimum = 409, maximum = 502)]
    pub status: u16,
    /// The cause.
    pub detail: String,
    /// The cause (lcyt clients read this member).
    pub error: String,
    /// The HTTP status again, as lcyt answers it.
    #[schema(minimum = 409, maximum = 502)]
    pub status_code: u16,
}

/// `POST /sync`: `200 {syncOffset, roundTripTime, serverTimestamp, statusCode}` where
/// `statusCode` is YouTube's.
///
/// # Errors
/// 401; 409 `{error, statusCode: 409}` when there is no YouTube sender (a session opened
/// without `streamKey`); 502 `{error, statusCode: 502}` when YouTube cannot be reached.
#[utoipa::path(
    post,
    path = "/sync",
    tag = "lcyt",
    operation_id = "lcyt_sync_run",
    summary = "Measure and store the session's clock offset against YouTube",
    description = "Sends an empty-body ingestion POST for the session's primary YouTube sender \
        at its current `seq` (a sync never advances it) and stores \
        `syncOffset = round(server − (t1 + t2) / 2)` ms with the session. No body. Records \
        activity.",
    security(("session_token" = [])),
    responses(
        (status = 200, description = "The offset, with YouTube's answer.", body = SyncResponse),
        (status = 409, description = "The session has no YouTube sender: it was opened without `streamKey` (`No YouTube sender to sync: …`).", body = SyncFailure, content_type = "application/problem+json"),
        (status = 502, description = "YouTube could not be reached (`Failed to send: …`).", body = SyncFailure, content_type = "application/problem+json"),
    )
)]
pub async fn post(auth: SessionAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match sync_session(&state, &auth.session).await {
        Ok(s) => Ok(HttpResponse::Ok().json(SyncResponse {
            sync_offset: s.session.sync_offset_ms,
            round_trip_time: s.round_trip_ms,
            server_timestamp: s.server_timestamp,
            status_code: s.status_code,
        })),
        Err(SyncError::Store(e)) => Err(e),
        Err(e) => {
            // No sender is the session's state, not a fault: a 4xx (lcyt answers 502).
            let status = match e {
                SyncError::NoSender => StatusCode::CONFLICT,
                _ => StatusCode::BAD_GATEWAY,
            };
            let message = e.to_string();
            Ok(HttpResponse::build(status)
                .content_type(PROBLEM_JSON)
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(SyncFailure {
                    kind: "about:blank",
                    title: status.canonical_reason().unwrap_or("Error"),
                    status: status.as_u16(),
                    detail: message.clone(),
                    error: message,
                    status_code: status.as_u16(),
                }))
        }
    }
}
