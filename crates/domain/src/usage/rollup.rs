//! Hourly rollups: the per-hour sums every usage query reads.

use std::ops::{AddAssign, SubAssign};

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, Time};

use super::event::UsageEvent;
use crate::key::KeyId;
use crate::origin::Domain;
use crate::tenancy::{OrgId, UserId};

/// The start of the UTC hour containing `t`.
#[must_use]
pub fn hour_floor(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let hour = Time::from_hms(t.hour(), 0, 0).unwrap_or(Time::MIDNIGHT);
    t.date().with_time(hour).assume_utc()
}

/// The dimensions of one hourly rollup row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    /// Start of the UTC hour.
    pub hour: OffsetDateTime,
    /// Organisation.
    pub org_id: OrgId,
    /// User (`None` for anonymous or erased).
    pub user_id: Option<UserId>,
    /// Key (`None` for keyless or erased).
    pub key_id: Option<KeyId>,
    /// Model.
    pub model: Option<String>,
    /// API name.
    pub api_name: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Site.
    pub domain: Option<Domain>,
    /// Success flag.
    pub success: bool,
    /// Whether the event was an API call (it had an HTTP method).
    pub api_call: bool,
    /// HTTP status class (`2` for 2xx …), when the event had a status.
    pub status_class: Option<u16>,
}

impl RollupKey {
    /// The row an event contributes to.
    #[must_use]
    pub fn of(event: &UsageEvent) -> Self {
        let d = &event.data;
        Self {
            hour: hour_floor(d.occurred_at),
            org_id: d.org_id.clone(),
            user_id: d.user_id,
            key_id: d.key_id,
            model: d.model.clone(),
            api_name: d.api_name.clone(),
            language: d.language.clone(),
            domain: d.domain.clone(),
            success: d.success,
            api_call: d.method.is_some(),
            status_class: d.status_code.map(|s| s / 100),
        }
    }

    /// The same row with nothing that links back to a person (erasure moves contributions
    /// here, so organisation and site totals stay right).
    #[must_use]
    pub fn anonymised(&self) -> Self {
        Self {
            user_id: None,
            key_id: None,
            ..self.clone()
        }
    }
}

/// The sums of a rollup row (also the metrics of a query row). Signed so that corrections
/// can be applied as differences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Totals {
    /// Events.
    pub count: i64,
    /// Units.
    pub units: i64,
    /// Cost in nano-dollars.
    pub cost_nanos: i64,
    /// Tokens.
    pub tokens: i64,
    /// Quota.
    pub quota: i64,
    /// Duration in ms.
    pub duration_ms: i64,
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Totals {
    /// What one event contributes: nothing when it is inactive (refunded or voided).
    #[must_use]
    pub fn of(event: &UsageEvent) -> Self {
        if !event.active {
            return Self::default();
        }
        let d = &event.data;
        Self {
            count: 1,
            units: signed(d.units),
            cost_nanos: d.cost.0,
            tokens: signed(d.tokens),
            quota: signed(d.quota),
            duration_ms: signed(d.duration_ms),
        }
    }

    /// Whether every sum is zero (such rollup rows can be dropped).
    #[must_use]
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

// Saturating: every event is bounded (10^15 per counter), so a sum reaches `i64::MAX` only past
// 9,223 maximal events in one bucket; there it stops instead of panicking or wrapping negative.
impl AddAssign for Totals {
    fn add_assign(&mut self, o: Self) {
        self.count = self.count.saturating_add(o.count);
        self.units = self.units.saturating_add(o.units);
        self.cost_nanos = self.cost_nanos.saturating_add(o.cost_nanos);
        self.tokens = self.tokens.saturating_add(o.tokens);
        self.quota = self.quota.saturating_add(o.quota);
        self.duration_ms = self.duration_ms.saturating_add(o.duration_ms);
    }
}

impl SubAssign for Totals {
    fn sub_assign(&mut self, o: Self) {
        self.count = self.count.saturating_sub(o.count);
        self.units = self.units.saturating_sub(o.units);
        self.cost_nanos = self.cost_nanos.saturating_sub(o.cost_nanos);
        self.tokens = self.tokens.saturating_sub(o.tokens);
        self.quota = self.quota.saturating_sub(o.quota);
        self.duration_ms = self.duration_ms.saturating_sub(o.duration_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::event::{CostNanos, EventKind, NewUsageEvent};
    use time::macros::datetime;
    use uuid::Uuid;

    fn event(at: OffsetDateTime) -> UsageEvent {
        let mut data = NewUsageEvent::new(OrgId::default_org(), EventKind::Request, at);
        data.units = 3;
        data.cost = CostNanos(7);
        data.key_id = Some(KeyId(4));
        UsageEvent {
            id: Uuid::nil(),
            created_at: at,
            active: true,
            data,
        }
    }

    #[test]
    fn events_land_in_their_utc_hour() {
        let k = RollupKey::of(&event(datetime!(2026-01-01 10:59:59.999 +01:00)));
        assert_eq!(k.hour, datetime!(2026-01-01 9:00 UTC));
        assert_eq!(
            hour_floor(datetime!(2026-01-01 23:59:59 UTC)),
            datetime!(2026-01-01 23:00 UTC)
        );
        assert_eq!(
            hour_floor(datetime!(2026-01-02 0:00 UTC)),
            datetime!(2026-01-02 0:00 UTC)
        );
    }

    #[test]
    fn inactive_events_contribute_nothing() {
        let mut e = event(datetime!(2026-01-01 0:00 UTC));
        assert_eq!(
            Totals::of(&e),
            Totals {
                count: 1,
                units: 3,
                cost_nanos: 7,
                ..Totals::default()
            }
        );
        e.active = false;
        assert!(Totals::of(&e).is_zero());
    }

    #[test]
    fn anonymising_drops_user_and_key_only() {
        let k = RollupKey::of(&event(datetime!(2026-01-01 0:00 UTC)));
        let a = k.anonymised();
        assert_eq!(a.key_id, None);
        assert_eq!(a.user_id, None);
        assert_eq!(
            (a.hour, &a.org_id, a.success),
            (k.hour, &k.org_id, k.success)
        );
    }

    #[test]
    fn totals_add_and_subtract() {
        let mut t = Totals {
            count: 2,
            units: 5,
            ..Totals::default()
        };
        t += Totals {
            count: 1,
            units: 1,
            ..Totals::default()
        };
        t -= Totals {
            count: 3,
            units: 6,
            ..Totals::default()
        };
        assert!(t.is_zero());
    }
}
