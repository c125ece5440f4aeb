//! `/events` and `/viewer/{key}`: the live streams, read with timeouts.

use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn a_session_stream_sees_mic_captions_usage_and_the_close() {
    let app = spawn_app().await;
    let key = app
        .new_key(json!({ "owner": "A", "daily_limit": 100 }))
        .await;
    let (token, sid) = app.open(&key, "localhost").await;
    let mut sse = app.sse("/events", Some(&token)).await;
    let (name, data) = sse.next().await;
    assert_eq!(
        (name.as_str(), data),
        ("connected", json!({ "sessionId": sid, "micHolder": null }))
    );

    app.bearer(
        "POST",
        "/mic",
        &token,
        Some(json!({ "action": "claim", "clientId": "c1" })),
    )
    .await;
    assert_eq!(
        sse.next().await,
        ("mic_state".to_owned(), json!({ "holder": "c1" }))
    );

    assert_eq!(app.captions(&token, 2).await.status, 202);
    let mut names = Vec::new();
    let mut usage = None;
    let mut result = None;
    while names.len() < 4 {
        let (name, data) = sse.next().await;
        match name.as_str() {
            "usage" => usage = Some(data),
            "caption_result" => result = Some(data),
            _ => {}
        }
        names.push(name);
    }
    names.sort();
    assert_eq!(names, vec!["caption", "caption", "caption_result", "usage"]);
    let usage = usage.unwrap();
    assert_eq!(
        usage,
        json!({ "lifetimeUsed": 2, "dailyUsed": 2, "dailyLimit": 100, "lifetimeLimit": null })
    );
    let result = result.unwrap();
    assert_eq!(
        (
            result["sequence"].as_u64(),
            result["count"].as_u64(),
            result["statusCode"].as_u64()
        ),
        (Some(1), Some(2), Some(200))
    );

    app.bearer("DELETE", "/live", &token, None).await;
    assert_eq!(sse.next().await, ("session_closed".to_owned(), json!({})));
    assert!(sse.ended().await, "the stream ends after session_closed");
}

#[actix_web::test]
async fn event_source_clients_pass_the_token_in_the_query() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, sid) = app.open(&key, "localhost").await;
    let mut sse = app.sse(&format!("/events?token={token}"), None).await;
    assert_eq!(sse.next().await.1["sessionId"], sid);
    let res = app.call("GET", "/events?token=garbage", &[], None).await;
    assert_eq!(res.status, 401);
    // Tokens in URLs end up in logs: only the EventSource route takes one.
    let res = app
        .call("GET", &format!("/live?token={token}"), &[], None)
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("Authorization header required"))
    );
}

#[actix_web::test]
async fn viewers_receive_captions_of_their_key_only() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let body = json!({ "apiKey": key, "domain": "localhost", "targets": [{ "type": "viewer", "viewerKey": "room-1" }] });
    let token = app.call("POST", "/live", &[], Some(body)).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut viewer = app.sse("/viewer/room-1", None).await;
    let mut other = app.sse("/viewer/room-2", None).await;
    let res = app
        .bearer("POST", "/captions", &token, Some(json!({ "captions": [{ "text": "hello", "timestamp": "2026-01-01T00:00:00Z" }, { "text": "world" }] })))
        .await;
    assert_eq!(res.status, 202);
    assert_eq!(
        viewer.next().await,
        ("connected".to_owned(), json!({ "ok": true }))
    );
    assert_eq!(other.next().await.0, "connected");
    assert_eq!(
        viewer.next().await,
        (
            "caption".to_owned(),
            json!({ "text": "hello", "composedText": "hello", "sequence": 1, "timestamp": "2026-01-01T00:00:00Z" })
        )
    );
    assert_eq!(viewer.next().await.1["text"], "world");
    assert!(other
        .next_within(Duration::from_millis(300))
        .await
        .is_none());
    assert_eq!(app.call("GET", "/viewer/a", &[], None).await.status, 400);
}

#[actix_web::test]
async fn two_subscribers_of_one_session_both_get_the_mic() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (t1, _) = app.open(&key, "localhost").await;
    let (t2, _) = app.open(&key, "localhost").await;
    let mut a = app.sse("/events", Some(&t1)).await;
    let mut b = app.sse("/events", Some(&t2)).await;
    a.next().await;
    b.next().await;
    app.bearer(
        "POST",
        "/mic",
        &t2,
        Some(json!({ "action": "claim", "clientId": "b" })),
    )
    .await;
    assert_eq!(a.next().await.1, json!({ "holder": "b" }));
    assert_eq!(b.next().await.1, json!({ "holder": "b" }));
}
