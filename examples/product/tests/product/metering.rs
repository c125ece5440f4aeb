//! The metering middleware on the product's own routes, over HTTP.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::Value;

use std::sync::Arc;

use tally_domain::services::Stores;
use tally_domain::LocalBus;
use tally_http::StoreKind;
use tally_store_mem::MemStore;

use crate::helpers::{spawn_product, spawn_product_on, Reply, TestProduct};

fn assert_problem(r: &Reply, status: u16, error: &str) {
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let body = r.json();
    assert_eq!(body["status"], status);
    assert_eq!(body["error"], error);
}

/// The key's request log (meetbot's api-logs of the mounted Tally, read with the key itself).
/// Every admitted request's event is committed before its handler runs, so it is there at once.
async fn logs(app: &TestProduct, key: &str, expected: u64) -> Vec<Value> {
    let r = app
        .get_with_key("/tally/v1/users/me/api-logs?page_size=100", Some(key))
        .await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["total"], expected, "{v}");
    v["logs"].as_array().unwrap().clone()
}

/// [`logs`], once every event carries its status: the status is patched in after the
/// response, so it may trail the answer briefly.
async fn logs_with_status(app: &TestProduct, key: &str, expected: u64) -> Vec<Value> {
    for _ in 0..100 {
        let logs = logs(app, key, expected).await;
        if logs.iter().all(|l| l["statusCode"].is_u64()) {
            return logs;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the response statuses were never recorded");
}

#[actix_web::test]
async fn a_lifetime_limit_admits_exactly_l_under_16_concurrent_clients() {
    let app = spawn_product();
    let (id, key) = app.key(None, Some(25)).await;
    let clients = (0..16).map(|c| {
        let (app, key) = (&app, key.as_str());
        async move {
            let mut replies = Vec::new();
            for n in 0..5 {
                replies.push(
                    app.get_with_key(&format!("/api/items/{c}-{n}"), Some(key))
                        .await,
                );
            }
            replies
        }
    });
    let replies: Vec<Reply> = join_all(clients).await.into_iter().flatten().collect();
    let admitted: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status != 200).collect();
    assert_eq!(admitted.len(), 25);
    assert_eq!(refused.len(), 55);
    for r in &refused {
        assert_problem(r, 429, "lifetime_limit_exceeded");
        assert_eq!(r.header("ratelimit-policy"), Some("\"lifetime\";q=25"));
        assert_eq!(r.header("ratelimit"), Some("\"lifetime\";r=0"));
        assert_eq!(
            r.header("retry-after"),
            None,
            "a lifetime limit never resets"
        );
    }
    for r in &admitted {
        assert_eq!(
            r.json()["name"],
            "an item",
            "the product's handler answered"
        );
        assert_eq!(r.header("ratelimit-policy"), Some("\"lifetime\";q=25"));
        assert!(r
            .header("ratelimit")
            .unwrap()
            .starts_with("\"lifetime\";r="));
    }
    let k = app
        .admin("GET", &format!("/v1/keys/{id}"), None)
        .await
        .json();
    assert_eq!(k["lifetime_used"], 25);

    for l in logs(&app, &key, 25).await {
        assert_eq!(l["method"], "GET");
        assert_eq!(
            l["path"], "/api/items/{id}",
            "the route pattern, not the raw path"
        );
    }
}

#[actix_web::test]
async fn a_daily_limit_answers_429_with_retry_after_and_the_analytics_see_the_scopes() {
    let app = spawn_product();
    let (id, key) = app.key(Some(5), None).await;
    let r = app.post_with_api_key("/api/render?pages=3", &key).await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("ratelimit-policy"), Some("\"daily\";q=5;w=86400"));
    assert!(r
        .header("ratelimit")
        .unwrap()
        .starts_with("\"daily\";r=2;t="));

    let r = app.post_with_api_key("/api/render?pages=3", &key).await;
    assert_problem(&r, 429, "daily_limit_exceeded");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    assert!(r
        .header("ratelimit")
        .unwrap()
        .starts_with("\"daily\";r=2;t="));

    let r = app.get_with_key("/api/items/a", Some(&key)).await;
    assert_eq!(r.status, 200);

    // Units computed from the request: a bad count is a 400 naming it, nothing counted.
    let r = app.post_with_api_key("/api/render?pages=0", &key).await;
    assert_problem(&r, 400, "pages must be an integer between 1 and 100");
    let r = app.post_with_api_key("/api/render", &key).await;
    assert_problem(&r, 400, "pages is required");
    // This scope reads its key from X-Api-Key only.
    let bearer_on_render = app
        .client
        .post(format!("{}/api/render?pages=1", app.address))
        .insert_header(("Authorization", format!("Bearer {key}")));
    let r = crate::helpers::send(bearer_on_render, None).await;
    assert_problem(&r, 401, "API key required");

    let path = format!("/v1/analytics?key_id={id}&group_by=api_name&granularity=day");
    let v = app.admin("GET", &path, None).await.json();
    let mut rows: Vec<(String, u64, u64)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["api_name"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
                r["units"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![("items".to_owned(), 1, 1), ("render".to_owned(), 1, 3)],
        "{v}"
    );
    let logs = logs(&app, &key, 2).await;
    let mut routes: Vec<(&str, &str)> = logs
        .iter()
        .map(|l| (l["method"].as_str().unwrap(), l["path"].as_str().unwrap()))
        .collect();
    routes.sort_unstable();
    assert_eq!(
        routes,
        vec![("GET", "/api/items/{id}"), ("POST", "/api/render")]
    );
}

#[actix_web::test]
async fn unknown_revoked_and_missing_keys_get_401_and_nothing_reaches_the_handler() {
    let app = spawn_product();
    assert_problem(
        &app.get_with_key("/api/items/1", None).await,
        401,
        "API key required",
    );
    assert_problem(
        &app.get_with_key("/api/items/1", Some("tk_not_a_key_of_ours"))
            .await,
        401,
        "API key unknown_key",
    );
    let (id, key) = app.key(None, None).await;
    let r = app.get_with_key("/api/items/1", Some(&key)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("ratelimit"),
        None,
        "an unlimited key has no rate-limit headers"
    );
    let revoked = app.admin("DELETE", &format!("/v1/keys/{id}"), None).await;
    assert_eq!(
        revoked.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&revoked.body)
    );
    assert_problem(
        &app.get_with_key("/api/items/1", Some(&key)).await,
        401,
        "API key revoked",
    );
    // The unmetered mount of the same handler needs no key; the mounted Tally is admin-only.
    assert_eq!(app.get_with_key("/plain/items/1", None).await.status, 200);
    assert_eq!(app.get_with_key("/tally/v1/keys", None).await.status, 401);
}

#[actix_web::test]
async fn the_gateway_route_meters_through_post_v1_verify_over_http() {
    let app = spawn_product();
    let (id, key) = app.key(None, Some(2)).await;
    for _ in 0..2 {
        let r = app.get_with_key("/gateway/items/g", Some(&key)).await;
        assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    }
    let r = app.get_with_key("/gateway/items/g", Some(&key)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["code"], "LIFETIME_LIMIT_EXCEEDED");
    let k = app
        .admin("GET", &format!("/v1/keys/{id}"), None)
        .await
        .json();
    assert_eq!(k["lifetime_used"], 2);
}

/// The one part of the event known only after the handler ran. (`.ci/run` skips this test on
/// Postgres until `PgStore::update_event` writes the two fields: see docs/EMBEDDING.md.)
#[actix_web::test]
async fn statuses_and_latencies_reach_the_events_after_the_response() {
    let app = spawn_product();
    let (id, key) = app.key(None, None).await;
    assert_eq!(
        app.get_with_key("/api/items/a", Some(&key)).await.status,
        200
    );
    let r = app.get_with_key("/api/items/missing", Some(&key)).await;
    assert_eq!(r.status, 404, "the product's own answer");
    let mut seen: Vec<(u64, String)> = logs_with_status(&app, &key, 2)
        .await
        .iter()
        .map(|l| {
            assert!(l["responseTimeMs"].is_u64(), "{l}");
            (
                l["statusCode"].as_u64().unwrap(),
                l["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (200, "/api/items/{id}".to_owned()),
            (404, "/api/items/{id}".to_owned())
        ]
    );
    let path = format!("/v1/analytics?key_id={id}&group_by=status_class");
    let v = app.admin("GET", &path, None).await.json();
    let mut classes: Vec<(String, u64)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status_class"].to_string(), r["count"].as_u64().unwrap()))
        .collect();
    classes.sort_unstable();
    assert_eq!(
        classes,
        vec![("\"2xx\"".to_owned(), 1), ("\"4xx\"".to_owned(), 1)],
        "the rollups follow the patch: {v}"
    );
}

/// The store's outage is a 503 with `Retry-After`, before the handler; recovery needs no restart.
/// (On the memory store, which can be switched off, whatever the run's store.)
#[actix_web::test]
async fn an_unavailable_store_is_a_503_and_the_product_recovers() {
    let store = Arc::new(MemStore::new());
    let stores = Stores::from_one(Arc::clone(&store), Arc::new(LocalBus::new()));
    let app = spawn_product_on(stores, StoreKind::Memory);
    let (_, key) = app.key(None, Some(10)).await;
    store.set_unavailable(true);
    let r = app.get_with_key("/api/items/1", Some(&key)).await;
    assert_problem(&r, 503, "Service unavailable");
    assert_eq!(r.header("retry-after"), Some("5"));
    store.set_unavailable(false);
    let r = app.get_with_key("/api/items/1", Some(&key)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("ratelimit"),
        Some("\"lifetime\";r=9"),
        "the outage counted nothing"
    );
}

/// `record_outcomes(false)`: the same meter, no patch (on the memory store a patch would be
/// written before the response, so its absence right after the answer is meaningful).
#[actix_web::test]
async fn a_scope_without_outcomes_meters_the_same_and_leaves_the_status_empty() {
    let app = spawn_product();
    let (id, key) = app.key(None, Some(1)).await;
    let r = app.get_with_key("/lean/items/a", Some(&key)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ratelimit"), Some("\"lifetime\";r=0"));
    assert_problem(
        &app.get_with_key("/lean/items/a", Some(&key)).await,
        429,
        "lifetime_limit_exceeded",
    );
    let logs = logs(&app, &key, 1).await;
    assert_eq!(logs[0]["path"], "/lean/items/{id}");
    assert!(logs[0]["statusCode"].is_null(), "{}", logs[0]);
    let k = app
        .admin("GET", &format!("/v1/keys/{id}"), None)
        .await
        .json();
    assert_eq!(k["lifetime_used"], 1);
}
