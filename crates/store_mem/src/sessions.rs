//! `SessionStore` for `MemStore`.

use tally_domain::key::KeyId;
use tally_domain::mic::{next_holder, ClientId, MicAction};
use tally_domain::ports::{DeliveryReport, OpenedSession, SessionStore, StoreError};
use tally_domain::session::{
    CaptionError, EndReason, OpenSession, Session, SessionPatch, SessionRecord, SessionRef, Target,
    ViewerDay, ViewerKey,
};
use tally_domain::session_filter::{listing_order, SessionFilter};
use tally_domain::usage::{DomainActivity, DomainRollupKey, DomainUsageQuery, DomainUsageRow};
use time::{Date, OffsetDateTime};

use crate::MemStore;

impl SessionStore for MemStore {
    fn open_session(&self, spec: OpenSession) -> Result<OpenedSession, StoreError> {
        self.available()?;
        let mut s = self.lock();
        let at = SessionRef::new(spec.org_id.clone(), spec.id.clone());
        if let Some(existing) = s.sessions.get_mut(&at) {
            existing.last_activity_at = existing.last_activity_at.max(spec.now);
            if let Some(targets) = spec.targets {
                existing.targets = targets;
            }
            return Ok(OpenedSession {
                session: existing.clone(),
                created: false,
            });
        }
        let session = Session {
            id: spec.id.clone(),
            key_id: spec.key_id,
            org_id: spec.org_id.clone(),
            domain: spec.domain.clone(),
            stream_key: spec.stream_key,
            sequence: spec.sequence,
            targets: spec.targets.unwrap_or_default(),
            started_at: spec.now,
            last_activity_at: spec.now,
            captions_sent: 0,
            captions_failed: 0,
            mic_holder: None,
            sync_offset_ms: 0,
        };
        s.sessions.insert(at, session.clone());
        let open_sessions = s.open_sessions_of(&spec.org_id, &spec.domain);
        s.domain_activity(
            &spec.org_id,
            DomainRollupKey::at(spec.domain, spec.now),
            DomainActivity::SessionStarted { open_sessions },
        );
        Ok(OpenedSession {
            session,
            created: true,
        })
    }

    fn get_session(&self, session: &SessionRef) -> Result<Option<Session>, StoreError> {
        self.available()?;
        Ok(self.lock().sessions.get(session).cloned())
    }

    fn touch_session(
        &self,
        session: &SessionRef,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        Ok(s.sessions.get_mut(session).map(|x| {
            x.last_activity_at = x.last_activity_at.max(now);
            x.clone()
        }))
    }

    fn update_session(
        &self,
        session: &SessionRef,
        patch: &SessionPatch,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        Ok(s.sessions.get_mut(session).map(|x| {
            if let Some(seq) = patch.sequence {
                x.sequence = seq;
            }
            if let Some(targets) = &patch.targets {
                x.targets.clone_from(targets);
            }
            if let Some(offset) = patch.sync_offset_ms {
                x.sync_offset_ms = offset;
            }
            x.last_activity_at = x.last_activity_at.max(now);
            x.clone()
        }))
    }

    fn apply_mic(
        &self,
        session: &SessionRef,
        action: MicAction,
        client: &ClientId,
        now: OffsetDateTime,
    ) -> Result<Option<Option<ClientId>>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        Ok(s.sessions.get_mut(session).map(|x| {
            x.mic_holder = next_holder(x.mic_holder.take(), action, client);
            x.last_activity_at = x.last_activity_at.max(now);
            x.mic_holder.clone()
        }))
    }

    fn record_delivery(&self, report: DeliveryReport) -> Result<(), StoreError> {
        self.available()?;
        self.lock().record_delivery(report);
        Ok(())
    }

    fn end_session(
        &self,
        session: &SessionRef,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.available()?;
        let mut s = self.lock();
        let Some(session) = s.sessions.remove(session) else {
            return Ok(None);
        };
        let record = session.record(now, reason);
        if reason.leaves_record() {
            s.records.push(record.clone());
            s.domain_activity(
                &session.org_id,
                DomainRollupKey::at(session.domain, now),
                DomainActivity::SessionEnded {
                    duration_ms: record.duration_ms,
                },
            );
        }
        Ok(Some(record))
    }

    fn record_viewer_open(&self, viewer: &ViewerKey, day: Date) -> Result<(), StoreError> {
        self.available()?;
        let mut s = self.lock();
        let owner = s
            .sessions
            .values()
            .filter(|x| {
                x.targets
                    .iter()
                    .any(|t| matches!(t, Target::Viewer { viewer_key } if viewer_key == viewer))
            })
            .max_by_key(|x| (x.last_activity_at, x.id.clone()))
            .map(|x| x.key_id);
        if let Some(key) = owner {
            *s.viewer_days.entry((key, day, viewer.clone())).or_insert(0) += 1;
        }
        Ok(())
    }

    fn list_viewer_stats(&self, key: KeyId, limit: u32) -> Result<Vec<ViewerDay>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut rows: Vec<ViewerDay> = s
            .viewer_days
            .iter()
            .filter(|((k, _, _), _)| *k == key)
            .map(|((_, date, viewer), views)| ViewerDay {
                date: *date,
                viewer_key: viewer.clone(),
                views: *views,
            })
            .collect();
        rows.sort_by(|a, b| b.date.cmp(&a.date).then(a.viewer_key.cmp(&b.viewer_key)));
        rows.truncate(limit as usize);
        Ok(rows)
    }

    fn list_open_sessions(&self, key: Option<KeyId>) -> Result<Vec<Session>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut out: Vec<Session> = s
            .sessions
            .values()
            .filter(|x| key.is_none_or(|k| x.key_id == k))
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        Ok(out)
    }

    fn list_sessions(
        &self,
        filter: &SessionFilter,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut out: Vec<Session> = s
            .sessions
            .values()
            .filter(|x| filter.matches(x, s.keys.get(&x.key_id).and_then(|k| k.user_id)))
            .cloned()
            .collect();
        out.sort_by(listing_order);
        out.truncate(limit as usize);
        Ok(out)
    }

    fn idle_sessions(&self, cutoff: OffsetDateTime) -> Result<Vec<SessionRef>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut idle: Vec<&Session> = s
            .sessions
            .values()
            .filter(|x| x.last_activity_at <= cutoff)
            .collect();
        idle.sort_by(|a, b| {
            (a.last_activity_at, &a.org_id, &a.id).cmp(&(b.last_activity_at, &b.org_id, &b.id))
        });
        Ok(idle.into_iter().map(Session::reference).collect())
    }

    fn list_session_records(
        &self,
        key: KeyId,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut out: Vec<(usize, &SessionRecord)> = s
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.key_id == key)
            .collect();
        out.sort_by(|(ia, a), (ib, b)| (b.ended_at, ib).cmp(&(a.ended_at, ia)));
        Ok(out
            .into_iter()
            .take(limit as usize)
            .map(|(_, r)| r.clone())
            .collect())
    }

    fn list_caption_errors(&self, key: KeyId, limit: u32) -> Result<Vec<CaptionError>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut out: Vec<(usize, &CaptionError)> = s
            .caption_errors
            .iter()
            .enumerate()
            .filter(|(_, e)| e.key_id == key)
            .collect();
        out.sort_by(|(ia, a), (ib, b)| (b.occurred_at, ib).cmp(&(a.occurred_at, ia)));
        Ok(out
            .into_iter()
            .take(limit as usize)
            .map(|(_, e)| e.clone())
            .collect())
    }

    fn domain_usage(&self, query: &DomainUsageQuery) -> Result<Vec<DomainUsageRow>, StoreError> {
        self.available()?;
        let s = self.lock();
        Ok(query.evaluate(s.domain_rollups.iter().map(|((org, k), c)| (org, k, c))))
    }
}
