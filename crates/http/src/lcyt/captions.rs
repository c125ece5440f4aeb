//! `POST /captions`: meter a caption batch (one unit per caption), answer 202, then deliver it
//! in order.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use tally_domain::caption::{compose, Caption, CaptionTime, TimeInput};
use tally_domain::services::{MeterService, VerifyError};
use tally_domain::session::Session;
use utoipa::ToSchema;

use super::auth::SessionToken;
use super::captions_body::{CaptionList, CaptionsRequest};
use crate::cors::SessionDomain;
use crate::delivery::Job;
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::ratelimit;
use crate::state::AppState;
use crate::{observe, run_then};

pub use super::captions_body::MAX_CAPTIONS;

/// Longest caption text, in characters.
pub const MAX_TEXT: usize = 5_000;

/// The answer of an accepted `POST /captions`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptionsAccepted {
    /// Always `true`.
    pub ok: bool,
    /// The request's id, also in its `caption_result` / `caption_error` event.
    #[schema(format = Uuid)]
    pub request_id: String,
}

fn object(
    v: Option<Value>,
    i: usize,
    field: &str,
) -> Result<Option<serde_json::Map<String, Value>>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(ApiError::BadRequest(format!(
            "captions[{i}].{field} must be an object"
        ))),
    }
}

/// A validated caption whose time may still need its session (`time` is ms since the
/// session started): the handler validates the whole batch before it meters, and learns the
/// session from the meter.
#[derive(Debug)]
struct Pending {
    caption: Caption,
    time: TimeInput,
}

impl Pending {
    /// The caption within `session` (`time` becomes `startedAt + time + syncOffset`).
    fn in_session(self, session: &Session) -> Caption {
        let Self { mut caption, time } = self;
        caption.time = time
            .in_session(session.started_at, session.sync_offset_ms)
            // `time` is bounded by parsing to ±10¹³ ms (about 317 years) and a sync offset
            // to a day, so from a session's start this cannot overflow.
            .unwrap_or_else(|(_, e)| {
                tracing::error!(error = %e, "a validated caption time did not resolve");
                CaptionTime::Unset
            });
        caption
    }
}

/// Validates a batch: each caption's text, time fields, translations and codes.
fn parse_captions(list: Option<CaptionList>) -> Result<Vec<Pending>, ApiError> {
    let bad = |m: &str| ApiError::BadRequest(m.to_owned());
    let items = list
        .and_then(|l| l.0)
        .ok_or_else(|| bad("captions must be a non-empty array"))?;
    if items.is_empty() {
        return Err(bad("captions must be a non-empty array"));
    }
    if items.len() > MAX_CAPTIONS {
        return Err(bad("at most 100 captions per request"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |f: &str, m: &str| ApiError::BadRequest(format!("captions[{i}].{f} {m}"));
            let Some(Value::String(text)) = c.text else {
                return Err(field("text", "must be a string"));
            };
            if text.chars().count() > MAX_TEXT {
                return Err(field(
                    "text",
                    &format!("must be at most {MAX_TEXT} characters"),
                ));
            }
            let time = TimeInput::parse(c.timestamp.as_ref(), c.time.as_ref())
                .map_err(|(name, e)| ApiError::BadRequest(format!("captions[{i}].{name}: {e}")))?;
            let translations = object(c.translations, i, "translations")?;
            let caption_lang = match c.caption_lang {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.len() <= 64 => Some(s),
                Some(_) => {
                    return Err(field(
                        "captionLang",
                        "must be a string of at most 64 characters",
                    ))
                }
            };
            let show_original = match c.show_original {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(b),
                Some(_) => return Err(field("showOriginal", "must be a boolean")),
            };
            let composed_text = compose(
                &text,
                caption_lang.as_deref().filter(|l| !l.is_empty()),
                translations.as_ref(),
                show_original.unwrap_or(false),
            );
            Ok(Pending {
                caption: Caption {
                    text,
                    composed_text,
                    time: CaptionTime::Unset,
                    translations,
                    caption_lang,
                    show_original,
                    codes: object(c.codes, i, "codes")?,
                },
                time,
            })
        })
        .collect()
}

/// `POST /captions`: meters `n` units for `n` captions (429 and nothing counted when a limit
/// would be crossed, or when [`MAX_BACKLOG`](crate::delivery::MAX_BACKLOG) batches of the
/// session still wait for delivery), answers `202 {ok, requestId}`, then delivers the batch.
///
/// The request costs one store call: the meter checks that the token's session is open, in
/// the token's lifetime and the key's, that the key is usable, and records the activity. An
/// answer that fails before the meter admits it reads the session (as every session route
/// does) so it answers exactly like them: the session's own 401 first, and CORS headers for
/// the session's domain.
///
/// # Errors
/// 400, 401, 429 (+ `Retry-After`: the daily limit's reset, or 1 s for a full delivery
/// queue), 503.
#[utoipa::path(
    post,
    path = "/captions",
    tag = "lcyt",
    operation_id = "lcyt_captions_send",
    summary = "Send a caption batch (metered: one unit per caption)",
    description = "The whole batch is validated, then metered atomically, one unit per \
        caption: the key must be usable, then the lifetime limit, then the daily limit (UTC \
        day); a batch that would cross either is refused whole and counts nothing. After the \
        202 the batch is delivered in order to the session's targets (or, without any, to its \
        own `GET /events` subscribers); the outcome arrives as `caption_result` or \
        `caption_error` on the session's streams.",
    request_body = super::contract::CaptionsBody,
    security(("session_token" = [])),
    responses(
        (status = 202, description = "Accepted and metered; delivery follows.", body = CaptionsAccepted,
            headers(
                ("RateLimit-Policy" = String, description = "Each limit of the key (IETF draft), e.g. `\"daily\";q=1000;w=86400, \"lifetime\";q=50000`; absent for an unlimited key."),
                ("RateLimit" = String, description = "What remains of each limit after this request, e.g. `\"daily\";r=958;t=40271, \"lifetime\";r=48766`; absent for an unlimited key."),
            )),
        (status = 429, description = "Nothing was counted: the batch would cross the key's lifetime limit (`lifetime_limit_exceeded`, no `Retry-After`) or daily limit (`daily_limit_exceeded`, `Retry-After` = seconds to the next UTC midnight), both with the rate-limit headers; or 64 earlier batches of the session still wait for delivery (`delivery_backlog_full`, `Retry-After: 1`).",
            body = crate::error::Problem, content_type = "application/problem+json",
            headers(
                ("Retry-After" = u64, description = "Seconds to wait: to the next UTC midnight (daily limit), 1 (delivery backlog); absent for the lifetime limit."),
                ("RateLimit-Policy" = String, description = "Each limit of the key, on a limit refusal."),
                ("RateLimit" = String, description = "What remains of each limit, on a limit refusal."),
            )),
    )
)]
pub async fn post(
    token: SessionToken,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let pending =
        match parse_json::<CaptionsRequest>(&body).and_then(|r| parse_captions(r.captions)) {
            Ok(pending) => pending,
            Err(e) => return Err(refusal(&token, &req, e).await),
        };
    let session_id = token.claims.sid.clone();
    // A place in the session's delivery queue first: a session whose deliveries are behind is
    // refused before anything is metered.
    let Ok(reservation) = state.delivery.reserve(&session_id) else {
        return Err(refusal(&token, &req, ApiError::Backlogged).await);
    };
    let service = MeterService::new(state.ports.clone());
    let request_id = service.request_id().to_string();
    let n = pending.len() as u64;
    let now = state.ports.clock.now();
    let started = std::time::Instant::now();
    let metered = run_then(|done| {
        service.meter_captions_then(
            &token.claims.session(),
            token.lifetime,
            n,
            Box::new(move |r| done(Ok::<_, ApiError>(r))),
        );
    })
    .await?;
    observe::meter(&metered, started.elapsed());
    let metered = match metered {
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
    let captions = pending
        .into_iter()
        .map(|p| p.in_session(&session))
        .collect();
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
    Ok(res.json(CaptionsAccepted {
        ok: true,
        request_id,
    }))
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
