//! Wire formats shared by every surface: timestamps and dates (formatting and parsing), tri-state
//! (absent / null / value) fields and limits as clients send them. No surface-specific shapes.

use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::error::ApiError;

/// `2024-06-01T10:00:00.000Z`: the timestamp form lcyt clients read.
#[must_use]
pub fn iso(t: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// Epoch milliseconds.
#[must_use]
pub fn epoch_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `YYYY-MM-DD`.
#[must_use]
pub fn ymd(d: Date) -> String {
    let fmt = format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_default()
}

/// Parses a real calendar date `YYYY-MM-DD`.
///
/// # Errors
/// 400 naming `field`.
pub fn parse_ymd(field: &str, s: &str) -> Result<Date, ApiError> {
    let fmt = format_description!("[year]-[month]-[day]");
    Date::parse(s, &fmt)
        .map_err(|_| ApiError::BadRequest(format!("{field} must be a valid date YYYY-MM-DD")))
}

/// An RFC 3339 date-time, or a date `YYYY-MM-DD` read as midnight UTC, to the microsecond.
#[must_use]
pub fn instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| parse_ymd("", s).ok().map(|d| d.midnight().assume_utc()))
        .map(tally_domain::clock::truncate_to_micros)
}

/// Parses an expiry: an RFC 3339 date-time, or a date (then midnight UTC: the key is invalid
/// from the start of that day).
///
/// # Errors
/// 400 naming `field`.
pub fn parse_instant(field: &str, s: &str) -> Result<OffsetDateTime, ApiError> {
    instant(s).ok_or_else(|| {
        ApiError::BadRequest(format!("{field} must be an ISO 8601 date or date-time"))
    })
}

/// Deserialises a field that distinguishes "absent" (`None`) from "null" (`Some(None)`).
///
/// # Errors
/// The inner type's.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A limit from the wire: a non-negative integer, or null for unlimited.
///
/// # Errors
/// 400 naming `field` for a negative value.
pub fn limit(field: &str, v: Option<i64>) -> Result<Option<u64>, ApiError> {
    v.map(|n| {
        u64::try_from(n).map_err(|_| {
            ApiError::BadRequest(format!("{field} must be a non-negative integer or null"))
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats() {
        assert_eq!(
            iso(datetime!(2024-06-01 10:00:00.5 UTC)),
            "2024-06-01T10:00:00.500Z"
        );
        assert_eq!(epoch_ms(datetime!(1970-01-01 0:00:01.25 UTC)), 1250);
        assert_eq!(
            parse_instant("expires", "2026-12-31").unwrap(),
            datetime!(2026-12-31 0:00 UTC)
        );
        assert_eq!(
            parse_instant("expires", "2026-12-31T10:00:00+02:00").unwrap(),
            datetime!(2026-12-31 8:00 UTC)
        );
        assert!(parse_instant("expires", "2026-13-01").is_err());
        assert!(parse_ymd("from", "2026-02-30").is_err());
        assert!(limit("daily_limit", Some(-1)).is_err());
        assert_eq!(limit("daily_limit", Some(0)).unwrap(), Some(0));
    }
}
