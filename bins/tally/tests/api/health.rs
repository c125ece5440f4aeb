//! `GET /health`.

use std::sync::Arc;

use tally_domain::services::Stores;
use tally_domain::LocalBus;
use tally_http::StoreKind;
use tally_store_mem::MemStore;

use crate::down_store::DownUsage;
use crate::helpers::{spawn_app, spawn_with_stores, test_config};

#[actix_web::test]
async fn health_is_ok_on_the_memory_store() {
    let app = spawn_app().await;
    let res = app.get_health().await;
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let body = res.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], "memory");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
}

#[actix_web::test]
async fn health_is_503_with_retry_after_when_the_store_is_down() {
    let mut stores = Stores::from_one(Arc::new(MemStore::new()), Arc::new(LocalBus::new()));
    stores.usage = Arc::new(DownUsage);
    let app = spawn_with_stores(&test_config(), stores, StoreKind::Postgres);
    let res = app.get_health().await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("retry-after"), Some("5"));
    let body = res.json();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["store"], "postgres");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[actix_web::test]
async fn health_answers_get_only() {
    let app = spawn_app().await;
    let res = app
        .send_raw("POST", "/health", "application/json", "{}")
        .await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    assert_eq!(res.json()["error"], "Method not allowed");
}
