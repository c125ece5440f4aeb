//! Extractor configuration: body limits and JSON error bodies for malformed or mistyped input,
//! so that actix's plain-text rejections never reach a client.

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::web;

use crate::error::ApiError;

/// The largest request body accepted (DESIGN §10): a full caption or event batch fits.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// `web::Json` with the 1 MiB limit; bad bodies become 400 (413 when too large). The body must
/// be declared `application/json` (or `+json`): accepting `text/plain` would let a plain HTML
/// form post JSON cross-origin without a CORS preflight.
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
        JsonPayloadError::ContentType => {
            ApiError::BadRequest("Content-Type must be application/json".to_owned())
        }
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
