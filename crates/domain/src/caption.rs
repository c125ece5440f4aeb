//! Captions as lcyt's clients send them, and the pure rules that turn one into what each kind
//! of target receives: the timestamp resolution (lcyt-clients reference §3) and the
//! translation composition (§4.1).

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::tenancy::InvalidValue;

/// Longest timestamp string accepted.
pub const MAX_TIMESTAMP: usize = 64;

/// When a caption was spoken, as its client gave it, resolved as far as it can be before
/// delivery (the rest depends on the moment of sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptionTime {
    /// No timestamp, or a falsy one (`0`, `null`): the moment of sending.
    Unset,
    /// `""`: the moment of sending at YouTube; viewers and webhooks get `""`.
    Empty,
    /// A string ending in `Z`: YouTube gets it re-written as UTC with milliseconds;
    /// viewers and webhooks get the string as sent.
    Utc {
        /// As sent.
        raw: String,
        /// Parsed.
        at: OffsetDateTime,
    },
    /// Any other string (`2024-01-15T12:00:00.123`, `…+02:00`): passed on verbatim.
    Verbatim(String),
    /// A number of at least 1000: epoch milliseconds (viewers and webhooks get none).
    EpochMs(i64),
    /// A non-zero number under 1000 (negatives included): that many seconds from the moment
    /// of sending, kept in milliseconds (viewers and webhooks get none).
    FromNowMs(i64),
    /// `time` (ms since the session started), resolved when the batch was accepted as
    /// `startedAt + time + syncOffset`.
    Resolved(OffsetDateTime),
}

fn number(v: &serde_json::Number) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

/// A caption's time as read from the request, before the session is known: a `time` (ms
/// since the session started) still needs the session's `startedAt` and sync offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeInput {
    /// Everything but `time`.
    Given(CaptionTime),
    /// `time`, in milliseconds since the session started.
    SinceStart(i64),
}

impl TimeInput {
    /// Reads a caption's `timestamp` and `time` fields. A non-null `timestamp` wins over
    /// `time`.
    ///
    /// # Errors
    /// The field name and what is wrong: `timestamp` neither a string (≤ 64 characters; one
    /// ending in `Z` must be an RFC 3339 time) nor a number, `time` not a number (or beyond
    /// ±10¹³ ms).
    pub fn parse(
        timestamp: Option<&Value>,
        time: Option<&Value>,
    ) -> Result<Self, (&'static str, InvalidValue)> {
        match timestamp {
            None | Some(Value::Null) => {}
            Some(v) => {
                return CaptionTime::timestamp(v)
                    .map(Self::Given)
                    .map_err(|e| ("timestamp", e))
            }
        }
        match time {
            None | Some(Value::Null) => Ok(Self::Given(CaptionTime::Unset)),
            Some(Value::Number(n)) => number(n)
                .filter(|ms| ms.abs() < 1.0e13)
                .map(|ms| Self::SinceStart(ms as i64))
                .ok_or_else(|| ("time", InvalidValue::new("time is out of range"))),
            Some(_) => Err((
                "time",
                InvalidValue::new(
                    "time must be a number of milliseconds since the session started",
                ),
            )),
        }
    }

    /// The time within a session that started at `started_at` and whose clock is
    /// `sync_offset_ms` behind YouTube's: `time` becomes `startedAt + time + syncOffset`.
    ///
    /// # Errors
    /// `time` when that instant cannot be represented.
    pub fn in_session(
        self,
        started_at: OffsetDateTime,
        sync_offset_ms: i64,
    ) -> Result<CaptionTime, (&'static str, InvalidValue)> {
        match self {
            Self::Given(t) => Ok(t),
            Self::SinceStart(ms) => started_at
                .checked_add(Duration::milliseconds(ms.saturating_add(sync_offset_ms)))
                .map(CaptionTime::Resolved)
                .ok_or_else(|| ("time", InvalidValue::new("time is out of range"))),
        }
    }
}

impl CaptionTime {
    /// Reads and resolves a caption's `timestamp` and `time` fields within a session
    /// ([`TimeInput::parse`], then [`TimeInput::in_session`]).
    ///
    /// # Errors
    /// Those of both.
    pub fn resolve(
        timestamp: Option<&Value>,
        time: Option<&Value>,
        started_at: OffsetDateTime,
        sync_offset_ms: i64,
    ) -> Result<Self, (&'static str, InvalidValue)> {
        TimeInput::parse(timestamp, time)?.in_session(started_at, sync_offset_ms)
    }

    fn timestamp(v: &Value) -> Result<Self, InvalidValue> {
        match v {
            Value::String(s) if s.is_empty() => Ok(Self::Empty),
            Value::String(s) if s.chars().count() > MAX_TIMESTAMP => {
                Err(InvalidValue::new("timestamp must be at most 64 characters"))
            }
            Value::String(s) if s.ends_with('Z') || s.ends_with('z') => {
                OffsetDateTime::parse(s, &Rfc3339)
                    .map(|at| Self::Utc { raw: s.clone(), at })
                    .map_err(|_| InvalidValue::new("timestamp is not a valid RFC 3339 time"))
            }
            Value::String(s) => Ok(Self::Verbatim(s.clone())),
            Value::Number(n) => {
                let f = number(n)
                    .filter(|f| f.abs() < 1.0e15)
                    .ok_or_else(|| InvalidValue::new("timestamp is out of range"))?;
                Ok(if f == 0.0 {
                    Self::Unset
                } else if f >= 1000.0 {
                    Self::EpochMs(f as i64)
                } else {
                    Self::FromNowMs((f * 1000.0) as i64)
                })
            }
            Value::Bool(false) => Ok(Self::Unset),
            _ => Err(InvalidValue::new("timestamp must be a string or a number")),
        }
    }

    /// The timestamp line YouTube receives (`YYYY-MM-DDTHH:MM:SS.mmm`, UTC, no zone), where
    /// `now` is the moment of sending on YouTube's clock (our clock plus the sync offset,
    /// plus 100 ms per earlier caption of the batch for unstamped ones).
    #[must_use]
    pub fn youtube(&self, now: OffsetDateTime) -> String {
        match self {
            Self::Unset | Self::Empty => youtube_time(now),
            Self::Utc { at, .. } | Self::Resolved(at) => youtube_time(*at),
            Self::Verbatim(s) => s.clone(),
            Self::EpochMs(ms) => youtube_time(epoch_ms(*ms)),
            Self::FromNowMs(ms) => {
                youtube_time(now.checked_add(Duration::milliseconds(*ms)).unwrap_or(now))
            }
        }
    }

    /// The `timestamp` field viewers and webhooks receive, if any: strings as sent, a
    /// resolved `time` as ISO 8601 with `Z`, nothing for unset or numeric timestamps.
    #[must_use]
    pub fn fan_out(&self) -> Option<String> {
        match self {
            Self::Unset | Self::EpochMs(_) | Self::FromNowMs(_) => None,
            Self::Empty => Some(String::new()),
            Self::Utc { raw, .. } | Self::Verbatim(raw) => Some(raw.clone()),
            Self::Resolved(at) => Some(iso_z(*at)),
        }
    }
}

fn epoch_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SS.mmm` in UTC: YouTube's caption timestamp form.
#[must_use]
pub fn youtube_time(at: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]");
    at.to_offset(UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (JavaScript's `toISOString`).
#[must_use]
pub fn iso_z(at: OffsetDateTime) -> String {
    format!("{}Z", youtube_time(at))
}

/// lcyt's composition rule: `text` unless `lang` names a non-empty translation different
/// from `text`; then the translation, or `text<br>translation` with `show_original`.
#[must_use]
pub fn compose(
    text: &str,
    lang: Option<&str>,
    translations: Option<&Map<String, Value>>,
    show_original: bool,
) -> String {
    let translation = lang
        .zip(translations)
        .and_then(|(l, t)| t.get(l))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && *t != text);
    match translation {
        None => text.to_owned(),
        Some(t) if show_original => format!("{text}<br>{t}"),
        Some(t) => t.to_owned(),
    }
}

/// One accepted caption with everything its targets need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caption {
    /// The text as sent.
    pub text: String,
    /// The text after composition ([`compose`]): what YouTube receives.
    pub composed_text: String,
    /// When it was spoken.
    pub time: CaptionTime,
    /// Client-supplied translations (language → text), passed on to viewers and webhooks.
    pub translations: Option<Map<String, Value>>,
    /// The language whose translation was composed, if any.
    pub caption_lang: Option<String>,
    /// Whether the original was kept before the translation.
    pub show_original: Option<bool>,
    /// Metacode values (`section`, `lang`, …), passed on as sent.
    pub codes: Option<Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2024-01-15 12:00:00 UTC);
    const NOW: OffsetDateTime = datetime!(2024-01-15 12:30:00.250 UTC);

    fn resolve(v: Value) -> Result<CaptionTime, (&'static str, InvalidValue)> {
        CaptionTime::resolve(v.get("timestamp"), v.get("time"), START, 250)
    }

    #[test]
    fn time_is_started_at_plus_time_plus_sync_offset() {
        let t = resolve(json!({ "time": 5000 })).unwrap();
        assert_eq!(
            t,
            CaptionTime::Resolved(datetime!(2024-01-15 12:00:05.250 UTC))
        );
        assert_eq!(t.youtube(NOW), "2024-01-15T12:00:05.250");
        assert_eq!(t.fan_out().as_deref(), Some("2024-01-15T12:00:05.250Z"));
    }

    #[test]
    fn time_is_read_before_the_session_is_known_and_resolved_in_it() {
        let t = TimeInput::parse(None, Some(&json!(5000.9))).unwrap();
        assert_eq!(t, TimeInput::SinceStart(5000));
        assert_eq!(
            t.in_session(START, -250).unwrap(),
            CaptionTime::Resolved(datetime!(2024-01-15 12:00:04.750 UTC))
        );
        let given = TimeInput::parse(Some(&json!("x")), Some(&json!(5))).unwrap();
        assert_eq!(
            given.in_session(START, 0).unwrap(),
            CaptionTime::Verbatim("x".to_owned())
        );
    }

    #[test]
    fn a_timestamp_wins_over_time_and_null_does_not() {
        let t = resolve(json!({ "timestamp": "2024-01-15T12:00:00.123", "time": 5 })).unwrap();
        assert_eq!(
            t,
            CaptionTime::Verbatim("2024-01-15T12:00:00.123".to_owned())
        );
        let t = resolve(json!({ "timestamp": null, "time": 0 })).unwrap();
        assert_eq!(t.fan_out().as_deref(), Some("2024-01-15T12:00:00.250Z"));
    }

    #[test]
    fn each_timestamp_form_per_target_kind() {
        let cases = [
            (json!({}), "2024-01-15T12:30:00.250", None),
            (json!({ "timestamp": 0 }), "2024-01-15T12:30:00.250", None),
            (
                json!({ "timestamp": "" }),
                "2024-01-15T12:30:00.250",
                Some(""),
            ),
            (
                json!({ "timestamp": "2024-01-15T12:00:01Z" }),
                "2024-01-15T12:00:01.000",
                Some("2024-01-15T12:00:01Z"),
            ),
            (
                json!({ "timestamp": "2024-01-15T12:00:00+02:00" }),
                "2024-01-15T12:00:00+02:00",
                Some("2024-01-15T12:00:00+02:00"),
            ),
            (
                json!({ "timestamp": 1_705_320_000_597_i64 }),
                "2024-01-15T12:00:00.597",
                None,
            ),
            (json!({ "timestamp": -2 }), "2024-01-15T12:29:58.250", None),
        ];
        for (input, youtube, fan_out) in cases {
            let t = resolve(input.clone()).unwrap();
            assert_eq!(t.youtube(NOW), youtube, "{input}");
            assert_eq!(t.fan_out().as_deref(), fan_out, "{input}");
        }
    }

    #[test]
    fn bad_times_name_their_field() {
        let (field, e) = resolve(json!({ "time": "soon" })).unwrap_err();
        assert_eq!(field, "time");
        assert!(e.0.contains("number"), "{}", e.0);
        assert_eq!(
            resolve(json!({ "timestamp": true })).unwrap_err().0,
            "timestamp"
        );
        assert_eq!(
            resolve(json!({ "timestamp": "soonZ" })).unwrap_err().0,
            "timestamp"
        );
        let long = "x".repeat(65);
        assert_eq!(
            resolve(json!({ "timestamp": long })).unwrap_err().0,
            "timestamp"
        );
    }

    #[test]
    fn composition_follows_lcyt() {
        let tr = json!({ "fi": "hei", "sv": "", "en": "hello" });
        let tr = tr.as_object();
        assert_eq!(compose("hello", None, tr, false), "hello");
        assert_eq!(compose("hello", Some("fi"), None, false), "hello");
        assert_eq!(compose("hello", Some("fi"), tr, false), "hei");
        assert_eq!(compose("hello", Some("fi"), tr, true), "hello<br>hei");
        assert_eq!(compose("hello", Some("sv"), tr, true), "hello");
        assert_eq!(compose("hello", Some("en"), tr, true), "hello");
        assert_eq!(compose("hello", Some("de"), tr, true), "hello");
    }
}
