//! A clock that only moves when told, and ids that are predictable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tally_domain::clock::truncate_to_micros;
use tally_domain::{Clock, IdGenerator};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A clock fixed at an instant until set or advanced.
#[derive(Debug)]
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    /// A clock at `t`.
    #[must_use]
    pub fn at(t: OffsetDateTime) -> Self {
        Self(Mutex::new(truncate_to_micros(t)))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap() = truncate_to_micros(t);
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap();
        *t += d;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Ids from a counter: uuids `00000000-0000-4000-8000-<n>` and base62 strings padded from it.
#[derive(Debug, Default)]
pub struct SeqIds(AtomicU64);

impl IdGenerator for SeqIds {
    fn uuid(&self) -> Uuid {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
    }

    fn base62(&self, n: usize) -> String {
        let k = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{k:0>n$}")
    }
}
