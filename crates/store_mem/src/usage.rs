//! `UsageStore` for `MemStore`: the meter, ingestion, corrections, analytics and erasure.

use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::erasure::{anonymise_user, ErasureOutcome, ErasureReceipt};
use tally_domain::key::{KeyId, KeyRejection};
use tally_domain::limits::{admit, utc_day, KeyUsage};
use tally_domain::ports::{
    DeliveryReport, Ingested, KeyRef, MeterError, MeterRequest, Metered, StoreError, UsageStore,
};
use tally_domain::session::{DeliveryOutcome, SessionRef};
use tally_domain::tenancy::UserId;
use tally_domain::usage::{
    EventPatch, LogPage, LogQuery, NewUsageEvent, RetentionPolicy, RetentionReport, RollupKey,
    Totals, UsageEvent, UsageQuery, UsageRow,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::state::State;
use crate::MemStore;

impl UsageStore for MemStore {
    fn meter(&self, req: MeterRequest) -> Result<Metered, MeterError> {
        self.available()?;
        let mut s = self.lock();
        let key_id = match &req.key {
            KeyRef::Id(id) => Some(*id),
            KeyRef::InOrg(org, id) => s.keys.get(id).filter(|k| &k.org_id == org).map(|k| k.id),
            KeyRef::Secret(hash) => s.key_by_hash.get(hash).copied(),
        };
        let key = key_id
            .and_then(|id| s.keys.get(&id))
            .ok_or(MeterError::Key(KeyRejection::UnknownKey))?;
        key.check_usable(req.now).map_err(MeterError::Key)?;
        let (key_id, org_id, user_id, limits) =
            (key.id, key.org_id.clone(), key.user_id, key.limits);
        let session = match &req.session {
            None => None,
            Some(id) => Some(
                s.sessions
                    .get(&SessionRef::new(org_id.clone(), id.clone()))
                    .filter(|x| x.key_id == key_id)
                    .filter(|x| req.session_lifetime.is_none_or(|t| x.in_lifetime(t)))
                    .cloned()
                    .ok_or(MeterError::SessionEnded)?,
            ),
        };
        let day = utc_day(req.now);
        let usage = KeyUsage {
            lifetime_used: key.lifetime_used,
            daily_used: s.used_on(key_id, day),
        };
        if let Some(original) = s.replay(&org_id, req.event.idempotency_key.as_ref()) {
            return Ok(Metered {
                event: original,
                usage,
                limits,
                sequence: None,
                session,
                replayed: true,
            });
        }
        if s.events.contains_key(&req.event_id) {
            return Err(MeterError::Store(duplicate_id(req.event_id)));
        }
        if let Err(exceeded) = admit(limits, usage, req.units) {
            s.auth_events.push(AuthEvent {
                key_id: Some(key_id),
                org_id,
                kind: AuthEventKind::from(exceeded),
                domain: session
                    .as_ref()
                    .map(|x| x.domain.clone())
                    .or(req.event.domain),
                occurred_at: req.now,
            });
            return Err(MeterError::Limit {
                exceeded,
                usage,
                limits,
            });
        }

        let n = req.units.get();
        let usage = KeyUsage {
            lifetime_used: usage.lifetime_used + n,
            daily_used: usage.daily_used + n,
        };
        s.charge_day(key_id, day, n);
        let mut data = req.event;
        data.org_id = org_id;
        data.user_id = user_id;
        data.key_id = Some(key_id);
        data.session_id = req.session.clone().or(data.session_id);
        if let Some(x) = &session {
            data.domain = Some(x.domain.clone());
        }
        let event = s.insert_event(UsageEvent {
            id: req.event_id,
            created_at: req.now,
            active: true,
            data,
        });
        let sequence = session
            .as_ref()
            .and_then(|x| s.sessions.get_mut(&x.reference()))
            .map(|sess| {
                sess.sequence += 1;
                sess.last_activity_at = sess.last_activity_at.max(req.now);
                sess.sequence
            });
        if let Some(x) = session.as_ref().filter(|x| x.delivers_to_itself()) {
            s.record_delivery(DeliveryReport {
                session_id: x.id.clone(),
                key_id,
                org_id: event.data.org_id.clone(),
                domain: x.domain.clone(),
                outcome: DeliveryOutcome::Delivered { batch_size: n },
                at: req.now,
            });
        }
        if let Some(key) = s.keys.get_mut(&key_id) {
            key.lifetime_used = usage.lifetime_used;
            if let Some(seq) = sequence {
                key.sequence = seq;
                key.last_caption_at = Some(req.now);
            }
        }
        Ok(Metered {
            event,
            usage,
            limits,
            sequence,
            session,
            replayed: false,
        })
    }

    fn ingest(
        &self,
        events: Vec<(Uuid, NewUsageEvent)>,
        now: OffsetDateTime,
    ) -> Result<Vec<Ingested>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        let mut seen = std::collections::HashSet::new();
        if let Some((id, _)) = events
            .iter()
            .find(|(id, _)| s.events.contains_key(id) || !seen.insert(*id))
        {
            return Err(duplicate_id(*id));
        }
        Ok(events
            .into_iter()
            .map(
                |(id, data)| match s.replay(&data.org_id, data.idempotency_key.as_ref()) {
                    Some(original) => Ingested::Duplicate(original),
                    None => Ingested::Created(s.insert_event(UsageEvent {
                        id,
                        created_at: now,
                        active: true,
                        data,
                    })),
                },
            )
            .collect())
    }

    fn get_event(&self, id: Uuid) -> Result<Option<UsageEvent>, StoreError> {
        self.available()?;
        Ok(self.lock().events.get(&id).map(|l| l.event.clone()))
    }

    fn update_event(&self, id: Uuid, patch: &EventPatch) -> Result<Option<UsageEvent>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        let Some(old) = s.events.get(&id).map(|l| l.event.clone()) else {
            return Ok(None);
        };
        let mut new = old.clone();
        patch.apply_to(&mut new);
        s.add_rollup(RollupKey::of(&old), Totals::of(&old), true);
        s.add_rollup(RollupKey::of(&new), Totals::of(&new), false);
        s.replace_event(new.clone());
        Ok(Some(new))
    }

    fn delete_event(&self, id: Uuid) -> Result<bool, StoreError> {
        self.available()?;
        let mut s = self.lock();
        let Some(old) = s.remove_event(&id) else {
            return Ok(false);
        };
        if let Some(k) = &old.data.idempotency_key {
            s.idempotency.remove(&(old.data.org_id.clone(), k.clone()));
        }
        s.add_rollup(RollupKey::of(&old), Totals::of(&old), true);
        Ok(true)
    }

    /// The lock is held only to take the window's index chunks; the page is cut and the
    /// total counted from them after it is released, so a long walk never holds up a meter.
    fn list_events(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        self.available()?;
        let events = self.lock().log_snapshot(query);
        Ok(State::page_of(query, events.as_ref()))
    }

    /// The lock is held only to take the window's hours; they are summed after it is
    /// released, so an aggregation never holds up a meter.
    fn aggregate(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        self.available()?;
        let hours = self.lock().rollups.snapshot(query.from(), query.to());
        Ok(query.evaluate(hours.rows()))
    }

    fn erase_keys(
        &self,
        keys: &[KeyId],
        now: OffsetDateTime,
    ) -> Result<ErasureOutcome, StoreError> {
        self.available()?;
        let mut s = self.lock();
        Ok(s.erase_keys(keys, now))
    }

    fn erase_user(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<ErasureOutcome>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        let Some(found) = s.users.get(&user).cloned() else {
            return Ok(None);
        };
        let keys: Vec<KeyId> = s
            .keys
            .values()
            .filter(|k| k.user_id == Some(user))
            .map(|k| k.id)
            .collect();
        let out = s.erase_keys(&keys, now);
        s.forget_user_history(user);
        s.users.insert(user, anonymise_user(&found, now));
        Ok(Some(out))
    }

    fn list_erasures(&self) -> Result<Vec<ErasureReceipt>, StoreError> {
        self.available()?;
        Ok(self.lock().erasures.clone())
    }

    fn retention(&self) -> RetentionPolicy {
        self.retention
    }

    fn apply_retention(&self, now: OffsetDateTime) -> Result<RetentionReport, StoreError> {
        self.available()?;
        Ok(self.lock().apply_retention(self.retention, now))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.available()?;
        Ok(())
    }
}

/// Event ids are unique, as a primary key would make them.
fn duplicate_id(id: Uuid) -> StoreError {
    StoreError::Internal(format!("duplicate usage event id {id}"))
}
