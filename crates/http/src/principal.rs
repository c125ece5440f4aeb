//! Who is calling: the one place every Bearer credential and the admin key are resolved
//! (DESIGN §4), the admin checks ([`Admin`], [`check_admin`]), and the rules of who may see
//! what. Surfaces sit above this module; it imports none of them.
//!
//! | credential | principal |
//! |---|---|
//! | `X-Admin-Key` | admin |
//! | `Authorization: Bearer <session JWT>` | the session's key (and its user and org) |
//! | `Authorization: Bearer <user JWT>` | the user (admin role = admin) |
//! | `Authorization: Bearer <anything else>` | the API key with that secret |

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use tally_auth::{admin_key_matches, looks_like_jwt, Claims};
use tally_domain::key::{ApiKey, KeyRejection, KeySecret};
use tally_domain::session::Session;
use tally_domain::tenancy::{OrgId, Role, User, UserId};

use crate::error::ApiError;
use crate::run_short;
use crate::state::{session_service, state_of, AppState};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The admin key.
    Admin,
    /// A user token (its role may be admin).
    User(User),
    /// A raw API key.
    Key(ApiKey),
    /// A session token (acts as its key).
    Session {
        /// The open session.
        session: Box<Session>,
        /// Its key.
        key: ApiKey,
    },
}

impl Principal {
    /// Admin key, or a user token of role admin.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        match self {
            Self::Admin => true,
            Self::User(u) => u.role == Role::Admin,
            Self::Key(_) | Self::Session { .. } => false,
        }
    }

    /// The key behind a key or session credential.
    #[must_use]
    pub fn key(&self) -> Option<&ApiKey> {
        match self {
            Self::Key(k) | Self::Session { key: k, .. } => Some(k),
            Self::Admin | Self::User(_) => None,
        }
    }

    /// The user the caller acts for: the token's user, or the key's bound user.
    #[must_use]
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::Admin => None,
            Self::User(u) => Some(u.id),
            Self::Key(k) | Self::Session { key: k, .. } => k.user_id,
        }
    }

    /// The caller's organisation (none for the admin key).
    #[must_use]
    pub fn org_id(&self) -> Option<OrgId> {
        match self {
            Self::Admin => None,
            Self::User(u) => Some(u.org_id.clone()),
            Self::Key(k) | Self::Session { key: k, .. } => Some(k.org_id.clone()),
        }
    }

    /// Whether the caller may see `user`'s data: admins, the user, and keys bound to them.
    #[must_use]
    pub fn may_see_user(&self, user: UserId) -> bool {
        self.is_admin() || self.user_id() == Some(user)
    }

    /// Whether the caller may see `key`'s data: admins, the key itself, and its user.
    #[must_use]
    pub fn may_see_key(&self, key: &ApiKey) -> bool {
        self.is_admin()
            || self.key().is_some_and(|k| k.id == key.id)
            || (key.user_id.is_some() && self.user_id() == key.user_id)
    }

    /// Refuses non-admins.
    ///
    /// # Errors
    /// 403.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("Admin access required".to_owned()))
        }
    }
}

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

/// Checks that a request is an admin's: the admin key ([`check_admin`]), or — without an
/// `X-Admin-Key` header — a user token of role `admin` (DESIGN §4).
///
/// # Errors
/// Those of [`check_admin`]; 401 for an invalid token; 403 for any other credential.
pub async fn require_admin(req: &HttpRequest) -> Result<Admin, ApiError> {
    let state = state_of(req)?;
    if !req.headers().contains_key(ADMIN_KEY_HEADER) {
        if let Some(token) = bearer(req).filter(|t| looks_like_jwt(t)) {
            if let Claims::User(_) = state
                .jwt
                .verify(&token, state.ports.clock.now())
                .map_err(|_| ApiError::Unauthorized("Invalid or expired token".to_owned()))?
            {
                return resolve(req).await?.require_admin().map(|()| Admin);
            }
        }
    }
    check_admin(req, &state)
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { require_admin(&req).await })
    }
}

/// The bearer credential of a request (header only: API keys never travel in URLs).
#[must_use]
pub fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Resolves the caller of a request.
///
/// # Errors
/// 401 without a valid credential (the message says why), 403 for a wrong admin key, 503 when
/// the admin key is sent but none is configured, 503 when the store is down.
pub async fn resolve(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = state_of(req)?;
    if req.headers().contains_key(ADMIN_KEY_HEADER) {
        check_admin(req, &state)?;
        return Ok(Principal::Admin);
    }
    let token =
        bearer(req).ok_or_else(|| ApiError::Unauthorized("Authentication required".to_owned()))?;
    if looks_like_jwt(&token) {
        resolve_jwt(&state, &token).await
    } else {
        resolve_key(&state, token).await
    }
}

async fn resolve_jwt(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let claims = state
        .jwt
        .verify(token, state.ports.clock.now())
        .map_err(|_| ApiError::Unauthorized("Invalid or expired token".to_owned()))?;
    match claims {
        Claims::Session(c) => {
            let started = c
                .lifetime_start()
                .ok_or_else(|| ApiError::Unauthorized("Invalid or expired token".to_owned()))?;
            let service = session_service(state);
            let named = c.session();
            let (session, key) =
                run_short(state, move || service.authorize_lifetime(&named, started)).await?;
            Ok(Principal::Session {
                session: Box::new(session),
                key,
            })
        }
        Claims::User(c) => {
            let tenants = state.ports.stores.tenants.clone();
            let user = run_short(state, move || tenants.get_user(c.sub))
                .await?
                .filter(|u| u.erased_at.is_none())
                .ok_or_else(|| ApiError::Unauthorized("Invalid or expired token".to_owned()))?;
            Ok(Principal::User(user))
        }
    }
}

async fn resolve_key(state: &AppState, secret: String) -> Result<Principal, ApiError> {
    let keys = state.ports.stores.keys.clone();
    let now = state.ports.clock.now();
    let key = run_short(state, move || {
        keys.find_key(&KeySecret::presented(&secret).hash())
    })
    .await?
    .ok_or_else(|| {
        ApiError::Unauthorized(format!(
            "API key {}",
            KeyRejection::UnknownKey.lcyt_reason()
        ))
    })?;
    key.check_usable(now)
        .map_err(|r| ApiError::Unauthorized(format!("API key {}", r.lcyt_reason())))?;
    Ok(Principal::Key(key))
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve(&req).await })
    }
}
