//! The usage-event body shared by every ingestion path (`POST /v1/events`, `POST /usage`,
//! `POST /v1/verify`'s `event`): parsing, exact money, and who may set what. Its OpenAPI
//! schema is derived here, with the rules `into_event` and `NewUsageEvent::validate` enforce;
//! like every request schema it is never stricter than the parser.

use serde::Deserialize;
use serde_json::value::RawValue;
use tally_domain::key::KeyId;
use tally_domain::origin::Domain;
use tally_domain::tenancy::{OrgId, UserId};
use tally_domain::usage::{CostNanos, EventKind, IdempotencyKey, NewUsageEvent};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
use utoipa::openapi::Schema;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::principal::Principal;

/// A usage event as clients send it. Unknown fields are refused so typos are not lost.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// What produced it; default `request`.
    #[schema(schema_with = kind_schema)]
    pub kind: Option<String>,
    /// Product-level API name.
    #[schema(max_length = 2048)]
    pub api_name: Option<String>,
    /// Product-level endpoint.
    #[schema(max_length = 2048)]
    pub endpoint: Option<String>,
    /// HTTP method (upper-cased); an event with a method is an API call.
    #[schema(pattern = "^[A-Za-z]{1,16}$")]
    pub method: Option<String>,
    /// HTTP path.
    #[schema(max_length = 2048)]
    pub path: Option<String>,
    /// HTTP status.
    #[schema(minimum = 100, maximum = 599)]
    pub status_code: Option<i64>,
    /// Response time.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub response_time_ms: Option<i64>,
    /// Model.
    #[schema(max_length = 2048)]
    pub model: Option<String>,
    /// Language.
    #[schema(max_length = 2048)]
    pub language: Option<String>,
    /// Site: a host or an origin `https://host[:port]`, normalised as `POST /live` does.
    #[schema(schema_with = domain_schema)]
    pub domain: Option<String>,
    /// Units (default 1).
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub units: Option<i64>,
    /// Cost in dollars, a JSON number kept exact (`0.0043`).
    #[schema(schema_with = cost_schema)]
    pub cost_usd: Option<Box<RawValue>>,
    /// Tokens.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub tokens: Option<i64>,
    /// Quota.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub quota: Option<i64>,
    /// Duration.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub duration_ms: Option<i64>,
    /// Success (default true).
    pub success: Option<bool>,
    /// Error text.
    #[schema(max_length = 2048)]
    pub error: Option<String>,
    /// Client IP.
    #[schema(max_length = 2048)]
    pub ip: Option<String>,
    /// Client user agent.
    #[schema(max_length = 2048)]
    pub user_agent: Option<String>,
    /// Idempotency key (also accepted as the `Idempotency-Key` header): a repeat in the same
    /// organisation records nothing.
    #[schema(pattern = "^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
    /// When it happened (RFC 3339; default now).
    #[schema(format = DateTime)]
    pub occurred_at: Option<String>,
    /// The user (admin callers only; others are their own user).
    pub user_id: Option<Uuid>,
    /// The key (admin callers only; a key caller is itself).
    pub key_id: Option<i64>,
    /// The organisation (admin callers only).
    #[schema(pattern = "^org_[A-Za-z0-9_-]{1,60}$")]
    pub org_id: Option<String>,
}

fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

fn kind_schema() -> Schema {
    nullable_string()
        .enum_values(Some(["request", "job", "caption", "usage"]))
        .description(Some("What produced it; default `request`."))
        .into()
}

/// A site as a request names it: a host or an origin `https://host[:port]`, normalised as
/// `POST /live` does (at most 255 characters, no white space). The pattern says only what
/// every accepted value has: a host character.
#[must_use]
pub fn domain_schema() -> Schema {
    nullable_string()
        .pattern(Some("[A-Za-z0-9._:-]"))
        .description(Some(
            "A host or an origin `https://host[:port]`, stored normalised (lower case, default \
             scheme https, loopback as `localhost`).",
        ))
        .into()
}

/// `cost_usd`: dollars as a JSON number or a numeric string, read exactly (plain decimal
/// notation, at most 9 decimals, at most 1,000,000); `null` is 0.
fn cost_schema() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .maximum(Some(1_000_000_i64));
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*([0-9]+\.?[0-9]*|\.[0-9]+)[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"));
    OneOfBuilder::new()
        .item(number)
        .item(text)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "Dollars, kept exact as integer nano-dollars: a JSON number or a numeric string in \
             plain decimal notation (no exponent), at most 9 decimals, 0-1,000,000.",
        ))
        .into()
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
