//! `POST /captions`: meter a caption batch (one unit per caption), answer 202, then deliver it
//! in order.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tally_domain::caption::{compose, Caption, CaptionTime};
use tally_domain::services::{MeterService, VerifyError};
use tally_domain::session::Session;

use super::auth::SessionAuth;
use crate::delivery::Job;
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::ratelimit;
use crate::run_short;
use crate::state::AppState;

/// Most captions per request.
pub const MAX_CAPTIONS: usize = 100;
/// Longest caption text, in characters.
pub const MAX_TEXT: usize = 5_000;

/// `POST /captions` body.
#[derive(Debug, Deserialize)]
pub struct CaptionsRequest {
    captions: Option<Value>,
}

fn object(
    c: &Value,
    i: usize,
    field: &str,
) -> Result<Option<serde_json::Map<String, Value>>, ApiError> {
    match c.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(ApiError::BadRequest(format!(
            "captions[{i}].{field} must be an object"
        ))),
    }
}

/// Validates a batch and resolves each caption's time against the session (`time` is ms
/// since `started_at`, shifted by the session's sync offset) and its composed text.
fn parse_captions(v: Option<&Value>, session: &Session) -> Result<Vec<Caption>, ApiError> {
    let bad = |m: &str| ApiError::BadRequest(m.to_owned());
    let items = v
        .and_then(Value::as_array)
        .ok_or_else(|| bad("captions must be a non-empty array"))?;
    if items.is_empty() {
        return Err(bad("captions must be a non-empty array"));
    }
    if items.len() > MAX_CAPTIONS {
        return Err(bad("at most 100 captions per request"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |f: &str, m: &str| ApiError::BadRequest(format!("captions[{i}].{f} {m}"));
            let text = c
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| field("text", "must be a string"))?;
            if text.chars().count() > MAX_TEXT {
                return Err(field(
                    "text",
                    &format!("must be at most {MAX_TEXT} characters"),
                ));
            }
            let time = CaptionTime::resolve(
                c.get("timestamp"),
                c.get("time"),
                session.started_at,
                session.sync_offset_ms,
            )
            .map_err(|(name, e)| ApiError::BadRequest(format!("captions[{i}].{name}: {e}")))?;
            let translations = object(c, i, "translations")?;
            let caption_lang = match c.get("captionLang") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.len() <= 64 => Some(s.clone()),
                Some(_) => {
                    return Err(field(
                        "captionLang",
                        "must be a string of at most 64 characters",
                    ))
                }
            };
            let show_original = match c.get("showOriginal") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(field("showOriginal", "must be a boolean")),
            };
            let composed_text = compose(
                text,
                caption_lang.as_deref().filter(|l| !l.is_empty()),
                translations.as_ref(),
                show_original.unwrap_or(false),
            );
            Ok(Caption {
                text: text.to_owned(),
                composed_text,
                time,
                translations,
                caption_lang,
                show_original,
                codes: object(c, i, "codes")?,
            })
        })
        .collect()
}

/// `POST /captions`: meters `n` units for `n` captions (429 and nothing counted when a limit
/// would be crossed, or when [`MAX_BACKLOG`](crate::delivery::MAX_BACKLOG) batches of the
/// session still wait for delivery), answers `202 {ok, requestId}`, then delivers the batch.
///
/// # Errors
/// 400, 401, 429 (+ `Retry-After`: the daily limit's reset, or 1 s for a full delivery
/// queue), 503.
pub async fn post(
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let r: CaptionsRequest = parse_json(&body)?;
    let captions = parse_captions(r.captions.as_ref(), &auth.session)?;
    // A place in the session's delivery queue first: a session whose deliveries are behind is
    // refused before anything is metered.
    let reservation = state
        .delivery
        .reserve(&auth.session.id)
        .map_err(|_| ApiError::Backlogged)?;
    let service = MeterService::new(state.ports.clone());
    let request_id = service.request_id().to_string();
    let (session, key) = (auth.session.clone(), auth.key.clone());
    let n = captions.len() as u64;
    let now = state.ports.clock.now();
    let metered = match run_short(&state, move || {
        Ok::<_, ApiError>(service.meter_captions(&session, &key, n))
    })
    .await?
    {
        Ok(m) => m,
        Err(e @ VerifyError::Limit { usage, limits, .. }) => {
            let mut res = actix_web::ResponseError::error_response(&ApiError::from(e));
            ratelimit::add_headers(&mut res, limits, usage, now);
            return Ok(res);
        }
        Err(e) => return Err(e.into()),
    };
    let sequence = metered.sequence.unwrap_or(auth.session.sequence);
    state.delivery.enqueue(
        reservation,
        Job {
            session: auth.session,
            request_id: request_id.clone(),
            sequence,
            captions,
        },
    );
    let mut res = HttpResponse::Accepted();
    ratelimit::headers(&mut res, metered.limits, metered.usage, now);
    Ok(res.json(json!({ "ok": true, "requestId": request_id })))
}
