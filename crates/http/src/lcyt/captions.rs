//! `POST /captions`: meter a caption batch (one unit per caption), answer 202, then deliver it
//! in order.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tally_domain::services::{MeterService, VerifyError};

use super::auth::SessionToken;
use crate::cors::SessionDomain;
use crate::delivery::{Caption, Job};
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::ratelimit;
use crate::run_then;
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

fn parse_captions(v: Option<&Value>) -> Result<Vec<Caption>, ApiError> {
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
            let text = c.get("text").and_then(Value::as_str).ok_or_else(|| {
                ApiError::BadRequest(format!("captions[{i}].text must be a string"))
            })?;
            if text.chars().count() > MAX_TEXT {
                return Err(ApiError::BadRequest(format!(
                    "captions[{i}].text must be at most {MAX_TEXT} characters"
                )));
            }
            let timestamp = match c.get("timestamp").or_else(|| c.get("time")) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.chars().count() <= 64 => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(_) => {
                    return Err(ApiError::BadRequest(format!(
                    "captions[{i}].timestamp must be a number or a string of at most 64 characters"
                )))
                }
            };
            Ok(Caption {
                text: text.to_owned(),
                timestamp,
            })
        })
        .collect()
}

/// `POST /captions`: meters `n` units for `n` captions (429 and nothing counted when a limit
/// would be crossed, or when [`MAX_BACKLOG`](crate::delivery::MAX_BACKLOG) batches of the
/// session still wait for delivery), answers `202 {ok, requestId}`, then delivers the batch.
///
/// The request costs one store call: the meter checks that the token's session is open and
/// its key usable, and records the activity. An answer that fails before the meter reads the
/// session (as every session route does) so it answers exactly like them: the session's own
/// 401 first, and CORS headers for the session's domain.
///
/// # Errors
/// 400, 401, 429 (+ `Retry-After`: the daily limit's reset, or 1 s for a full delivery
/// queue), 503.
pub async fn post(
    token: SessionToken,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let captions = match parse_json::<CaptionsRequest>(&body)
        .and_then(|r| parse_captions(r.captions.as_ref()))
    {
        Ok(captions) => captions,
        Err(e) => return Err(refusal(&token, &req, e).await),
    };
    let session_id = token.0.sid.clone();
    // A place in the session's delivery queue first: a session whose deliveries are behind is
    // refused before anything is metered.
    let Ok(reservation) = state.delivery.reserve(&session_id) else {
        return Err(refusal(&token, &req, ApiError::Backlogged).await);
    };
    let service = MeterService::new(state.ports.clone());
    let request_id = service.request_id().to_string();
    let n = captions.len() as u64;
    let now = state.ports.clock.now();
    let metered = match run_then(|done| {
        service.meter_captions_then(
            &session_id,
            token.0.kid,
            n,
            Box::new(move |r| done(Ok::<_, ApiError>(r))),
        );
    })
    .await?
    {
        Ok(m) => m,
        Err(e @ VerifyError::Limit { usage, limits, .. }) => {
            let e = refusal(&token, &req, ApiError::from(e)).await;
            let mut res = actix_web::ResponseError::error_response(&e);
            if matches!(e, ApiError::TooManyRequests { .. }) {
                ratelimit::add_headers(&mut res, limits, usage, now);
            }
            return Ok(res);
        }
        Err(e) => return Err(refusal(&token, &req, e.into()).await),
    };
    let Some(session) = metered.session else {
        return Err(ApiError::Internal(
            "the caption meter answered without its session".to_owned(),
        ));
    };
    req.extensions_mut()
        .insert(SessionDomain(session.domain.clone()));
    let sequence = metered.sequence.unwrap_or(session.sequence);
    state.delivery.enqueue(
        reservation,
        Job {
            session,
            request_id: request_id.clone(),
            sequence,
            captions,
        },
    );
    let mut res = HttpResponse::Accepted();
    ratelimit::headers(&mut res, metered.limits, metered.usage, now);
    Ok(res.json(json!({ "ok": true, "requestId": request_id })))
}

/// The answer to a caption request refused with `error`, as every session route answers:
/// the session's own 401 when it has ended or its key is unusable (that comes first), else
/// `error` with CORS headers for the session's domain.
async fn refusal(token: &SessionToken, req: &HttpRequest, error: ApiError) -> ApiError {
    match token.authorize(req).await {
        Ok(_) => error,
        Err(session_error) => session_error,
    }
}
