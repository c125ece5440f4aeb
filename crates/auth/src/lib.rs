//! `tally_auth` — Tally's credentials: session and user JWTs (claims, issue, verify), the
//! OS-backed [`IdGenerator`](tally_domain::IdGenerator) for ids and key secrets, and the
//! constant-time comparison of the admin key.
//!
//! It depends on `tally_domain` for the id types and the
//! [`TokenSession`](tally_domain::services::TokenSession) a session token names only. It must
//! not depend on actix, diesel or any store: verifying a token is pure (the caller passes
//! "now"), so whether the token's session is still open or its key still valid is the
//! services' business, not this crate's.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tally_auth::{admin_key_matches, looks_like_jwt, JwtKeys, SessionClaims};
//! use tally_domain::key::KeyId;
//! use tally_domain::session::{SessionId, SessionRef};
//! use tally_domain::tenancy::OrgId;
//! use time::macros::datetime;
//!
//! let keys = JwtKeys::from_secret(b"a secret of reasonable length");
//! let now = datetime!(2026-03-01 12:00:00 UTC);
//! let session = SessionRef::new(OrgId::default_org(), SessionId::parse("0123456789abcdef")?);
//! let claims = SessionClaims::new(session, KeyId(7), uuid::Uuid::nil(), now, Duration::from_secs(60));
//! let token = keys.issue(claims)?;
//! assert!(looks_like_jwt(&token));
//! let verified = keys.verify_session(&token, now)?;
//! assert_eq!((verified.kid, verified.org), (KeyId(7), Some(OrgId::default_org())));
//! assert!(keys.verify_session(&token, now + time::Duration::minutes(1)).is_err(), "expired");
//! assert!(admin_key_matches("s3cret-admin", "s3cret-admin"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bearer;
mod compare;
mod ids;
mod jwt;

pub use bearer::looks_like_jwt;
pub use compare::admin_key_matches;
pub use ids::OsIds;
pub use jwt::{random_secret, Claims, IssueError, JwtKeys, SessionClaims, UserClaims, VerifyError};
