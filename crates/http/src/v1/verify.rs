//! `POST /v1/verify`: the gateway hot path — check a key and meter usage atomically.

use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use tally_domain::key::KeyRejection;
use tally_domain::limits::{next_daily_reset, KeyUsage, LimitExceeded, Limits, Remaining, Units};
use tally_domain::services::{MeterService, VerifyError};
use tally_domain::usage::EventKind;

use crate::error::ApiError;
use crate::event_input::EventInput;
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::ratelimit;
use crate::run_then;
use crate::state::AppState;
use crate::wire::iso;

/// `POST /v1/verify` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    key: Option<String>,
    units: Option<i64>,
    event: Option<EventInput>,
}

fn body(
    valid: bool,
    code: &str,
    limits: Limits,
    usage: KeyUsage,
    now: time::OffsetDateTime,
) -> serde_json::Value {
    let remaining = Remaining::of(limits, usage);
    json!({
        "valid": valid,
        "code": code,
        "remaining": { "daily": remaining.daily, "lifetime": remaining.lifetime },
        "reset": iso(next_daily_reset(now)),
    })
}

/// `POST /v1/verify` (admin credential, i.e. the product's gateway): `{key, units?, event?}`.
/// 200 `{valid: true, code: "VALID", remaining, reset}`; 429 with `valid: false` and
/// `DAILY_LIMIT_EXCEEDED`/`LIFETIME_LIMIT_EXCEEDED` (+ `Retry-After` for daily); 401 with
/// `NOT_FOUND`/`REVOKED`/`EXPIRED` for an unusable key. Rate-limit headers on 200 and 429.
///
/// # Errors
/// 400 for bad input, 401/403 for the caller's credential, 503.
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
            Ok(res.json(body(true, "VALID", m.limits, m.usage, now)))
        }
        Err(VerifyError::Limit {
            exceeded,
            usage,
            limits,
            retry_after,
        }) => {
            let code = match exceeded {
                LimitExceeded::Daily => "DAILY_LIMIT_EXCEEDED",
                LimitExceeded::Lifetime => "LIFETIME_LIMIT_EXCEEDED",
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
                KeyRejection::UnknownKey => "NOT_FOUND",
                KeyRejection::Revoked | KeyRejection::Erased => "REVOKED",
                KeyRejection::Expired => "EXPIRED",
            };
            Ok(HttpResponse::Unauthorized().json(json!({ "valid": false, "code": code })))
        }
        Err(e) => Err(e.into()),
    }
}
