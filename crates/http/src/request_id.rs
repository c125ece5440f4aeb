//! `X-Request-Id` on every response, request logging, and the last line of defence that turns
//! any non-JSON error response (an actix default, a forgotten extractor config) into a problem
//! body.

use std::future::{ready, Ready};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};

use crate::error::problem_response;

/// The header that carries the request id, in and out.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const MAX_LEN: usize = 128;

/// The id of the current request: the caller's `X-Request-Id` when it is sane (1–128
/// characters of `[A-Za-z0-9._:-]`), otherwise a fresh UUID. Extract it in a handler to tag
/// log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The incoming id when sane, else a new one.
    #[must_use]
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|s| is_sane(s))
            .map_or_else(Self::generate, |s| Self(s.to_owned()))
    }

    /// A fresh random id.
    #[must_use]
    pub fn generate() -> Self {
        Self(tally_domain::IdGenerator::uuid(&tally_auth::OsIds).to_string())
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_sane(s: &str) -> bool {
    (1..=MAX_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req.extensions().get::<Self>().cloned();
        ready(Ok(id.unwrap_or_else(|| Self::from_headers(req.headers()))))
    }
}

/// The middleware: wrap the app with
/// `actix_web::middleware::from_fn(tally_http::request_id_middleware)`.
///
/// It assigns the [`RequestId`], logs each request (5xx with the error's cause), replaces any
/// error response that is not JSON by a problem body, and sets `X-Request-Id`.
///
/// # Errors
/// Only an error the inner service itself fails with (handler and extractor errors arrive as
/// responses, not as errors).
pub async fn request_id_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = RequestId::from_headers(req.headers());
    req.extensions_mut().insert(id.clone());
    let started = Instant::now();
    let res = next.call(req).await?.map_into_boxed_body();
    log(&res, &id, started);
    let mut res = ensure_json_error(res);
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(res)
}

/// What kind of credential a request carried, for the access log (never the credential).
fn principal_kind(req: &HttpRequest) -> &'static str {
    let headers = req.headers();
    if headers.contains_key("x-admin-key") {
        return "admin_key";
    }
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        // A JWT (session or user token) has three dot-separated parts; anything else is a key.
        Some(t) if t.split('.').count() == 3 => "token",
        Some(_) => "api_key",
        None if req.query_string().contains("token=") => "token",
        None => "none",
    }
}

fn log(res: &ServiceResponse<BoxBody>, id: &RequestId, started: Instant) {
    let status = res.status().as_u16();
    let method = res.request().method();
    let path = res.request().path();
    let elapsed = started.elapsed();
    let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let metered = crate::observe::enabled();
    let logged = if res.status().is_server_error() {
        tracing::enabled!(target: "tally_http::access", tracing::Level::ERROR)
    } else {
        tracing::enabled!(target: "tally_http::access", tracing::Level::INFO)
    };
    if !metered && !logged {
        return;
    }
    let route = res.request().match_pattern();
    let route = route.as_deref().unwrap_or(crate::observe::UNMATCHED);
    crate::observe::http_request(method.as_str(), route, status, elapsed);
    if !logged {
        return;
    }
    let cause = res.response().error().map(ToString::to_string);
    let principal = principal_kind(res.request());
    // The access log: one line per request under target `tally_http::access` (turn it off
    // with `RUST_LOG=info,tally_http::access=off`). The path is logged without its query
    // string, which may hold an `EventSource` token.
    if res.status().is_server_error() {
        tracing::error!(target: "tally_http::access", request_id = %id, %method, route, path,
            status, elapsed_us, principal, cause, "request failed");
    } else {
        tracing::info!(target: "tally_http::access", request_id = %id, %method, route, path,
            status, elapsed_us, principal, "request");
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/json") || ct.starts_with("application/problem+json")
        })
}

fn ensure_json_error(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(res.headers()) {
        return res;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let detail = match res.response().error() {
        Some(e) if status.is_client_error() => e.to_string(),
        _ => reason.to_owned(),
    };
    let (req, old) = res.into_parts();
    let mut new: HttpResponse = problem_response(status, reason, &detail);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

#[cfg(test)]
#[path = "request_id_tests.rs"]
mod tests;
