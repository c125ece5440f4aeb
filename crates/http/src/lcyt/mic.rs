//! `POST /mic`: the soft mic lock.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use tally_domain::mic::{ClientId, MicAction};
use utoipa::ToSchema;

use super::auth::SessionAuth;
use crate::error::ApiError;
use crate::run_short;
use crate::state::session_service;
use crate::state::AppState;

/// The body of `POST /mic`. The handler reads it field by field (as lcyt does, a missing or
/// malformed body answers `clientId required`), so this type describes the contract only.
#[derive(Debug, ToSchema)]
#[schema(as = MicRequest)]
pub struct MicRequest {
    /// `claim` takes the mic (overwriting), `release` frees it only for its holder.
    #[schema(pattern = "^(claim|release)$")]
    pub action: String,
    /// The caller's client id.
    #[schema(rename = "clientId", min_length = 1, max_length = 128)]
    pub client_id: String,
}

/// The answer of `POST /mic`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MicResponse {
    /// Always `true`.
    pub ok: bool,
    /// The client holding the mic after this call, `null` when free.
    pub holder: Option<String>,
}

/// `POST /mic {action: claim|release, clientId}` → `{ok: true, holder}`; every valid call
/// pushes `mic_state` to the session's subscribers.
///
/// # Errors
/// 400 `clientId required` / `action must be claim or release`; 401.
#[utoipa::path(
    post,
    path = "/mic",
    tag = "lcyt",
    operation_id = "lcyt_mic",
    summary = "Claim or release the session's soft mic lock",
    request_body = MicRequest,
    security(("session_token" = [])),
    responses(
        (status = 200, description = "The holder after this call; `mic_state` was pushed.", body = MicResponse),
    )
)]
pub async fn mic(
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // An absent or malformed body reads as "no clientId", as lcyt answers it.
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let client = v
        .get("clientId")
        .and_then(Value::as_str)
        .and_then(|c| ClientId::parse(c).ok())
        .ok_or_else(|| ApiError::BadRequest("clientId required".to_owned()))?;
    let action = v
        .get("action")
        .and_then(Value::as_str)
        .and_then(|a| MicAction::parse(a).ok())
        .ok_or_else(|| ApiError::BadRequest("action must be claim or release".to_owned()))?;
    let service = session_service(&state);
    let session = auth.session.reference();
    let holder = run_short(&state, move || service.mic(&session, action, &client))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Session has ended".to_owned()))?;
    Ok(HttpResponse::Ok().json(MicResponse {
        ok: true,
        holder: holder.map(|h| h.to_string()),
    }))
}
