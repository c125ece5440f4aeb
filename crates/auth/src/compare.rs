//! Constant-time comparison of the admin key.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `presented` equals the configured admin key, in time independent of where the two
/// differ. Both sides are hashed first so that the comparison does not reveal the configured
/// key's length either.
#[must_use]
pub fn admin_key_matches(presented: &str, configured: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(configured.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_match() {
        assert!(admin_key_matches("s3cret-admin", "s3cret-admin"));
    }

    #[test]
    fn different_keys_do_not_match() {
        assert!(!admin_key_matches("s3cret-admin", "s3cret-admiN"));
        assert!(!admin_key_matches("s3cret", "s3cret-admin"));
        assert!(!admin_key_matches("", "s3cret-admin"));
        assert!(!admin_key_matches("s3cret-admin ", "s3cret-admin"));
    }
}
