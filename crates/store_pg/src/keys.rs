//! `KeyStore`: keys, their counters and auth events.

use diesel::prelude::*;
use tally_domain::audit::AuthEvent;
use tally_domain::key::{ApiKey, KeyFilter, KeyId, KeyPatch, NewApiKey, SecretHash};
use tally_domain::limits::{DayCounter, KeyUsage};
use tally_domain::ports::{CreateKeyError, KeyStore};
use tally_domain::session::SessionId;
use tally_domain::tenancy::{EmailHash, OrgId};
use tally_domain::StoreError;
use time::{Date, OffsetDateTime};

use crate::convert::{day_counter, from_db, micros};
use crate::error::{foreign_key_violation, unique_violation, Fail};
use crate::key_row::{lock_key, remember_secret, resolve_secrets, write_key};
use crate::rows::keys::{AuthEventRow, KeyRow, NewAuthEvent, NewKeyRow};
use crate::schema::{api_keys, auth_events, key_daily_usage};
use crate::{erasure, PgStore};

fn limit(n: u32) -> i64 {
    i64::from(n)
}

impl KeyStore for PgStore {
    fn create_key(&self, key: NewApiKey) -> Result<ApiKey, CreateKeyError> {
        let row = NewKeyRow::of(&key).map_err(|e| CreateKeyError::Store(e.into_store()))?;
        let new_email = key
            .email
            .as_ref()
            .filter(|_| key.email_must_be_new)
            .map(|e| e.hash().to_hex());
        let created = self.try_tx(|c| {
            if let Some(hash) = &new_email {
                // Serialise creations for one e-mail, then check: two concurrent requests
                // cannot both see it unknown.
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind::<diesel::sql_types::Text, _>(hash)
                    .execute(c)?;
                let known = diesel::select(diesel::dsl::exists(
                    api_keys::table.filter(api_keys::email_hash.eq(hash)),
                ))
                .get_result::<bool>(c)?;
                if known {
                    return Ok(None);
                }
            }
            let key = diesel::insert_into(api_keys::table)
                .values(&row)
                .returning(KeyRow::as_returning())
                .get_result(c)?
                .into_domain()?;
            remember_secret(c, &row.secret_hash, &row.org_id, key.id.0)?;
            Ok(Some(key))
        });
        match created {
            Ok(Some(k)) => Ok(k),
            Ok(None) => Err(CreateKeyError::EmailKnown),
            Err(e) => Err(match unique_violation(&e) {
                Some("key_secrets_pkey") => CreateKeyError::DuplicateSecret,
                _ if foreign_key_violation(&e) => CreateKeyError::UnknownOrg,
                _ => CreateKeyError::Store(e.into_store()),
            }),
        }
    }

    fn get_key(&self, id: KeyId) -> Result<Option<ApiKey>, StoreError> {
        self.read(|c| {
            api_keys::table
                .filter(api_keys::id.eq(id.0))
                .select(KeyRow::as_select())
                .first(c)
                .optional()?
                .map(KeyRow::into_domain)
                .transpose()
        })
    }

    fn get_key_in(&self, org: &OrgId, id: KeyId) -> Result<Option<ApiKey>, StoreError> {
        self.read(|c| key_in(c, org.as_str(), id.0))
    }

    fn find_key(&self, hash: &SecretHash) -> Result<Option<ApiKey>, StoreError> {
        self.read(|c| {
            let Some((org, id)) = resolve_secrets(c, &[hash.to_hex()])?.pop() else {
                return Ok(None);
            };
            key_in(c, &org, id)
        })
    }

    fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<ApiKey>, StoreError> {
        self.read(|c| {
            let mut q = api_keys::table
                .select(KeyRow::as_select())
                .order(api_keys::id.asc())
                .into_boxed();
            if let Some(org) = &filter.org_id {
                q = q.filter(api_keys::org_id.eq(org.as_str().to_owned()));
            }
            if let Some(user) = filter.user_id {
                q = q.filter(api_keys::user_id.eq(user.0));
            }
            q.load(c)?.into_iter().map(KeyRow::into_domain).collect()
        })
    }

    fn update_key(&self, id: KeyId, patch: &KeyPatch) -> Result<Option<ApiKey>, StoreError> {
        self.tx(|c| {
            let Some(mut key) = lock_key(c, id)? else {
                return Ok(None);
            };
            patch.apply_to(&mut key);
            write_key(c, &key).map(Some)
        })
    }

    fn revoke_key(&self, id: KeyId, now: OffsetDateTime) -> Result<Option<ApiKey>, StoreError> {
        self.read(|c| {
            diesel::update(api_keys::table.filter(api_keys::id.eq(id.0)))
                .set((
                    api_keys::active.eq(false),
                    api_keys::revoked_at.eq(micros(now)),
                ))
                .returning(KeyRow::as_returning())
                .get_result(c)
                .optional()?
                .map(KeyRow::into_domain)
                .transpose()
        })
    }

    fn delete_key(&self, id: KeyId) -> Result<Option<Vec<SessionId>>, StoreError> {
        self.tx(|c| erasure::delete_key(c, id))
    }

    fn email_hash_known(&self, hash: &EmailHash) -> Result<bool, StoreError> {
        self.read(|c| {
            let known = diesel::select(diesel::dsl::exists(
                api_keys::table.filter(api_keys::email_hash.eq(hash.to_hex())),
            ))
            .get_result(c)?;
            Ok(known)
        })
    }

    fn key_usage(&self, id: KeyId, day: Date) -> Result<Option<KeyUsage>, StoreError> {
        self.read(|c| {
            let Some((org, lifetime, counted, used)) = api_keys::table
                .filter(api_keys::id.eq(id.0))
                .select((
                    api_keys::org_id,
                    api_keys::lifetime_used,
                    api_keys::daily_day,
                    api_keys::daily_used,
                ))
                .first::<(String, i64, Option<Date>, i64)>(c)
                .optional()?
            else {
                return Ok(None);
            };
            let counter = day_counter(counted, used)?;
            let daily = match DayCounter::used_on(counter, day) {
                Some(n) => n,
                // A day before the key's latest: its history row.
                None => key_daily_usage::table
                    .find((org, id.0, day))
                    .select(key_daily_usage::used)
                    .first::<i64>(c)
                    .optional()?
                    .map_or(Ok(0), |n| from_db(n, "daily_used"))?,
            };
            Ok(Some(KeyUsage {
                lifetime_used: from_db(lifetime, "lifetime_used")?,
                daily_used: daily,
            }))
        })
    }

    fn record_auth_event(&self, event: AuthEvent) -> Result<(), StoreError> {
        self.read(|c| {
            diesel::insert_into(auth_events::table)
                .values(NewAuthEvent::from(&event))
                .execute(c)?;
            Ok(())
        })
    }

    fn list_auth_events(&self, key: KeyId, max: u32) -> Result<Vec<AuthEvent>, StoreError> {
        self.read(|c| {
            auth_events::table
                .filter(auth_events::key_id.eq(key.0))
                .order((auth_events::occurred_at.desc(), auth_events::id.desc()))
                .limit(limit(max))
                .select(AuthEventRow::as_select())
                .load(c)?
                .into_iter()
                .map(AuthEventRow::into_domain)
                .collect()
        })
    }
}

/// The key `id` of organisation `org`, by its whole primary key.
fn key_in(c: &mut PgConnection, org: &str, id: i64) -> Result<Option<ApiKey>, Fail> {
    api_keys::table
        .find((org, id))
        .select(KeyRow::as_select())
        .first(c)
        .optional()?
        .map(KeyRow::into_domain)
        .transpose()
}
