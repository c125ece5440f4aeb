//! `/live`: open or join a session (fresh token every time), read, change and end it.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_auth::SessionClaims;
use tally_domain::services::OpenRequest;
use tally_domain::session::{EndReason, SessionId, SessionPatch, StreamKey, Target, ViewerKey};
use utoipa::ToSchema;

use super::auth::SessionAuth;
use super::sync;
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::run_short;
use crate::state::session_service;
use crate::state::AppState;
use crate::wire::epoch_ms;

/// `POST /live` body; other fields (lcyt's `broadcastId`, `recordEnabled`, `authToken`) are
/// ignored. `sequence` and `targets` are read field by field, as lcyt reads them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenLiveRequest {
    /// The API key's secret.
    #[schema(required = true, nullable = false, min_length = 1)]
    api_key: Option<String>,
    /// The client's site: a host or an origin `https://host[:port]`, normalised (lower-case,
    /// `https` by default, loopback forms → `localhost`); at most 255 characters.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 255)]
    domain: Option<String>,
    /// A YouTube stream key (1-256 printable ASCII characters; empty or `null`: none). Part of
    /// the session id, and it turns on lcyt's legacy mode (a primary YouTube sender).
    #[schema(max_length = 256, pattern = "^[ -~]*$")]
    stream_key: Option<String>,
    /// The starting sequence of a new session (a whole number ≥ 0).
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    sequence: Option<Value>,
    /// The session's targets, replacing a joined session's; at most 16 once entries without a
    /// YouTube key are dropped.
    #[schema(value_type = Option<Vec<super::contract::TargetSpec>>)]
    targets: Option<Value>,
}

/// `PATCH /live` body; `null` or absent leaves a field unchanged; unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchLiveRequest {
    /// The session's new sequence (a whole number ≥ 0).
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    sequence: Option<Value>,
    /// The new targets, replacing the current ones (`[]` removes all); at most 16 once entries
    /// without a YouTube key are dropped.
    #[schema(value_type = Option<Vec<super::contract::TargetSpec>>)]
    targets: Option<Value>,
}

/// The answer of `POST /live`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenLiveResponse {
    /// A fresh session token (HS256 JWT) for `Authorization: Bearer`.
    pub token: String,
    /// The session id: 16 hex characters.
    #[schema(value_type = String, pattern = "^[0-9a-f]{16}$")]
    pub session_id: SessionId,
    /// The session's sequence.
    pub sequence: u64,
    /// The session's clock offset against YouTube, in ms.
    pub sync_offset: i64,
    /// When the session started, in epoch milliseconds.
    pub started_at: i64,
}

/// The answer of `GET /live`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveStateResponse {
    /// The session's sequence.
    pub sequence: u64,
    /// The clock offset of the last sync, in ms (0 without one).
    pub sync_offset: i64,
}

/// The answer of `PATCH /live`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchLiveResponse {
    /// The session's sequence after the change.
    pub sequence: u64,
    /// How many targets the session has now.
    pub targets_count: usize,
}

/// The answer of `DELETE /live`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndLiveResponse {
    /// Always `true`.
    pub removed: bool,
    /// The session that ended.
    #[schema(value_type = String, pattern = "^[0-9a-f]{16}$")]
    pub session_id: SessionId,
}

/// The largest sequence a store keeps (Postgres holds it as a signed 64-bit integer).
const MAX_SEQUENCE: u64 = i64::MAX as u64;

fn sequence(v: &Value) -> Result<u64, ApiError> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        })
        .filter(|n| *n <= MAX_SEQUENCE)
        .ok_or_else(|| ApiError::BadRequest("sequence must be a non-negative number".to_owned()))
}

/// A generic target's `headers`: an object of strings; anything else but an object is
/// ignored, as lcyt does (lcyt-web sends `{}` when its header text does not parse).
fn target_headers(v: Option<&Value>, i: usize) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(Value::Object(m)) = v else {
        return Ok(BTreeMap::new());
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(ApiError::BadRequest(format!(
                "targets[{i}].headers.{k} must be a string"
            ))),
        })
        .collect()
}

/// Validates a `targets` array with lcyt's messages. A `youtube` entry without a non-empty
/// `streamKey` is dropped, as lcyt does (lcyt-web sends such entries for unfilled rows);
/// extra targets' stream keys are trimmed.
///
/// # Errors
/// 400 naming the first bad target.
pub fn targets(v: &Value) -> Result<Vec<Target>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let items = v
        .as_array()
        .ok_or_else(|| bad("targets must be an array".to_owned()))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, t) in items.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or_default();
        let target = match kind {
            "viewer" => {
                let k = t
                    .get("viewerKey")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                ViewerKey::parse(k)
                    .map(|viewer_key| Target::Viewer { viewer_key })
                    .map_err(|e| bad(e.0))?
            }
            "generic" => match t.get("url").and_then(Value::as_str) {
                Some(url) => Target::generic(url, target_headers(t.get("headers"), i)?)
                    .map_err(|e| bad(e.0))?,
                None => return Err(bad("Generic target requires a url field".to_owned())),
            },
            "youtube" => {
                let key = t
                    .get("streamKey")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .unwrap_or_default();
                if key.is_empty() {
                    continue;
                }
                StreamKey::parse(key)
                    .map(|stream_key| Target::Youtube { stream_key })
                    .map_err(|e| bad(format!("targets[{i}].{}", e.0)))?
            }
            other => return Err(bad(format!("Invalid target type: {other}"))),
        };
        out.push(target);
    }
    Ok(out)
}

/// `POST /live`: opens or joins the session of (key, stream key, domain) and issues a fresh
/// token for it.
///
/// # Errors
/// 400, 401 `API key <reason>`, 403 `Domain not allowed`, 503.
#[utoipa::path(
    post,
    path = "/live",
    tag = "lcyt",
    operation_id = "lcyt_live_open",
    summary = "Open or join a session and get a fresh session token",
    description = "The session id is the first 16 hex characters of SHA-256 of \
        `<apiKey>:<streamKey or \"\">:<normalised domain>`, so clients with the same key, stream \
        key and site share one session (and its mic lock). Every call issues a fresh token. A \
        new session opened with `streamKey` first syncs its clock against YouTube (best effort). \
        No credential: the key is in the body; CORS open.",
    request_body = OpenLiveRequest,
    responses(
        (status = 200, description = "The session and a fresh token.", body = OpenLiveResponse),
        (status = 401, description = "The key is unknown, revoked (or erased) or expired: `API key unknown_key` / `API key revoked` / `API key expired`.", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The domain is not on `ALLOWED_DOMAINS` (`Domain not allowed`).", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn open(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let r: OpenLiveRequest = parse_json(&body)?;
    let (Some(secret), Some(domain)) = (
        r.api_key.filter(|k| !k.is_empty()),
        r.domain.filter(|d| !d.is_empty()),
    ) else {
        return Err(ApiError::BadRequest(
            "apiKey and domain are required".to_owned(),
        ));
    };
    let request = OpenRequest {
        secret,
        domain,
        stream_key: r
            .stream_key
            .filter(|s| !s.is_empty())
            .map(|k| {
                StreamKey::parse(&k)
                    .map(|_| k)
                    .map_err(|e| ApiError::BadRequest(e.0))
            })
            .transpose()?,
        sequence: r
            .sequence
            .as_ref()
            .filter(|v| !v.is_null())
            .map(sequence)
            .transpose()?,
        targets: r.targets.as_ref().map(targets).transpose()?,
    };
    let service = session_service(&state);
    let mut opened = run_short(&state, move || service.open(request)).await?;
    // lcyt's legacy mode syncs a new session's clock against YouTube before answering
    // (best effort: a failure leaves the offset at 0).
    if opened.created && opened.session.primary_stream_key().is_some() {
        if let Ok(synced) = sync::sync_session(&state, &opened.session).await {
            opened.session = synced.session;
        }
    }
    let now = state.ports.clock.now();
    let claims = SessionClaims::new(
        opened.session.reference(),
        opened.key.id,
        state.ports.ids.uuid(),
        now,
        state.settings.session_ttl,
    )
    .in_lifetime(opened.session.started_at);
    let token = state
        .jwt
        .issue(claims)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let s = opened.session;
    Ok(HttpResponse::Ok().json(OpenLiveResponse {
        token,
        sequence: s.sequence,
        sync_offset: s.sync_offset_ms,
        started_at: epoch_ms(s.started_at),
        session_id: s.id,
    }))
}

/// `GET /live`: the session's sequence and clock offset (a heartbeat: it records activity).
#[utoipa::path(
    get,
    path = "/live",
    tag = "lcyt",
    operation_id = "lcyt_live_get",
    summary = "The session's sequence and clock offset (a heartbeat)",
    description = "Records activity on the session, postponing its idle sweep.",
    security(("session_token" = [])),
    responses(
        (status = 200, description = "The session's sequence and sync offset.", body = LiveStateResponse),
    )
)]
pub async fn get(auth: SessionAuth) -> HttpResponse {
    HttpResponse::Ok().json(LiveStateResponse {
        sequence: auth.session.sequence,
        sync_offset: auth.session.sync_offset_ms,
    })
}

/// `PATCH /live`: validates the whole body, then applies it.
///
/// # Errors
/// 400 (nothing changed), 401.
#[utoipa::path(
    patch,
    path = "/live",
    tag = "lcyt",
    operation_id = "lcyt_live_update",
    summary = "Change the session's sequence or targets",
    description = "The whole body is validated first; on any 400 nothing changes. Records \
        activity.",
    request_body = PatchLiveRequest,
    security(("session_token" = [])),
    responses(
        (status = 200, description = "The sequence and the number of targets after the change.", body = PatchLiveResponse),
    )
)]
pub async fn patch(
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let r: PatchLiveRequest = parse_json(&body)?;
    let patch = SessionPatch {
        sequence: r.sequence.as_ref().map(sequence).transpose()?,
        targets: r.targets.as_ref().map(targets).transpose()?,
        sync_offset_ms: None,
    };
    let service = session_service(&state);
    let at = auth.session.reference();
    let session = run_short(&state, move || service.update(&at, &patch))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Session has ended".to_owned()))?;
    Ok(HttpResponse::Ok().json(PatchLiveResponse {
        sequence: session.sequence,
        targets_count: session.targets.len(),
    }))
}

/// `DELETE /live`: ends the session (its subscribers get `session_closed`).
///
/// # Errors
/// 401, 503.
#[utoipa::path(
    delete,
    path = "/live",
    tag = "lcyt",
    operation_id = "lcyt_live_end",
    summary = "End the session",
    description = "Ends the session once: its streams get `session_closed` (then end), a \
        session record is written (see `GET /stats`) and every token of the session is refused \
        from then on.",
    security(("session_token" = [])),
    responses(
        (status = 200, description = "The session ended.", body = EndLiveResponse),
    )
)]
pub async fn end(auth: SessionAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let service = session_service(&state);
    let at = auth.session.reference();
    run_short(&state, move || service.end(&at, EndReason::Client)).await?;
    Ok(HttpResponse::Ok().json(EndLiveResponse {
        removed: true,
        session_id: auth.session.id,
    }))
}
