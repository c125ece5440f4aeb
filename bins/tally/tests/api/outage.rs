//! A store outage, simulated with `MemStore::set_unavailable`: 503 with `Retry-After`, nothing
//! counted, and recovery without a restart.

use std::sync::Arc;

use serde_json::json;
use tally_domain::services::Stores;
use tally_domain::LocalBus;
use tally_http::StoreKind;
use tally_store_mem::MemStore;

use crate::helpers::{spawn_with_stores, test_config, TestApp};

/// The server on a memory store the test can switch off and on.
pub fn spawn_switchable() -> (TestApp, Arc<MemStore>) {
    let mem = Arc::new(MemStore::new());
    let stores = Stores::from_one(mem.clone(), Arc::new(LocalBus::new()));
    let app = spawn_with_stores(&test_config(), stores, StoreKind::Memory);
    (app, mem)
}

#[actix_web::test]
async fn a_metered_request_is_503_while_the_store_is_down_and_counts_nothing() {
    let (app, mem) = spawn_switchable();
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    assert_eq!(app.captions(&token, 2).await.status, 202);

    mem.set_unavailable(true);
    for _ in 0..3 {
        let res = app.captions(&token, 5).await;
        assert_eq!(res.status, 503);
        assert_eq!(res.header("retry-after"), Some("5"));
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        assert_eq!(res.json()["error"], "Service unavailable");
    }

    mem.set_unavailable(false);
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(
        stats["usage"]["lifetimeUsed"], 2,
        "nothing was counted while the store was down"
    );
    assert_eq!(app.captions(&token, 1).await.status, 202);
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(
        (
            stats["usage"]["lifetimeUsed"].as_u64(),
            stats["usage"]["dailyUsed"].as_u64()
        ),
        (Some(3), Some(3))
    );
}
