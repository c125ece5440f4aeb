//! One `api_keys` row inside a transaction: locked for a change, written back; and the
//! `key_secrets` row that says which organisation and key a secret belongs to. Below the key
//! store, the meter, import and erasure, which find and change keys.
//!
//! Keys are keyed by `(org_id, id)` (the schema is ready to be distributed by organisation,
//! docs/SCALING.md): a secret is resolved to its organisation first, so the statements on
//! the key itself name the organisation.

use diesel::prelude::*;
use tally_domain::key::{ApiKey, KeyId};

use crate::error::Fail;
use crate::rows::keys::{KeyChanges, KeyRow};
use crate::schema::{api_keys, key_secrets};

/// The key row, locked until the transaction ends. By id alone: the callers (admin routes,
/// erasure) know no organisation.
pub(crate) fn lock_key(c: &mut PgConnection, id: KeyId) -> Result<Option<ApiKey>, Fail> {
    api_keys::table
        .filter(api_keys::id.eq(id.0))
        .select(KeyRow::as_select())
        .for_update()
        .first(c)
        .optional()?
        .map(KeyRow::into_domain)
        .transpose()
}

/// Writes the patchable fields of `key` (never its counters) and returns the stored key.
pub(crate) fn write_key(c: &mut PgConnection, key: &ApiKey) -> Result<ApiKey, Fail> {
    diesel::update(api_keys::table.find((key.org_id.as_str(), key.id.0)))
        .set(KeyChanges::of(key)?)
        .returning(KeyRow::as_returning())
        .get_result(c)?
        .into_domain()
}

/// The `(org_id, key id)` of each known secret hash (lower-case hex) of `hashes`.
pub(crate) fn resolve_secrets(
    c: &mut PgConnection,
    hashes: &[String],
) -> Result<Vec<(String, i64)>, Fail> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(key_secrets::table
        .filter(key_secrets::secret_hash.eq_any(hashes))
        .select((key_secrets::org_id, key_secrets::key_id))
        .load(c)?)
}

/// Records that `hash` belongs to key `id` of `org`. A secret already taken is a unique
/// violation of `key_secrets_pkey`.
pub(crate) fn remember_secret(
    c: &mut PgConnection,
    hash: &str,
    org: &str,
    id: i64,
) -> Result<(), Fail> {
    diesel::insert_into(key_secrets::table)
        .values((
            key_secrets::secret_hash.eq(hash),
            key_secrets::org_id.eq(org),
            key_secrets::key_id.eq(id),
        ))
        .execute(c)?;
    Ok(())
}

/// Forgets the secret of key `id` of `org` (its hard delete).
pub(crate) fn forget_secret(c: &mut PgConnection, org: &str, id: i64) -> Result<(), Fail> {
    diesel::delete(
        key_secrets::table
            .filter(key_secrets::org_id.eq(org))
            .filter(key_secrets::key_id.eq(id)),
    )
    .execute(c)?;
    Ok(())
}
