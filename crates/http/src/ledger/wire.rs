//! The usage-ledger wire shapes (Billix field names) and their mapping to the domain event.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tally_domain::key::KeyId;
use tally_domain::tenancy::UserId;
use tally_domain::usage::{EventKind, EventPatch, NewUsageEvent, UsageEvent};
use time::OffsetDateTime;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::event_input::{cost, EventInput};
use crate::principal::Principal;
use crate::rollups::usd;
use crate::wire::iso;

/// The schema of `cost_usd`: a non-negative decimal number of dollars, or the same as a string,
/// read exactly (never through a float), so at most 9 decimal places and no exponent.
fn cost_usd_schema() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .maximum(Some(1_000_000_u64));
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^\s*([0-9]+(\.[0-9]{0,9}0*)?|\.[0-9]{1,9}0*)\s*$"));
    OneOfBuilder::new()
        .item(number)
        .item(text)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "Dollars, exact: a non-negative decimal (or a string holding one) of at most 9 \
             decimal places, written without an exponent, at most 1,000,000.",
        ))
        .into()
}

/// `POST /usage` body. `api_key_used` is a raw key; only its id is stored. A `null` field is
/// the same as an absent one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUsageRequest {
    /// Product-level API name (`llm_query`).
    #[schema(max_length = 2048, example = "llm_query")]
    pub api_name: Option<String>,
    /// Product-level endpoint (`/chat`).
    #[schema(max_length = 2048, example = "/chat")]
    pub endpoint: Option<String>,
    /// Units (default 1).
    #[schema(minimum = 0, maximum = 1e15, example = 346)]
    pub units_used: Option<i64>,
    /// Dollars, exact.
    #[schema(schema_with = cost_usd_schema)]
    pub cost_usd: Option<Box<RawValue>>,
    /// The raw API key the usage was made with: the usage is charged to it (400 when unknown,
    /// 403 when it is not the caller's). Without it a key credential charges itself.
    #[schema(example = "pk_live_abc123")]
    pub api_key_used: Option<String>,
    /// The user (admins only; others are themselves and get 400 for naming one).
    pub user_id: Option<Uuid>,
    /// Model.
    #[schema(max_length = 2048)]
    pub model: Option<String>,
    /// Tokens.
    #[schema(minimum = 0, maximum = 1e15)]
    pub tokens: Option<i64>,
    /// When it happened (RFC 3339; default now).
    #[schema(format = DateTime)]
    pub occurred_at: Option<String>,
    /// Idempotency key (or the `Idempotency-Key` header): 1-255 visible ASCII characters.
    #[schema(min_length = 1, max_length = 255, pattern = "^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

impl CreateUsageRequest {
    /// The raw key to resolve, if any.
    #[must_use]
    pub fn api_key_used(&self) -> Option<&str> {
        self.api_key_used.as_deref()
    }

    /// The domain event for `p` at `now` (key not yet applied: see [`apply_key`]).
    ///
    /// # Errors
    /// 400 naming the field.
    pub fn into_event(
        self,
        p: &Principal,
        header_idempotency: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<NewUsageEvent, ApiError> {
        EventInput {
            api_name: self.api_name,
            endpoint: self.endpoint,
            units: self.units_used,
            cost_usd: self.cost_usd,
            model: self.model,
            tokens: self.tokens,
            occurred_at: self.occurred_at,
            idempotency_key: self.idempotency_key,
            user_id: self.user_id,
            ..EventInput::default()
        }
        .into_event(p, EventKind::Usage, header_idempotency, now)
        .map_err(|m| ApiError::BadRequest(m.replace("units", "units_used")))
    }
}

/// Charges the event to the key named by `api_key_used`. Admins may name any key (the event
/// takes its organisation, and its user unless one was given); others only a key they may see.
///
/// # Errors
/// 403 for someone else's key.
pub fn apply_key(
    p: &Principal,
    e: &mut NewUsageEvent,
    key: &tally_domain::key::ApiKey,
) -> Result<(), ApiError> {
    if p.is_admin() {
        e.org_id = key.org_id.clone();
        e.user_id = e.user_id.or(key.user_id);
    } else if !p.may_see_key(key) {
        return Err(ApiError::Forbidden(
            "api_key_used is not one of your keys".to_owned(),
        ));
    }
    e.key_id = Some(key.id);
    Ok(())
}

/// `PUT /usage/{usage_id}` body: only present fields change, and at least one must be given
/// (not `null`, which is the same as absent). Units and cost both 0, or `status_active:
/// false`, refunds the record.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUsageRequest {
    /// New units.
    #[schema(minimum = 0, maximum = 1e15)]
    pub units_used: Option<i64>,
    /// New cost.
    #[schema(schema_with = cost_usd_schema)]
    pub cost_usd: Option<Box<RawValue>>,
    /// New tokens.
    #[schema(minimum = 0, maximum = 1e15)]
    pub tokens: Option<i64>,
    /// `false` refunds (voids) the record; `true` restores it.
    pub status_active: Option<bool>,
}

/// The largest units or tokens a correction may set: the bound a new event has
/// (`NewUsageEvent::validate`), so a corrected record is one that could have been recorded.
const MAX_COUNT: u64 = 1_000_000_000_000_000;

fn non_negative(field: &str, v: Option<i64>) -> Result<Option<u64>, ApiError> {
    v.map(|n| {
        let n = u64::try_from(n)
            .map_err(|_| ApiError::BadRequest(format!("{field} must not be negative")))?;
        if n > MAX_COUNT {
            return Err(ApiError::BadRequest(format!(
                "{field} must be at most {MAX_COUNT}"
            )));
        }
        Ok(n)
    })
    .transpose()
}

impl UpdateUsageRequest {
    /// The domain patch. Units and cost both zero is a refund (DESIGN §3.6).
    ///
    /// # Errors
    /// 400 for a negative or malformed value, or an empty body.
    pub fn into_patch(self) -> Result<EventPatch, ApiError> {
        let patch = EventPatch {
            units: non_negative("units_used", self.units_used)?,
            cost: self
                .cost_usd
                .as_deref()
                .map(cost)
                .transpose()
                .map_err(ApiError::BadRequest)?,
            tokens: non_negative("tokens", self.tokens)?,
            quota: None,
            active: self.status_active,
            ..EventPatch::default()
        };
        if patch == EventPatch::default() {
            return Err(ApiError::BadRequest(
                "give at least one of units_used, cost_usd, tokens, status_active".to_owned(),
            ));
        }
        Ok(patch)
    }
}

/// A usage record as Billix shows it; `api_key_used` is the key's alias, never the secret.
/// Every field is always present; the optional ones are `null` when not recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRecord {
    /// The record's id.
    usage_id: Uuid,
    /// The user it is charged to.
    #[schema(value_type = Option<Uuid>, required = true)]
    user_id: Option<UserId>,
    /// Product-level API name.
    #[schema(required = true)]
    api_name: Option<String>,
    /// Product-level endpoint.
    #[schema(required = true)]
    endpoint: Option<String>,
    /// Units (0 once refunded by a correction to zero).
    units_used: u64,
    /// Dollars, exact (`0.0043`, `12`).
    #[schema(value_type = f64, minimum = 0)]
    cost_usd: Value,
    /// The alias (first 6 and last 4 characters) of the key the usage was made with.
    #[schema(required = true, example = "pk_liv…c123")]
    api_key_used: Option<String>,
    /// `false` once refunded: the record leaves every analytics result.
    status_active: bool,
    /// When the usage happened (RFC 3339, milliseconds, UTC).
    #[schema(format = DateTime, example = "2025-07-04T12:00:00.000Z")]
    created_at: String,
}

impl UsageRecord {
    /// The record of `e`; `aliases` maps key ids to aliases.
    #[must_use]
    pub fn of(e: &UsageEvent, aliases: &HashMap<KeyId, String>) -> Self {
        let d = &e.data;
        Self {
            usage_id: e.id,
            user_id: d.user_id,
            api_name: d.api_name.clone(),
            endpoint: d.endpoint.clone(),
            units_used: d.units,
            cost_usd: usd(d.cost),
            api_key_used: d.key_id.and_then(|k| aliases.get(&k).cloned()),
            status_active: e.active,
            created_at: iso(d.occurred_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tally_domain::tenancy::{OrgId, Role, User, Username};
    use tally_domain::usage::CostNanos;

    fn alice() -> Principal {
        Principal::User(User {
            id: UserId(Uuid::from_u128(7)),
            number: 0,
            org_id: OrgId::parse("org_acme").unwrap(),
            username: Username::parse("alice").unwrap(),
            email: None,
            role: Role::User,
            created_at: OffsetDateTime::UNIX_EPOCH,
            erased_at: None,
        })
    }

    #[test]
    fn billix_body_maps_to_the_event() {
        let body: CreateUsageRequest = serde_json::from_value(json!({
            "api_name": "llm_query", "endpoint": "/chat", "units_used": 346,
            "cost_usd": 0.0043, "api_key_used": "pk_live_abc123"
        }))
        .unwrap();
        assert_eq!(body.api_key_used(), Some("pk_live_abc123"));
        let e = body
            .into_event(&alice(), Some("idem-1"), OffsetDateTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(e.units, 346);
        assert_eq!(e.cost, CostNanos(4_300_000));
        assert_eq!(e.user_id, Some(UserId(Uuid::from_u128(7))));
        assert_eq!(e.kind, EventKind::Usage);
        assert_eq!(e.idempotency_key.unwrap().as_str(), "idem-1");
    }

    #[test]
    fn bad_values_name_the_billix_field() {
        let body = CreateUsageRequest {
            units_used: Some(-1),
            ..CreateUsageRequest::default()
        };
        let err = body
            .into_event(&alice(), None, OffsetDateTime::UNIX_EPOCH)
            .unwrap_err();
        assert!(err.to_string().contains("units_used"), "{err}");
        assert!(serde_json::from_value::<CreateUsageRequest>(json!({"units": 1})).is_err());
    }

    #[test]
    fn zero_units_and_cost_is_a_refund_patch() {
        let p: UpdateUsageRequest =
            serde_json::from_value(json!({"units_used": 0, "cost_usd": 0.00})).unwrap();
        let patch = p.into_patch().unwrap();
        assert_eq!(patch.units, Some(0));
        assert_eq!(patch.cost, Some(CostNanos(0)));
        assert!(UpdateUsageRequest::default().into_patch().is_err());
        let neg = UpdateUsageRequest {
            units_used: Some(-5),
            ..UpdateUsageRequest::default()
        };
        assert!(neg.into_patch().is_err());
        let huge = UpdateUsageRequest {
            tokens: Some(1_000_000_000_000_001),
            ..UpdateUsageRequest::default()
        };
        let err = huge.into_patch().unwrap_err().to_string();
        assert!(err.contains("tokens must be at most"), "{err}");
    }
}
