//! `tally import lcyt`: an lcyt-backend SQLite database (built here with lcyt's own schema)
//! brought over into Postgres, then served: the same raw keys open sessions and meet their
//! limits exactly where lcyt left them, `/stats` and `/usage` show the imported history, and
//! importing again changes nothing. Always on Postgres (`tally import` refuses the memory
//! store), whichever store the rest of the suite runs on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use serde_json::{json, Value};
use tally::import::{import_lcyt, ImportOptions, Summary};
use tally_domain::key::KeySecret;
use tally_domain::limits::{utc_day, KeyUsage};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::DomainUsageQuery;
use tally_domain::{KeyStore, SessionStore};
use tally_http::StoreKind;
use tally_store_pg::testing::TestDb;
use tally_store_pg::PgStore;
use time::{Duration, OffsetDateTime};

use crate::helpers::{spawn_with_stores, test_config};

/// lcyt-backend's tables as its `initDb` creates them (reference §8), the imported ones and
/// some that are not.
const LCYT_SCHEMA: &str = "
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT UNIQUE, password_hash TEXT,
    name TEXT, created_at TEXT, active INTEGER, is_admin INTEGER, admin_role TEXT);
CREATE TABLE organizations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    expires_at TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    email TEXT,
    daily_limit INTEGER,
    lifetime_limit INTEGER,
    lifetime_used INTEGER NOT NULL DEFAULT 0,
    active_broadcast_id TEXT,
    revoked_at TEXT,
    sequence INTEGER NOT NULL DEFAULT 0,
    last_caption_at TEXT,
    backend_file_enabled INTEGER NOT NULL DEFAULT 0,
    graphics_enabled INTEGER NOT NULL DEFAULT 0,
    user_id INTEGER REFERENCES users(id),
    org_id INTEGER REFERENCES organizations(id),
    restricted INTEGER NOT NULL DEFAULT 0,
    relay_allowed INTEGER NOT NULL DEFAULT 0,
    relay_active INTEGER NOT NULL DEFAULT 0,
    radio_enabled INTEGER NOT NULL DEFAULT 0,
    hls_enabled INTEGER NOT NULL DEFAULT 0,
    cea708_delay_ms INTEGER NOT NULL DEFAULT 0,
    embed_cors TEXT NOT NULL DEFAULT '*',
    device_code TEXT,
    ingest_stream_key TEXT,
    public_slug TEXT
);
CREATE INDEX idx_api_keys_org ON api_keys(org_id);
CREATE UNIQUE INDEX idx_api_keys_ingest_stream_key ON api_keys(ingest_stream_key);
CREATE UNIQUE INDEX idx_api_keys_public_slug ON api_keys(public_slug);
CREATE TABLE caption_usage (api_key TEXT NOT NULL, date TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (api_key, date));
CREATE TABLE session_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
    api_key TEXT NOT NULL, domain TEXT, started_at TEXT NOT NULL, ended_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL, captions_sent INTEGER NOT NULL DEFAULT 0,
    captions_failed INTEGER NOT NULL DEFAULT 0, final_sequence INTEGER NOT NULL DEFAULT 0,
    ended_by TEXT NOT NULL DEFAULT 'client', broadcast_id TEXT);
CREATE TABLE sessions (session_id TEXT PRIMARY KEY, api_key TEXT, stream_key TEXT, domain TEXT,
    sequence INTEGER NOT NULL DEFAULT 0, started_at TEXT, last_activity TEXT,
    sync_offset INTEGER, mic_holder TEXT, data TEXT, broadcast_id TEXT);
CREATE TABLE caption_errors (id INTEGER PRIMARY KEY AUTOINCREMENT, api_key TEXT NOT NULL,
    session_id TEXT NOT NULL, timestamp TEXT NOT NULL, error_code INTEGER, error_msg TEXT,
    batch_size INTEGER NOT NULL DEFAULT 1);
CREATE TABLE auth_events (id INTEGER PRIMARY KEY AUTOINCREMENT, api_key TEXT,
    event_type TEXT NOT NULL, timestamp TEXT NOT NULL, domain TEXT);
CREATE TABLE domain_hourly_stats (date TEXT NOT NULL, hour INTEGER NOT NULL, domain TEXT NOT NULL,
    sessions_started INTEGER NOT NULL DEFAULT 0, sessions_ended INTEGER NOT NULL DEFAULT 0,
    captions_sent INTEGER NOT NULL DEFAULT 0, captions_failed INTEGER NOT NULL DEFAULT 0,
    batches_sent INTEGER NOT NULL DEFAULT 0, total_duration_ms INTEGER NOT NULL DEFAULT 0,
    peak_sessions INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (date, hour, domain));
CREATE TABLE viewer_key_daily_stats (date TEXT NOT NULL, api_key TEXT NOT NULL,
    viewer_key TEXT NOT NULL, views INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (date, api_key, viewer_key));
CREATE TABLE viewer_anon_daily_stats (date TEXT PRIMARY KEY, views INTEGER NOT NULL DEFAULT 0);
CREATE TABLE usage_rollups (api_key TEXT NOT NULL, period_start TEXT NOT NULL,
    grain TEXT NOT NULL DEFAULT 'hour', metric TEXT NOT NULL, value REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (api_key, metric, grain, period_start));
";

/// Daily limit 10, 7 used today (9 yesterday), lifetime 40 of 100.
const LIMITED: &str = "6f1c2a4e-8b1d-4c3e-9a7f-0d2b5e8c1a93";
/// Revoked by an admin.
const REVOKED: &str = "0b7d9e2c-1f3a-4b5c-8d6e-7f8091a2b3c4";
/// Expired on 2020-01-01.
const EXPIRED: &str = "c4b3a2f1-9e8d-4c7b-a6f5-e4d3c2b1a098";
/// Lifetime limit 50, 49 used.
const NEARLY_SPENT: &str = "my-custom-lcyt-key";

const S1: &str = "0123456789abcdef";
const S2: &str = "fedcba9876543210";
const S3: &str = "00112233445566aa";

/// An SQLite file removed when dropped.
struct TempDb(PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_path(tag: &str) -> TempDb {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    TempDb(std::env::temp_dir().join(format!("tally-lcyt-{tag}-{}-{n}.db", std::process::id())))
}

/// An lcyt database holding four keys and their history; `today` and `yesterday` are UTC
/// dates (`YYYY-MM-DD`).
fn lcyt_db(path: &Path, today: &str, yesterday: &str) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(LCYT_SCHEMA).unwrap();
    c.execute_batch(&format!(
        "
INSERT INTO api_keys (id, key, owner, created_at, expires_at, active, email, daily_limit,
    lifetime_limit, lifetime_used, revoked_at, sequence, last_caption_at) VALUES
  (3, '{LIMITED}', 'Alice', '2026-01-05 10:00:00', '2099-01-01', 1, 'Alice@Example.com',
   10, 100, 40, NULL, 12, '{yesterday}T10:30:00.000Z'),
  (5, '{REVOKED}', 'Bob', '2026-01-06 11:00:00', NULL, 0, NULL, NULL, NULL, 4,
   '2026-02-01 09:00:00', 0, NULL),
  (8, '{EXPIRED}', 'Carol', '2019-06-01 08:00:00', '2020-01-01', 1, NULL, NULL, NULL, 0,
   NULL, 0, NULL),
  (9, '{NEARLY_SPENT}', 'Dave', '2026-02-01 00:00:00', NULL, 1, NULL, NULL, 50, 49, NULL, 0,
   NULL);
INSERT INTO caption_usage (api_key, date, count) VALUES
  ('{LIMITED}', '{today}', 7), ('{LIMITED}', '{yesterday}', 9), ('{REVOKED}', '{yesterday}', 4);
INSERT INTO session_stats (session_id, api_key, domain, started_at, ended_at, duration_ms,
    captions_sent, captions_failed, final_sequence, ended_by) VALUES
  ('{S1}', '{LIMITED}', 'https://lcyt.fi', '{yesterday}T10:00:00.000Z',
   '{yesterday}T10:30:00.000Z', 1800000, 9, 1, 12, 'client'),
  ('{S2}', '{LIMITED}', 'http://localhost:5173', '{yesterday}T11:00:00.000Z',
   '{yesterday}T13:00:00.000Z', 7200000, 0, 0, 0, 'ttl'),
  ('{S3}', '{REVOKED}', 'https://lcyt.fi', '{yesterday}T08:00:00.000Z',
   '{yesterday}T08:10:00.000Z', 600000, 4, 0, 4, 'client');
INSERT INTO caption_errors (api_key, session_id, timestamp, error_code, error_msg, batch_size)
VALUES
  ('{LIMITED}', '{S1}', '{yesterday}T10:10:00.000Z', 403, 'YouTube returned status 403', 2),
  ('{LIMITED}', '{S1}', '{yesterday}T10:10:00.000Z', 403, 'YouTube returned status 403', 2),
  ('{LIMITED}', '{S1}', '{yesterday}T10:20:00.000Z', NULL, NULL, 1);
INSERT INTO auth_events (api_key, event_type, timestamp, domain) VALUES
  ('{LIMITED}', 'daily_limit_exceeded', '{yesterday}T10:25:00.000Z', 'https://lcyt.fi'),
  ('no-such-key', 'unknown_key', '{yesterday}T09:00:00.000Z', 'https://lcyt.fi'),
  ('{REVOKED}', 'revoked', '{yesterday}T12:00:00.000Z', 'https://lcyt.fi'),
  ('{LIMITED}', 'login', '{yesterday}T09:30:00.000Z', 'mcp');
INSERT INTO domain_hourly_stats (date, hour, domain, sessions_started, sessions_ended,
    captions_sent, captions_failed, batches_sent, total_duration_ms, peak_sessions) VALUES
  ('{yesterday}', 10, 'https://lcyt.fi', 2, 1, 13, 1, 3, 1800000, 2),
  ('{yesterday}', 10, 'https://lcyt.fi/', 1, 0, 2, 0, 0, 0, 1),
  ('{yesterday}', 13, 'http://localhost:5173', 0, 1, 0, 0, 0, 7200000, 1);
INSERT INTO sessions (session_id, api_key, domain, started_at) VALUES
  ('aaaaaaaaaaaaaaaa', '{LIMITED}', 'https://lcyt.fi', '{today}T00:00:00.000Z');
INSERT INTO viewer_anon_daily_stats (date, views) VALUES ('{yesterday}', 3);
"
    ))
    .unwrap();
}

fn options() -> ImportOptions {
    ImportOptions {
        org: OrgId::default_org(),
        now: OffsetDateTime::now_utc(),
        progress: false,
    }
}

/// What the store shows of the imported keys: counters, history lengths and site rows.
fn snapshot(store: &PgStore, yesterday: time::Date) -> Value {
    let today = utc_day(OffsetDateTime::now_utc());
    let mut keys = Vec::new();
    for raw in [LIMITED, REVOKED, EXPIRED, NEARLY_SPENT] {
        let key = store
            .find_key(&KeySecret::presented(raw).hash())
            .unwrap()
            .unwrap();
        let KeyUsage {
            lifetime_used,
            daily_used,
        } = store.key_usage(key.id, today).unwrap().unwrap();
        keys.push(json!({
            "id": key.id.0,
            "lifetime": lifetime_used,
            "daily": daily_used,
            "records": store.list_session_records(key.id, 1000).unwrap().len(),
            "errors": store.list_caption_errors(key.id, 1000).unwrap().len(),
            "events": store.list_auth_events(key.id, 1000).unwrap().len(),
        }));
    }
    let q = DomainUsageQuery::new(yesterday, today, true, None, None).unwrap();
    let sites: Vec<Value> = store
        .domain_usage(&q)
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r.date.to_string(),
                r.hour,
                r.domain.as_str(),
                r.counters.captions_sent
            ])
        })
        .collect();
    json!({ "keys": keys, "sites": sites })
}

fn counts(s: &Summary, table: &str) -> (u64, u64, u64) {
    let t = s.table(table).unwrap();
    (t.imported, t.skipped, t.left_out)
}

#[actix_web::test]
async fn an_lcyt_database_comes_over_with_its_limits_and_history() {
    let Some(db) = TestDb::create() else { return };
    let now = OffsetDateTime::now_utc();
    let (today, yesterday) = (utc_day(now), utc_day(now) - Duration::days(1));
    let file = temp_path("full");
    lcyt_db(&file.0, &today.to_string(), &yesterday.to_string());
    let store = db.store();

    let first = import_lcyt(&file.0, &store, &options()).unwrap();
    assert_eq!(counts(&first, "api_keys"), (4, 0, 0), "{first}");
    assert_eq!(counts(&first, "caption_usage"), (3, 0, 0));
    assert_eq!(counts(&first, "session_stats"), (3, 0, 0));
    assert_eq!(
        counts(&first, "caption_errors"),
        (3, 0, 0),
        "identical rows both come"
    );
    // `login` (lcyt-mcp-http's) has no Tally kind; the unknown key's refusal comes without
    // the presented string.
    assert_eq!(counts(&first, "auth_events"), (3, 0, 1), "{first}");
    // `https://lcyt.fi` and `https://lcyt.fi/` are one Tally site.
    assert_eq!(counts(&first, "domain_hourly_stats"), (2, 0, 0));

    // lcyt's ids are kept (a fresh Tally has none of them).
    let limited = store
        .find_key(&KeySecret::presented(LIMITED).hash())
        .unwrap()
        .unwrap();
    assert_eq!(limited.id.0, 3);
    assert_eq!(
        limited.email.as_ref().map(|e| e.as_str()),
        Some("alice@example.com")
    );

    let app = spawn_with_stores(&test_config(), db.stores(), StoreKind::Postgres);
    // Daily limit 10 with 7 used today: three more captions, then 429.
    let (token, _) = app.open(LIMITED, "lcyt.fi").await;
    for _ in 0..3 {
        assert_eq!(app.captions(&token, 1).await.status, 202);
    }
    let refused = app.captions(&token, 1).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"], "daily_limit_exceeded");
    // Lifetime limit 50 with 49 used: one more.
    let (spent, _) = app.open(NEARLY_SPENT, "lcyt.fi").await;
    assert_eq!(app.captions(&spent, 1).await.status, 202);
    let refused = app.captions(&spent, 1).await;
    assert_eq!(
        (refused.status, refused.json()["error"].as_str()),
        (429, Some("lifetime_limit_exceeded"))
    );
    for (key, reason) in [(REVOKED, "API key revoked"), (EXPIRED, "API key expired")] {
        let res = app
            .call(
                "POST",
                "/live",
                &[],
                Some(json!({ "apiKey": key, "domain": "lcyt.fi" })),
            )
            .await;
        assert_eq!(
            (res.status, res.json()["error"].as_str()),
            (401, Some(reason))
        );
    }
    // The admin routes find the key by its raw lcyt string.
    let shown = app.admin("GET", &format!("/keys/{LIMITED}"), None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["lifetimeUsed"], 43);

    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(
        stats["usage"],
        json!({ "lifetimeUsed": 43, "dailyUsed": 10, "dailyLimit": 10, "lifetimeLimit": 100 })
    );
    let sessions = stats["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{stats}");
    assert_eq!(
        (
            sessions[0]["sessionId"].as_str(),
            sessions[0]["endedBy"].as_str(),
            sessions[0]["durationMs"].as_u64()
        ),
        (Some(S2), Some("ttl"), Some(7_200_000)),
        "newest end first"
    );
    assert_eq!(
        (
            sessions[1]["sessionId"].as_str(),
            sessions[1]["domain"].as_str(),
            sessions[1]["captionsSent"].as_u64(),
            sessions[1]["finalSequence"].as_u64()
        ),
        (Some(S1), Some("https://lcyt.fi"), Some(9), Some(12))
    );
    let errors = stats["captionErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    assert_eq!(
        (
            errors[0]["error"].as_str(),
            errors[0]["statusCode"].as_u64()
        ),
        (Some("delivery failed"), None)
    );
    assert_eq!(
        (
            errors[1]["errorMsg"].as_str(),
            errors[1]["errorCode"].as_u64()
        ),
        (Some("YouTube returned status 403"), Some(403))
    );
    let kinds: Vec<&str> = stats["authEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    // Newest first: today's refusal and session start, then yesterday's imported refusal.
    assert_eq!(
        kinds,
        [
            "daily_limit_exceeded",
            "session_start",
            "daily_limit_exceeded"
        ]
    );

    let usage = app
        .admin(
            "GET",
            &format!("/usage?from={yesterday}&to={yesterday}&granularity=hour"),
            None,
        )
        .await
        .json();
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{usage}");
    assert_eq!(
        rows[0],
        json!({ "date": yesterday.to_string(), "hour": 10, "domain": "https://lcyt.fi",
                "sessions_started": 3, "sessions_ended": 1, "captions_sent": 15,
                "captions_failed": 1, "batches_sent": 3, "total_duration_ms": 1_800_000,
                "peak_sessions": 2 })
    );
    assert_eq!(
        (
            rows[1]["domain"].as_str(),
            rows[1]["total_duration_ms"].as_u64()
        ),
        (Some("http://localhost:5173"), Some(7_200_000))
    );

    // Importing again — the real CLI once, the library once — changes nothing.
    let before = snapshot(&store, yesterday);
    let work = std::env::temp_dir();
    let cli = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["import", "lcyt"])
        .arg(&file.0)
        .current_dir(&work)
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let keys_line = stdout.lines().find(|l| l.starts_with("api_keys")).unwrap();
    assert_eq!(
        keys_line.split_whitespace().collect::<Vec<_>>(),
        ["api_keys", "0", "4", "0"],
        "{stdout}"
    );
    let again = import_lcyt(&file.0, &store, &options()).unwrap();
    assert_eq!(again.imported(), 0, "{again}");
    for t in &first.tables {
        let a = again.table(t.table).unwrap();
        assert_eq!(
            (a.skipped, a.left_out),
            (t.imported + t.skipped, t.left_out),
            "{}",
            t.table
        );
    }
    assert_eq!(snapshot(&store, yesterday), before);
    assert_eq!(
        app.captions(&token, 1).await.status,
        429,
        "today's count stays 10"
    );
}

#[test]
fn the_cli_names_what_is_wrong_with_its_own_exit_code() {
    let run = |path: &Path, database: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tally"));
        cmd.args(["import", "lcyt"])
            .arg(path)
            .current_dir(std::env::temp_dir())
            .env_remove("DATABASE_URL")
            .env_remove("TALLY_DATABASE_URL");
        if let Some(url) = database {
            cmd.env("DATABASE_URL", url);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let missing = temp_path("missing");
    let (code, err) = run(&missing.0, None);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no such file"), "{err}");

    let text = temp_path("text");
    std::fs::write(&text.0, "this is not a database, it is a text file").unwrap();
    let (code, err) = run(&text.0, None);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("not an lcyt database"), "{err}");

    let other = temp_path("other");
    Connection::open(&other.0)
        .unwrap()
        .execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .unwrap();
    let (code, err) = run(&other.0, None);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("no api_keys table"), "{err}");

    let versioned = temp_path("versioned");
    lcyt_db(&versioned.0, "2026-03-02", "2026-03-01");
    Connection::open(&versioned.0)
        .unwrap()
        .execute_batch("PRAGMA user_version = 7")
        .unwrap();
    let (code, err) = run(&versioned.0, None);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("unknown lcyt schema version"), "{err}");

    let old = temp_path("old");
    Connection::open(&old.0)
        .unwrap()
        .execute_batch(
            "CREATE TABLE api_keys (id INTEGER PRIMARY KEY, key TEXT, owner TEXT, \
             created_at TEXT, expires_at TEXT, active INTEGER); \
             CREATE TABLE caption_usage (api_key TEXT, day TEXT, n INTEGER);",
        )
        .unwrap();
    let (code, err) = run(&old.0, None);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("caption_usage has no column date"), "{err}");

    let good = temp_path("good");
    lcyt_db(&good.0, "2026-03-02", "2026-03-01");
    let (code, err) = run(&good.0, None);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("needs DATABASE_URL"), "{err}");

    if let Some(db) = TestDb::create() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tally"));
        let out = cmd
            .args(["import", "lcyt", "--org", "org_nowhere"])
            .arg(&good.0)
            .current_dir(std::env::temp_dir())
            .env("DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(7));
        assert_eq!(
            db.store()
                .list_keys(&tally_domain::key::KeyFilter::default())
                .unwrap()
                .len(),
            0,
            "nothing imported"
        );
    }
}
