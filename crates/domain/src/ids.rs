//! The `IdGenerator` port: randomness for ids and secrets.

use uuid::Uuid;

/// Supplies fresh identifiers and key secrets. The production implementation uses the OS
/// random source (`tally_auth::OsIds`); tests use a deterministic one.
pub trait IdGenerator: Send + Sync {
    /// A new unique UUID for users, usage events and request ids (production: time-ordered,
    /// version 7, so new rows append to the indexes over them; tests: deterministic).
    fn uuid(&self) -> Uuid;

    /// `n` characters drawn uniformly from `[0-9A-Za-z]`, for key secrets and org ids.
    fn base62(&self, n: usize) -> String;
}
