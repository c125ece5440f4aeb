//! Session and user JWTs: HS256, claims typed by `typ`, verified against a caller-supplied
//! "now" with zero leeway.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tally_domain::key::KeyId;
use tally_domain::services::TokenSession;
use tally_domain::session::{SessionId, SessionRef};
use tally_domain::tenancy::{OrgId, Role, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

/// The claims of a session token, issued by `POST /live`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The session.
    pub sid: SessionId,
    /// The session's organisation (its key's): with `sid` it names the session, so a session
    /// request reaches one shard of a schema distributed by organisation. Absent from tokens
    /// issued before it existed; those still work until they expire ([`Self::session`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgId>,
    /// The key that opened it.
    pub kid: KeyId,
    /// A unique token id: every `POST /live` issues a fresh token.
    pub jti: Uuid,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds; the token is rejected from this second on.
    pub exp: i64,
    /// When the session lifetime it was issued in started, unix milliseconds: a session
    /// ended and opened again (same derived id) does not honour its earlier tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sst: Option<i64>,
}

impl SessionClaims {
    /// Binds the claims to the session lifetime that started at `started_at`.
    #[must_use]
    pub fn in_lifetime(mut self, started_at: OffsetDateTime) -> Self {
        let ms = started_at.unix_timestamp_nanos() / 1_000_000;
        self.sst = i64::try_from(ms).ok();
        self
    }

    /// The start of the session lifetime the token was issued in, if it says.
    #[must_use]
    pub fn lifetime_start(&self) -> Option<OffsetDateTime> {
        self.sst.and_then(|ms| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        })
    }

    /// The session the token names, as the session service takes it (an old token's
    /// organisation is `None`: the service resolves it from the key).
    #[must_use]
    pub fn session(&self) -> TokenSession {
        TokenSession {
            org: self.org.clone(),
            id: self.sid.clone(),
            key_id: self.kid,
        }
    }

    /// Claims for the session `session` opened by key `kid`, issued at `now`, valid for `ttl`
    /// (rounded up to whole seconds).
    #[must_use]
    pub fn new(
        session: SessionRef,
        kid: KeyId,
        jti: Uuid,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Self {
        let (iat, exp) = window(now, ttl);
        Self {
            sid: session.id().clone(),
            org: Some(session.org().clone()),
            kid,
            jti,
            iat,
            exp,
            sst: None,
        }
    }
}

/// The claims of a user token, issued by `POST /v1/users/{id}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// The user.
    pub sub: UserId,
    /// The user's role when the token was issued.
    pub role: Role,
    /// The user's organisation.
    pub org: OrgId,
    /// A unique token id.
    pub jti: Uuid,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds; the token is rejected from this second on.
    pub exp: i64,
}

impl UserClaims {
    /// Claims issued at `now`, valid for `ttl` (rounded up to whole seconds).
    #[must_use]
    pub fn new(
        sub: UserId,
        role: Role,
        org: OrgId,
        jti: Uuid,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Self {
        let (iat, exp) = window(now, ttl);
        Self {
            sub,
            role,
            org,
            jti,
            iat,
            exp,
        }
    }
}

fn window(now: OffsetDateTime, ttl: Duration) -> (i64, i64) {
    let iat = now.unix_timestamp();
    let secs = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    let exp = iat.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
    (iat, exp)
}

/// Either kind of token; on the wire the `typ` claim (`"session"` or `"user"`) tells them
/// apart, so a user token can never be taken for a session token or the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "typ", rename_all = "lowercase")]
pub enum Claims {
    /// A session token.
    Session(SessionClaims),
    /// A user token.
    User(UserClaims),
}

impl Claims {
    /// The expiry, unix seconds.
    #[must_use]
    pub fn exp(&self) -> i64 {
        match self {
            Self::Session(c) => c.exp,
            Self::User(c) => c.exp,
        }
    }
}

impl From<SessionClaims> for Claims {
    fn from(c: SessionClaims) -> Self {
        Self::Session(c)
    }
}

impl From<UserClaims> for Claims {
    fn from(c: UserClaims) -> Self {
        Self::User(c)
    }
}

/// Why a token was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, not HS256, or claims of the wrong shape.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match (another secret, or a tampered token).
    #[error("invalid token signature")]
    BadSignature,
    /// `now` is at or after `exp`.
    #[error("token expired")]
    Expired,
    /// A valid token of the other kind (a user token where a session token was expected, or
    /// the reverse).
    #[error("wrong kind of token")]
    WrongType,
}

/// A token could not be signed (claims not serialisable; does not happen with these types).
#[derive(Debug, thiserror::Error)]
#[error("could not sign token: {0}")]
pub struct IssueError(String);

/// Most tokens whose verification [`JwtKeys`] remembers.
const VERIFIED_CAPACITY: usize = 4_096;

/// The HS256 signing and verification keys derived from `JWT_SECRET`.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens already verified with these keys, by their exact text, with their claims: a
    /// session token comes back with every caption request of its session, and decoding it
    /// (base64, the signature, the claims' JSON twice) was 8 % of an HTTP worker's time on
    /// `POST /captions`. The same text with the same key verifies the same way, so only the
    /// expiry is checked again. Bounded: expired entries go first, then everything.
    verified: Mutex<HashMap<Box<str>, Claims>>,
}

impl JwtKeys {
    /// Keys for this secret.
    #[must_use]
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the caller's "now" in `verify`, never the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Keys for a fresh random secret (used when `JWT_SECRET` is unset: tokens then die with
    /// the process).
    #[must_use]
    pub fn random() -> Self {
        Self::from_secret(&random_secret())
    }

    /// Signs the claims.
    ///
    /// # Errors
    /// [`IssueError`] if the claims cannot be serialised.
    pub fn issue(&self, claims: impl Into<Claims>) -> Result<String, IssueError> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims.into(),
            &self.encoding,
        )
        .map_err(|e| IssueError(e.to_string()))
    }

    /// Checks the signature and the expiry (zero leeway: rejected when `now >= exp`) and
    /// returns the claims.
    ///
    /// # Errors
    /// [`VerifyError::Malformed`], [`VerifyError::BadSignature`] or [`VerifyError::Expired`].
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Claims, VerifyError> {
        let known = self.verified().get(token).cloned();
        let claims = match known {
            Some(claims) => claims,
            None => {
                let claims =
                    jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
                        .map_err(|e| match e.kind() {
                            ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                                VerifyError::BadSignature
                            }
                            _ => VerifyError::Malformed,
                        })?
                        .claims;
                self.remember(token, &claims, now);
                claims
            }
        };
        if now.unix_timestamp() >= claims.exp() {
            return Err(VerifyError::Expired);
        }
        Ok(claims)
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Claims>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers a token just verified, unless it has already expired.
    fn remember(&self, token: &str, claims: &Claims, now: OffsetDateTime) {
        let now = now.unix_timestamp();
        if now >= claims.exp() {
            return;
        }
        let mut verified = self.verified();
        if verified.len() >= VERIFIED_CAPACITY {
            verified.retain(|_, c| now < c.exp());
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
        }
        verified.insert(token.into(), claims.clone());
    }

    /// [`verify`](Self::verify), accepting only a session token.
    ///
    /// # Errors
    /// As `verify`, and [`VerifyError::WrongType`] for a user token.
    pub fn verify_session(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<SessionClaims, VerifyError> {
        match self.verify(token, now)? {
            Claims::Session(c) => Ok(c),
            Claims::User(_) => Err(VerifyError::WrongType),
        }
    }

    /// [`verify`](Self::verify), accepting only a user token.
    ///
    /// # Errors
    /// As `verify`, and [`VerifyError::WrongType`] for a session token.
    pub fn verify_user(&self, token: &str, now: OffsetDateTime) -> Result<UserClaims, VerifyError> {
        match self.verify(token, now)? {
            Claims::User(c) => Ok(c),
            Claims::Session(_) => Err(VerifyError::WrongType),
        }
    }
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<redacted>)")
    }
}

/// 32 bytes from the operating system's random source, for a `JWT_SECRET` nobody configured.
#[must_use]
pub fn random_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    secret
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
