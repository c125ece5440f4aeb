//! `RateLimit-Policy` / `RateLimit` headers (IETF draft `draft-ietf-httpapi-ratelimit-headers`)
//! and the 429 of a refused metered request.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use tally_domain::limits::{seconds_until_daily_reset, KeyUsage, Limits, Remaining};
use tally_domain::services::VerifyError;
use time::OffsetDateTime;

use crate::error::ApiError;

/// Adds the rate-limit headers to a response being built.
pub fn headers(
    res: &mut HttpResponseBuilder,
    limits: Limits,
    usage: KeyUsage,
    now: OffsetDateTime,
) {
    for pair in header_pairs(limits, usage, now) {
        res.insert_header(pair);
    }
}

/// Adds the rate-limit headers to a finished response (e.g. an error's).
pub fn add_headers(res: &mut HttpResponse, limits: Limits, usage: KeyUsage, now: OffsetDateTime) {
    for (name, value) in header_pairs(limits, usage, now) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
}

/// The policy and the remaining quota of every limit the key has: `"daily"` with a one-day
/// window resetting at UTC midnight, `"lifetime"` without a window. Empty for an unlimited key.
#[must_use]
pub fn header_pairs(
    limits: Limits,
    usage: KeyUsage,
    now: OffsetDateTime,
) -> Vec<(&'static str, String)> {
    let remaining = Remaining::of(limits, usage);
    let mut policy = Vec::new();
    let mut state = Vec::new();
    if let (Some(q), Some(r)) = (limits.daily, remaining.daily) {
        policy.push(format!("\"daily\";q={q};w=86400"));
        state.push(format!(
            "\"daily\";r={r};t={}",
            seconds_until_daily_reset(now)
        ));
    }
    if let (Some(q), Some(r)) = (limits.lifetime, remaining.lifetime) {
        policy.push(format!("\"lifetime\";q={q}"));
        state.push(format!("\"lifetime\";r={r}"));
    }
    if policy.is_empty() {
        return Vec::new();
    }
    vec![
        ("ratelimit-policy", policy.join(", ")),
        ("ratelimit", state.join(", ")),
    ]
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Invalid(v) => Self::BadRequest(v.0),
            VerifyError::Key(r) => Self::Unauthorized(format!("API key {}", r.lcyt_reason())),
            VerifyError::SessionEnded => Self::Unauthorized("Session has ended".to_owned()),
            VerifyError::Limit {
                exceeded,
                retry_after,
                ..
            } => Self::TooManyRequests {
                error: exceeded.code().to_owned(),
                retry_after_secs: retry_after,
            },
            VerifyError::Store(s) => s.into(),
        }
    }
}
