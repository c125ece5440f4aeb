//! API keys, auth events and erasure receipts.

use diesel::prelude::*;
use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::erasure::ErasureReceipt;
use tally_domain::key::{ApiKey, KeyId, NewApiKey, SecretHash};
use tally_domain::limits::Limits;
use tally_domain::tenancy::{Email, EmailHash, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::convert::{from_db, micros, opt_domain, opt_from_db, opt_to_db, org_id, to_db};
use crate::error::{corrupt, Fail};
use crate::schema::{api_keys, auth_events, erasure_receipts};

/// A row of `api_keys`.
#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub(crate) struct KeyRow {
    pub id: i64,
    pub org_id: String,
    pub secret_hash: String,
    pub alias: String,
    pub name: Option<String>,
    pub owner: String,
    pub email: Option<String>,
    pub email_hash: Option<String>,
    pub user_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub active: bool,
    pub revoked_at: Option<OffsetDateTime>,
    pub erased_at: Option<OffsetDateTime>,
    pub daily_limit: Option<i64>,
    pub lifetime_limit: Option<i64>,
    pub lifetime_used: i64,
    pub sequence: i64,
    pub last_caption_at: Option<OffsetDateTime>,
}

impl KeyRow {
    pub(crate) fn into_domain(self) -> Result<ApiKey, Fail> {
        Ok(ApiKey {
            id: KeyId(self.id),
            secret_hash: SecretHash::from_hex(&self.secret_hash)
                .map_err(|e| corrupt("secret hash", e))?,
            alias: self.alias,
            name: self.name,
            owner: self.owner,
            email: self
                .email
                .map(|e| Email::parse(&e).map_err(|err| corrupt("key email", err)))
                .transpose()?,
            email_hash: self
                .email_hash
                .map(|h| EmailHash::from_hex(&h).map_err(|e| corrupt("email hash", e)))
                .transpose()?,
            user_id: self.user_id.map(UserId),
            org_id: org_id(&self.org_id)?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            active: self.active,
            revoked_at: self.revoked_at,
            erased_at: self.erased_at,
            limits: Limits {
                daily: opt_from_db(self.daily_limit, "daily_limit")?,
                lifetime: opt_from_db(self.lifetime_limit, "lifetime_limit")?,
            },
            lifetime_used: from_db(self.lifetime_used, "lifetime_used")?,
            sequence: from_db(self.sequence, "sequence")?,
            last_caption_at: self.last_caption_at,
        })
    }
}

/// A new row of `api_keys` (id and counters from the database).
#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub(crate) struct NewKeyRow {
    pub org_id: String,
    pub secret_hash: String,
    pub alias: String,
    pub name: Option<String>,
    pub owner: String,
    pub email: Option<String>,
    pub email_hash: Option<String>,
    pub user_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub daily_limit: Option<i64>,
    pub lifetime_limit: Option<i64>,
}

impl NewKeyRow {
    pub(crate) fn of(k: &NewApiKey) -> Result<Self, Fail> {
        Ok(Self {
            org_id: k.org_id.as_str().to_owned(),
            secret_hash: k.secret.hash().to_hex(),
            alias: k.secret.alias(),
            name: k.name.clone(),
            owner: k.owner.clone(),
            email: k.email.as_ref().map(|e| e.as_str().to_owned()),
            email_hash: k.email.as_ref().map(|e| e.hash().to_hex()),
            user_id: k.user_id.map(|u| u.0),
            created_at: micros(k.created_at),
            expires_at: k.expires_at.map(micros),
            daily_limit: opt_to_db(k.limits.daily, "daily_limit")?,
            lifetime_limit: opt_to_db(k.limits.lifetime, "lifetime_limit")?,
        })
    }
}

/// Everything a key patch, a revocation or an erasure may change (never the counters).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = api_keys, treat_none_as_null = true)]
pub(crate) struct KeyChanges {
    pub name: Option<String>,
    pub owner: String,
    pub email: Option<String>,
    pub email_hash: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub active: bool,
    pub revoked_at: Option<OffsetDateTime>,
    pub erased_at: Option<OffsetDateTime>,
    pub daily_limit: Option<i64>,
    pub lifetime_limit: Option<i64>,
}

impl KeyChanges {
    pub(crate) fn of(k: &ApiKey) -> Result<Self, Fail> {
        Ok(Self {
            name: k.name.clone(),
            owner: k.owner.clone(),
            email: k.email.as_ref().map(|e| e.as_str().to_owned()),
            email_hash: k.email_hash.map(|h| h.to_hex()),
            expires_at: k.expires_at.map(micros),
            active: k.active,
            revoked_at: k.revoked_at.map(micros),
            erased_at: k.erased_at.map(micros),
            daily_limit: opt_to_db(k.limits.daily, "daily_limit")?,
            lifetime_limit: opt_to_db(k.limits.lifetime, "lifetime_limit")?,
        })
    }
}

/// A row of `auth_events`.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = auth_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AuthEventRow {
    pub key_id: Option<i64>,
    pub org_id: String,
    pub kind: String,
    pub domain: Option<String>,
    pub occurred_at: OffsetDateTime,
}

/// A new row of `auth_events`.
#[derive(Debug, Insertable)]
#[diesel(table_name = auth_events)]
pub(crate) struct NewAuthEvent {
    pub key_id: Option<i64>,
    pub org_id: String,
    pub kind: String,
    pub domain: Option<String>,
    pub occurred_at: OffsetDateTime,
}

impl From<&AuthEvent> for NewAuthEvent {
    fn from(e: &AuthEvent) -> Self {
        Self {
            key_id: e.key_id.map(|k| k.0),
            org_id: e.org_id.as_str().to_owned(),
            kind: e.kind.as_str().to_owned(),
            domain: e.domain.as_ref().map(|d| d.as_str().to_owned()),
            occurred_at: micros(e.occurred_at),
        }
    }
}

impl AuthEventRow {
    pub(crate) fn into_domain(self) -> Result<AuthEvent, Fail> {
        Ok(AuthEvent {
            key_id: self.key_id.map(KeyId),
            org_id: org_id(&self.org_id)?,
            kind: AuthEventKind::parse(&self.kind).map_err(|e| corrupt("auth event kind", e))?,
            domain: opt_domain(self.domain.as_deref())?,
            occurred_at: self.occurred_at,
        })
    }
}

/// A row of `erasure_receipts`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = erasure_receipts, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ReceiptRow {
    pub key_id: i64,
    pub org_id: String,
    pub erased_at: OffsetDateTime,
    pub rows_deleted: i64,
}

impl ReceiptRow {
    pub(crate) fn of(r: &ErasureReceipt) -> Result<Self, Fail> {
        Ok(Self {
            key_id: r.key_id.0,
            org_id: r.org_id.as_str().to_owned(),
            erased_at: micros(r.erased_at),
            rows_deleted: to_db(r.rows_deleted, "rows_deleted")?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<ErasureReceipt, Fail> {
        Ok(ErasureReceipt {
            key_id: KeyId(self.key_id),
            org_id: org_id(&self.org_id)?,
            erased_at: self.erased_at,
            rows_deleted: from_db(self.rows_deleted, "rows_deleted")?,
        })
    }
}
