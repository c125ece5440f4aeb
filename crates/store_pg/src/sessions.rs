//! `SessionStore`: open sessions, activity, mic, deliveries, ends and their records.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use tally_domain::key::KeyId;
use tally_domain::mic::{next_holder, ClientId, MicAction};
use tally_domain::ports::{DeliveryReport, OpenedSession, SessionStore};
use tally_domain::session::{
    CaptionError, DeliveryOutcome, EndReason, OpenSession, Session, SessionId, SessionPatch,
    SessionRecord, ViewerDay, ViewerKey,
};
use tally_domain::session_filter::SessionFilter;
use tally_domain::usage::{DomainActivity, DomainUsageQuery, DomainUsageRow};
use tally_domain::StoreError;
use time::{Date, OffsetDateTime};

use crate::convert::{from_db, micros, to_db};
use crate::error::{corrupt, Fail};
use crate::rollups::{bump_domain, greatest_instant};
use crate::rows::sessions::{targets_to_db, CaptionErrorRow, RecordRow, SessionRow};
use crate::schema::{api_keys, caption_errors, session_records, sessions};
use crate::{analytics, PgStore};

/// Advisory-lock class for "opening a session of this organisation on this site" (the object
/// is the hash of both), so concurrent opens of one site count each other for
/// `peak_sessions`, which is counted per organisation.
const SITE_LOCK_CLASS: i32 = 0x7461_6c73; // "tals"

/// The optional parts of a session update (`None` leaves a column alone).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = sessions)]
struct SessionChanges {
    sequence: Option<i64>,
    targets: Option<serde_json::Value>,
    sync_offset_ms: Option<i64>,
}

/// Touches the session and applies `changes`; `None` when it is not open.
fn touch_with(
    c: &mut PgConnection,
    id: &SessionId,
    changes: SessionChanges,
    now: OffsetDateTime,
) -> Result<Option<Session>, Fail> {
    let touch =
        sessions::last_activity_at.eq(greatest_instant(sessions::last_activity_at, micros(now)));
    diesel::update(sessions::table.filter(sessions::id.eq(id.as_str())))
        .set((changes, touch))
        .returning(SessionRow::as_returning())
        .get_result(c)
        .optional()?
        .map(SessionRow::into_domain)
        .transpose()
}

fn open_tx(c: &mut PgConnection, spec: &OpenSession) -> Result<OpenedSession, Fail> {
    let targets = spec.targets.as_deref().map(targets_to_db).transpose()?;
    let join = SessionChanges {
        sequence: None,
        targets: targets.clone(),
        sync_offset_ms: None,
    };
    if let Some(session) = touch_with(c, &spec.id, join, spec.now)? {
        return Ok(OpenedSession {
            session,
            created: false,
        });
    }
    let site = spec.domain.as_str();
    let org = spec.org_id.as_str();
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2 || ' ' || $3))")
        .bind::<Integer, _>(SITE_LOCK_CLASS)
        .bind::<Text, _>(org)
        .bind::<Text, _>(site)
        .execute(c)?;
    let now = micros(spec.now);
    let row = SessionRow {
        id: spec.id.as_str().to_owned(),
        key_id: spec.key_id.0,
        org_id: spec.org_id.as_str().to_owned(),
        domain: site.to_owned(),
        stream_key: spec.stream_key.clone(),
        sequence: to_db(spec.sequence, "sequence")?,
        targets: targets.unwrap_or_else(|| serde_json::Value::Array(vec![])),
        started_at: now,
        last_activity_at: now,
        captions_sent: 0,
        captions_failed: 0,
        mic_holder: None,
        sync_offset_ms: 0,
    };
    let Some(created) = diesel::insert_into(sessions::table)
        .values(&row)
        .on_conflict((sessions::org_id, sessions::id))
        .do_nothing()
        .returning(SessionRow::as_returning())
        .get_result(c)
        .optional()?
    else {
        // Opened concurrently since our join attempt: run again and join it.
        return Err(Fail::Retry);
    };
    let open: i64 = sessions::table
        .filter(sessions::org_id.eq(org))
        .filter(sessions::domain.eq(site))
        .count()
        .get_result(c)?;
    let open_sessions = from_db(open, "open sessions")?;
    bump_domain(
        c,
        org,
        &spec.domain,
        now,
        DomainActivity::SessionStarted { open_sessions },
    )?;
    Ok(OpenedSession {
        session: created.into_domain()?,
        created: true,
    })
}

fn end_tx(
    c: &mut PgConnection,
    id: &SessionId,
    reason: EndReason,
    now: OffsetDateTime,
) -> Result<Option<SessionRecord>, Fail> {
    let Some(row) = diesel::delete(sessions::table.filter(sessions::id.eq(id.as_str())))
        .returning(SessionRow::as_returning())
        .get_result(c)
        .optional()?
    else {
        return Ok(None);
    };
    let now = micros(now);
    let org = row.org_id.clone();
    let record = row.into_domain()?.record(now, reason);
    if reason.leaves_record() {
        diesel::insert_into(session_records::table)
            .values(RecordRow::of(&record)?)
            .execute(c)?;
        let ended = DomainActivity::SessionEnded {
            duration_ms: record.duration_ms,
        };
        bump_domain(c, &org, &record.domain, now, ended)?;
    }
    Ok(Some(record))
}

fn delivery_tx(c: &mut PgConnection, r: &DeliveryReport) -> Result<(), Fail> {
    let session = sessions::table
        .filter(sessions::org_id.eq(r.org_id.as_str()))
        .filter(sessions::id.eq(r.session_id.as_str()));
    match &r.outcome {
        DeliveryOutcome::Delivered { batch_size } => {
            let n = to_db(*batch_size, "batch_size")?;
            diesel::update(session)
                .set(sessions::captions_sent.eq(sessions::captions_sent + n))
                .execute(c)?;
            let activity = DomainActivity::Delivered {
                batch_size: *batch_size,
            };
            bump_domain(c, r.org_id.as_str(), &r.domain, r.at, activity)?;
        }
        DeliveryOutcome::Failed {
            batch_size,
            error,
            status_code,
        } => {
            let n = to_db(*batch_size, "batch_size")?;
            diesel::update(session)
                .set(sessions::captions_failed.eq(sessions::captions_failed + n))
                .execute(c)?;
            let activity = DomainActivity::Failed {
                batch_size: *batch_size,
            };
            bump_domain(c, r.org_id.as_str(), &r.domain, r.at, activity)?;
            let row = CaptionErrorRow::of(&CaptionError {
                session_id: r.session_id.clone(),
                key_id: r.key_id,
                org_id: r.org_id.clone(),
                error: error.clone(),
                status_code: *status_code,
                occurred_at: r.at,
                batch_size: *batch_size,
            })?;
            diesel::insert_into(caption_errors::table)
                .values(row)
                .execute(c)?;
        }
    }
    Ok(())
}

fn sessions_of(rows: Vec<SessionRow>) -> Result<Vec<Session>, Fail> {
    rows.into_iter().map(SessionRow::into_domain).collect()
}

impl SessionStore for PgStore {
    fn open_session(&self, spec: OpenSession) -> Result<OpenedSession, StoreError> {
        self.tx(|c| open_tx(c, &spec))
    }

    fn get_session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        self.read(|c| {
            sessions::table
                .filter(sessions::id.eq(id.as_str()))
                .select(SessionRow::as_select())
                .first(c)
                .optional()?
                .map(SessionRow::into_domain)
                .transpose()
        })
    }

    fn touch_session(
        &self,
        id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        // Activity only moves the idle deadline: it is committed without waiting for the WAL
        // flush (a crash may forget the last second of activity, never a meter), so a session
        // request does not pay for a durable commit before its real work.
        self.tx(|c| {
            c.batch_execute("SET LOCAL synchronous_commit = off")?;
            diesel::update(sessions::table.filter(sessions::id.eq(id.as_str())))
                .set(
                    sessions::last_activity_at
                        .eq(greatest_instant(sessions::last_activity_at, micros(now))),
                )
                .returning(SessionRow::as_returning())
                .get_result(c)
                .optional()?
                .map(SessionRow::into_domain)
                .transpose()
        })
    }

    fn update_session(
        &self,
        id: &SessionId,
        patch: &SessionPatch,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        self.tx(|c| {
            let changes = SessionChanges {
                sequence: patch.sequence.map(|s| to_db(s, "sequence")).transpose()?,
                targets: patch.targets.as_deref().map(targets_to_db).transpose()?,
                sync_offset_ms: patch.sync_offset_ms,
            };
            touch_with(c, id, changes, now)
        })
    }

    fn apply_mic(
        &self,
        id: &SessionId,
        action: MicAction,
        client: &ClientId,
        now: OffsetDateTime,
    ) -> Result<Option<Option<ClientId>>, StoreError> {
        self.tx(|c| {
            let Some(holder) = sessions::table
                .filter(sessions::id.eq(id.as_str()))
                .select(sessions::mic_holder)
                .for_update()
                .first::<Option<String>>(c)
                .optional()?
            else {
                return Ok(None);
            };
            let holder = holder
                .map(|h| ClientId::parse(&h).map_err(|e| corrupt("mic holder", e)))
                .transpose()?;
            let next = next_holder(holder, action, client);
            diesel::update(sessions::table.filter(sessions::id.eq(id.as_str())))
                .set((
                    sessions::mic_holder.eq(next.as_ref().map(ClientId::as_str)),
                    sessions::last_activity_at
                        .eq(greatest_instant(sessions::last_activity_at, micros(now))),
                ))
                .execute(c)?;
            Ok(Some(next))
        })
    }

    fn record_delivery(&self, report: DeliveryReport) -> Result<(), StoreError> {
        self.tx(|c| delivery_tx(c, &report))
    }

    fn end_session(
        &self,
        id: &SessionId,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.tx(|c| end_tx(c, id, reason, now))
    }

    fn record_viewer_open(&self, viewer: &ViewerKey, day: Date) -> Result<(), StoreError> {
        self.tx(|c| crate::viewers::record_open(c, viewer, day))
    }

    fn list_viewer_stats(&self, key: KeyId, limit: u32) -> Result<Vec<ViewerDay>, StoreError> {
        self.read(|c| crate::viewers::list(c, key, limit))
    }

    fn list_open_sessions(&self, key: Option<KeyId>) -> Result<Vec<Session>, StoreError> {
        self.read(|c| {
            let mut q = sessions::table
                .select(SessionRow::as_select())
                .order((sessions::started_at.asc(), sessions::id.asc()))
                .into_boxed();
            if let Some(key) = key {
                q = q.filter(sessions::key_id.eq(key.0));
            }
            sessions_of(q.load(c)?)
        })
    }

    fn list_sessions(
        &self,
        filter: &SessionFilter,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        self.read(|c| {
            // Only open sessions live in this table, so it stays small: no index is needed
            // beyond the key's, and the order is sorted in the statement.
            let mut q = sessions::table
                .select(SessionRow::as_select())
                .order((sessions::started_at.desc(), sessions::id.asc()))
                .limit(i64::from(limit))
                .into_boxed();
            if let Some(org) = &filter.org_id {
                q = q.filter(sessions::org_id.eq(org.as_str().to_owned()));
            }
            if let Some(user) = filter.user_id {
                let keys = api_keys::table
                    .filter(api_keys::user_id.eq(user.0))
                    .select(api_keys::id);
                q = q.filter(sessions::key_id.eq_any(keys));
            }
            if let Some(key) = filter.key_id {
                q = q.filter(sessions::key_id.eq(key.0));
            }
            if let Some(domain) = &filter.domain {
                q = q.filter(sessions::domain.eq(domain.as_str().to_owned()));
            }
            sessions_of(q.load(c)?)
        })
    }

    fn idle_sessions(&self, cutoff: OffsetDateTime) -> Result<Vec<SessionId>, StoreError> {
        self.read(|c| {
            let rows = sessions::table
                .filter(sessions::last_activity_at.le(micros(cutoff)))
                .order((sessions::last_activity_at.asc(), sessions::id.asc()))
                .select(SessionRow::as_select())
                .load(c)?;
            Ok(sessions_of(rows)?.into_iter().map(|s| s.id).collect())
        })
    }

    fn list_session_records(
        &self,
        key: KeyId,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.read(|c| {
            session_records::table
                .filter(session_records::key_id.eq(key.0))
                .order((session_records::ended_at.desc(), session_records::id.desc()))
                .limit(i64::from(limit))
                .select(RecordRow::as_select())
                .load(c)?
                .into_iter()
                .map(RecordRow::into_domain)
                .collect()
        })
    }

    fn list_caption_errors(&self, key: KeyId, limit: u32) -> Result<Vec<CaptionError>, StoreError> {
        self.read(|c| {
            caption_errors::table
                .filter(caption_errors::key_id.eq(key.0))
                .order((
                    caption_errors::occurred_at.desc(),
                    caption_errors::id.desc(),
                ))
                .limit(i64::from(limit))
                .select(CaptionErrorRow::as_select())
                .load(c)?
                .into_iter()
                .map(CaptionErrorRow::into_domain)
                .collect()
        })
    }

    fn domain_usage(&self, query: &DomainUsageQuery) -> Result<Vec<DomainUsageRow>, StoreError> {
        self.read(|c| analytics::domain_usage(c, query))
    }
}
