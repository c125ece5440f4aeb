//! `/captions`: metering per caption, limits, rate-limit headers, delivery to targets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[actix_web::test]
async fn batches_are_validated() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    for (body, needle) in [
        (json!({}), "captions must be a non-empty array"),
        (
            json!({ "captions": [] }),
            "captions must be a non-empty array",
        ),
        (
            json!({ "captions": [{ "text": 5 }] }),
            "captions[0].text must be a string",
        ),
        (
            json!({ "captions": [{ "text": "x".repeat(5001) }] }),
            "at most 5000",
        ),
    ] {
        let res = app.bearer("POST", "/captions", &token, Some(body)).await;
        assert_eq!(res.status, 400);
        assert!(
            res.json()["error"].as_str().unwrap().contains(needle),
            "{}",
            res.json()
        );
    }
    assert_eq!(app.captions(&token, 101).await.status, 400);
    let res = app.captions(&token, 100).await;
    assert_eq!(res.status, 202);
    assert_eq!(res.json()["ok"], true);
    assert!(res.json()["requestId"].is_string());
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(stats["usage"]["lifetimeUsed"], 100);
}

#[actix_web::test]
async fn limits_count_captions_refuse_whole_batches_and_say_when() {
    let app = spawn_app().await;
    let key = app
        .new_key(json!({ "owner": "A", "daily_limit": 5, "lifetime_limit": 7 }))
        .await;
    let (token, _) = app.open(&key, "localhost").await;
    let ok = app.captions(&token, 3).await;
    assert_eq!(ok.status, 202);
    assert_eq!(
        ok.header("ratelimit-policy"),
        Some("\"daily\";q=5;w=86400, \"lifetime\";q=7")
    );
    assert!(ok
        .header("ratelimit")
        .unwrap()
        .starts_with("\"daily\";r=2;t="));
    let refused = app.captions(&token, 3).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"], "daily_limit_exceeded");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    assert!(refused.header("ratelimit").is_some());
    assert_eq!(app.captions(&token, 2).await.status, 202);
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(
        (
            stats["usage"]["dailyUsed"].as_u64(),
            stats["usage"]["lifetimeUsed"].as_u64()
        ),
        (Some(5), Some(5))
    );
    let kinds: Vec<&str> = stats["authEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["daily_limit_exceeded", "session_start"]);

    let other = app
        .new_key(json!({ "owner": "B", "lifetime_limit": 1 }))
        .await;
    let (t2, _) = app.open(&other, "localhost").await;
    assert_eq!(app.captions(&t2, 1).await.status, 202);
    let refused = app.captions(&t2, 1).await;
    assert_eq!(
        (refused.status, refused.json()["error"].as_str()),
        (429, Some("lifetime_limit_exceeded"))
    );
    assert!(refused.header("retry-after").is_none());
}

#[actix_web::test]
async fn sixteen_clients_on_a_limit_of_fifty_get_exactly_fifty() {
    let app = spawn_app().await;
    let key = app
        .new_key(json!({ "owner": "A", "lifetime_limit": 50 }))
        .await;
    let (token, _) = app.open(&key, "localhost").await;
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (app, token) = (&app, token.clone());
        clients.push(async move {
            let mut ok = 0;
            for _ in 0..10 {
                match app.captions(&token, 1).await.status {
                    202 => ok += 1,
                    429 => {}
                    s => panic!("unexpected {s}"),
                }
            }
            ok
        });
    }
    let admitted: u32 = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .sum();
    assert_eq!(admitted, 50);
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(stats["usage"]["lifetimeUsed"], 50);
}

/// A local webhook receiver answering `status` and recording what it got.
struct Sink {
    url: String,
    got: Arc<Mutex<Vec<Value>>>,
}

fn sink(status: u16) -> Sink {
    gated_sink(status, Arc::new(AtomicBool::new(true)))
}

/// A [`Sink`] that holds every call until `open` is set, then answers `status`.
fn gated_sink(status: u16, open: Arc<AtomicBool>) -> Sink {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = got.clone();
    let server = HttpServer::new(move || {
        let (seen, open) = (seen.clone(), open.clone());
        App::new().route(
            "/hook",
            web::post().to(move |body: web::Json<Value>| {
                let (seen, open) = (seen.clone(), open.clone());
                async move {
                    while !open.load(Ordering::Acquire) {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    seen.lock().unwrap().push(body.into_inner());
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}/hook", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    Sink { url, got }
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[actix_web::test]
async fn webhooks_receive_batches_in_order_and_failures_are_recorded() {
    let app = spawn_app().await;
    let ok = sink(200);
    let failing = sink(403);
    let key = app.new_key(json!({ "owner": "A" })).await;
    let open = |url: &str| json!({ "apiKey": key, "domain": "localhost", "targets": [{ "type": "generic", "url": url }] });
    let res = app.call("POST", "/live", &[], Some(open(&ok.url))).await;
    let token = res.json()["token"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let res = app
            .bearer(
                "POST",
                "/captions",
                &token,
                Some(json!({ "captions": [{ "text": format!("line {i}") }, { "text": "x" }] })),
            )
            .await;
        assert_eq!(res.status, 202);
    }
    eventually("five webhook calls", || ok.got.lock().unwrap().len() == 5).await;
    let got = ok.got.lock().unwrap().clone();
    let sequences: Vec<u64> = got
        .iter()
        .map(|b| b["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, vec![1, 2, 3, 4, 5]);
    assert_eq!(got[0]["captions"][0]["text"], "line 0");
    // lcyt's `source` is the session's site (Tally's normalised form of `domain`).
    assert_eq!(got[0]["source"], "https://localhost");

    let res = app
        .bearer(
            "PATCH",
            "/live",
            &token,
            Some(json!({ "targets": [{ "type": "generic", "url": failing.url }] })),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(app.captions(&token, 3).await.status, 202);
    eventually("the failing call", || {
        failing.got.lock().unwrap().len() == 1
    })
    .await;
    let mut errors = Vec::new();
    for _ in 0..200 {
        let stats = app.bearer("GET", "/stats", &token, None).await.json();
        errors = stats["captionErrors"].as_array().unwrap().clone();
        if !errors.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0]["error"].as_str(), errors[0]["batchSize"].as_u64()),
        (Some("HTTP 403"), Some(3))
    );

    let usage = app.admin("GET", "/usage", None).await.json();
    let row = &usage["data"][0];
    assert_eq!(
        (
            row["captions_sent"].as_u64(),
            row["batches_sent"].as_u64(),
            row["captions_failed"].as_u64()
        ),
        (Some(10), Some(5), Some(3))
    );
}

#[actix_web::test]
async fn a_full_delivery_queue_refuses_before_metering_and_loses_nothing() {
    let app = spawn_app().await;
    let open = Arc::new(AtomicBool::new(false));
    let slow = gated_sink(200, open.clone());
    let key = app.new_key(json!({ "owner": "A" })).await;
    let body = json!({ "apiKey": key, "domain": "localhost", "targets": [{ "type": "generic", "url": slow.url }] });
    let res = app.call("POST", "/live", &[], Some(body)).await;
    let token = res.json()["token"].as_str().unwrap().to_owned();
    // The first batch is held by the receiver; 64 in all fit the session's queue.
    for _ in 0..64 {
        assert_eq!(app.captions(&token, 2).await.status, 202);
    }
    let refused = app.captions(&token, 2).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"], "delivery_backlog_full");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let counted = app.admin("GET", &format!("/keys/{key}"), None).await.json();
    assert_eq!(
        counted["lifetimeUsed"], 128,
        "the refused batch was not metered"
    );

    open.store(true, Ordering::Release);
    eventually("all 64 accepted batches delivered", || {
        slow.got.lock().unwrap().len() == 64
    })
    .await;
    let got = slow.got.lock().unwrap().clone();
    let sequences: Vec<u64> = got
        .iter()
        .map(|b| b["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=64).collect::<Vec<u64>>());
    // The queue drains as batches are delivered; then the session is accepted again.
    for _ in 0..200 {
        if app.captions(&token, 1).await.status == 202 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the session was not accepted again after its queue drained");
}
