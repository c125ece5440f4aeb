//! `POST /v1/verify`: the gateway hot path — check a key and meter usage atomically.

use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::key::KeyRejection;
use tally_domain::limits::{next_daily_reset, KeyUsage, LimitExceeded, Limits, Remaining, Units};
use tally_domain::services::{MeterService, VerifyError};
use tally_domain::usage::EventKind;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::event_input::EventInput;
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::ratelimit;
use crate::run_then;
use crate::state::AppState;
use crate::wire::iso;

/// `POST /v1/verify` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = v1::VerifyRequest)]
pub struct VerifyRequest {
    /// The raw API key the product's client presented.
    #[schema(value_type = String, required = true, min_length = 1)]
    key: Option<String>,
    /// Units to count; default 1. `0` checks without using anything.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    units: Option<i64>,
    /// The usage event to record, as in `POST /v1/events`: its `units` and `occurred_at` are
    /// validated, then replaced by `units` and now; its organisation, user and key are the
    /// verified key's. `kind` defaults to `request`.
    event: Option<EventInput>,
}

/// The outcome of a verification that reached the limits.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = v1::VerifyCode)]
pub enum VerifyCode {
    /// Allowed and counted (200).
    Valid,
    /// The daily limit would be crossed; nothing counted (429).
    DailyLimitExceeded,
    /// The lifetime limit would be crossed; nothing counted (429).
    LifetimeLimitExceeded,
}

/// Why a presented key is unusable (401).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = v1::KeyRejectionCode)]
pub enum RejectionCode {
    /// No key has this secret (or it was hard-deleted).
    NotFound,
    /// Revoked or erased.
    Revoked,
    /// Past its `expires_at`.
    Expired,
}

/// What a key has left.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::Remaining)]
pub struct RemainingResponse {
    /// Units left today; `null` when the key has no daily limit.
    #[schema(required = true)]
    pub daily: Option<u64>,
    /// Units left over the key's life; `null` when it has no lifetime limit.
    #[schema(required = true)]
    pub lifetime: Option<u64>,
}

/// The answer of a verification that reached the limits: 200 allowed, 429 refused.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::Verification)]
pub struct VerifyResponse {
    /// `true` on 200, `false` on 429.
    pub valid: bool,
    /// `VALID` on 200; which limit on 429.
    pub code: VerifyCode,
    /// What is left after this request (200), or as it stands (429).
    pub remaining: RemainingResponse,
    /// The next UTC midnight, when the daily allowance starts again.
    #[schema(schema_with = super::schema::time)]
    pub reset: String,
}

/// The 401 answer for an unusable presented key.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::VerifyRejection)]
pub struct VerifyRejection {
    /// Always `false`.
    pub valid: bool,
    /// Why.
    pub code: RejectionCode,
}

fn body(
    valid: bool,
    code: VerifyCode,
    limits: Limits,
    usage: KeyUsage,
    now: time::OffsetDateTime,
) -> VerifyResponse {
    let remaining = Remaining::of(limits, usage);
    VerifyResponse {
        valid,
        code,
        remaining: RemainingResponse {
            daily: remaining.daily,
            lifetime: remaining.lifetime,
        },
        reset: iso(next_daily_reset(now)),
    }
}

/// `POST /v1/verify` (admin credential, i.e. the product's gateway): `{key, units?, event?}`.
/// 200 `{valid: true, code: "VALID", remaining, reset}`; 429 with `valid: false` and
/// `DAILY_LIMIT_EXCEEDED`/`LIFETIME_LIMIT_EXCEEDED` (+ `Retry-After` for daily); 401 with
/// `NOT_FOUND`/`REVOKED`/`EXPIRED` for an unusable key. Rate-limit headers on 200 and 429.
///
/// # Errors
/// 400 for bad input, 401/403 for the caller's credential, 503.
#[utoipa::path(
    post,
    path = "/v1/verify",
    tag = "v1",
    operation_id = "v1_keys_verify",
    summary = "Check an API key and meter usage atomically (the gateway's hot path)",
    description = "Called by the product's gateway with the admin credential. The key is \
        checked (unknown, erased, revoked, expired), then the lifetime limit, then the daily \
        limit (UTC day), and `units` are counted and the event recorded, all or nothing. An \
        `Idempotency-Key` header (or `event.idempotency_key`, which wins) already used in the \
        key's organisation answers 200 again and counts nothing. 400 (bad body) counts \
        nothing and looks no key up.",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the call idempotent within the key's organisation (1-255 visible ASCII characters)."),
    ),
    request_body = VerifyRequest,
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "Allowed and counted.", body = VerifyResponse,
            headers(
                ("RateLimit-Policy" = String, description = "Each limit the key has: `\"daily\";q=<limit>;w=86400`, `\"lifetime\";q=<limit>` (absent for an unlimited key)."),
                ("RateLimit" = String, description = "What is left of each: `\"daily\";r=<left>;t=<seconds to reset>`, `\"lifetime\";r=<left>` (absent for an unlimited key)."),
            )),
        (status = 401, description = "The presented key is unusable (`application/json`, `valid: false` and a code), or the caller's own credential is missing or invalid (a problem document).",
            content(
                (VerifyRejection = "application/json"),
                (Problem = "application/problem+json"),
            )),
        (status = 429, description = "A limit would be crossed; nothing counted.", body = VerifyResponse,
            headers(
                ("Retry-After" = u64, description = "Seconds to the next UTC midnight; only for the daily limit."),
                ("RateLimit-Policy" = String, description = "As on 200."),
                ("RateLimit" = String, description = "As on 200."),
            )),
    )
)]
pub async fn verify(
    p: Principal,
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let r: VerifyRequest = parse_json(&raw)?;
    let secret = r
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::BadRequest("key is required".to_owned()))?;
    let units = Units::new(r.units.unwrap_or(1)).map_err(|e| ApiError::BadRequest(e.0))?;
    let now = state.ports.clock.now();
    let idem = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok());
    let mut event = r
        .event
        .unwrap_or_default()
        .into_event(&p, EventKind::Request, idem, now)
        .map_err(|m| ApiError::BadRequest(format!("event: {m}")))?;
    event.units = units.get();
    let service = MeterService::new(state.ports.clone());
    let started = std::time::Instant::now();
    let outcome = run_then(|done| {
        service.verify_then(
            &secret,
            units,
            event,
            Box::new(move |r| done(Ok::<_, ApiError>(r))),
        );
    })
    .await?;
    crate::observe::meter(&outcome, started.elapsed());
    match outcome {
        Ok(m) => {
            let mut res = HttpResponse::Ok();
            ratelimit::headers(&mut res, m.limits, m.usage, now);
            Ok(res.json(body(true, VerifyCode::Valid, m.limits, m.usage, now)))
        }
        Err(VerifyError::Limit {
            exceeded,
            usage,
            limits,
            retry_after,
        }) => {
            let code = match exceeded {
                LimitExceeded::Daily => VerifyCode::DailyLimitExceeded,
                LimitExceeded::Lifetime => VerifyCode::LifetimeLimitExceeded,
            };
            let mut res = HttpResponse::TooManyRequests();
            ratelimit::headers(&mut res, limits, usage, now);
            let mut res = res.json(body(false, code, limits, usage, now));
            if let Some(secs) = retry_after {
                res.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            Ok(res)
        }
        Err(VerifyError::Key(rejection)) => {
            let code = match rejection {
                KeyRejection::UnknownKey => RejectionCode::NotFound,
                KeyRejection::Revoked | KeyRejection::Erased => RejectionCode::Revoked,
                KeyRejection::Expired => RejectionCode::Expired,
            };
            Ok(HttpResponse::Unauthorized().json(VerifyRejection { valid: false, code }))
        }
        Err(e) => Err(e.into()),
    }
}
