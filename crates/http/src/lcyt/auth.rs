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

use crate::cors::SessionDomain;
use crate::error::ApiError;
use crate::principal::bearer;
use crate::run_short;
use crate::state::{session_service, state_of};

/// The path whose token may also come in the query string.
pub const QUERY_TOKEN_PATH: &str = "/events";

/// The bearer token of a request: `Authorization: Bearer …`, else — on `GET /events` only,
/// for `EventSource`, which cannot set headers — `?token=…` (tokens in URLs end up in logs,
/// so no other route takes one).
#[must_use]
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    bearer(req).or_else(|| {
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
        authenticate(req)
    }
}

/// A verified session token, and nothing read yet: for a request that meters its session
/// (`POST /captions`), whose meter checks the session and the key itself and records the
/// activity, so the request costs one store call. Its handler calls [`SessionToken::authorize`]
/// on a path that fails before the meter admits it, to answer exactly like [`SessionAuth`]
/// (the session's own 401 first, CORS for its domain, the activity recorded).
#[derive(Debug, Clone)]
pub struct SessionToken(pub SessionClaims);

impl FromRequest for SessionToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(verify_token(req).map(Self))
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
        let (sid, kid) = (self.0.sid.clone(), self.0.kid);
        let (session, key) = run_short(&state, move || service.authorize(&sid, kid)).await?;
        req.extensions_mut()
            .insert(SessionDomain(session.domain.clone()));
        Ok(SessionAuth {
            claims: self.0.clone(),
            session,
            key,
        })
    }
}

/// The request's session token, verified (signature and expiry).
fn verify_token(req: &HttpRequest) -> Result<SessionClaims, ApiError> {
    let state = state_of(req)?;
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::Unauthorized("Authorization header required".to_owned()))?;
    state
        .jwt
        .verify_session(&token, state.ports.clock.now())
        .map_err(|_| ApiError::Unauthorized("Invalid or expired token".to_owned()))
}

fn authenticate(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<SessionAuth, ApiError>>>> {
    let state = state_of(req);
    let claims = verify_token(req);
    let req = req.clone();
    Box::pin(async move {
        let (state, claims) = (state?, claims?);
        let service = session_service(&state);
        let (sid, kid) = (claims.sid.clone(), claims.kid);
        let (session, key) = run_short(&state, move || service.authorize(&sid, kid)).await?;
        req.extensions_mut()
            .insert(SessionDomain(session.domain.clone()));
        Ok(SessionAuth {
            claims,
            session,
            key,
        })
    })
}
