//! `ImportStore` for `MemStore`: each batch under the one lock, so it is atomic.

use std::collections::btree_map::Entry;

use tally_domain::audit::AuthEvent;
use tally_domain::import::{Copies, ImportCount, ImportedKey, KeyImport};
use tally_domain::key::KeyId;
use tally_domain::ports::{ImportStore, StoreError};
use tally_domain::session::{CaptionError, SessionRecord};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{DomainCounters, DomainRollupKey};

use crate::MemStore;

/// Appends the copies of each row that `stored` lacks.
fn add_copies<T: Clone + PartialEq>(stored: &mut Vec<T>, rows: &[Copies<T>]) -> ImportCount {
    let mut count = ImportCount::default();
    for Copies { row, count: wanted } in rows {
        let have = stored.iter().filter(|r| *r == row).count() as u64;
        let missing = wanted.saturating_sub(have);
        for _ in 0..missing {
            stored.push(row.clone());
        }
        count.imported += missing;
        count.skipped += wanted - missing;
    }
    count
}

impl ImportStore for MemStore {
    fn import_keys(&self, keys: &[ImportedKey]) -> Result<Vec<KeyImport>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        if let Some(k) = keys.iter().find(|k| !s.orgs.contains_key(&k.key.org_id)) {
            return Err(StoreError::Internal(format!(
                "unknown organisation {}",
                k.key.org_id.as_str()
            )));
        }
        let mut out = Vec::with_capacity(keys.len());
        for ImportedKey { key, daily } in keys {
            if let Some(id) = s.key_by_hash.get(&key.secret_hash).copied() {
                let erased = s.keys.get(&id).is_some_and(|k| k.erased_at.is_some());
                out.push(KeyImport::Existing { id, erased });
                continue;
            }
            let id = if key.id.0 >= 1 && !s.keys.contains_key(&key.id) {
                key.id
            } else {
                KeyId(s.next_key_id)
            };
            s.next_key_id = s.next_key_id.max(id.0 + 1);
            let mut stored = key.clone();
            stored.id = id;
            s.key_by_hash.insert(stored.secret_hash, id);
            s.keys.insert(id, stored);
            s.set_days(id, daily);
            out.push(KeyImport::Created(id));
        }
        Ok(out)
    }

    fn import_session_records(
        &self,
        records: &[Copies<SessionRecord>],
    ) -> Result<ImportCount, StoreError> {
        self.available()?;
        Ok(add_copies(&mut self.lock().records, records))
    }

    fn import_caption_errors(
        &self,
        errors: &[Copies<CaptionError>],
    ) -> Result<ImportCount, StoreError> {
        self.available()?;
        Ok(add_copies(&mut self.lock().caption_errors, errors))
    }

    fn import_auth_events(&self, events: &[Copies<AuthEvent>]) -> Result<ImportCount, StoreError> {
        self.available()?;
        Ok(add_copies(&mut self.lock().auth_events, events))
    }

    fn import_domain_rollups(
        &self,
        rows: &[(DomainRollupKey, DomainCounters)],
    ) -> Result<ImportCount, StoreError> {
        self.available()?;
        // lcyt has no organisations: its site rows belong to the default one, as on Postgres.
        let lcyt_org = OrgId::default_org();
        let mut s = self.lock();
        let mut count = ImportCount::default();
        for (k, c) in rows {
            match s.domain_rollups.entry((lcyt_org.clone(), k.clone())) {
                Entry::Occupied(_) => count.skipped += 1,
                Entry::Vacant(row) => {
                    row.insert(*c);
                    count.imported += 1;
                }
            }
        }
        Ok(count)
    }
}
