//! Seeding a usage history for the analytics scenario: set-based SQL on Postgres
//! (`tally_store_pg::bulk`, with the event indexes built after the rows and the tables
//! vacuumed, as a long-lived database's are), `POST /v1/events` batches of 1,000 on the
//! memory store.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tally_store_pg::bulk::{self, EventIndexes, SeedSpec};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::admin;
use crate::error::{setup, BenchError, Result};
use crate::http::Conn;
use crate::server::Server;
use crate::Opts;

/// Days the history spans.
pub const DAYS: u32 = 30;
/// Users (each with one key) the analytics scenarios spread the history over; the per-user
/// endpoints see 1/`USERS` of it.
pub const USERS: usize = 10;

/// The seeded history's first and last day ending at `end`, as `YYYY-MM-DD`.
#[must_use]
pub fn window(end: OffsetDateTime) -> (String, String) {
    let ymd = |t: OffsetDateTime| {
        let d = t.date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    (ymd(end - Duration::days(i64::from(DAYS) - 1)), ymd(end))
}

/// Events per `POST /v1/events` when seeding over HTTP.
const HTTP_BATCH: u64 = 1_000;

/// The owners of the seeded events: users and their keys, in step.
#[derive(Debug, Clone)]
pub struct Owners {
    /// User ids.
    pub users: Vec<uuid::Uuid>,
    /// Their keys' ids.
    pub keys: Vec<i64>,
}

/// Adds events `first..first + count` of the synthetic history.
///
/// # Errors
/// Seeding failures.
pub async fn seed(
    opts: &Opts,
    server: &Server,
    owners: &Owners,
    end: OffsetDateTime,
    first: u64,
    count: u64,
) -> Result<()> {
    if server.db_url.is_some() {
        let store = server.store()?;
        let spec = SeedSpec {
            org_id: "org_default".to_owned(),
            user_ids: owners.users.clone(),
            key_ids: owners.keys.clone(),
            first,
            count,
            end,
            days: DAYS,
        };
        return tokio::task::spawn_blocking(move || {
            bulk::seed_events_with(&store, &spec, EventIndexes::Rebuilt)
                .and_then(|_| bulk::analyze(&store))
        })
        .await
        .map_err(setup)?
        .map_err(setup);
    }
    over_http(opts, server.addr, owners, end, first, count).await
}

/// The synthetic event `i`, in the shape of `tally_store_pg::bulk`'s history.
fn event(i: u64, owners: &Owners, end: OffsetDateTime) -> Value {
    let n = owners.keys.len().max(1) as u64;
    let at = end - Duration::seconds(((i * 7919) % (u64::from(DAYS) * 86_400)) as i64);
    let caption = i.is_multiple_of(10);
    let mut e = json!({
        "kind": if caption { "caption" } else { "request" },
        "api_name": (["bots", "transcribe", "chat"][(i % 3) as usize]),
        "model": (["gpt-4o", "gpt-4o-mini", "claude-3", "llama-3"][(i % 4) as usize]),
        "language": (["en", "fi"][(i % 2) as usize]),
        "units": 1,
        "tokens": i % 1000,
        "quota": i % 100,
        "duration_ms": i % 60_000,
        "success": i % 20 != 1,
        "occurred_at": at.format(&Rfc3339).unwrap_or_default(),
        "user_id": owners.users.get((i % n) as usize),
        "key_id": owners.keys.get((i % n) as usize),
    });
    if let Some(o) = e.as_object_mut() {
        if caption {
            o.insert("domain".into(), json!("https://lcyt.fi"));
        } else {
            o.insert(
                "method".into(),
                json!(if i.is_multiple_of(7) { "GET" } else { "POST" }),
            );
            o.insert(
                "path".into(),
                json!((["/v1/bots", "/v1/transcribe", "/v1/chat"][(i % 3) as usize])),
            );
            o.insert(
                "status_code".into(),
                json!(if i % 20 == 1 { 500 } else { 200 }),
            );
            o.insert("response_time_ms".into(), json!(i % 900));
        }
    }
    e
}

async fn over_http(
    opts: &Opts,
    addr: SocketAddr,
    owners: &Owners,
    end: OffsetDateTime,
    first: u64,
    count: u64,
) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let batches = count.div_ceil(HTTP_BATCH);
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (next, owners, key) = (Arc::clone(&next), owners.clone(), opts.admin_key.clone());
            tokio::spawn(async move {
                let mut conn = Conn::connect(addr).await?;
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= batches {
                        return Ok::<(), BenchError>(());
                    }
                    let start = first + b * HTTP_BATCH;
                    let stop = (start + HTTP_BATCH).min(first + count);
                    let events: Vec<Value> =
                        (start..stop).map(|i| event(i, &owners, end)).collect();
                    let req = crate::http::Request::new(
                        "POST",
                        "/v1/events",
                        &[("X-Admin-Key", &key)],
                        Some(&json!({ "events": events })),
                    );
                    let res = conn.send(&req).await?;
                    if res.status != 200 {
                        return Err(BenchError::Setup(format!(
                            "seeding: POST /v1/events answered {}: {}",
                            res.status,
                            String::from_utf8_lossy(&res.body)
                        )));
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(setup)??;
    }
    Ok(())
}

/// Creates `n` users with one key each; the second key's secret is returned for the
/// per-user endpoints: event `i` belongs to owner `i % n` and is a caption (no API call) when
/// `i % 10 == 0`, so with ten owners the first one has no API calls and an empty request log.
///
/// # Errors
/// Setup failures.
pub async fn owners(opts: &Opts, addr: SocketAddr, n: usize) -> Result<(Owners, String)> {
    let mut owners = Owners {
        users: Vec::new(),
        keys: Vec::new(),
    };
    let secret = |i: usize| format!("bench-analytics-{i:04}");
    for i in 0..n {
        let user = crate::http::call(
            addr,
            &admin(
                opts,
                "POST",
                "/v1/users",
                Some(&json!({ "username": format!("bench-user-{i}") })),
            ),
            201,
        )
        .await?;
        let id = user["id"]
            .as_str()
            .and_then(|s| s.parse::<uuid::Uuid>().ok())
            .ok_or_else(|| crate::server::unexpected("POST /v1/users", &user))?;
        let body = json!({ "user_id": id, "key": secret(i), "name": "bench" });
        let key =
            crate::http::call(addr, &admin(opts, "POST", "/v1/keys", Some(&body)), 201).await?;
        let key_id = key["id"]
            .as_i64()
            .ok_or_else(|| crate::server::unexpected("POST /v1/keys", &key))?;
        owners.users.push(id);
        owners.keys.push(key_id);
    }
    Ok((owners, secret(1 % n.max(1))))
}
