//! Erasure (GDPR) and hard deletion of keys: each one transaction.

use diesel::prelude::*;
use tally_domain::erasure::{anonymise, anonymise_user, ErasureOutcome, ErasureReceipt};
use tally_domain::key::KeyId;
use tally_domain::session::{duration_ms, SessionId};
use tally_domain::tenancy::UserId;
use tally_domain::usage::DomainActivity;
use time::OffsetDateTime;

use crate::convert::{domain, micros, session_id};
use crate::error::Fail;
use crate::key_row::{forget_secret, lock_key, write_key};
use crate::rollups::{anonymise_key, bump_domain};
use crate::rows::keys::{KeyRow, ReceiptRow};
use crate::rows::tenancy::{NewUserRow, UserRow};
use crate::schema::{
    api_keys, auth_events, caption_errors, erasure_receipts, idempotency_keys, key_daily_usage,
    session_records, sessions, usage_events, users,
};

/// Closes the key's open sessions without a record and returns their ids in order. With
/// `ended_at` (erasure), each also counts in its site's rollup (`sessions_ended`,
/// `total_duration_ms`), so site totals stay right; a hard delete passes `None`.
fn close_sessions(
    c: &mut PgConnection,
    key: KeyId,
    ended_at: Option<OffsetDateTime>,
) -> Result<Vec<SessionId>, Fail> {
    let rows = diesel::delete(sessions::table.filter(sessions::key_id.eq(key.0)))
        .returning((
            sessions::org_id,
            sessions::id,
            sessions::domain,
            sessions::started_at,
        ))
        .get_results::<(String, String, String, OffsetDateTime)>(c)?;
    let mut closed = Vec::with_capacity(rows.len());
    for (org, id, site, started_at) in rows {
        if let Some(now) = ended_at {
            let ended = DomainActivity::SessionEnded {
                duration_ms: duration_ms(started_at, now),
            };
            bump_domain(c, &org, &domain(&site)?, now, ended)?;
        }
        closed.push(session_id(&id)?);
    }
    closed.sort();
    Ok(closed)
}

/// Deletes the key's history (session records, caption errors, auth events, viewer counts,
/// usage events and their idempotency records) and moves its rollups to the anonymous bucket. Returns the
/// rows deleted, idempotency records not counted.
fn forget_history(c: &mut PgConnection, key: KeyId) -> Result<u64, Fail> {
    let records = diesel::delete(session_records::table.filter(session_records::key_id.eq(key.0)))
        .execute(c)?;
    let errors = diesel::delete(caption_errors::table.filter(caption_errors::key_id.eq(key.0)))
        .execute(c)?;
    let auth =
        diesel::delete(auth_events::table.filter(auth_events::key_id.eq(key.0))).execute(c)?;
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::key_id.eq(key.0)))
        .execute(c)?;
    let events =
        diesel::delete(usage_events::table.filter(usage_events::key_id.eq(key.0))).execute(c)?;
    let viewers = crate::viewers::forget(c, key)?;
    anonymise_key(c, key)?;
    let total = [records, errors, auth, events].iter().sum::<usize>();
    Ok(u64::try_from(total)
        .unwrap_or(u64::MAX)
        .saturating_add(viewers))
}

/// Erases keys as [`tally_domain::erasure`] describes, in the caller's transaction.
pub(crate) fn erase_tx(
    c: &mut PgConnection,
    keys: &[KeyId],
    now: OffsetDateTime,
) -> Result<ErasureOutcome, Fail> {
    let now = micros(now);
    // Lock every key up front, in id order, so two erasures cannot deadlock each other.
    let mut ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
    ids.sort_unstable();
    ids.dedup();
    api_keys::table
        .filter(api_keys::id.eq_any(&ids))
        .order(api_keys::id.asc())
        .select(KeyRow::as_select())
        .for_update()
        .load(c)?;

    let mut out = ErasureOutcome::default();
    for &id in keys {
        let Some(key) = lock_key(c, id)? else {
            continue;
        };
        if key.erased_at.is_some() {
            continue;
        }
        write_key(c, &anonymise(&key, now))?;
        out.closed_sessions
            .extend(close_sessions(c, id, Some(micros(now)))?);
        let rows_deleted = forget_history(c, id)?;
        let receipt = ErasureReceipt {
            key_id: id,
            org_id: key.org_id,
            erased_at: now,
            rows_deleted,
        };
        diesel::insert_into(erasure_receipts::table)
            .values(ReceiptRow::of(&receipt)?)
            .execute(c)?;
        out.receipts.push(receipt);
    }
    Ok(out)
}

/// Erases a user and every key bound to them, in the caller's transaction.
pub(crate) fn erase_user_tx(
    c: &mut PgConnection,
    user: UserId,
    now: OffsetDateTime,
) -> Result<Option<ErasureOutcome>, Fail> {
    let Some(row) = users::table
        .find(user.0)
        .select(UserRow::as_select())
        .for_update()
        .first(c)
        .optional()?
    else {
        return Ok(None);
    };
    let keys: Vec<KeyId> = api_keys::table
        .filter(api_keys::user_id.eq(user.0))
        .select(api_keys::id)
        .load::<i64>(c)?
        .into_iter()
        .map(KeyId)
        .collect();
    let out = erase_tx(c, &keys, now)?;
    // Usage recorded for the user without one of their keys (user tokens, admin events).
    let events: Vec<(String, String)> =
        diesel::delete(usage_events::table.filter(usage_events::user_id.eq(user.0)))
            .returning((
                usage_events::org_id,
                usage_events::idempotency_key.assume_not_null(),
            ))
            .get_results::<(String, String)>(c)
            .or_else(|_| Ok::<_, diesel::result::Error>(Vec::new()))?;
    let _ = events;
    crate::rollups::anonymise_user(c, user)?;
    let erased = NewUserRow::from(&anonymise_user(&row.into_domain()?, micros(now)));
    diesel::update(users::table.find(user.0))
        .set((
            users::username.eq(erased.username),
            users::email.eq(erased.email),
            users::erased_at.eq(erased.erased_at),
        ))
        .execute(c)?;
    Ok(Some(out))
}

/// Every receipt, oldest first.
pub(crate) fn receipts(c: &mut PgConnection) -> Result<Vec<ErasureReceipt>, Fail> {
    erasure_receipts::table
        .order((
            erasure_receipts::erased_at.asc(),
            erasure_receipts::id.asc(),
        ))
        .select(ReceiptRow::as_select())
        .load(c)?
        .into_iter()
        .map(ReceiptRow::into_domain)
        .collect()
}

/// Hard-deletes a key and everything keyed to it, in the caller's transaction (see
/// [`tally_domain::KeyStore::delete_key`]). Erasure receipts stay: they hold no personal data.
pub(crate) fn delete_key(c: &mut PgConnection, id: KeyId) -> Result<Option<Vec<SessionId>>, Fail> {
    let Some(key) = lock_key(c, id)? else {
        return Ok(None);
    };
    let org = key.org_id.as_str();
    let closed = close_sessions(c, id, None)?;
    forget_history(c, id)?;
    diesel::delete(
        key_daily_usage::table.filter(
            key_daily_usage::org_id
                .eq(org)
                .and(key_daily_usage::key_id.eq(id.0)),
        ),
    )
    .execute(c)?;
    forget_secret(c, org, id.0)?;
    diesel::delete(api_keys::table.find((org, id.0))).execute(c)?;
    Ok(Some(closed))
}
