//! `POST /mic`: the soft mic lock.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use tally_domain::mic::{ClientId, MicAction};

use super::auth::SessionAuth;
use crate::error::ApiError;
use crate::run_short;
use crate::state::session_service;
use crate::state::AppState;

/// `POST /mic {action: claim|release, clientId}` → `{ok: true, holder}`; every valid call
/// pushes `mic_state` to the session's subscribers.
///
/// # Errors
/// 400 `clientId required` / `action must be claim or release`; 401.
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
    let id = auth.session.id.clone();
    let holder = run_short(&state, move || service.mic(&id, action, &client))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Session has ended".to_owned()))?;
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "holder": holder })))
}
