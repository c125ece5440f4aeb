//! `tally_auth` — Tally's credentials: session and user JWTs (claims, issue, verify), the
//! OS-backed [`IdGenerator`](tally_domain::IdGenerator) for ids and key secrets, and the
//! constant-time comparison of the admin key.
//!
//! It depends on `tally_domain` for the id types only. It must not depend on actix, diesel or
//! any store: verifying a token is pure (the caller passes "now"), so whether the token's
//! session is still open or its key still valid is the services' business, not this crate's.

mod bearer;
mod compare;
mod ids;
mod jwt;

pub use bearer::looks_like_jwt;
pub use compare::admin_key_matches;
pub use ids::OsIds;
pub use jwt::{random_secret, Claims, IssueError, JwtKeys, SessionClaims, UserClaims, VerifyError};
