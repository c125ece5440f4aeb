//! One `api_keys` row inside a transaction: locked for a change, written back. Below both
//! the key store and erasure, which change keys.

use diesel::prelude::*;
use tally_domain::key::{ApiKey, KeyId};

use crate::error::Fail;
use crate::rows::keys::{KeyChanges, KeyRow};
use crate::schema::api_keys;

/// The key row, locked until the transaction ends.
pub(crate) fn lock_key(c: &mut PgConnection, id: KeyId) -> Result<Option<ApiKey>, Fail> {
    api_keys::table
        .find(id.0)
        .select(KeyRow::as_select())
        .for_update()
        .first(c)
        .optional()?
        .map(KeyRow::into_domain)
        .transpose()
}

/// Writes the patchable fields of `key` (never its counters) and returns the stored key.
pub(crate) fn write_key(c: &mut PgConnection, key: &ApiKey) -> Result<ApiKey, Fail> {
    diesel::update(api_keys::table.find(key.id.0))
        .set(KeyChanges::of(key)?)
        .returning(KeyRow::as_returning())
        .get_result(c)?
        .into_domain()
}
