//! Conversions between domain values and column values: unsigned counters as `BIGINT`,
//! validated strings parsed back on the way out.

use tally_domain::clock::truncate_to_micros;
use tally_domain::limits::DayCounter;
use tally_domain::origin::Domain;
use tally_domain::session::SessionId;
use tally_domain::tenancy::OrgId;
use tally_domain::StoreError;
use time::{Date, OffsetDateTime};

use crate::error::{corrupt, Fail};

/// An unsigned domain value as a `BIGINT`.
pub(crate) fn to_db(v: u64, field: &str) -> Result<i64, Fail> {
    i64::try_from(v).map_err(|_| {
        Fail::Store(StoreError::Internal(format!(
            "{field} = {v} does not fit the database (at most {})",
            i64::MAX
        )))
    })
}

/// An optional unsigned domain value as a `BIGINT`.
pub(crate) fn opt_to_db(v: Option<u64>, field: &str) -> Result<Option<i64>, Fail> {
    v.map(|v| to_db(v, field)).transpose()
}

/// A `BIGINT` as an unsigned domain value.
pub(crate) fn from_db(v: i64, field: &str) -> Result<u64, Fail> {
    u64::try_from(v).map_err(|_| corrupt(field, v))
}

/// An optional `BIGINT` as an unsigned domain value.
pub(crate) fn opt_from_db(v: Option<i64>, field: &str) -> Result<Option<u64>, Fail> {
    v.map(|v| from_db(v, field)).transpose()
}

/// An instant at the precision Postgres keeps (microseconds), in UTC.
pub(crate) fn micros(t: OffsetDateTime) -> OffsetDateTime {
    truncate_to_micros(t)
}

/// An organisation id read back.
pub(crate) fn org_id(s: &str) -> Result<OrgId, Fail> {
    OrgId::parse(s).map_err(|e| corrupt("org id", e))
}

/// A domain read back.
pub(crate) fn domain(s: &str) -> Result<Domain, Fail> {
    Domain::parse(s).map_err(|e| corrupt("domain", e))
}

/// An optional domain read back.
pub(crate) fn opt_domain(s: Option<&str>) -> Result<Option<Domain>, Fail> {
    s.map(domain).transpose()
}

/// A session id read back.
pub(crate) fn session_id(s: &str) -> Result<SessionId, Fail> {
    SessionId::parse(s).map_err(|e| corrupt("session id", e))
}

/// An HTTP status as an `INTEGER`.
pub(crate) fn status_to_db(s: Option<u16>) -> Option<i32> {
    s.map(i32::from)
}

/// An `INTEGER` as an HTTP status.
pub(crate) fn status_from_db(s: Option<i32>) -> Result<Option<u16>, Fail> {
    s.map(|s| u16::try_from(s).map_err(|_| corrupt("status code", s)))
        .transpose()
}

/// A key's daily counter from its row's `daily_day` and `daily_used` (no day: never counted).
pub(crate) fn day_counter(day: Option<Date>, used: i64) -> Result<Option<DayCounter>, Fail> {
    day.map(|day| {
        Ok(DayCounter {
            day,
            used: from_db(used, "daily_used")?,
        })
    })
    .transpose()
}
