//! The one error → status table of Tally's HTTP API, rendered as RFC 9457 problem details.
//!
//! Every handler returns `Result<_, ApiError>`; nothing else decides a status code. The body is
//! `{type, title, status, detail, error}` where `error` is the short message lcyt clients read
//! (`"daily_limit_exceeded"`, `"clientId required"`). `docs/API.md` mirrors this table.
//!
//! The mapping of each domain error enum to a variant lives here too, not in the surface that
//! first needed it: several surfaces (and the credential layer) share the same use cases.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tally_domain::ports::{CreateOrgError, CreateUserError};
use tally_domain::services::{
    AuthorizeSessionError, IngestError, IssueKeyError, OpenSessionError, UpdateKeyError,
};
use tally_domain::StoreError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client is told to wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Everything that can go wrong in a request, one variant per status.
///
/// | variant | status | `error` member |
/// |---|---|---|
/// | `BadRequest(msg)` | 400 | `msg` |
/// | `Unauthorized(msg)` | 401 | `msg` |
/// | `Forbidden(msg)` | 403 | `msg` |
/// | `NotFound(msg)` | 404 | `msg` |
/// | `MethodNotAllowed` | 405 | `Method not allowed` |
/// | `Conflict(msg)` | 409 | `msg` |
/// | `PayloadTooLarge` | 413 | `Payload too large` |
/// | `UnsupportedMediaType` | 415 | `Content-Type must be application/json` |
/// | `TooManyRequests{error,..}` | 429 (+ `Retry-After` when known) | `error` |
/// | `NotConfigured(msg)` | 503 (no `Retry-After`: it needs an operator) | `msg` |
/// | `Backlogged` | 429 + `Retry-After: 1` | `delivery_backlog_full` |
/// | `Unavailable(cause)` | 503 + `Retry-After: 5` | `Service unavailable` (cause logged) |
/// | `Internal(cause)` | 500 | `Internal server error` (cause logged) |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Invalid input; the message names the field and the rule.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource (or route).
    #[error("{0}")]
    NotFound(String),
    /// The route exists, the method does not.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with existing state (duplicate key, known e-mail hash).
    #[error("{0}")]
    Conflict(String),
    /// The body exceeds the limit (1 MiB).
    #[error("Payload too large")]
    PayloadTooLarge,
    /// A body not declared `application/json` (or `+json`) on a JSON route.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// A usage limit was reached.
    #[error("{error}")]
    TooManyRequests {
        /// The short reason, e.g. `daily_limit_exceeded`.
        error: String,
        /// Seconds until the limit resets, when it does (daily limits); sent as `Retry-After`.
        retry_after_secs: Option<u64>,
    },
    /// The session's caption deliveries are behind (its queue is full); nothing was metered.
    #[error("delivery_backlog_full")]
    Backlogged,
    /// A feature this request needs is not configured (e.g. no admin key).
    #[error("{0}")]
    NotConfigured(String),
    /// The store cannot be reached; the cause is logged, the client told to retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; the cause is logged with the request id, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The short message clients read in `error`. Never carries an internal cause.
    #[must_use]
    pub fn public_message(&self) -> &str {
        match self {
            Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::NotConfigured(m) => m,
            Self::TooManyRequests { error, .. } => error,
            Self::MethodNotAllowed => "Method not allowed",
            Self::Backlogged => "delivery_backlog_full",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Content-Type must be application/json",
            Self::Unavailable(_) => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::PayloadTooLarge => "The request body exceeds the 1 MiB limit.".to_owned(),
            Self::TooManyRequests { .. } => "A usage limit of this API key was reached.".to_owned(),
            Self::Backlogged => {
                "This session's earlier caption batches are still being delivered; \
                                 nothing was counted, retry after the indicated delay."
                    .to_owned()
            }
            Self::Unavailable(_) => {
                "The store is temporarily unavailable; retry after the indicated delay.".to_owned()
            }
            Self::Internal(_) => {
                "An unexpected error occurred; the X-Request-Id header identifies it in the log."
                    .to_owned()
            }
            _ => self.public_message().to_owned(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } | Self::Backlogged => StatusCode::TOO_MANY_REQUESTS,
            Self::NotConfigured(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = problem_response(self.status_code(), self.public_message(), &self.detail());
        let retry_after = match self {
            Self::TooManyRequests {
                retry_after_secs, ..
            } => *retry_after_secs,
            Self::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            Self::Backlogged => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<UpdateKeyError> for ApiError {
    fn from(e: UpdateKeyError) -> Self {
        match e {
            UpdateKeyError::Invalid(v) => Self::BadRequest(v.0),
            UpdateKeyError::Erased => Self::Conflict("API key is erased".to_owned()),
            UpdateKeyError::Store(s) => s.into(),
        }
    }
}

impl From<IssueKeyError> for ApiError {
    fn from(e: IssueKeyError) -> Self {
        match e {
            IssueKeyError::Invalid(v) => Self::BadRequest(v.0),
            IssueKeyError::Duplicate => {
                Self::Conflict("A key with this value already exists".to_owned())
            }
            IssueKeyError::UnknownOrg => Self::BadRequest("unknown organisation".to_owned()),
            IssueKeyError::EmailKnown => {
                Self::Conflict("A key already exists for this email".to_owned())
            }
            IssueKeyError::Store(s) => s.into(),
        }
    }
}

impl From<AuthorizeSessionError> for ApiError {
    fn from(e: AuthorizeSessionError) -> Self {
        match e {
            AuthorizeSessionError::SessionEnded => {
                Self::Unauthorized("Session has ended".to_owned())
            }
            AuthorizeSessionError::Key(r) => {
                Self::Unauthorized(format!("API key {}", r.lcyt_reason()))
            }
            AuthorizeSessionError::Store(s) => s.into(),
        }
    }
}

impl From<OpenSessionError> for ApiError {
    fn from(e: OpenSessionError) -> Self {
        match e {
            OpenSessionError::Invalid(v) => Self::BadRequest(v.0),
            OpenSessionError::DomainNotAllowed => Self::Forbidden("Domain not allowed".to_owned()),
            OpenSessionError::Key(r) => Self::Unauthorized(format!("API key {}", r.lcyt_reason())),
            OpenSessionError::Store(s) => s.into(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::BatchSize | IngestError::Invalid { .. } => Self::BadRequest(e.to_string()),
            IngestError::Store(s) => s.into(),
        }
    }
}

impl From<CreateUserError> for ApiError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::DuplicateUsername => {
                Self::Conflict("username already taken".to_owned())
            }
            CreateUserError::UnknownOrg => {
                Self::BadRequest("org_id: unknown organisation".to_owned())
            }
            CreateUserError::Store(s) => s.into(),
        }
    }
}

impl From<CreateOrgError> for ApiError {
    fn from(e: CreateOrgError) -> Self {
        match e {
            CreateOrgError::Duplicate => {
                Self::Conflict("an organisation with this id already exists".to_owned())
            }
            CreateOrgError::Store(s) => s.into(),
        }
    }
}

/// An RFC 9457 problem body with Tally's `error` member: the body of every error answer
/// (`application/problem+json`) outside new-api's envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// Always `about:blank`: the status says what happened.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'a str,
    /// The status's reason phrase.
    #[schema(example = "Bad Request")]
    pub title: &'a str,
    /// The HTTP status.
    #[schema(example = 400, minimum = 400, maximum = 599)]
    pub status: u16,
    /// A sentence for humans.
    pub detail: &'a str,
    /// The short message clients read, e.g. `daily_limit_exceeded` or `clientId required`.
    #[schema(example = "clientId required")]
    pub error: &'a str,
}

/// A `application/problem+json` response. `type` is `about:blank`, so `title` is the status's
/// reason phrase; `error` carries the short message and `detail` a sentence for humans.
#[must_use]
pub fn problem_response(status: StatusCode, error: &str, detail: &str) -> HttpResponse {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        error,
    };
    HttpResponse::build(status)
        .content_type(PROBLEM_JSON)
        .body(serde_json::to_string(&body).unwrap_or_default())
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
