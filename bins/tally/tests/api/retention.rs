//! Retention over HTTP: request logs say how far back they reach, events backdated past any
//! partition are accepted (never a 503) and counted by analytics, and the logs stop at the
//! retention window.

use std::sync::Arc;

use serde_json::json;
use tally_domain::services::Stores;
use tally_domain::LocalBus;
use tally_http::StoreKind;
use tally_store_pg::testing::TestDb;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::helpers::{on_postgres, spawn_with_stores, test_config, TestApp};

/// The server with the configured retention policy on the suite's store.
fn spawn_retaining() -> TestApp {
    let config = test_config();
    let policy = config.retention.policy;
    if on_postgres() {
        let db = TestDb::create().expect("TALLY_TEST_STORE=postgres needs a reachable Postgres");
        let store = Arc::new(db.store().with_retention(policy));
        let stores = Stores::from_one(store, Arc::new(LocalBus::new()));
        let mut app = spawn_with_stores(&config, stores, StoreKind::Postgres);
        app.db = Some(db);
        app
    } else {
        let (stores, kind) = tally::wiring::stores(&config).expect("stores");
        spawn_with_stores(&config, stores, kind)
    }
}

#[actix_web::test]
async fn logs_reach_back_to_the_retention_window() {
    let app = spawn_retaining();
    let (user, _, token) = app.seed_user("retained", None, "user").await;
    let now = OffsetDateTime::now_utc();
    let cutoff = test_config()
        .retention
        .policy
        .raw_cutoff(now)
        .expect("400 days by default");
    let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    let event = |t: OffsetDateTime, path: &str| json!({ "user_id": user, "method": "GET", "path": path, "occurred_at": at(t) });
    // Two years back: older than any partition, and older than the window.
    let old = now - Duration::days(730);
    let res = app
        .admin(
            "POST",
            "/v1/events",
            Some(
                json!({ "events": [event(old, "/old"), event(now - Duration::hours(1), "/new")] }),
            ),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());

    let logs = app.get_as(&token, "/v1/users/me/api-logs").await;
    assert_eq!(logs.status, 200);
    let body = logs.json();
    let instant = |s: &str| OffsetDateTime::parse(s, &Rfc3339).unwrap();
    assert_eq!(instant(body["retained_from"].as_str().unwrap()), cutoff);
    let paths: Vec<&str> = body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["/new"], "{body}");
    assert_eq!(body["total"], json!(1));

    let ledger = app.get_as(&token, "/usage").await;
    assert_eq!(ledger.status, 200);
    assert_eq!(instant(ledger.header("x-retained-from").unwrap()), cutoff);
    assert_eq!(ledger.json().as_array().unwrap().len(), 1);

    // Analytics still count the backdated event (rollups outlive raw events).
    let path = format!(
        "/v1/analytics?from={}&to={}&granularity=month",
        at(old - Duration::days(1)).replace('+', "%2B"),
        at(old + Duration::days(1)).replace('+', "%2B"),
    );
    let res = app.admin("GET", &path, None).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let count: i64 = res.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_i64().unwrap())
        .sum();
    assert_eq!(count, 1);
}
