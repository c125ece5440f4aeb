//! The `Clock` port: the only source of "now" for services.

use time::OffsetDateTime;

/// Supplies the current instant. Services never read the system time themselves, so day
/// boundaries, expiry and idle TTLs are tested with a fixed clock.
pub trait Clock: Send + Sync {
    /// The current instant, in UTC, truncated to whole microseconds (the precision every store
    /// keeps, so a value read back equals the value written).
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// Drops sub-microsecond precision and normalises to UTC.
#[must_use]
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn truncation_keeps_microseconds_and_converts_to_utc() {
        let t = datetime!(2026-01-01 12:00:00.123_456_789 +02:00);
        let u = truncate_to_micros(t);
        assert_eq!(u, datetime!(2026-01-01 10:00:00.123_456 UTC));
        assert_eq!(u.offset(), time::UtcOffset::UTC);
    }
}
