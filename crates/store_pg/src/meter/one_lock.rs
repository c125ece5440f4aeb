//! The keys and the sessions of a caption batch locked by one statement: one round trip
//! fewer than [`super::reads::lock_keys`] then [`super::reads::lock_sessions`], for a batch of
//! caption meters whose session tokens name their keys by organisation (a batch that also
//! holds verify meters, which name keys by secret, or tokens from before tokens named the
//! organisation, takes the two statements).
//!
//! It applies when every meter names its key by organisation and id (a session token's key)
//! and some meter names a session: then the sessions can be looked up in the meters' own
//! organisations without waiting for the keys' rows, and one `UNION ALL` locks the keys, in
//! id order, and then the sessions, in `(organisation, id)` order. Postgres runs the branches
//! of a `UNION ALL` one after the other, so the order is the two statements' order and
//! concurrent batches still cannot deadlock; each locked row is its latest committed version.
//! Unlike a separate statement after the keys' locks, this one does not see a session row
//! inserted while it waited for a key's lock; that session opened after the meter was queued
//! (a meter names a session only once its opening has committed), so only a session ended
//! and opened again under the same id meanwhile is missed, and its token's meter is refused
//! either way (the token is of the lifetime that ended). A session of a key that is not found
//! is locked and unused: its meter is refused as an unknown key either way.
//!
//! An optimistic batch ([`super::optimistic`]) reads the keys and sessions it does not
//! remember with the same statement, without the locks ([`Lock::None`]); each row then
//! comes with its version, which its write checks.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz};
use tally_domain::ports::{KeyRef, MeterRequest};
use tally_domain::session::Session;
use time::OffsetDateTime;

use super::reads::{key_columns, key_states, session_columns, KeyState, Lock, LockedKey};
use crate::error::Fail;
use crate::fixed::Fixed;
use crate::rows::sessions::SessionRow;

/// A batch's keys (by id) and open sessions (by session id), with the sessions' row versions
/// (their `xmin`, for an optimistic batch's check).
pub(super) struct Locks {
    pub keys: BTreeMap<i64, KeyState>,
    pub sessions: HashMap<String, Session>,
    pub session_versions: HashMap<String, i64>,
}

/// Locks the batch's keys and then its sessions in one statement, or `None` (nothing locked)
/// when the batch is not of that shape; see the module's conditions.
pub(super) fn lock_keys_and_sessions(
    c: &mut PgConnection,
    batch: &[MeterRequest],
) -> Result<Option<Locks>, Fail> {
    let mut keys = Vec::with_capacity(batch.len());
    let mut sessions = Vec::with_capacity(batch.len());
    for req in batch {
        let KeyRef::InOrg(org, id) = &req.key else {
            return Ok(None);
        };
        keys.push((id.0, org.as_str()));
        if let Some(session) = &req.session {
            sessions.push((org.as_str(), session.as_str()));
        }
    }
    if sessions.is_empty() {
        return Ok(None);
    }
    read_keys_and_sessions(c, keys, sessions, Lock::ForUpdate).map(Some)
}

/// Reads the keys `(id, organisation)` and then the sessions `(organisation, id)` with
/// `lock`, in one statement; the lists are sorted here (id order for keys,
/// `(organisation, id)` order for sessions: the orders of the two statements this one
/// replaces).
pub(super) fn read_keys_and_sessions(
    c: &mut PgConnection,
    mut keys: Vec<(i64, &str)>,
    mut sessions: Vec<(&str, &str)>,
    lock: Lock,
) -> Result<Locks, Fail> {
    keys.sort_unstable();
    keys.dedup();
    sessions.sort_unstable();
    sessions.dedup();
    let (key_ids, key_orgs): (Vec<i64>, Vec<&str>) = keys.into_iter().unzip();
    let (session_orgs, session_ids): (Vec<&str>, Vec<&str>) = sessions.into_iter().unzip();
    // The second branch's NULLs stand for `key_columns!` in its order and types, and the
    // first branch's `s_` NULLs for `session_columns!` and the version (a `UNION ALL` takes
    // its column names from the first branch): a column added to either list must be added
    // to the other branch too.
    macro_rules! statement {
        ($lock:literal) => {
            concat!(
                "SELECT a.*, NULL::text AS s_id, NULL::bigint AS s_key_id, \
                     NULL::text AS s_org_id, NULL::text AS s_domain, \
                     NULL::text AS s_stream_key, NULL::bigint AS s_sequence, \
                     NULL::jsonb AS s_targets, NULL::timestamptz AS s_started_at, \
                     NULL::timestamptz AS s_last_activity_at, NULL::bigint AS s_captions_sent, \
                     NULL::bigint AS s_captions_failed, NULL::text AS s_mic_holder, \
                     NULL::bigint AS s_sync_offset_ms, NULL::bigint AS s_version \
                 FROM unnest($1::text[], $2::bigint[]) AS v(org, id) CROSS JOIN LATERAL (",
                key_columns!("SELECT", "FROM api_keys WHERE org_id = v.org AND id = v.id"),
                " ",
                $lock,
                ") AS a \
                 UNION ALL \
                 SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text, \
                     NULL::text, NULL::text, NULL::text, NULL::uuid, NULL::timestamptz, \
                     NULL::timestamptz, NULL::boolean, NULL::timestamptz, NULL::timestamptz, \
                     NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, \
                     NULL::timestamptz, NULL::date, NULL::bigint, NULL::bigint, s.* \
                 FROM unnest($3::text[], $4::text[]) AS v(org, id) CROSS JOIN LATERAL (SELECT ",
                session_columns!(),
                ", xmin::text::bigint FROM sessions WHERE org_id = v.org AND id = v.id ",
                $lock,
                ") AS s",
            )
        };
    }
    let sql = lock.pick(statement!("FOR UPDATE"), statement!(""));
    let rows: Vec<Locked> = Fixed::new(sql)
        .bind::<Array<Text>, _>(&key_orgs)
        .bind::<Array<BigInt>, _>(&key_ids)
        .bind::<Array<Text>, _>(&session_orgs)
        .bind::<Array<Text>, _>(&session_ids)
        .load(c)?;
    let mut locked_keys = Vec::with_capacity(key_ids.len());
    let mut open = HashMap::with_capacity(session_ids.len());
    let mut versions = HashMap::with_capacity(session_ids.len());
    for row in rows {
        if let Some(key) = row.key {
            locked_keys.push(key);
        }
        if let Some(s) = row.session {
            let version = s.s_version;
            let session = SessionRow::from(s).into_domain()?;
            versions.insert(session.id.as_str().to_owned(), version);
            open.insert(session.id.as_str().to_owned(), session);
        }
    }
    Ok(Locks {
        keys: key_states(locked_keys)?,
        sessions: open,
        session_versions: versions,
    })
}

/// A row of the statement: a locked key, or a locked session.
#[derive(QueryableByName)]
struct Locked {
    #[diesel(embed)]
    key: Option<LockedKey>,
    #[diesel(embed)]
    session: Option<LockedSession>,
}

/// A session row under the statement's `s_` names (the key's columns take the plain ones).
#[derive(QueryableByName)]
struct LockedSession {
    #[diesel(sql_type = Text)]
    s_id: String,
    #[diesel(sql_type = BigInt)]
    s_key_id: i64,
    #[diesel(sql_type = Text)]
    s_org_id: String,
    #[diesel(sql_type = Text)]
    s_domain: String,
    #[diesel(sql_type = Nullable<Text>)]
    s_stream_key: Option<String>,
    #[diesel(sql_type = BigInt)]
    s_sequence: i64,
    #[diesel(sql_type = Jsonb)]
    s_targets: serde_json::Value,
    #[diesel(sql_type = Timestamptz)]
    s_started_at: OffsetDateTime,
    #[diesel(sql_type = Timestamptz)]
    s_last_activity_at: OffsetDateTime,
    #[diesel(sql_type = BigInt)]
    s_captions_sent: i64,
    #[diesel(sql_type = BigInt)]
    s_captions_failed: i64,
    #[diesel(sql_type = Nullable<Text>)]
    s_mic_holder: Option<String>,
    #[diesel(sql_type = BigInt)]
    s_sync_offset_ms: i64,
    #[diesel(sql_type = BigInt)]
    s_version: i64,
}

impl From<LockedSession> for SessionRow {
    fn from(s: LockedSession) -> Self {
        Self {
            id: s.s_id,
            key_id: s.s_key_id,
            org_id: s.s_org_id,
            domain: s.s_domain,
            stream_key: s.s_stream_key,
            sequence: s.s_sequence,
            targets: s.s_targets,
            started_at: s.s_started_at,
            last_activity_at: s.s_last_activity_at,
            captions_sent: s.s_captions_sent,
            captions_failed: s.s_captions_failed,
            mic_holder: s.s_mic_holder,
            sync_offset_ms: s.s_sync_offset_ms,
        }
    }
}
