//! Usage events and hourly rollup rows.

use diesel::prelude::*;
use tally_domain::key::KeyId;
use tally_domain::tenancy::UserId;
use tally_domain::usage::{
    CostNanos, EventKind, IdempotencyKey, NewUsageEvent, RollupKey, Totals, UsageEvent,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::convert::{
    from_db, micros, opt_domain, opt_from_db, opt_to_db, org_id, session_id, status_from_db,
    status_to_db, to_db,
};
use crate::error::{corrupt, Fail};
use crate::schema::{usage_events, usage_rollups};

/// The columns of `usage_events`, spelled out for hand-written statements: a prepared
/// statement's result shape is fixed, so a column a later migration adds must not change what
/// a cached statement returns (`SELECT *` would).
macro_rules! event_columns {
    () => {
        "occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name, endpoint, \
         method, path, status_code, response_time_ms, model, language, domain, units, \
         cost_nanos, tokens, quota, duration_ms, success, error, ip, user_agent, active, \
         idempotency_key, created_at"
    };
}
pub(crate) use event_columns;

/// A row of `usage_events`.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = usage_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct EventRow {
    pub occurred_at: OffsetDateTime,
    pub id: Uuid,
    pub org_id: String,
    pub user_id: Option<Uuid>,
    pub key_id: Option<i64>,
    pub session_id: Option<String>,
    pub kind: String,
    pub api_name: Option<String>,
    pub endpoint: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status_code: Option<i32>,
    pub response_time_ms: Option<i64>,
    pub model: Option<String>,
    pub language: Option<String>,
    pub domain: Option<String>,
    pub units: i64,
    pub cost_nanos: i64,
    pub tokens: i64,
    pub quota: i64,
    pub duration_ms: i64,
    pub success: bool,
    pub error: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub active: bool,
    pub idempotency_key: Option<String>,
    pub created_at: OffsetDateTime,
}

impl EventRow {
    /// The row of a new, active event.
    pub(crate) fn of(
        id: Uuid,
        d: &NewUsageEvent,
        created_at: OffsetDateTime,
    ) -> Result<Self, Fail> {
        Ok(Self {
            occurred_at: micros(d.occurred_at),
            id,
            org_id: d.org_id.as_str().to_owned(),
            user_id: d.user_id.map(|u| u.0),
            key_id: d.key_id.map(|k| k.0),
            session_id: d.session_id.as_ref().map(|s| s.as_str().to_owned()),
            kind: d.kind.as_str().to_owned(),
            api_name: d.api_name.clone(),
            endpoint: d.endpoint.clone(),
            method: d.method.clone(),
            path: d.path.clone(),
            status_code: status_to_db(d.status_code),
            response_time_ms: opt_to_db(d.response_time_ms, "response_time_ms")?,
            model: d.model.clone(),
            language: d.language.clone(),
            domain: d.domain.as_ref().map(|x| x.as_str().to_owned()),
            units: to_db(d.units, "units")?,
            cost_nanos: d.cost.0,
            tokens: to_db(d.tokens, "tokens")?,
            quota: to_db(d.quota, "quota")?,
            duration_ms: to_db(d.duration_ms, "duration_ms")?,
            success: d.success,
            error: d.error.clone(),
            ip: d.ip.clone(),
            user_agent: d.user_agent.clone(),
            active: true,
            idempotency_key: d.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
            created_at: micros(created_at),
        })
    }

    pub(crate) fn into_domain(self) -> Result<UsageEvent, Fail> {
        let data = NewUsageEvent {
            org_id: org_id(&self.org_id)?,
            user_id: self.user_id.map(UserId),
            key_id: self.key_id.map(KeyId),
            session_id: self.session_id.as_deref().map(session_id).transpose()?,
            kind: EventKind::parse(&self.kind).map_err(|e| corrupt("event kind", e))?,
            api_name: self.api_name,
            endpoint: self.endpoint,
            method: self.method,
            path: self.path,
            status_code: status_from_db(self.status_code)?,
            response_time_ms: opt_from_db(self.response_time_ms, "response_time_ms")?,
            model: self.model,
            language: self.language,
            domain: opt_domain(self.domain.as_deref())?,
            units: from_db(self.units, "units")?,
            cost: CostNanos(self.cost_nanos),
            tokens: from_db(self.tokens, "tokens")?,
            quota: from_db(self.quota, "quota")?,
            duration_ms: from_db(self.duration_ms, "duration_ms")?,
            success: self.success,
            error: self.error,
            ip: self.ip,
            user_agent: self.user_agent,
            idempotency_key: self
                .idempotency_key
                .map(|k| IdempotencyKey::parse(&k).map_err(|e| corrupt("idempotency key", e)))
                .transpose()?,
            occurred_at: self.occurred_at,
        };
        Ok(UsageEvent {
            id: self.id,
            created_at: self.created_at,
            active: self.active,
            data,
        })
    }
}

/// A delta for one `usage_rollups` row: added to the row with the same dimensions.
#[derive(Debug, Insertable)]
#[diesel(table_name = usage_rollups)]
pub(crate) struct RollupDelta {
    pub hour: OffsetDateTime,
    pub org_id: String,
    pub user_id: Option<Uuid>,
    pub key_id: Option<i64>,
    pub model: Option<String>,
    pub api_name: Option<String>,
    pub language: Option<String>,
    pub domain: Option<String>,
    pub success: bool,
    pub api_call: bool,
    pub status_class: Option<i16>,
    pub count: i64,
    pub units: i64,
    pub cost_nanos: i64,
    pub tokens: i64,
    pub quota: i64,
    pub duration_ms: i64,
}

impl RollupDelta {
    pub(crate) fn of(k: &RollupKey, t: &Totals) -> Result<Self, Fail> {
        Ok(Self {
            hour: micros(k.hour),
            org_id: k.org_id.as_str().to_owned(),
            user_id: k.user_id.map(|u| u.0),
            key_id: k.key_id.map(|id| id.0),
            model: k.model.clone(),
            api_name: k.api_name.clone(),
            language: k.language.clone(),
            domain: k.domain.as_ref().map(|d| d.as_str().to_owned()),
            success: k.success,
            api_call: k.api_call,
            status_class: k
                .status_class
                .map(|c| i16::try_from(c).map_err(|e| corrupt("status class", e)))
                .transpose()?,
            count: t.count,
            units: t.units,
            cost_nanos: t.cost_nanos,
            tokens: t.tokens,
            quota: t.quota,
            duration_ms: t.duration_ms,
        })
    }
}

/// A row of `idempotency_keys`: the first event recorded under a key in an organisation.
#[derive(Debug, Insertable)]
#[diesel(table_name = crate::schema::idempotency_keys)]
pub(crate) struct IdempotencyRow {
    pub org_id: String,
    pub idempotency_key: String,
    pub event_id: Uuid,
    pub event_occurred_at: OffsetDateTime,
    pub key_id: Option<i64>,
}

impl IdempotencyRow {
    /// The record of `event`, when it carries an idempotency key.
    pub(crate) fn of(event: &UsageEvent) -> Option<Self> {
        let key = event.data.idempotency_key.as_ref()?;
        Some(Self {
            org_id: event.data.org_id.as_str().to_owned(),
            idempotency_key: key.as_str().to_owned(),
            event_id: event.id,
            event_occurred_at: event.data.occurred_at,
            key_id: event.data.key_id.map(|k| k.0),
        })
    }
}
