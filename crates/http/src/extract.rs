//! Extractor configuration: body limits and JSON error bodies for malformed or mistyped input,
//! so that actix's plain-text rejections never reach a client.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body accepted (DESIGN §10): a full caption or event batch fits.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// `web::Json` with the 1 MiB limit; bad bodies become 400 (413 when too large). The body must
/// be declared `application/json` (or `+json`): accepting `text/plain` would let a plain HTML
/// form post JSON cross-origin without a CORS preflight.
///
/// actix hands the error handler only the `serde_json` error, so a wrong type is reported
/// without its field path here; handlers that read `web::Bytes` and call [`parse_json`] get
/// messages naming the field.
#[must_use]
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _req| json_error(err).into())
}

/// `web::Query` rejections become 400 naming the parameter.
#[must_use]
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| query_error(&err).into())
}

/// `web::Path` rejections become 400 naming the segment.
#[must_use]
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| path_error(&err).into())
}

/// `web::Bytes` / `String` bodies share the 1 MiB limit.
#[must_use]
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(BODY_LIMIT)
}

/// Maps a JSON body rejection to the error table.
#[must_use]
pub fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. }
        | JsonPayloadError::OverflowKnownLength { .. }
        | JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge,
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::BadRequest(format!("invalid request body: {e}"))
        }
        JsonPayloadError::Deserialize(e) => ApiError::BadRequest(format!("malformed JSON: {e}")),
        JsonPayloadError::Serialize(e) => ApiError::Internal(format!("JSON serialisation: {e}")),
        JsonPayloadError::Payload(e) => {
            ApiError::BadRequest(format!("could not read request body: {e}"))
        }
        other => ApiError::BadRequest(format!("invalid request body: {other}")),
    }
}

/// Parses a JSON request body, naming the field of a data error (DESIGN §6):
/// `invalid request body: lifetime_limit: invalid type: string "many", expected i64`. Nested
/// fields are dotted, array items indexed (`captions[0].text`). Syntax errors keep their
/// position: `malformed JSON: … at line 1 column 9`.
///
/// # Errors
/// 400 `malformed JSON: …` for a body that is not JSON (or is empty), 400
/// `invalid request body: …` for a wrong type, a missing or unknown field or a bad value.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            return ApiError::BadRequest(format!("malformed JSON: {inner}"));
        }
        let message = without_position(&inner);
        if path == "." {
            ApiError::BadRequest(format!("invalid request body: {message}"))
        } else {
            ApiError::BadRequest(format!("invalid request body: {path}: {message}"))
        }
    })?;
    // Trailing characters after the value are malformed JSON, as in `serde_json::from_slice`.
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// A data error's message without serde_json's ` at line L column C`: the field path says
/// where.
fn without_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix)
        .map_or_else(|| full.clone(), ToOwned::to_owned)
}

fn query_error(err: &QueryPayloadError) -> ApiError {
    match err {
        QueryPayloadError::Deserialize(e) => {
            ApiError::BadRequest(format!("invalid query string: {e}"))
        }
        other => ApiError::BadRequest(format!("invalid query string: {other}")),
    }
}

fn path_error(err: &PathError) -> ApiError {
    match err {
        PathError::Deserialize(e) => ApiError::BadRequest(format!("invalid path: {e}")),
        other => ApiError::BadRequest(format!("invalid path: {other}")),
    }
}

/// Whether a `Content-Type` declares JSON: `application/json` or `application/<x>+json`, with
/// any parameters.
#[must_use]
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// The middleware behind DESIGN §6's rule that JSON bodies are declared JSON: a request with
/// a body (a non-zero `Content-Length`, or a chunked one) whose `Content-Type` is not JSON
/// gets 415 before any handler runs; every Tally route with a body takes JSON. Bodiless
/// requests pass whatever they declare (lcyt's Node client sends `application/json` on
/// every call). Part of [`app`](crate::app); embedders wrap it as they wrap the CORS one.
///
/// # Errors
/// The inner service's.
pub async fn require_json(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let headers = req.headers();
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
        || headers.contains_key(header::TRANSFER_ENCODING);
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_media_type);
    if has_body && !json && req.method() != Method::OPTIONS {
        let res = actix_web::ResponseError::error_response(&ApiError::UnsupportedMediaType);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Registers the extractor configurations on a service config (part of
/// [`configure`](crate::configure)).
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(query_config())
        .app_data(path_config())
        .app_data(payload_config());
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
