//! The usage-event body shared by every ingestion path (`POST /v1/events`, `POST /usage`,
//! `POST /v1/verify`'s `event`): parsing, exact money, and who may set what.

use serde::Deserialize;
use serde_json::value::RawValue;
use tally_domain::key::KeyId;
use tally_domain::origin::Domain;
use tally_domain::tenancy::{OrgId, UserId};
use tally_domain::usage::{CostNanos, EventKind, IdempotencyKey, NewUsageEvent};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::principal::Principal;

/// A usage event as clients send it. Unknown fields are refused so typos are not lost.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// `request`, `job`, `caption` or `usage`.
    pub kind: Option<String>,
    /// Product-level API name.
    pub api_name: Option<String>,
    /// Product-level endpoint.
    pub endpoint: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP status.
    pub status_code: Option<i64>,
    /// Response time.
    pub response_time_ms: Option<i64>,
    /// Model.
    pub model: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Site.
    pub domain: Option<String>,
    /// Units (default 1).
    pub units: Option<i64>,
    /// Cost in dollars, a JSON number kept exact (`0.0043`).
    pub cost_usd: Option<Box<RawValue>>,
    /// Tokens.
    pub tokens: Option<i64>,
    /// Quota.
    pub quota: Option<i64>,
    /// Duration.
    pub duration_ms: Option<i64>,
    /// Success (default true).
    pub success: Option<bool>,
    /// Error text.
    pub error: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Idempotency key (also accepted as the `Idempotency-Key` header).
    pub idempotency_key: Option<String>,
    /// When it happened (RFC 3339; default now).
    pub occurred_at: Option<String>,
    /// The user (admin callers only; others are their own user).
    pub user_id: Option<Uuid>,
    /// The key (admin callers only; a key caller is itself).
    pub key_id: Option<i64>,
    /// The organisation (admin callers only).
    pub org_id: Option<String>,
}

fn count(field: &str, v: Option<i64>, default: u64) -> Result<u64, String> {
    match v {
        None => Ok(default),
        Some(n) => u64::try_from(n).map_err(|_| format!("{field} must not be negative")),
    }
}

/// Parses an exact decimal dollar amount from a raw JSON number (or numeric string).
///
/// # Errors
/// A message naming `cost_usd`.
pub fn cost(raw: &RawValue) -> Result<CostNanos, String> {
    let text = raw.get().trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    CostNanos::parse_usd(text).map_err(|e| e.0)
}

impl EventInput {
    /// Builds the domain event for `principal` at `now`, with `default_kind` when no kind is
    /// given. Non-admins cannot place events in another organisation, user or key: their own
    /// are used. The key, user and org of an admin's event must be resolved by the caller.
    ///
    /// # Errors
    /// A message naming the first bad field.
    pub fn into_event(
        self,
        principal: &Principal,
        default_kind: EventKind,
        header_idempotency: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<NewUsageEvent, String> {
        let kind = match self.kind.as_deref() {
            None => default_kind,
            Some(k) => EventKind::parse(k).map_err(|e| e.0)?,
        };
        let org = match (&self.org_id, principal.org_id()) {
            (_, Some(own)) if !principal.is_admin() => own,
            (Some(o), _) => OrgId::parse(o).map_err(|e| format!("org_id: {}", e.0))?,
            (None, Some(own)) => own,
            (None, None) => OrgId::default_org(),
        };
        let mut e = NewUsageEvent::new(org, kind, now);
        if principal.is_admin() {
            e.user_id = self.user_id.map(UserId);
            e.key_id = self.key_id.map(KeyId);
        } else {
            if self.org_id.is_some() || self.user_id.is_some() || self.key_id.is_some() {
                return Err("org_id, user_id and key_id may only be set by an admin".to_owned());
            }
            e.user_id = principal.user_id();
            e.key_id = principal.key().map(|k| k.id);
        }
        e.api_name = self.api_name;
        e.endpoint = self.endpoint;
        e.method = self.method.map(|m| m.to_ascii_uppercase());
        e.path = self.path;
        e.status_code = self
            .status_code
            .map(|s| {
                u16::try_from(s).map_err(|_| "status_code must be between 100 and 599".to_owned())
            })
            .transpose()?;
        e.response_time_ms = self
            .response_time_ms
            .map(|v| count("response_time_ms", Some(v), 0))
            .transpose()?;
        e.model = self.model;
        e.language = self.language;
        e.domain = self
            .domain
            .as_deref()
            .map(|d| Domain::parse(d).map_err(|_| "domain is not a valid domain".to_owned()))
            .transpose()?;
        e.units = count("units", self.units, 1)?;
        e.cost = self
            .cost_usd
            .as_deref()
            .map(cost)
            .transpose()?
            .unwrap_or_default();
        e.tokens = count("tokens", self.tokens, 0)?;
        e.quota = count("quota", self.quota, 0)?;
        e.duration_ms = count("duration_ms", self.duration_ms, 0)?;
        e.success = self.success.unwrap_or(true);
        e.error = self.error;
        e.ip = self.ip;
        e.user_agent = self.user_agent;
        let idem = self.idempotency_key.as_deref().or(header_idempotency);
        e.idempotency_key = idem
            .map(|k| IdempotencyKey::parse(k).map_err(|e| e.0))
            .transpose()?;
        if let Some(at) = self.occurred_at {
            let t = OffsetDateTime::parse(&at, &Rfc3339)
                .map_err(|_| "occurred_at must be an RFC 3339 date-time".to_owned())?;
            e.occurred_at = tally_domain::clock::truncate_to_micros(t);
        }
        e.validate().map_err(|v| v.0)?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(cost(&raw("0.0043")).unwrap(), CostNanos(4_300_000));
        assert_eq!(cost(&raw("\"0.1\"")).unwrap(), CostNanos(100_000_000));
        assert!(cost(&raw("-1")).is_err());
        assert!(cost(&raw("1e-3")).is_err());
    }

    #[test]
    fn non_admins_cannot_place_events_elsewhere() {
        let user = tally_domain::tenancy::User {
            id: UserId(Uuid::nil()),
            number: 0,
            org_id: OrgId::parse("org_acme").unwrap(),
            username: tally_domain::tenancy::Username::parse("alice").unwrap(),
            email: None,
            role: tally_domain::tenancy::Role::User,
            created_at: OffsetDateTime::UNIX_EPOCH,
            erased_at: None,
        };
        let p = Principal::User(user);
        let now = OffsetDateTime::UNIX_EPOCH;
        let e = EventInput {
            units: Some(3),
            ..EventInput::default()
        }
        .into_event(&p, EventKind::Usage, None, now)
        .unwrap();
        assert_eq!(
            (e.org_id.as_str(), e.user_id, e.units),
            ("org_acme", Some(UserId(Uuid::nil())), 3)
        );
        let err = EventInput {
            org_id: Some("org_other".into()),
            ..EventInput::default()
        }
        .into_event(&p, EventKind::Usage, None, now)
        .unwrap_err();
        assert!(err.contains("admin"));
        let err = EventInput {
            units: Some(-1),
            ..EventInput::default()
        }
        .into_event(&p, EventKind::Usage, None, now)
        .unwrap_err();
        assert!(err.contains("units"));
    }
}
