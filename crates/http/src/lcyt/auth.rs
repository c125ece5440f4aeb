//! The session-token credential of the lcyt surface: the [`SessionAuth`] extractor of the
//! routes that act for one open session (`/live`, `/captions`, `/events`, `/mic`, `/stats`).
//! Every other credential (and the admin-key check) is resolved in [`crate::principal`].

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use tally_auth::SessionClaims;
use tally_domain::key::ApiKey;
use tally_domain::session::Session;
use time::OffsetDateTime;

use crate::cors::SessionDomain;
use crate::error::ApiError;
use crate::principal::bearer;
use crate::run_short;
use crate::state::{session_service, state_of};

/// The paths whose token may also come in the query string (the `EventSource` routes).
pub const QUERY_TOKEN_PATHS: [&str; 2] = ["/events", "/events/stream"];

/// The bearer token of a request: `Authorization: Bearer …`, else — on `GET /events` and
/// `GET /events/stream` only, for `EventSource`, which cannot set headers — `?token=…`
/// (tokens in URLs end up in logs, so no other route takes one).
#[must_use]
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    bearer(req).or_else(|| {
        if !QUERY_TOKEN_PATHS.contains(&req.path()) {
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
        authenticate(req)
    }
}

/// A verified session token, and nothing read yet: for a request that meters its session
/// (`POST /captions`), whose meter checks the session (open, the key's, the token's lifetime)
/// and the key itself and records the activity, so the request costs one store call. Its
/// handler calls [`SessionToken::authorize`] on a path that fails before the meter admits
/// it, to answer exactly like [`SessionAuth`] (the session's own 401 first, CORS for its
/// domain, the activity recorded).
#[derive(Debug, Clone)]
pub struct SessionToken {
    /// The token's claims.
    pub claims: SessionClaims,
    /// The start of the session lifetime the token was issued in.
    pub lifetime: OffsetDateTime,
}

impl FromRequest for SessionToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(verify_token(req).map(|(claims, lifetime)| Self { claims, lifetime }))
    }
}

impl SessionToken {
    /// What [`SessionAuth`] would have found, with the activity recorded as it does (the
    /// refused request was still an authenticated one); its domain goes to the request for
    /// CORS.
    ///
    /// # Errors
    /// The session's 401 (ended, key revoked, …) or a store error.
    pub async fn authorize(&self, req: &HttpRequest) -> Result<SessionAuth, ApiError> {
        let state = state_of(req)?;
        let service = session_service(&state);
        let (named, lifetime) = (self.claims.session(), self.lifetime);
        let (session, key) =
            run_short(&state, move || service.authorize_lifetime(&named, lifetime)).await?;
        req.extensions_mut()
            .insert(SessionDomain(session.domain.clone()));
        Ok(SessionAuth {
            claims: self.claims.clone(),
            session,
            key,
        })
    }
}

/// The request's session token, verified (signature and expiry), and the start of the session
/// lifetime it was issued in (a token is valid only in that lifetime).
fn verify_token(req: &HttpRequest) -> Result<(SessionClaims, OffsetDateTime), ApiError> {
    let invalid = || ApiError::Unauthorized("Invalid or expired token".to_owned());
    let state = state_of(req)?;
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::Unauthorized("Authorization header required".to_owned()))?;
    let claims = state
        .jwt
        .verify_session(&token, state.ports.clock.now())
        .map_err(|_| invalid())?;
    let started = claims.lifetime_start().ok_or_else(invalid)?;
    Ok((claims, started))
}

fn authenticate(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<SessionAuth, ApiError>>>> {
    let token = verify_token(req).map(|(claims, lifetime)| SessionToken { claims, lifetime });
    let req = req.clone();
    Box::pin(async move { token?.authorize(&req).await })
}
