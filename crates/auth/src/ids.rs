//! `OsIds`: the production [`IdGenerator`].

use std::time::{SystemTime, UNIX_EPOCH};

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
        // Time-ordered (version 7: milliseconds since the epoch, then 74 random bits): a new
        // event's id lands at the right edge of the events' id index instead of on a random
        // page of it, so a long history's index is not dirtied (and, after every checkpoint,
        // written to the WAL as whole pages) all over. The random bits come from the
        // thread-local CSPRNG: `Uuid::now_v7` and `new_v4` ask the kernel for them with a
        // `getrandom` call every time, and the hot path takes two or three ids per request.
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        uuid::Builder::from_unix_timestamp_millis(millis, &rand::thread_rng().gen()).into_uuid()
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
    use std::time::Duration;

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
    fn uuids_are_time_ordered_v7_and_distinct() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let a = OsIds.uuid();
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = a.get_timestamp().unwrap().to_unix();
        let stamped = Duration::new(secs, nanos);
        assert!(
            stamped + Duration::from_millis(1) > before,
            "{stamped:?} < {before:?}"
        );
        // Ids of later milliseconds sort after earlier ones; ids of one millisecond differ.
        std::thread::sleep(Duration::from_millis(2));
        let b = OsIds.uuid();
        assert!(b > a);
        let many: HashSet<Uuid> = (0..10_000).map(|_| OsIds.uuid()).collect();
        assert_eq!(many.len(), 10_000);
    }
}
