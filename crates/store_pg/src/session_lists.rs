//! The listing reads of `SessionStore`: open sessions (by key, by filter, idle), session
//! records and caption errors. They scan by key, filter or time rather than name one session,
//! so unlike the statements of [`crate::sessions`] they are not routed by organisation and id.

use diesel::prelude::*;
use tally_domain::key::KeyId;
use tally_domain::session::{CaptionError, Session, SessionRecord, SessionRef};
use tally_domain::session_filter::SessionFilter;
use time::OffsetDateTime;

use crate::convert::micros;
use crate::error::Fail;
use crate::rows::sessions::{CaptionErrorRow, RecordRow, SessionRow};
use crate::schema::{api_keys, caption_errors, session_records, sessions};

fn sessions_of(rows: Vec<SessionRow>) -> Result<Vec<Session>, Fail> {
    rows.into_iter().map(SessionRow::into_domain).collect()
}

/// Open sessions, optionally of one key, by start then id.
pub(crate) fn open(c: &mut PgConnection, key: Option<KeyId>) -> Result<Vec<Session>, Fail> {
    let mut q = sessions::table
        .select(SessionRow::as_select())
        .order((sessions::started_at.asc(), sessions::id.asc()))
        .into_boxed();
    if let Some(key) = key {
        q = q.filter(sessions::key_id.eq(key.0));
    }
    sessions_of(q.load(c)?)
}

/// Open sessions passing `filter`, newest start first, at most `limit`.
pub(crate) fn filtered(
    c: &mut PgConnection,
    filter: &SessionFilter,
    limit: u32,
) -> Result<Vec<Session>, Fail> {
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
}

/// Open sessions idle since `cutoff`, each named by organisation and id.
pub(crate) fn idle(c: &mut PgConnection, cutoff: OffsetDateTime) -> Result<Vec<SessionRef>, Fail> {
    let rows = sessions::table
        .filter(sessions::last_activity_at.le(micros(cutoff)))
        .order((
            sessions::last_activity_at.asc(),
            sessions::org_id.asc(),
            sessions::id.asc(),
        ))
        .select(SessionRow::as_select())
        .load(c)?;
    Ok(sessions_of(rows)?.iter().map(Session::reference).collect())
}

/// The key's session records, newest end first, at most `limit`.
pub(crate) fn records(
    c: &mut PgConnection,
    key: KeyId,
    limit: u32,
) -> Result<Vec<SessionRecord>, Fail> {
    session_records::table
        .filter(session_records::key_id.eq(key.0))
        .order((session_records::ended_at.desc(), session_records::id.desc()))
        .limit(i64::from(limit))
        .select(RecordRow::as_select())
        .load(c)?
        .into_iter()
        .map(RecordRow::into_domain)
        .collect()
}

/// The key's caption errors, newest first, at most `limit`.
pub(crate) fn caption_errors(
    c: &mut PgConnection,
    key: KeyId,
    limit: u32,
) -> Result<Vec<CaptionError>, Fail> {
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
}
