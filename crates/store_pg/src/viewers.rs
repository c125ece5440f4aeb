//! Viewer stream opens per key and day (`GET /stats`'s `viewerStats`).

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Date as SqlDate, Text};
use tally_domain::key::KeyId;
use tally_domain::session::{ViewerDay, ViewerKey};
use time::Date;

use crate::convert::from_db;
use crate::error::{corrupt, Fail};
use crate::schema::viewer_daily_stats;

/// Counts one open of `viewer` on `day` for the key of the most recently active open session
/// whose targets deliver to it; nothing when none does. One statement.
pub(crate) fn record_open(c: &mut PgConnection, viewer: &ViewerKey, day: Date) -> Result<(), Fail> {
    diesel::sql_query(
        "INSERT INTO viewer_daily_stats (org_id, key_id, date, viewer_key, views) \
         SELECT s.org_id, s.key_id, $2, $1, 1 FROM sessions s \
         WHERE s.targets @> jsonb_build_array(jsonb_build_object('type', 'viewer', 'viewerKey', $1::text)) \
         ORDER BY s.last_activity_at DESC, s.id DESC LIMIT 1 \
         ON CONFLICT (org_id, key_id, date, viewer_key) \
         DO UPDATE SET views = viewer_daily_stats.views + 1",
    )
    .bind::<Text, _>(viewer.as_str())
    .bind::<SqlDate, _>(day)
    .execute(c)?;
    Ok(())
}

/// The key's rows, newest day first, then by viewer key.
pub(crate) fn list(c: &mut PgConnection, key: KeyId, limit: u32) -> Result<Vec<ViewerDay>, Fail> {
    let rows: Vec<(Date, String, i64)> = viewer_daily_stats::table
        .filter(viewer_daily_stats::key_id.eq(key.0))
        .order((
            viewer_daily_stats::date.desc(),
            viewer_daily_stats::viewer_key.asc(),
        ))
        .limit(i64::from(limit))
        .select((
            viewer_daily_stats::date,
            viewer_daily_stats::viewer_key,
            viewer_daily_stats::views,
        ))
        .load(c)?;
    rows.into_iter()
        .map(|(date, viewer, views)| {
            Ok(ViewerDay {
                date,
                viewer_key: ViewerKey::parse(&viewer).map_err(|e| corrupt("viewer key", e))?,
                views: from_db(views, "views")?,
            })
        })
        .collect()
}

/// Deletes the key's rows (erasure, hard delete); returns how many.
pub(crate) fn forget(c: &mut PgConnection, key: KeyId) -> Result<u64, Fail> {
    let n = diesel::delete(viewer_daily_stats::table.filter(viewer_daily_stats::key_id.eq(key.0)))
        .execute(c)?;
    Ok(n as u64)
}
