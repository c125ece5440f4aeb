//! `/live`: open or join a session (fresh token every time), read, change and end it.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tally_auth::SessionClaims;
use tally_domain::services::OpenRequest;
use tally_domain::session::{EndReason, SessionPatch, StreamKey, Target, ViewerKey};

use super::auth::SessionAuth;
use super::sync;
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::run_short;
use crate::state::session_service;
use crate::state::AppState;
use crate::wire::epoch_ms;

/// `POST /live` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenLiveRequest {
    api_key: Option<String>,
    domain: Option<String>,
    stream_key: Option<String>,
    sequence: Option<Value>,
    targets: Option<Value>,
}

/// `PATCH /live` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchLiveRequest {
    sequence: Option<Value>,
    targets: Option<Value>,
}

fn sequence(v: &Value) -> Result<u64, ApiError> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        })
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
        opened.session.id.clone(),
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
    let s = &opened.session;
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "sessionId": s.id,
        "sequence": s.sequence,
        "syncOffset": s.sync_offset_ms,
        "startedAt": epoch_ms(s.started_at),
    })))
}

/// `GET /live`: the session's sequence and clock offset (a heartbeat: it records activity).
pub async fn get(auth: SessionAuth) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "sequence": auth.session.sequence,
        "syncOffset": auth.session.sync_offset_ms,
    }))
}

/// `PATCH /live`: validates the whole body, then applies it.
///
/// # Errors
/// 400 (nothing changed), 401.
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
    let id = auth.session.id.clone();
    let session = run_short(&state, move || service.update(&id, &patch))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Session has ended".to_owned()))?;
    Ok(HttpResponse::Ok()
        .json(json!({ "sequence": session.sequence, "targetsCount": session.targets.len() })))
}

/// `DELETE /live`: ends the session (its subscribers get `session_closed`).
///
/// # Errors
/// 401, 503.
pub async fn end(auth: SessionAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let service = session_service(&state);
    let id = auth.session.id.clone();
    run_short(&state, move || service.end(&id, EndReason::Client)).await?;
    Ok(HttpResponse::Ok().json(json!({ "removed": true, "sessionId": auth.session.id })))
}
