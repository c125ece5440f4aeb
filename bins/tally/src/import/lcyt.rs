//! Reading an lcyt-backend SQLite database: recognising it, checking its schema and loading
//! the tables the import brings over, as loosely typed rows (SQLite columns hold whatever was
//! written; lcyt validates little). Opened read-only: the import never changes its source.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::ImportError;

/// One row, its columns in the order they were asked for.
pub(crate) type Row = Vec<Value>;

/// A table the import reads: its name, the columns it cannot do without and those it reads
/// when present (older lcyt versions lack some; they are read as NULL then).
struct Table {
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
}

const API_KEYS: Table = Table {
    name: "api_keys",
    required: &["id", "key", "owner", "created_at", "expires_at", "active"],
    optional: &[
        "email",
        "daily_limit",
        "lifetime_limit",
        "lifetime_used",
        "revoked_at",
        "sequence",
        "last_caption_at",
    ],
};
const CAPTION_USAGE: Table = Table {
    name: "caption_usage",
    required: &["api_key", "date", "count"],
    optional: &[],
};
const SESSION_STATS: Table = Table {
    name: "session_stats",
    required: &[
        "session_id",
        "api_key",
        "domain",
        "started_at",
        "ended_at",
        "duration_ms",
    ],
    optional: &[
        "captions_sent",
        "captions_failed",
        "final_sequence",
        "ended_by",
    ],
};
const CAPTION_ERRORS: Table = Table {
    name: "caption_errors",
    required: &["api_key", "session_id", "timestamp"],
    optional: &["error_code", "error_msg", "batch_size"],
};
const AUTH_EVENTS: Table = Table {
    name: "auth_events",
    required: &["api_key", "event_type", "timestamp"],
    optional: &["domain"],
};
const DOMAIN_HOURLY_STATS: Table = Table {
    name: "domain_hourly_stats",
    required: &["date", "hour", "domain"],
    optional: &[
        "sessions_started",
        "sessions_ended",
        "captions_sent",
        "captions_failed",
        "batches_sent",
        "total_duration_ms",
        "peak_sessions",
    ],
};

/// The tables of an lcyt database the import brings over, read whole. Columns of each row are
/// in the order of the table's `required` then `optional` lists above. A table the database
/// lacks (an older lcyt) reads as empty.
#[derive(Debug, Default)]
pub(crate) struct LcytDb {
    /// `api_keys`, ordered by id.
    pub keys: Vec<Row>,
    /// `caption_usage`.
    pub daily: Vec<Row>,
    /// `session_stats`, ordered by id.
    pub sessions: Vec<Row>,
    /// `caption_errors`, ordered by id.
    pub caption_errors: Vec<Row>,
    /// `auth_events`, ordered by id.
    pub auth_events: Vec<Row>,
    /// `domain_hourly_stats`.
    pub rollups: Vec<Row>,
}

impl LcytDb {
    /// Opens `path` read-only, checks that it is an lcyt-backend database of a schema this
    /// importer knows, and reads it.
    ///
    /// # Errors
    /// [`ImportError::MissingFile`], [`ImportError::NotLcyt`] (not SQLite, or no `api_keys`),
    /// [`ImportError::UnknownSchema`] (a `user_version` lcyt never sets, or a table without a
    /// column the import needs), [`ImportError::Read`].
    pub(crate) fn open(path: &Path) -> Result<Self, ImportError> {
        if !path.is_file() {
            return Err(ImportError::MissingFile(path.to_owned()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let not_lcyt = |reason: String| ImportError::NotLcyt {
            path: path.to_owned(),
            reason,
        };
        let conn = Connection::open_with_flags(path, flags).map_err(|e| not_lcyt(e.to_string()))?;
        // The first read is where SQLite notices a file that is not a database.
        let tables: HashSet<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| not_lcyt(format!("not an SQLite database ({e})")))?;
        if !tables.contains(API_KEYS.name) {
            return Err(not_lcyt("it has no api_keys table".to_owned()));
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| ImportError::Read(e.to_string()))?;
        if version != 0 {
            return Err(ImportError::UnknownSchema {
                path: path.to_owned(),
                detail: format!(
                    "user_version is {version}; lcyt-backend's schema has none (0), so this \
                     is a later or different schema"
                ),
            });
        }
        let read = |t: &Table, order: &str| read_table(&conn, path, &tables, t, order);
        Ok(Self {
            keys: read(&API_KEYS, "ORDER BY id")?,
            daily: read(&CAPTION_USAGE, "ORDER BY api_key, date")?,
            sessions: read(&SESSION_STATS, "ORDER BY rowid")?,
            caption_errors: read(&CAPTION_ERRORS, "ORDER BY rowid")?,
            auth_events: read(&AUTH_EVENTS, "ORDER BY rowid")?,
            rollups: read(&DOMAIN_HOURLY_STATS, "ORDER BY date, hour, domain")?,
        })
    }
}

fn read_table(
    conn: &Connection,
    path: &Path,
    tables: &HashSet<String>,
    table: &Table,
    order: &str,
) -> Result<Vec<Row>, ImportError> {
    if !tables.contains(table.name) {
        return Ok(Vec::new());
    }
    let read_err = |e: rusqlite::Error| ImportError::Read(format!("{}: {e}", table.name));
    let columns: HashSet<String> = conn
        .prepare(&format!("PRAGMA table_info(\"{}\")", table.name))
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(1))?
                .collect::<Result<_, _>>()
        })
        .map_err(read_err)?;
    if let Some(missing) = table.required.iter().find(|c| !columns.contains(**c)) {
        return Err(ImportError::UnknownSchema {
            path: path.to_owned(),
            detail: format!("table {} has no column {missing}", table.name),
        });
    }
    let select: Vec<String> = table
        .required
        .iter()
        .chain(table.optional)
        .map(|c| {
            if columns.contains(*c) {
                format!("\"{c}\"")
            } else {
                "NULL".to_owned()
            }
        })
        .collect();
    let n = select.len();
    let sql = format!(
        "SELECT {} FROM \"{}\" {order}",
        select.join(", "),
        table.name
    );
    let mut stmt = conn.prepare(&sql).map_err(read_err)?;
    let rows = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .map_err(read_err)?
        .collect::<Result<Vec<Row>, _>>()
        .map_err(read_err)?;
    Ok(rows)
}

/// A column as an integer: SQLite's integers, reals (truncated) and numeric text; anything
/// else (NULL, a blob, text that is no number) is `None`.
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "lcyt writes JS numbers; a real is truncated as SQLite's CAST does"
        )]
        Value::Real(f) if f.is_finite() => Some(f.trunc() as i64),
        Value::Text(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| int(&Value::Real(f)).unwrap_or(0))
            })
        }
        _ => None,
    }
}

/// A column as text: text as is, numbers printed; NULL and blobs are `None`.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Null | Value::Blob(_) => None,
    }
}
