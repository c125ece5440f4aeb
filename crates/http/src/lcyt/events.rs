//! Server-Sent Events of the lcyt surface: `GET /events` (a session's live events) and
//! `GET /viewer/{viewerKey}` (a public caption stream). The streams themselves (bus
//! subscription, `resync`, keep-alives) are [`crate::sse`].

use actix_web::http::header;
use actix_web::Responder;
use serde_json::json;
use tally_domain::live::Topic;
use tally_domain::session::ViewerKey;

use super::auth::SessionAuth;
use crate::error::ApiError;
use crate::sse::{self, frame};
use crate::state::AppState;

/// `GET /events` (session token in `Authorization` or `?token=`): `connected {sessionId,
/// micHolder}`, then the session's events until `session_closed`.
pub async fn session_events(
    auth: SessionAuth,
    state: actix_web::web::Data<AppState>,
) -> impl Responder {
    let connected = json!({ "sessionId": auth.session.id, "micHolder": auth.session.mic_holder });
    let first = frame("connected", &connected.to_string());
    sse::response(sse::events(
        state.get_ref().clone(),
        Topic::Session(auth.session.id),
        Some(first),
    ))
}

/// `GET /viewer/{viewerKey}`: the public caption stream of a viewer target (`caption`
/// frames `{text, sequence, timestamp}`).
///
/// # Errors
/// 400 for a malformed viewer key.
pub async fn viewer_events(
    state: actix_web::web::Data<AppState>,
    path: actix_web::web::Path<String>,
) -> Result<impl Responder, ApiError> {
    let key = ViewerKey::parse(&path).map_err(|e| ApiError::BadRequest(e.0))?;
    Ok(sse::response(sse::events(
        state.get_ref().clone(),
        Topic::Viewer(key),
        None,
    ))
    .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")))
}
