//! `KeyStore` for `MemStore`.

use tally_domain::audit::AuthEvent;
use tally_domain::key::{ApiKey, KeyFilter, KeyId, KeyPatch, NewApiKey, SecretHash};
use tally_domain::limits::KeyUsage;
use tally_domain::ports::{CreateKeyError, KeyStore, StoreError};
use tally_domain::session::{Session, SessionId, SessionRef};
use tally_domain::tenancy::{Email, EmailHash, OrgId};
use time::{Date, OffsetDateTime};

use crate::MemStore;

impl KeyStore for MemStore {
    fn create_key(&self, new: NewApiKey) -> Result<ApiKey, CreateKeyError> {
        self.available()?;
        let mut s = self.lock();
        let hash = new.secret.hash();
        if s.key_by_hash.contains_key(&hash) {
            return Err(CreateKeyError::DuplicateSecret);
        }
        if !s.orgs.contains_key(&new.org_id) {
            return Err(CreateKeyError::UnknownOrg);
        }
        if new.email_must_be_new {
            let hash = new.email.as_ref().map(Email::hash);
            if hash.is_some() && s.keys.values().any(|k| k.email_hash == hash) {
                return Err(CreateKeyError::EmailKnown);
            }
        }
        let id = KeyId(s.next_key_id);
        s.next_key_id += 1;
        let key = ApiKey {
            id,
            secret_hash: hash,
            alias: new.secret.alias(),
            name: new.name,
            owner: new.owner,
            email_hash: new.email.as_ref().map(Email::hash),
            email: new.email,
            user_id: new.user_id,
            org_id: new.org_id,
            created_at: new.created_at,
            expires_at: new.expires_at,
            active: true,
            revoked_at: None,
            erased_at: None,
            limits: new.limits,
            lifetime_used: 0,
            sequence: 0,
            last_caption_at: None,
        };
        s.key_by_hash.insert(hash, id);
        s.keys.insert(id, key.clone());
        Ok(key)
    }

    fn get_key(&self, id: KeyId) -> Result<Option<ApiKey>, StoreError> {
        self.available()?;
        Ok(self.lock().keys.get(&id).cloned())
    }

    fn get_key_in(&self, org: &OrgId, id: KeyId) -> Result<Option<ApiKey>, StoreError> {
        self.available()?;
        Ok(self
            .lock()
            .keys
            .get(&id)
            .filter(|k| k.org_id == *org)
            .cloned())
    }

    fn find_key(&self, hash: &SecretHash) -> Result<Option<ApiKey>, StoreError> {
        self.available()?;
        let s = self.lock();
        Ok(s.key_by_hash
            .get(hash)
            .and_then(|id| s.keys.get(id))
            .cloned())
    }

    fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<ApiKey>, StoreError> {
        self.available()?;
        let s = self.lock();
        Ok(s.keys
            .values()
            .filter(|k| filter.org_id.as_ref().is_none_or(|o| k.org_id == *o))
            .filter(|k| filter.user_id.is_none_or(|u| k.user_id == Some(u)))
            .cloned()
            .collect())
    }

    fn update_key(&self, id: KeyId, patch: &KeyPatch) -> Result<Option<ApiKey>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        Ok(s.keys.get_mut(&id).map(|k| {
            patch.apply_to(k);
            k.clone()
        }))
    }

    fn revoke_key(&self, id: KeyId, now: OffsetDateTime) -> Result<Option<ApiKey>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        Ok(s.keys.get_mut(&id).map(|k| {
            k.active = false;
            k.revoked_at = Some(now);
            k.clone()
        }))
    }

    fn delete_key(&self, id: KeyId) -> Result<Option<Vec<SessionId>>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        let Some(key) = s.keys.remove(&id) else {
            return Ok(None);
        };
        s.key_by_hash.remove(&key.secret_hash);
        let mut closed: Vec<SessionRef> = s
            .sessions
            .values()
            .filter(|x| x.key_id == id)
            .map(Session::reference)
            .collect();
        closed.sort();
        for session in &closed {
            s.sessions.remove(session);
        }
        s.daily.retain(|(k, _), _| *k != id);
        s.today.remove(&id);
        s.forget_key_history(id);
        Ok(Some(closed.into_iter().map(|x| x.id().clone()).collect()))
    }

    fn email_hash_known(&self, hash: &EmailHash) -> Result<bool, StoreError> {
        self.available()?;
        Ok(self
            .lock()
            .keys
            .values()
            .any(|k| k.email_hash.as_ref() == Some(hash)))
    }

    fn key_usage(&self, id: KeyId, day: Date) -> Result<Option<KeyUsage>, StoreError> {
        self.available()?;
        let s = self.lock();
        Ok(s.keys.get(&id).map(|k| KeyUsage {
            lifetime_used: k.lifetime_used,
            daily_used: s.used_on(id, day),
        }))
    }

    fn record_auth_event(&self, event: AuthEvent) -> Result<(), StoreError> {
        self.available()?;
        self.lock().auth_events.push(event);
        Ok(())
    }

    fn list_auth_events(&self, key: KeyId, limit: u32) -> Result<Vec<AuthEvent>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut events: Vec<(usize, &AuthEvent)> = s
            .auth_events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.key_id == Some(key))
            .collect();
        events.sort_by(|(ia, a), (ib, b)| (b.occurred_at, ib).cmp(&(a.occurred_at, ia)));
        Ok(events
            .into_iter()
            .take(limit as usize)
            .map(|(_, e)| e.clone())
            .collect())
    }
}
