//! Credentials of the lcyt surface: the admin key and session tokens.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use tally_auth::{admin_key_matches, SessionClaims};
use tally_domain::key::ApiKey;
use tally_domain::services::{AuthorizeSessionError, SessionService, SessionSettings};
use tally_domain::session::Session;

use crate::cors::SessionDomain;
use crate::error::ApiError;
use crate::run_short;
use crate::state::AppState;

/// The header carrying the admin key.
pub const ADMIN_KEY_HEADER: &str = "X-Admin-Key";

/// Proof that the request carries the configured admin key. Checked in this order: no admin
/// key configured → 503; header missing → 401; wrong → 403 (constant-time compare).
#[derive(Debug, Clone, Copy)]
pub struct Admin;

/// Checks the admin key of a request.
///
/// # Errors
/// 503 when none is configured (`Admin API not configured`), 401 when the header is missing,
/// 403 when it is wrong or another (non-admin) credential is presented instead.
pub fn check_admin(req: &HttpRequest, state: &AppState) -> Result<Admin, ApiError> {
    let Some(configured) = state.settings.admin_key.as_deref() else {
        return Err(ApiError::NotConfigured(
            "Admin API not configured".to_owned(),
        ));
    };
    let presented = req
        .headers()
        .get(ADMIN_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let Some(presented) = presented else {
        // Another credential (a session token, a key) is authenticated but not an admin.
        return Err(if req.headers().contains_key(header::AUTHORIZATION) {
            ApiError::Forbidden("Admin access required".to_owned())
        } else {
            ApiError::Unauthorized("X-Admin-Key header required".to_owned())
        });
    };
    if admin_key_matches(presented, configured) {
        Ok(Admin)
    } else {
        Err(ApiError::Forbidden("Invalid admin key".to_owned()))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state_of(req).and_then(|s| check_admin(req, &s)))
    }
}

/// The app state of a request.
///
/// # Errors
/// 500 when the app was mounted without state (a wiring bug).
pub fn state_of(req: &HttpRequest) -> Result<AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(|| ApiError::Internal("AppState missing".to_owned()))
}

/// The session service of this app.
#[must_use]
pub fn session_service(state: &AppState) -> SessionService {
    let ttl =
        time::Duration::try_from(state.settings.session_ttl).unwrap_or(time::Duration::hours(2));
    SessionService::new(
        state.ports.clone(),
        SessionSettings {
            allowed_domains: state.settings.allowed_domains.clone(),
            idle_ttl: ttl,
        },
    )
}

/// The path whose token may also come in the query string.
pub const QUERY_TOKEN_PATH: &str = "/events";

/// The bearer token of a request: `Authorization: Bearer …`, else — on `GET /events` only,
/// for `EventSource`, which cannot set headers — `?token=…` (tokens in URLs end up in logs,
/// so no other route takes one).
#[must_use]
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    crate::principal::bearer(req).or_else(|| {
        if req.path() != QUERY_TOKEN_PATH {
            return None;
        }
        web::Query::<TokenQuery>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.into_inner().token)
            .filter(|t| !t.is_empty())
    })
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// An authenticated session request: a valid, unexpired session token whose session is open
/// and whose key is neither revoked nor erased. Extracting it records the activity.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    /// The token's claims.
    pub claims: SessionClaims,
    /// The open session.
    pub session: Session,
    /// Its key.
    pub key: ApiKey,
}

impl FromRequest for SessionAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state_of(req);
        let token = bearer_token(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state?;
            let token = token.ok_or_else(|| {
                ApiError::Unauthorized("Authorization header required".to_owned())
            })?;
            let now = state.ports.clock.now();
            let claims = state
                .jwt
                .verify_session(&token, now)
                .map_err(|_| ApiError::Unauthorized("Invalid or expired token".to_owned()))?;
            let service = session_service(&state);
            let (sid, kid) = (claims.sid.clone(), claims.kid);
            let (session, key) = run_short(&state, move || service.authorize(&sid, kid)).await?;
            req.extensions_mut()
                .insert(SessionDomain(session.domain.clone()));
            Ok(Self {
                claims,
                session,
                key,
            })
        })
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
