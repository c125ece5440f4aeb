//! `GET /health`.

use crate::helpers::spawn_app;
use crate::outage::spawn_switchable;

#[actix_web::test]
async fn health_is_ok_and_names_its_store() {
    let app = spawn_app().await;
    let res = app.get_health().await;
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let body = res.json();
    assert_eq!(body["status"], "ok");
    let store = if crate::helpers::on_postgres() {
        "postgres"
    } else {
        "memory"
    };
    assert_eq!(body["store"], store);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    // lcyt-web's login page needs a truthy `ok` and an array `features`.
    assert_eq!(body["ok"], true);
    assert_eq!(body["loginEnabled"], false);
    assert!(body["uptime"].is_u64(), "{body}");
    assert_eq!(
        body["features"],
        serde_json::json!(["captions", "sync", "viewer", "admin"])
    );
    assert_eq!(body.as_object().unwrap().len(), 7, "{body}");
}

#[actix_web::test]
async fn health_is_503_with_retry_after_while_the_store_is_down_then_recovers() {
    let (app, mem) = spawn_switchable();
    mem.set_unavailable(true);
    let res = app.get_health().await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("retry-after"), Some("5"));
    let body = res.json();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["ok"], false);
    assert_eq!(body["store"], "memory");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    mem.set_unavailable(false);
    let res = app.get_health().await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "ok");
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
