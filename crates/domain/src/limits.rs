//! Usage limits: the unit of counting, the UTC day, and the exact admission rule.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, Time};

use crate::tenancy::InvalidValue;

/// A key's limits. `None` is unlimited; `Some(0)` blocks everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    /// Units per UTC calendar day.
    pub daily: Option<u64>,
    /// Units over the key's whole life.
    pub lifetime: Option<u64>,
}

/// A number of metered units (captions for `/captions`, `units` elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Units(u64);

/// The most units a single request may meter (keeps every sum far from overflow).
pub const MAX_UNITS_PER_REQUEST: u64 = 1_000_000_000;

impl Units {
    /// One unit.
    pub const ONE: Self = Self(1);

    /// Validates a unit count from the wire.
    ///
    /// # Errors
    /// Negative or above [`MAX_UNITS_PER_REQUEST`].
    pub fn new(n: i64) -> Result<Self, InvalidValue> {
        match u64::try_from(n) {
            Ok(n) if n <= MAX_UNITS_PER_REQUEST => Ok(Self(n)),
            _ => Err(InvalidValue(format!(
                "units must be between 0 and {MAX_UNITS_PER_REQUEST}"
            ))),
        }
    }

    /// The count.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Which limit a request would cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum LimitExceeded {
    /// The UTC day's allowance.
    #[error("daily_limit_exceeded")]
    Daily,
    /// The lifetime allowance.
    #[error("lifetime_limit_exceeded")]
    Lifetime,
}

impl LimitExceeded {
    /// The wire code (`daily_limit_exceeded` / `lifetime_limit_exceeded`).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Daily => "daily_limit_exceeded",
            Self::Lifetime => "lifetime_limit_exceeded",
        }
    }
}

/// A key's counters as seen on one UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyUsage {
    /// Units over the key's life.
    pub lifetime_used: u64,
    /// Units on the current UTC day.
    pub daily_used: u64,
}

/// What is left after a request, per limit (`None` = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Remaining {
    /// Units left today.
    pub daily: Option<u64>,
    /// Units left over the key's life.
    pub lifetime: Option<u64>,
}

impl Remaining {
    /// What `limits` leave after `usage`.
    #[must_use]
    pub fn of(limits: Limits, usage: KeyUsage) -> Self {
        Self {
            daily: limits.daily.map(|l| l.saturating_sub(usage.daily_used)),
            lifetime: limits
                .lifetime
                .map(|l| l.saturating_sub(usage.lifetime_used)),
        }
    }
}

/// The admission rule. Lifetime is checked before daily. A request of `n` units is admitted
/// only if `used + n <= limit` for every limit, so it never crosses one and is rejected whole
/// otherwise. A zero-unit request is a check: it is refused once a limit is exhausted, so a
/// limit of `0` blocks everything.
///
/// # Errors
/// The first limit the request would cross.
pub fn admit(limits: Limits, usage: KeyUsage, units: Units) -> Result<(), LimitExceeded> {
    let need = units.get().max(1);
    let fits = |limit: Option<u64>, used: u64| limit.is_none_or(|l| used.saturating_add(need) <= l);
    if !fits(limits.lifetime, usage.lifetime_used) {
        Err(LimitExceeded::Lifetime)
    } else if !fits(limits.daily, usage.daily_used) {
        Err(LimitExceeded::Daily)
    } else {
        Ok(())
    }
}

/// The UTC calendar day of an instant: the one function that decides what "today" is.
#[must_use]
pub fn utc_day(t: OffsetDateTime) -> Date {
    t.to_offset(time::UtcOffset::UTC).date()
}

/// A key's daily counter: the units admitted on the latest day the key counted. The counter
/// keeps one day; when a meter of a later day arrives the counter turns, and the day it held
/// becomes history (the `turned` day of [`DayCounter::charge`]). A meter of a day before the
/// counter's (stamped just before midnight, arriving just after the turn) counts in that
/// day's history, so every day stays exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCounter {
    /// The day counted.
    pub day: Date,
    /// Units admitted on it.
    pub used: u64,
}

impl DayCounter {
    /// The units counted on `day` as far as the counter knows: its own units on its day, zero
    /// on a later day (or with no counter); `None` for an earlier day, which is history.
    #[must_use]
    pub fn used_on(current: Option<Self>, day: Date) -> Option<u64> {
        match current {
            Some(c) if c.day == day => Some(c.used),
            Some(c) if c.day > day => None,
            _ => Some(0),
        }
    }

    /// Charges `units` admitted at `day` to `current`: the new counter and the day it turned
    /// away from, when that day had units (it becomes history). `None` when `day` is before
    /// the counter's day: that meter counts in its day's history instead.
    #[must_use]
    pub fn charge(current: Option<Self>, day: Date, units: u64) -> Option<(Self, Option<Self>)> {
        let used = Self::used_on(current, day)?;
        let turned = current.filter(|c| c.day < day && c.used > 0);
        Some((
            Self {
                day,
                used: used.saturating_add(units),
            },
            turned,
        ))
    }
}

/// The instant the daily counter of `t`'s day resets: the next UTC midnight.
#[must_use]
pub fn next_daily_reset(t: OffsetDateTime) -> OffsetDateTime {
    let next = utc_day(t).next_day().unwrap_or(Date::MAX);
    next.with_time(Time::MIDNIGHT).assume_utc()
}

/// Whole seconds from `t` to the next daily reset, rounded up (for `Retry-After`).
#[must_use]
pub fn seconds_until_daily_reset(t: OffsetDateTime) -> u64 {
    let d: Duration = next_daily_reset(t) - t;
    let secs = d.whole_seconds() + i64::from(d.subsec_nanoseconds() > 0);
    u64::try_from(secs.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn usage(lifetime_used: u64, daily_used: u64) -> KeyUsage {
        KeyUsage {
            lifetime_used,
            daily_used,
        }
    }

    fn limits(daily: Option<u64>, lifetime: Option<u64>) -> Limits {
        Limits { daily, lifetime }
    }

    #[test]
    fn unlimited_admits_anything() {
        assert_eq!(
            admit(Limits::default(), usage(u64::MAX - 1, 5), Units(100)),
            Ok(())
        );
    }

    #[test]
    fn zero_blocks_everything() {
        let l = limits(Some(0), None);
        assert_eq!(admit(l, usage(0, 0), Units(1)), Err(LimitExceeded::Daily));
        assert_eq!(admit(l, usage(0, 0), Units(0)), Err(LimitExceeded::Daily));
        let l = limits(None, Some(0));
        assert_eq!(
            admit(l, usage(0, 0), Units(0)),
            Err(LimitExceeded::Lifetime)
        );
    }

    #[test]
    fn a_request_that_would_cross_is_rejected_whole() {
        let l = limits(None, Some(10));
        assert_eq!(admit(l, usage(5, 0), Units(5)), Ok(()));
        assert_eq!(
            admit(l, usage(5, 0), Units(6)),
            Err(LimitExceeded::Lifetime)
        );
        assert_eq!(
            admit(l, usage(10, 0), Units(0)),
            Err(LimitExceeded::Lifetime)
        );
    }

    #[test]
    fn lifetime_wins_when_both_are_exceeded() {
        let l = limits(Some(1), Some(1));
        assert_eq!(
            admit(l, usage(1, 1), Units(1)),
            Err(LimitExceeded::Lifetime)
        );
        assert_eq!(admit(l, usage(0, 1), Units(1)), Err(LimitExceeded::Daily));
    }

    #[test]
    fn units_reject_negative_and_huge() {
        assert!(Units::new(-1).is_err());
        assert!(Units::new(0).is_ok());
        assert!(Units::new(1_000_000_001).is_err());
    }

    #[test]
    fn the_day_turns_at_utc_midnight() {
        assert_eq!(
            utc_day(datetime!(2026-03-01 23:59:59 UTC)),
            date!(2026 - 03 - 01)
        );
        assert_eq!(
            utc_day(datetime!(2026-03-02 0:00:00 UTC)),
            date!(2026 - 03 - 02)
        );
        assert_eq!(
            utc_day(datetime!(2026-03-02 1:30 +02:00)),
            date!(2026 - 03 - 01)
        );
        assert_eq!(
            next_daily_reset(datetime!(2026-03-01 23:59:59 UTC)),
            datetime!(2026-03-02 0:00 UTC)
        );
        assert_eq!(
            seconds_until_daily_reset(datetime!(2026-03-01 23:59:59 UTC)),
            1
        );
        assert_eq!(
            seconds_until_daily_reset(datetime!(2026-03-01 23:59:59.5 UTC)),
            1
        );
        assert_eq!(
            seconds_until_daily_reset(datetime!(2026-03-02 0:00 UTC)),
            86_400
        );
    }

    #[test]
    fn remaining_saturates() {
        let r = Remaining::of(limits(Some(5), Some(3)), usage(4, 2));
        assert_eq!(
            r,
            Remaining {
                daily: Some(3),
                lifetime: Some(0)
            }
        );
    }

    proptest! {
        /// Admitting requests one after another never lets the counters pass a limit, and a
        /// request is refused only when it really would cross one.
        #[test]
        fn admission_never_crosses_a_limit(
            daily in proptest::option::of(0u64..50),
            lifetime in proptest::option::of(0u64..80),
            requests in proptest::collection::vec(0u64..7, 0..60),
        ) {
            let l = limits(daily, lifetime);
            let mut u = usage(0, 0);
            for n in requests {
                match admit(l, u, Units(n)) {
                    Ok(()) => {
                        u.lifetime_used += n;
                        u.daily_used += n;
                    }
                    Err(_) => {
                        let need = n.max(1);
                        let crosses = lifetime.is_some_and(|x| u.lifetime_used + need > x)
                            || daily.is_some_and(|x| u.daily_used + need > x);
                        prop_assert!(crosses);
                    }
                }
                prop_assert!(lifetime.is_none_or(|x| u.lifetime_used <= x));
                prop_assert!(daily.is_none_or(|x| u.daily_used <= x));
            }
        }
    }

    #[test]
    fn the_day_counter_turns_forward_and_leaves_earlier_days_to_history() {
        let d = time::macros::date!(2026 - 03 - 10);
        let next = d.next_day().unwrap();
        let (c, old) = DayCounter::charge(None, d, 2).unwrap();
        assert_eq!((c, old), (DayCounter { day: d, used: 2 }, None));
        let (c, old) = DayCounter::charge(Some(c), d, 3).unwrap();
        assert_eq!((c, old), (DayCounter { day: d, used: 5 }, None));
        // The next day starts at zero; the old day becomes history.
        let (c, old) = DayCounter::charge(Some(c), next, 1).unwrap();
        assert_eq!(c, DayCounter { day: next, used: 1 });
        assert_eq!(old, Some(DayCounter { day: d, used: 5 }));
        // A meter of the day before is history's business.
        assert_eq!(DayCounter::charge(Some(c), d, 1), None);
        assert_eq!(DayCounter::used_on(Some(c), d), None);
        assert_eq!(DayCounter::used_on(Some(c), next), Some(1));
        assert_eq!(
            DayCounter::used_on(Some(c), next.next_day().unwrap()),
            Some(0)
        );
        assert_eq!(DayCounter::used_on(None, d), Some(0));
        // An empty day is not history.
        let empty = DayCounter { day: d, used: 0 };
        assert_eq!(DayCounter::charge(Some(empty), next, 1).unwrap().1, None);
    }
}
