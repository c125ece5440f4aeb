//! `OsIds`: the production [`IdGenerator`].

use rand::distributions::Alphanumeric;
use rand::Rng;
use tally_domain::IdGenerator;
use uuid::Uuid;

/// Ids and secrets from the operating system's random source (via `rand`'s thread-local
/// CSPRNG, reseeded from the OS).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsIds;

impl IdGenerator for OsIds {
    fn uuid(&self) -> Uuid {
        // A version-4 UUID from the thread-local CSPRNG: `Uuid::new_v4` asks the kernel for
        // its 16 bytes with a `getrandom` call every time, and the hot path takes two or three
        // ids per request (request id, event id, caption request id).
        uuid::Builder::from_random_bytes(rand::thread_rng().gen()).into_uuid()
    }

    fn base62(&self, n: usize) -> String {
        // `Alphanumeric` samples uniformly (by rejection, no modulo bias) from exactly the 62
        // characters `[0-9A-Za-z]`.
        rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(n)
            .map(char::from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn base62_has_the_requested_length_and_alphabet() {
        for n in [0, 1, 16, 32, 100] {
            let s = OsIds.base62(n);
            assert_eq!(s.len(), n);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        }
    }

    #[test]
    fn base62_covers_the_whole_alphabet_and_does_not_repeat() {
        let seen: HashSet<char> = OsIds.base62(20_000).chars().collect();
        assert_eq!(seen.len(), 62);
        assert_ne!(OsIds.base62(32), OsIds.base62(32));
    }

    #[test]
    fn uuids_are_random_v4() {
        let a = OsIds.uuid();
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, OsIds.uuid());
    }
}
