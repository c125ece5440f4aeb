//! lcyt rows → Tally's domain values. Each function maps one row or says, in words an
//! operator can act on, why the row cannot come over.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value;
use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::import::{Copies, ImportedKey, KeyImport};
use tally_domain::key::{ApiKey, KeyId, KeySecret};
use tally_domain::limits::Limits;
use tally_domain::origin::Domain;
use tally_domain::session::{CaptionError, EndReason, SessionId, SessionRecord};
use tally_domain::tenancy::{Email, OrgId};
use tally_domain::usage::{DomainCounters, DomainRollupKey};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::lcyt::{int, text, Row};

/// Why a row stays behind.
pub(crate) type LeftOut = String;

/// An lcyt timestamp: `YYYY-MM-DD` (UTC midnight, as JS reads it), SQLite's
/// `YYYY-MM-DD HH:MM:SS` (UTC), or ISO 8601 (`toISOString()`; no zone = UTC, this being what
/// lcyt on a UTC host wrote).
pub(crate) fn instant(raw: &str) -> Option<OffsetDateTime> {
    let s = raw.trim();
    let mut iso = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.replacen(' ', "T", 1)
    };
    let time_part = iso.get(11..).unwrap_or_default();
    if !time_part.ends_with(['Z', 'z']) && !time_part.contains(['+', '-']) {
        iso.push('Z');
    }
    OffsetDateTime::parse(&iso, &Rfc3339).ok()
}

/// A `YYYY-MM-DD` date.
pub(crate) fn day(raw: &str) -> Option<Date> {
    Date::parse(raw.trim(), format_description!("[year]-[month]-[day]")).ok()
}

fn counter(v: &Value) -> u64 {
    int(v).map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

/// lcyt refuses once `used >= limit`, so a negative limit blocks everything, like 0.
fn limit(v: &Value) -> Option<u64> {
    int(v).map(|n| u64::try_from(n).unwrap_or(0))
}

fn opt_instant(v: &Value, what: &str, id: i64, notes: &mut Vec<String>) -> Option<OffsetDateTime> {
    let raw = text(v).filter(|s| !s.trim().is_empty())?;
    let parsed = instant(&raw);
    if parsed.is_none() {
        notes.push(format!(
            "key #{id}: {what} {raw:?} is not a date; lcyt reads it as no date, and so does \
             the import"
        ));
    }
    parsed
}

/// An `api_keys` row (with its `caption_usage` days) as a key to import. `notes` collects
/// what was read differently from how it was written.
pub(crate) fn key(
    row: &Row,
    daily: &[(Date, u64)],
    org: &OrgId,
    now: OffsetDateTime,
    notes: &mut Vec<String>,
) -> Result<ImportedKey, LeftOut> {
    let id = int(&row[0]).unwrap_or(0);
    let raw = text(&row[1])
        .filter(|k| !k.is_empty())
        .ok_or("it has no key")?;
    let secret = KeySecret::presented(&raw);
    let email = text(&row[6])
        .filter(|e| !e.trim().is_empty())
        .and_then(|e| {
            let parsed = Email::parse(&e).ok();
            if parsed.is_none() {
                notes.push(format!(
                    "key #{id}: email {e:?} is not an address; imported without it"
                ));
            }
            parsed
        });
    let created_at = opt_instant(&row[3], "created_at", id, notes).unwrap_or(now);
    let active = int(&row[5]).unwrap_or(1) != 0;
    Ok(ImportedKey {
        key: ApiKey {
            id: KeyId(id),
            secret_hash: secret.hash(),
            alias: secret.alias(),
            name: None,
            owner: text(&row[2]).unwrap_or_default(),
            email_hash: email.as_ref().map(Email::hash),
            email,
            user_id: None,
            org_id: org.clone(),
            created_at,
            expires_at: opt_instant(&row[4], "expires_at", id, notes),
            active,
            revoked_at: opt_instant(&row[10], "revoked_at", id, notes),
            erased_at: None,
            limits: Limits {
                daily: limit(&row[7]),
                lifetime: limit(&row[8]),
            },
            lifetime_used: counter(&row[9]),
            sequence: counter(&row[11]),
            last_caption_at: opt_instant(&row[12], "last_caption_at", id, notes),
        },
        daily: daily.to_vec(),
    })
}

/// Per-day counters by raw lcyt key.
pub(crate) type DailyByKey = HashMap<String, Vec<(Date, u64)>>;

/// `caption_usage` rows by raw key: `(day, count)`; days that are no date stay behind.
pub(crate) fn daily_usage(rows: &[Row]) -> (DailyByKey, Vec<LeftOut>) {
    let mut out = DailyByKey::new();
    let mut left = Vec::new();
    for row in rows {
        let (Some(key), raw_day) = (text(&row[0]), text(&row[1]).unwrap_or_default()) else {
            left.push("a row without a key".to_owned());
            continue;
        };
        match day(&raw_day) {
            Some(d) => out.entry(key).or_default().push((d, counter(&row[2]))),
            None => left.push(format!("date {raw_day:?} is not a date")),
        }
    }
    (out, left)
}

/// The Tally key of an lcyt raw key, for history rows: none when the key did not come over,
/// or has been erased in Tally since (its history must not come back).
pub(crate) fn owner(
    keys: &HashMap<String, KeyImport>,
    raw: Option<String>,
) -> Result<KeyId, LeftOut> {
    match raw.and_then(|k| keys.get(&k).copied()) {
        Some(KeyImport::Existing { erased: true, .. }) => Err("its key is erased in Tally".into()),
        Some(k) => Ok(k.id()),
        None => Err("its key is not in the lcyt database".into()),
    }
}

fn field<T>(v: Option<T>, what: &str) -> Result<T, LeftOut> {
    v.ok_or_else(|| format!("no valid {what}"))
}

/// A `session_stats` row as a session record.
pub(crate) fn session(row: &Row, key_id: KeyId, org: &OrgId) -> Result<SessionRecord, LeftOut> {
    let session_id = field(
        text(&row[0]).and_then(|s| SessionId::parse(&s).ok()),
        "session_id",
    )?;
    let domain = field(text(&row[2]).and_then(|d| Domain::parse(&d).ok()), "domain")?;
    let started_at = field(text(&row[3]).and_then(|t| instant(&t)), "started_at")?;
    let ended_at = field(text(&row[4]).and_then(|t| instant(&t)), "ended_at")?;
    let ended_by = text(&row[9]).unwrap_or_else(|| "client".to_owned());
    Ok(SessionRecord {
        session_id,
        key_id,
        org_id: org.clone(),
        domain,
        started_at,
        ended_at,
        duration_ms: int(&row[5]).map_or_else(
            || tally_domain::session::duration_ms(started_at, ended_at),
            |d| u64::try_from(d).unwrap_or(0),
        ),
        captions_sent: counter(&row[6]),
        captions_failed: counter(&row[7]),
        final_sequence: counter(&row[8]),
        ended_by: EndReason::parse(&ended_by).map_err(|_| format!("ended_by {ended_by:?}"))?,
    })
}

/// A `caption_errors` row: the message lcyt kept (else `HTTP <code>`), the code when it is an
/// HTTP status.
pub(crate) fn caption_error(
    row: &Row,
    key_id: KeyId,
    org: &OrgId,
) -> Result<CaptionError, LeftOut> {
    let session_id = field(
        text(&row[1]).and_then(|s| SessionId::parse(&s).ok()),
        "session_id",
    )?;
    let occurred_at = field(text(&row[2]).and_then(|t| instant(&t)), "timestamp")?;
    let code = int(&row[3]);
    let error = text(&row[4])
        .filter(|m| !m.trim().is_empty())
        .or_else(|| code.map(|c| format!("HTTP {c}")))
        .unwrap_or_else(|| "delivery failed".to_owned());
    Ok(CaptionError {
        session_id,
        key_id,
        org_id: org.clone(),
        error,
        status_code: code
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..=599).contains(c)),
        occurred_at,
        batch_size: int(&row[5]).map_or(1, |n| u64::try_from(n).unwrap_or(0)),
    })
}

/// An `auth_events` row; `key_id` is `None` for a refusal of a key lcyt never had (the
/// presented string is not kept, as Tally never stores one).
pub(crate) fn auth_event(
    row: &Row,
    key_id: Option<KeyId>,
    org: &OrgId,
) -> Result<AuthEvent, LeftOut> {
    let raw = text(&row[1]).unwrap_or_default();
    let kind =
        AuthEventKind::parse(&raw).map_err(|_| format!("event type {raw:?} has no Tally kind"))?;
    Ok(AuthEvent {
        key_id,
        org_id: org.clone(),
        kind,
        domain: text(&row[3]).and_then(|d| Domain::parse(&d).ok()),
        occurred_at: field(text(&row[2]).and_then(|t| instant(&t)), "timestamp")?,
    })
}

/// `domain_hourly_stats` rows, merged per normalised site (lcyt keys them by the raw domain
/// string, so `https://a.example` and `https://a.example/` are two rows of one Tally site).
pub(crate) fn site_rollups(rows: &[Row]) -> (Vec<(DomainRollupKey, DomainCounters)>, Vec<LeftOut>) {
    let mut out: BTreeMap<DomainRollupKey, DomainCounters> = BTreeMap::new();
    let mut left = Vec::new();
    for row in rows {
        let date = text(&row[0]).and_then(|d| day(&d));
        let hour = int(&row[1])
            .and_then(|h| u8::try_from(h).ok())
            .filter(|h| *h < 24);
        let domain = text(&row[2]).and_then(|d| Domain::parse(&d).ok());
        let (Some(date), Some(hour), Some(domain)) = (date, hour, domain) else {
            left.push(format!(
                "row ({:?}, {:?}, {:?}) has no valid date, hour and domain",
                text(&row[0]),
                int(&row[1]),
                text(&row[2])
            ));
            continue;
        };
        let counters = DomainCounters {
            sessions_started: counter(&row[3]),
            sessions_ended: counter(&row[4]),
            captions_sent: counter(&row[5]),
            captions_failed: counter(&row[6]),
            batches_sent: counter(&row[7]),
            total_duration_ms: counter(&row[8]),
            peak_sessions: counter(&row[9]),
        };
        out.entry(DomainRollupKey { date, hour, domain })
            .or_default()
            .merge(&counters);
    }
    (out.into_iter().collect(), left)
}

/// Identical rows folded into one with their count, first appearance first. Rows are equal
/// exactly when their `Debug` forms are (every field is printed).
pub(crate) fn copies<T: std::fmt::Debug>(rows: Vec<T>) -> Vec<Copies<T>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Copies<T>> = Vec::new();
    for row in rows {
        let k = format!("{row:?}");
        match index.get(&k) {
            Some(&i) => out[i].count += 1,
            None => {
                index.insert(k, out.len());
                out.push(Copies { row, count: 1 });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn lcyt_timestamps_in_all_three_forms() {
        assert_eq!(instant("2026-12-31"), Some(datetime!(2026-12-31 0:00 UTC)));
        assert_eq!(
            instant("2026-11-22 02:33:51"),
            Some(datetime!(2026-11-22 2:33:51 UTC))
        );
        assert_eq!(
            instant("2026-11-22T02:33:51.123Z"),
            Some(datetime!(2026-11-22 2:33:51.123 UTC))
        );
        assert_eq!(
            instant("2026-11-22T04:33:51+02:00"),
            Some(datetime!(2026-11-22 2:33:51 UTC))
        );
        assert_eq!(instant("soon"), None);
        assert_eq!(instant(""), None);
    }

    #[test]
    fn keys_read_as_lcyt_reads_them() {
        let row = vec![
            Value::Integer(7),
            Value::Text("6f1c2a4e-8b1d-4c3e-9a7f-0d2b5e8c1a93".into()),
            Value::Text("Alice".into()),
            Value::Text("2026-01-05 10:00:00".into()),
            Value::Text("next year".into()),
            Value::Integer(0),
            Value::Text(" Alice@Example.COM ".into()),
            Value::Integer(-3),
            Value::Text("100".into()),
            Value::Real(40.0),
            Value::Text("2026-02-01 09:00:00".into()),
            Value::Null,
            Value::Null,
        ];
        let now = datetime!(2026-03-01 0:00 UTC);
        let mut notes = Vec::new();
        let k = key(&row, &[], &OrgId::default_org(), now, &mut notes)
            .unwrap()
            .key;
        assert_eq!(k.id, KeyId(7));
        assert_eq!(
            k.secret_hash,
            KeySecret::presented("6f1c2a4e-8b1d-4c3e-9a7f-0d2b5e8c1a93").hash()
        );
        assert_eq!(k.created_at, datetime!(2026-01-05 10:00 UTC));
        assert_eq!(k.expires_at, None, "an unreadable expiry never expires");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            k.email.as_ref().map(Email::as_str),
            Some("alice@example.com")
        );
        assert_eq!(
            k.limits,
            Limits {
                daily: Some(0),
                lifetime: Some(100)
            }
        );
        assert_eq!((k.lifetime_used, k.active), (40, false));
        assert_eq!(k.revoked_at, Some(datetime!(2026-02-01 9:00 UTC)));
        let mut empty = row.clone();
        empty[1] = Value::Text(String::new());
        assert!(key(&empty, &[], &OrgId::default_org(), now, &mut notes).is_err());
    }

    #[test]
    fn equal_rows_are_counted() {
        let c = copies(vec!["a", "b", "a", "a"]);
        assert_eq!(
            c.iter().map(|c| (c.row, c.count)).collect::<Vec<_>>(),
            vec![("a", 3), ("b", 1)]
        );
    }

    #[test]
    fn site_rows_merge_per_normalised_domain() {
        let row = |d: &str, sent: i64, peak: i64| {
            vec![
                Value::Text("2026-03-01".into()),
                Value::Integer(5),
                Value::Text(d.into()),
                Value::Integer(1),
                Value::Null,
                Value::Integer(sent),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Integer(peak),
            ]
        };
        let (rows, left) = site_rollups(&[
            row("https://a.example", 2, 3),
            row("https://a.example/", 5, 1),
            row("", 1, 1),
        ]);
        assert_eq!(rows.len(), 1);
        assert_eq!(left.len(), 1);
        let c = rows[0].1;
        assert_eq!(
            (c.sessions_started, c.captions_sent, c.peak_sessions),
            (2, 7, 3)
        );
    }
}
