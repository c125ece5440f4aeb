//! A known usage dataset for the seed surfaces (ledger, meetbot, lyrcs, new-api): three users in
//! two organisations, four keys, events across models, languages, methods, statuses, hours and
//! days, ingested through `POST /v1/events`. Tests compute every expected number from
//! [`World::events`], so they hold whatever day they run on.

use serde_json::{json, Value};
use time::{Date, Duration, OffsetDateTime, Time};

use crate::helpers::{spawn_app, Reply, TestApp};

/// A user with a user token and keys `(id, raw secret)`.
pub struct Person {
    pub id: String,
    /// The user's number (new-api's integer `user_id`).
    pub number: u64,
    pub token: String,
    pub keys: Vec<(i64, String)>,
}

/// One ingested event, as the tests know it.
#[derive(Clone)]
pub struct Ev {
    pub user: &'static str,
    pub org: &'static str,
    pub key: i64,
    pub at: OffsetDateTime,
    pub method: Option<&'static str>,
    pub path: Option<&'static str>,
    pub status: Option<u16>,
    pub model: Option<&'static str>,
    pub language: Option<&'static str>,
    pub success: bool,
    pub units: i64,
    pub cost_nanos: i64,
    pub tokens: i64,
    pub quota: i64,
    pub duration_ms: i64,
    /// The id the server gave it.
    pub id: String,
}

/// The server, its people and what was ingested.
pub struct World {
    pub app: TestApp,
    pub alice: Person,
    pub bob: Person,
    pub carol: Person,
    /// An admin-role user token.
    pub root: String,
    pub events: Vec<Ev>,
    pub now: OffsetDateTime,
}

/// Midnight UTC of `d`.
pub fn midnight(d: Date) -> OffsetDateTime {
    d.with_time(Time::MIDNIGHT).assume_utc()
}

/// Dollars from nano-dollars, as the server prints them.
pub fn usd(nanos: i64) -> f64 {
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
        .parse()
        .unwrap()
}

impl TestApp {
    /// Creates a user (admin) and a token for it; returns `(id, number, token)`.
    pub async fn seed_user(
        &self,
        username: &str,
        org: Option<&str>,
        role: &str,
    ) -> (String, u64, String) {
        let body = json!({ "username": username, "org_id": org, "role": role });
        let res = self.admin("POST", "/v1/users", Some(body)).await;
        assert_eq!(res.status, 201, "{}", res.json());
        let id = res.json()["id"].as_str().unwrap().to_owned();
        let number = res.json()["number"].as_u64().unwrap();
        let tok = self
            .admin("POST", &format!("/v1/users/{id}/tokens"), None)
            .await;
        assert_eq!(tok.status, 201, "{}", tok.json());
        (id, number, tok.json()["token"].as_str().unwrap().to_owned())
    }

    /// Creates a key bound to a user (admin); returns `(id, raw secret)`.
    pub async fn seed_key(&self, user: &str, name: Option<&str>) -> (i64, String) {
        let body = json!({ "user_id": user, "name": name, "owner": "test" });
        let res = self.admin("POST", "/v1/keys", Some(body)).await;
        assert_eq!(res.status, 201, "{}", res.json());
        let b = res.json();
        (
            b["id"].as_i64().unwrap(),
            b["key"].as_str().unwrap().to_owned(),
        )
    }

    /// `GET` with a Bearer credential.
    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.bearer("GET", path, token, None).await
    }
}

type Row = (
    &'static str,
    usize,
    (i64, i64, i64),
    Option<(&'static str, &'static str, u16)>,
    Option<&'static str>,
    Option<&'static str>,
    bool,
    (i64, i64, i64, i64, i64),
);

/// The events: (user, key index, (days ago, hour, minute), (method, path, status), model,
/// language, success, (units, cost nano-USD, tokens, quota, duration ms)).
#[rustfmt::skip]
const DATASET: [Row; 12] = [
    ("alice", 0, (0, 1, 10), Some(("GET", "/api/v1/bots", 200)), Some("gpt-4"), Some("Hindi"), true, (2, 500_000_000, 100, 1000, 1500)),
    ("alice", 0, (0, 1, 40), Some(("POST", "/api/v1/bots", 201)), Some("gpt-4"), Some("Tamil"), true, (1, 4_300_000, 50, 400, 2000)),
    ("alice", 1, (0, 2, 5), Some(("POST", "/api/v1/transcribe", 500)), Some("gpt-3.5"), Some("Hindi"), false, (1, 0, 0, 0, 500)),
    ("alice", 0, (1, 10, 0), Some(("GET", "/api/v1/bots/7", 404)), Some("gpt-3.5"), None, false, (1, 1_000_000, 10, 20, 0)),
    ("alice", 1, (3, 12, 0), None, Some("whisper"), Some("Hindi"), true, (5, 250_000_000, 0, 0, 60_000)),
    ("alice", 0, (10, 8, 0), Some(("DELETE", "/api/v1/bots/1", 204)), Some("gpt-4"), None, true, (1, 0, 7, 70, 0)),
    ("alice", 0, (40, 9, 0), Some(("GET", "/api/v1/bots", 200)), Some("gpt-4"), None, true, (1, 0, 3, 30, 0)),
    ("alice", 0, (100, 9, 0), Some(("GET", "/api/v1/me", 200)), None, None, true, (1, 0, 0, 0, 0)),
    ("bob", 2, (0, 1, 20), Some(("GET", "/api/v1/bots", 200)), Some("gpt-4"), Some("Telugu"), true, (3, 30_000_000, 300, 3000, 0)),
    ("bob", 2, (2, 6, 0), Some(("POST", "/api/v1/bots", 201)), Some("claude"), None, true, (1, 0, 40, 80, 0)),
    ("carol", 3, (0, 3, 0), Some(("POST", "/api/v1/jobs", 202)), None, Some("Punjabi"), true, (1, 0, 0, 0, 30_000)),
    ("carol", 3, (5, 4, 0), None, None, Some("Punjabi"), false, (1, 0, 0, 0, 12_345)),
];

fn dataset(today: OffsetDateTime, keys: [i64; 4]) -> Vec<Ev> {
    DATASET
        .iter()
        .map(
            |&(user, key, (days, hours, mins), call, model, language, success, sums)| {
                let (units, cost_nanos, tokens, quota, duration_ms) = sums;
                Ev {
                    user,
                    org: if user == "carol" {
                        "org_lyr"
                    } else {
                        "org_default"
                    },
                    key: keys[key],
                    at: today - Duration::days(days)
                        + Duration::hours(hours)
                        + Duration::minutes(mins),
                    method: call.map(|c| c.0),
                    path: call.map(|c| c.1),
                    status: call.map(|c| c.2),
                    model,
                    language,
                    success,
                    units,
                    cost_nanos,
                    tokens,
                    quota,
                    duration_ms,
                    id: String::new(),
                }
            },
        )
        .collect()
}

/// Spawns a server and ingests the dataset.
pub async fn seeded() -> World {
    let app = spawn_app().await;
    let res = app
        .admin(
            "POST",
            "/v1/orgs",
            Some(json!({ "id": "org_lyr", "name": "Lyr" })),
        )
        .await;
    assert_eq!(res.status, 201);
    let (alice_id, alice_no, alice_tok) = app.seed_user("alice", None, "user").await;
    let (bob_id, bob_no, bob_tok) = app.seed_user("bob", None, "user").await;
    let (carol_id, carol_no, carol_tok) = app.seed_user("carol", Some("org_lyr"), "user").await;
    let (_, _, root) = app.seed_user("root", None, "admin").await;
    let a1 = app.seed_key(&alice_id, Some("alice-prod")).await;
    let a2 = app.seed_key(&alice_id, None).await;
    let b1 = app.seed_key(&bob_id, Some("bob-key")).await;
    let c1 = app.seed_key(&carol_id, Some("carol-key")).await;
    let now = OffsetDateTime::now_utc();
    let mut events = dataset(midnight(now.date()), [a1.0, a2.0, b1.0, c1.0]);
    let user_of = |u: &str| match u {
        "alice" => alice_id.clone(),
        "bob" => bob_id.clone(),
        _ => carol_id.clone(),
    };
    let body: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "user_id": user_of(e.user), "key_id": e.key, "org_id": e.org,
                "occurred_at": e.at.format(&time::format_description::well_known::Rfc3339).unwrap(),
                "method": e.method, "path": e.path, "status_code": e.status,
                "model": e.model, "language": e.language, "success": e.success,
                "units": e.units, "cost_usd": usd(e.cost_nanos), "tokens": e.tokens,
                "quota": e.quota, "duration_ms": e.duration_ms,
                "ip": "192.168.1.1", "user_agent": "curl/7.85.0",
            })
        })
        .collect();
    let res = app
        .admin("POST", "/v1/events", Some(json!({ "events": body })))
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    for (e, r) in events
        .iter_mut()
        .zip(res.json()["results"].as_array().unwrap())
    {
        e.id = r["id"].as_str().unwrap().to_owned();
    }
    World {
        app,
        alice: Person {
            id: alice_id,
            number: alice_no,
            token: alice_tok,
            keys: vec![a1, a2],
        },
        bob: Person {
            id: bob_id,
            number: bob_no,
            token: bob_tok,
            keys: vec![b1],
        },
        carol: Person {
            id: carol_id,
            number: carol_no,
            token: carol_tok,
            keys: vec![c1],
        },
        root,
        events,
        now,
    }
}

impl World {
    /// Events passing `f`.
    pub fn select(&self, f: impl Fn(&Ev) -> bool) -> Vec<&Ev> {
        self.events.iter().filter(|e| f(e)).collect()
    }

    /// How many events pass `f`.
    pub fn count(&self, f: impl Fn(&Ev) -> bool) -> i64 {
        i64::try_from(self.select(f).len()).unwrap()
    }
}
