//! Server-Sent Events of the lcyt surface: `GET /events` (a session's live events),
//! `GET /events/stream` (lcyt-web's unified stream of the same events, in bus envelopes) and
//! `GET /viewer/{viewerKey}` (a public caption stream). The streams themselves (bus
//! subscription, `resync`, keep-alives) are [`crate::sse`].

use actix_web::http::header;
use actix_web::{web, Responder};
use serde::Deserialize;
use serde_json::json;
use tally_domain::session::ViewerKey;
use utoipa::IntoParams;

use super::auth::SessionAuth;
use crate::error::ApiError;
use crate::run_blocking;
use crate::sse::{self, frame, ProjectStream};
use crate::state::AppState;

/// The description of `GET /events`' stream.
const SESSION_EVENTS: &str = "`text/event-stream` of frames `event: <name>` / `data: <compact \
    JSON>`: `connected {sessionId, micHolder}` first; then `usage {lifetimeUsed, dailyUsed, \
    dailyLimit, lifetimeLimit}` after each accepted `POST /captions`, `caption_result \
    {requestId, sequence, count, statusCode, serverTimestamp}` and `caption_error {requestId, \
    error, statusCode, sequence}` after each delivery, `caption {text, composedText, sequence, \
    timestamp?, translations?, codes?}` per caption of a session without targets, `mic_state \
    {holder}` after each `POST /mic`, `resync {sessionId, micHolder}` when the subscriber fell \
    behind (events were dropped), and `session_closed {}` when the session ends (then the \
    stream ends); `shutdown {}` when the server stops. A `: keep-alive` comment every 15 s.";

/// The description of `GET /events/stream`'s stream.
const UNIFIED_EVENTS: &str = "`text/event-stream`: `connected {projectId, topics, sessionId, \
    micHolder}` first (named `connected` even when flat); then each event of the session whose \
    topic matches, as `event: <topic>` (or `message` with `flat=1`) with the envelope \
    `{sessionId, topic, projectId, ts, data}`: `caption.sent` (data as `caption_result`), \
    `caption.error` (as `caption_error`), `session.mic_state {holder}`, `session.closed \
    {durationMs}` (the stream stays open); `resync {}` when the subscriber fell behind, \
    `shutdown {}` when the server stops. A `: heartbeat` comment every 25 s.";

/// The description of `GET /viewer/{viewer_key}`'s stream.
const VIEWER_EVENTS: &str = "`text/event-stream`: `connected {\"ok\":true}` first, then \
    `caption {text, composedText, sequence, timestamp?, translations?, codes?}` for every \
    caption delivered to a `viewer` target with this key, by any session; `resync {}` when the \
    subscriber fell behind, `shutdown {}` when the server stops. A `: keep-alive` comment every \
    15 s; the stream stays open until the client leaves.";

/// `GET /events` (session token in `Authorization` or `?token=`): `connected {sessionId,
/// micHolder}`, then the session's events until `session_closed`.
#[utoipa::path(
    get,
    path = "/events",
    tag = "lcyt",
    operation_id = "lcyt_events_stream",
    summary = "The session's live events (Server-Sent Events)",
    description = "Several streams per session are allowed; each gets every event. An open \
        stream records activity on its session. Token errors are JSON answers before the \
        stream starts.",
    params(TokenParam),
    security(("session_token" = [])),
    responses(
        (status = 200, description = SESSION_EVENTS, content_type = "text/event-stream", body = String),
    )
)]
pub async fn session_events(
    auth: SessionAuth,
    state: actix_web::web::Data<AppState>,
) -> impl Responder {
    let connected = json!({ "sessionId": auth.session.id, "micHolder": auth.session.mic_holder });
    let first = frame("connected", &connected.to_string());
    sse::response(sse::session_events(
        state.get_ref().clone(),
        auth.session.reference(),
        first,
    ))
}

/// The `?token=` of the `EventSource` routes (read by [`SessionAuth`]): this type only
/// describes it.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParam {
    /// The session token, for `EventSource` (which cannot set headers); `Authorization:
    /// Bearer` wins when both are sent.
    pub token: Option<String>,
}

/// Query of `GET /events/stream` (the token is read by [`SessionAuth`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventStreamQuery {
    /// Comma-separated topic patterns (`*`; an exact topic such as `caption.sent`; `x.*` for
    /// every topic under `x.`); blank or absent: all.
    #[param(example = "caption.*,session.*")]
    topics: Option<String>,
    /// Exactly `1` names every frame `message` (as lcyt-web asks); anything else: frames
    /// named by topic.
    #[param(example = "1")]
    flat: Option<String>,
}

/// `GET /events/stream?token=…&flat=1&topics=…` (session token in `Authorization` or
/// `?token=`): `connected {projectId, topics, sessionId, micHolder}` (named `connected` even
/// when flat), then the session's events in lcyt's bus envelopes; it stays open after
/// `session.closed`.
#[utoipa::path(
    get,
    path = "/events/stream",
    tag = "lcyt",
    operation_id = "lcyt_events_unified_stream",
    summary = "lcyt-web's unified event stream of the session (Server-Sent Events)",
    description = "The token's own session's events in lcyt's bus envelopes; `projectId` is \
        the key's alias. `usage` events and captions of target-less sessions are not carried. \
        An open stream records activity on its session.",
    params(TokenParam, EventStreamQuery),
    security(("session_token" = [])),
    responses(
        (status = 200, description = UNIFIED_EVENTS, content_type = "text/event-stream", body = String),
    )
)]
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
        session: auth.session.reference(),
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
#[utoipa::path(
    get,
    path = "/viewer/{viewer_key}",
    tag = "lcyt",
    operation_id = "lcyt_viewer_stream",
    summary = "A public caption stream of a viewer target (Server-Sent Events)",
    description = "No credential; `Access-Control-Allow-Origin: *`. Each open counts one view \
        (per UTC day) for the key whose open session delivers to this viewer key (see \
        `viewerStats` in `GET /stats`).",
    params(("viewer_key" = String, Path, pattern = "^[A-Za-z0-9_-]{3,128}$",
        description = "The viewer key of a `viewer` target: 3-128 of `A-Z a-z 0-9 _ -`.")),
    responses(
        (status = 200, description = VIEWER_EVENTS, content_type = "text/event-stream", body = String),
        (status = 400, description = "A malformed viewer key (`viewerKey must be 3-128 characters of letters, digits, _ or -`).", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
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
    Ok(
        sse::response(sse::viewer_events(state.get_ref().clone(), key, connected))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")),
    )
}
