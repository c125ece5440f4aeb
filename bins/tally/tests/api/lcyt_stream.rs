//! `GET /events/stream`: lcyt-web's unified event stream, framed as lcyt-backend frames it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// The URL lcyt-web builds (commas percent-encoded, `*` not).
fn stream_url(token: &str, flat: bool, topics: &str) -> String {
    let flat = if flat { "&flat=1" } else { "" };
    format!("/events/stream?token={token}{flat}&topics={topics}")
}

const WEB_TOPICS: &str =
    "variable.*%2Crole.*%2Ccue.fired%2Cdsk.*%2Ccaption.*%2Csession.*%2Cplugin.*";

/// Splits a raw frame into its `event:` name and parsed `data:`, checking it has exactly
/// those two lines.
fn parts(frame: &str) -> (String, Value, String) {
    let lines: Vec<&str> = frame.split('\n').collect();
    assert_eq!(lines.len(), 2, "{frame:?}");
    let name = lines[0].strip_prefix("event: ").expect(frame).to_owned();
    let data = lines[1].strip_prefix("data: ").expect(frame).to_owned();
    (name, serde_json::from_str(&data).unwrap(), data)
}

async fn alias(app: &TestApp, key: &str) -> String {
    let k = app.admin("GET", &format!("/keys/{key}"), None).await.json();
    k["alias"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn the_web_apps_stream_gets_connected_then_envelopes_and_outlives_the_session() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, sid) = app.open(&key, "http://localhost:5173").await;
    let project = alias(&app, &key).await;
    // EventSource cannot send headers: the token comes in the query.
    let mut s = app.sse(&stream_url(&token, true, WEB_TOPICS), None).await;

    let (name, connected, _) = parts(&s.next_raw().await);
    assert_eq!(name, "connected", "named connected even when flat");
    assert_eq!(
        connected,
        json!({
            "projectId": project,
            "topics": ["variable.*", "role.*", "cue.fired", "dsk.*", "caption.*", "session.*", "plugin.*"],
            "sessionId": sid,
            "micHolder": null,
        })
    );

    let res = app
        .bearer(
            "POST",
            "/mic",
            &token,
            Some(json!({ "action": "claim", "clientId": "tab-1" })),
        )
        .await;
    assert_eq!(res.status, 200);
    let (name, env, raw) = parts(&s.next_raw().await);
    assert_eq!(name, "message");
    let ts = env["ts"].as_i64().unwrap();
    assert_eq!(
        raw,
        format!(
            r#"{{"sessionId":"{sid}","topic":"session.mic_state","projectId":"{project}","ts":{ts},"data":{{"holder":"tab-1"}}}}"#
        )
    );

    let res = app.captions(&token, 2).await;
    let request_id = res.json()["requestId"].as_str().unwrap().to_owned();
    let (_, env, _) = parts(&s.next_raw().await);
    assert_eq!(env["topic"], "caption.sent");
    assert_eq!(env["sessionId"], sid.as_str());
    assert_eq!(
        env["data"],
        json!({ "requestId": request_id, "sequence": 1, "count": 2, "statusCode": 200, "serverTimestamp": null })
    );

    assert_eq!(
        app.bearer("DELETE", "/live", &token, None).await.status,
        200
    );
    let (_, env, _) = parts(&s.next_raw().await);
    assert_eq!(env["topic"], "session.closed");
    assert!(env["data"]["durationMs"].is_u64(), "{env}");
    assert_eq!(env["data"].as_object().unwrap().len(), 1);
    // Unlike `/events`, the stream stays open after the session closed.
    assert!(s
        .next_raw_within(Duration::from_millis(300))
        .await
        .is_none());
}

#[actix_web::test]
async fn topics_filter_and_unflat_frames_are_named_by_topic() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, sid) = app.open(&key, "localhost").await;
    // The header form works too; only session.* is asked for.
    let mut s = app
        .sse("/events/stream?topics=session.*", Some(&token))
        .await;
    let (_, connected, _) = parts(&s.next_raw().await);
    assert_eq!(connected["topics"], json!(["session.*"]));
    assert_eq!(app.captions(&token, 1).await.status, 202);
    app.bearer(
        "POST",
        "/mic",
        &token,
        Some(json!({ "action": "claim", "clientId": "c" })),
    )
    .await;
    let (name, env, _) = parts(&s.next_raw().await);
    assert_eq!(
        (name.as_str(), env["topic"].as_str()),
        ("session.mic_state", Some("session.mic_state")),
        "caption.sent was filtered out"
    );
    assert_eq!(env["sessionId"], sid.as_str());

    let mut all = app.sse("/events/stream", Some(&token)).await;
    let (_, connected, _) = parts(&all.next_raw().await);
    assert_eq!(connected["topics"], "*");
}

#[actix_web::test]
async fn the_stream_needs_a_live_token_and_has_lcyts_headers() {
    let app = spawn_app().await;
    let res = app.get("/events/stream").await;
    assert_eq!(res.status, 401);
    let res = app.get("/events/stream?token=nope").await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("Invalid or expired token"))
    );
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    let res = app
        .client
        .get(format!("{}/events/stream?token={token}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
    drop(res);
    // A token of an ended session is refused.
    assert_eq!(
        app.bearer("DELETE", "/live", &token, None).await.status,
        200
    );
    let res = app.get(&format!("/events/stream?token={token}")).await;
    assert_eq!(res.status, 401);
    // Other routes never take a token from the query.
    let res = app.get(&format!("/live?token={token}")).await;
    assert_eq!(res.status, 401);
}
