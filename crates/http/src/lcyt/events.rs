//! Server-Sent Events of the lcyt surface: `GET /events` (a session's live events),
//! `GET /events/stream` (lcyt-web's unified stream of the same events, in bus envelopes) and
//! `GET /viewer/{viewerKey}` (a public caption stream). The streams themselves (bus
//! subscription, `resync`, keep-alives) are [`crate::sse`].

use actix_web::http::header;
use actix_web::{web, Responder};
use serde::Deserialize;
use serde_json::json;
use tally_domain::live::Topic;
use tally_domain::session::ViewerKey;

use super::auth::SessionAuth;
use crate::error::ApiError;
use crate::run_blocking;
use crate::sse::{self, frame, ProjectStream};
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

/// Query of `GET /events/stream` (the token is read by [`SessionAuth`]).
#[derive(Debug, Deserialize)]
pub struct EventStreamQuery {
    /// Comma-separated topic patterns; blank or absent: all.
    topics: Option<String>,
    /// `1` names every frame `message`.
    flat: Option<String>,
}

/// `GET /events/stream?token=…&flat=1&topics=…` (session token in `Authorization` or
/// `?token=`): `connected {projectId, topics, sessionId, micHolder}` (named `connected` even
/// when flat), then the session's events in lcyt's bus envelopes; it stays open after
/// `session.closed`.
pub async fn event_stream(
    auth: SessionAuth,
    state: web::Data<AppState>,
    query: web::Query<EventStreamQuery>,
) -> impl Responder {
    let q = query.into_inner();
    let topics: Vec<String> = q
        .topics
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(ToOwned::to_owned)
        .collect();
    let project = ProjectStream {
        session: auth.session.id.clone(),
        started_at: auth.session.started_at,
        project_id: auth.key.alias.clone(),
        flat: q.flat.as_deref() == Some("1"),
        topics,
    };
    let listed = if project.topics.is_empty() {
        json!("*")
    } else {
        json!(project.topics)
    };
    let connected = json!({
        "projectId": project.project_id,
        "topics": listed,
        "sessionId": auth.session.id,
        "micHolder": auth.session.mic_holder,
    });
    let first = frame("connected", &connected.to_string());
    sse::response(sse::project_events(state.get_ref().clone(), project, first))
}

/// `GET /viewer/{viewerKey}`: the public caption stream of a viewer target: `connected
/// {"ok":true}`, then `caption` frames `{text, composedText, sequence, timestamp?,
/// translations?, codes?}`.
///
/// # Errors
/// 400 for a malformed viewer key.
pub async fn viewer_events(
    state: actix_web::web::Data<AppState>,
    path: actix_web::web::Path<String>,
) -> Result<impl Responder, ApiError> {
    let key = ViewerKey::parse(&path).map_err(|e| ApiError::BadRequest(e.0))?;
    // Each open is a view of the key whose session delivers here; a failure to count it
    // does not keep the viewer from the stream.
    let (sessions, viewer) = (state.ports.stores.sessions.clone(), key.clone());
    let day = tally_domain::limits::utc_day(state.ports.clock.now());
    if let Err(e) = run_blocking(move || sessions.record_viewer_open(&viewer, day)).await {
        tracing::warn!(error = %e, "viewer open not counted");
    }
    let connected = frame("connected", r#"{"ok":true}"#);
    Ok(sse::response(sse::events(
        state.get_ref().clone(),
        Topic::Viewer(key),
        Some(connected),
    ))
    .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")))
}
