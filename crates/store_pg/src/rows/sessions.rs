//! Open sessions, session records, caption errors and domain rollup rows.

use diesel::prelude::*;
use tally_domain::key::KeyId;
use tally_domain::mic::ClientId;
use tally_domain::session::{CaptionError, EndReason, Session, SessionRecord, Target};
use tally_domain::usage::{DomainCounters, DomainRollupKey};
use time::{Date, OffsetDateTime};

use crate::convert::{
    domain, from_db, micros, org_id, session_id, status_from_db, status_to_db, to_db,
};
use crate::error::{corrupt, Fail};
use crate::schema::{caption_errors, domain_rollups, session_records, sessions};

/// Targets as the `JSONB` column holds them.
pub(crate) fn targets_to_db(t: &[Target]) -> Result<serde_json::Value, Fail> {
    serde_json::to_value(t).map_err(|e| corrupt("targets", e))
}

/// A row of `sessions`.
#[derive(Debug, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct SessionRow {
    pub id: String,
    pub key_id: i64,
    pub org_id: String,
    pub domain: String,
    pub stream_key: Option<String>,
    pub sequence: i64,
    pub targets: serde_json::Value,
    pub started_at: OffsetDateTime,
    pub last_activity_at: OffsetDateTime,
    pub captions_sent: i64,
    pub captions_failed: i64,
    pub mic_holder: Option<String>,
    pub sync_offset_ms: i64,
}

impl SessionRow {
    pub(crate) fn into_domain(self) -> Result<Session, Fail> {
        Ok(Session {
            id: session_id(&self.id)?,
            key_id: KeyId(self.key_id),
            org_id: org_id(&self.org_id)?,
            domain: domain(&self.domain)?,
            stream_key: self.stream_key,
            sequence: from_db(self.sequence, "sequence")?,
            targets: serde_json::from_value(self.targets).map_err(|e| corrupt("targets", e))?,
            started_at: self.started_at,
            last_activity_at: self.last_activity_at,
            captions_sent: from_db(self.captions_sent, "captions_sent")?,
            captions_failed: from_db(self.captions_failed, "captions_failed")?,
            mic_holder: self
                .mic_holder
                .map(|h| ClientId::parse(&h).map_err(|e| corrupt("mic holder", e)))
                .transpose()?,
            sync_offset_ms: self.sync_offset_ms,
        })
    }
}

/// A row of `session_records` (without its serial id).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = session_records, check_for_backend(diesel::pg::Pg))]
pub(crate) struct RecordRow {
    pub session_id: String,
    pub key_id: i64,
    pub org_id: String,
    pub domain: String,
    pub started_at: OffsetDateTime,
    pub ended_at: OffsetDateTime,
    pub duration_ms: i64,
    pub captions_sent: i64,
    pub captions_failed: i64,
    pub final_sequence: i64,
    pub ended_by: String,
}

impl RecordRow {
    pub(crate) fn of(r: &SessionRecord) -> Result<Self, Fail> {
        Ok(Self {
            session_id: r.session_id.as_str().to_owned(),
            key_id: r.key_id.0,
            org_id: r.org_id.as_str().to_owned(),
            domain: r.domain.as_str().to_owned(),
            started_at: micros(r.started_at),
            ended_at: micros(r.ended_at),
            duration_ms: to_db(r.duration_ms, "duration_ms")?,
            captions_sent: to_db(r.captions_sent, "captions_sent")?,
            captions_failed: to_db(r.captions_failed, "captions_failed")?,
            final_sequence: to_db(r.final_sequence, "final_sequence")?,
            ended_by: r.ended_by.as_str().to_owned(),
        })
    }

    pub(crate) fn into_domain(self) -> Result<SessionRecord, Fail> {
        Ok(SessionRecord {
            session_id: session_id(&self.session_id)?,
            key_id: KeyId(self.key_id),
            org_id: org_id(&self.org_id)?,
            domain: domain(&self.domain)?,
            started_at: self.started_at,
            ended_at: self.ended_at,
            duration_ms: from_db(self.duration_ms, "duration_ms")?,
            captions_sent: from_db(self.captions_sent, "captions_sent")?,
            captions_failed: from_db(self.captions_failed, "captions_failed")?,
            final_sequence: from_db(self.final_sequence, "final_sequence")?,
            ended_by: EndReason::parse(&self.ended_by).map_err(|e| corrupt("end reason", e))?,
        })
    }
}

/// A row of `caption_errors` (without its serial id).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = caption_errors, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CaptionErrorRow {
    pub session_id: String,
    pub key_id: i64,
    pub org_id: String,
    pub error: String,
    pub status_code: Option<i32>,
    pub occurred_at: OffsetDateTime,
    pub batch_size: i64,
}

impl CaptionErrorRow {
    pub(crate) fn of(e: &CaptionError) -> Result<Self, Fail> {
        Ok(Self {
            session_id: e.session_id.as_str().to_owned(),
            key_id: e.key_id.0,
            org_id: e.org_id.as_str().to_owned(),
            error: e.error.clone(),
            status_code: status_to_db(e.status_code),
            occurred_at: micros(e.occurred_at),
            batch_size: to_db(e.batch_size, "batch_size")?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<CaptionError, Fail> {
        Ok(CaptionError {
            session_id: session_id(&self.session_id)?,
            key_id: KeyId(self.key_id),
            org_id: org_id(&self.org_id)?,
            error: self.error,
            status_code: status_from_db(self.status_code)?,
            occurred_at: self.occurred_at,
            batch_size: from_db(self.batch_size, "batch_size")?,
        })
    }
}

/// A row of `domain_rollups`: also the delta an upsert adds (`peak_sessions` is raised to,
/// not added).
#[derive(Debug, Insertable)]
#[diesel(table_name = domain_rollups)]
pub(crate) struct DomainRollupRow {
    pub org_id: String,
    pub date: Date,
    pub hour: i16,
    pub domain: String,
    pub sessions_started: i64,
    pub sessions_ended: i64,
    pub captions_sent: i64,
    pub captions_failed: i64,
    pub batches_sent: i64,
    pub total_duration_ms: i64,
    pub peak_sessions: i64,
}

impl DomainRollupRow {
    pub(crate) fn of(org: &str, k: &DomainRollupKey, c: &DomainCounters) -> Result<Self, Fail> {
        Ok(Self {
            org_id: org.to_owned(),
            date: k.date,
            hour: i16::from(k.hour),
            domain: k.domain.as_str().to_owned(),
            sessions_started: to_db(c.sessions_started, "sessions_started")?,
            sessions_ended: to_db(c.sessions_ended, "sessions_ended")?,
            captions_sent: to_db(c.captions_sent, "captions_sent")?,
            captions_failed: to_db(c.captions_failed, "captions_failed")?,
            batches_sent: to_db(c.batches_sent, "batches_sent")?,
            total_duration_ms: to_db(c.total_duration_ms, "total_duration_ms")?,
            peak_sessions: to_db(c.peak_sessions, "peak_sessions")?,
        })
    }
}
