//! `SessionStore`: open sessions, activity, mic, deliveries, ends and their records.
//!
//! Every statement on `sessions` that finds one session filters by `org_id` and `id` (the
//! table's key), so on a schema distributed by organisation it is routed to one shard.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use tally_domain::key::KeyId;
use tally_domain::mic::{next_holder, ClientId, MicAction};
use tally_domain::ports::{DeliveryReport, OpenedSession, SessionStore};
use tally_domain::session::{
    CaptionError, DeliveryOutcome, EndReason, OpenSession, Session, SessionPatch, SessionRecord,
    SessionRef, ViewerDay, ViewerKey,
};
use tally_domain::session_filter::SessionFilter;
use tally_domain::usage::{DomainActivity, DomainUsageQuery, DomainUsageRow};
use tally_domain::StoreError;
use time::{Date, OffsetDateTime};

use crate::convert::{from_db, micros, to_db};
use crate::error::{corrupt, Fail};
use crate::rollups::{bump_domain, greatest_instant};
use crate::rows::sessions::{targets_to_db, CaptionErrorRow, RecordRow, SessionRow};
use crate::schema::{caption_errors, session_records, sessions};
use crate::{analytics, session_lists, PgStore};

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

/// The one session `session` names: its organisation and id.
macro_rules! one_session {
    ($session:expr) => {
        sessions::table
            .filter(sessions::org_id.eq($session.org().as_str()))
            .filter(sessions::id.eq($session.id().as_str()))
    };
}

/// Touches the session and applies `changes`; `None` when it is not open.
fn touch_with(
    c: &mut PgConnection,
    session: &SessionRef,
    changes: SessionChanges,
    now: OffsetDateTime,
) -> Result<Option<Session>, Fail> {
    let touch =
        sessions::last_activity_at.eq(greatest_instant(sessions::last_activity_at, micros(now)));
    diesel::update(one_session!(session))
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
    let at = SessionRef::new(spec.org_id.clone(), spec.id.clone());
    if let Some(session) = touch_with(c, &at, join, spec.now)? {
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
    session: &SessionRef,
    reason: EndReason,
    now: OffsetDateTime,
) -> Result<Option<SessionRecord>, Fail> {
    let Some(row) = diesel::delete(one_session!(session))
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
    let at = SessionRef::new(r.org_id.clone(), r.session_id.clone());
    match &r.outcome {
        DeliveryOutcome::Delivered { batch_size } => {
            let n = to_db(*batch_size, "batch_size")?;
            diesel::update(one_session!(at))
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
            diesel::update(one_session!(at))
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

impl SessionStore for PgStore {
    fn open_session(&self, spec: OpenSession) -> Result<OpenedSession, StoreError> {
        self.tx(|c| open_tx(c, &spec))
    }

    fn get_session(&self, session: &SessionRef) -> Result<Option<Session>, StoreError> {
        self.read(|c| {
            one_session!(session)
                .select(SessionRow::as_select())
                .first(c)
                .optional()?
                .map(SessionRow::into_domain)
                .transpose()
        })
    }

    fn touch_session(
        &self,
        session: &SessionRef,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        // Activity only moves the idle deadline: it is committed without waiting for the WAL
        // flush (a crash may forget the last second of activity, never a meter), so a session
        // request does not pay for a durable commit before its real work.
        self.tx(|c| {
            c.batch_execute("SET LOCAL synchronous_commit = off")?;
            diesel::update(one_session!(session))
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
        session: &SessionRef,
        patch: &SessionPatch,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        self.tx(|c| {
            let changes = SessionChanges {
                sequence: patch.sequence.map(|s| to_db(s, "sequence")).transpose()?,
                targets: patch.targets.as_deref().map(targets_to_db).transpose()?,
                sync_offset_ms: patch.sync_offset_ms,
            };
            touch_with(c, session, changes, now)
        })
    }

    fn apply_mic(
        &self,
        session: &SessionRef,
        action: MicAction,
        client: &ClientId,
        now: OffsetDateTime,
    ) -> Result<Option<Option<ClientId>>, StoreError> {
        self.tx(|c| {
            let Some(holder) = one_session!(session)
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
            diesel::update(one_session!(session))
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
        session: &SessionRef,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.tx(|c| end_tx(c, session, reason, now))
    }

    fn record_viewer_open(&self, viewer: &ViewerKey, day: Date) -> Result<(), StoreError> {
        self.tx(|c| crate::viewers::record_open(c, viewer, day))
    }

    fn list_viewer_stats(&self, key: KeyId, limit: u32) -> Result<Vec<ViewerDay>, StoreError> {
        self.read(|c| crate::viewers::list(c, key, limit))
    }

    fn list_open_sessions(&self, key: Option<KeyId>) -> Result<Vec<Session>, StoreError> {
        self.read(|c| session_lists::open(c, key))
    }

    fn list_sessions(
        &self,
        filter: &SessionFilter,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        self.read(|c| session_lists::filtered(c, filter, limit))
    }

    fn idle_sessions(&self, cutoff: OffsetDateTime) -> Result<Vec<SessionRef>, StoreError> {
        self.read(|c| session_lists::idle(c, cutoff))
    }

    fn list_session_records(
        &self,
        key: KeyId,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.read(|c| session_lists::records(c, key, limit))
    }

    fn list_caption_errors(&self, key: KeyId, limit: u32) -> Result<Vec<CaptionError>, StoreError> {
        self.read(|c| session_lists::caption_errors(c, key, limit))
    }

    fn domain_usage(&self, query: &DomainUsageQuery) -> Result<Vec<DomainUsageRow>, StoreError> {
        self.read(|c| analytics::domain_usage(c, query))
    }
}
