//! `/stats` and erasure.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::lcyt_keys::spawn_app_with;

#[actix_web::test]
async fn stats_have_the_seed_shape() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "Alice", "email": "alice@example.com", "daily_limit": 1000, "lifetime_limit": 50000 })).await;
    let (token, _) = app.open(&key, "localhost").await;
    app.captions(&token, 2).await;
    let res = app.bearer("GET", "/stats", &token, None).await;
    assert_eq!(res.status, 200);
    let s = res.json();
    assert_eq!(
        s["apiKey"].as_str().unwrap(),
        format!("{}…{}", &key[..6], &key[31..])
    );
    assert_eq!(
        (
            s["owner"].as_str(),
            s["email"].as_str(),
            s["expires"].is_null()
        ),
        (Some("Alice"), Some("alice@example.com"), true)
    );
    assert_eq!(
        s["usage"],
        json!({ "lifetimeUsed": 2, "dailyUsed": 2, "dailyLimit": 1000, "lifetimeLimit": 50000 })
    );
    assert!(s["sessions"].as_array().unwrap().is_empty());
    assert!(s["captionErrors"].as_array().unwrap().is_empty());
    let ev = &s["authEvents"][0];
    assert_eq!(
        (ev["event"].as_str(), ev["domain"].as_str()),
        (Some("session_start"), Some("https://localhost"))
    );
    assert!(ev["occurredAt"].as_str().unwrap().ends_with('Z'));
    // lcyt-web's StatsModal reads lcyt-backend's names beside the seed's.
    assert_eq!(ev["eventType"], "session_start");
    assert_eq!(ev["timestamp"], ev["occurredAt"]);
    assert_eq!(s["viewerStats"], json!([]));
}

#[actix_web::test]
async fn viewer_stats_count_opens_of_the_keys_viewer_streams() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let body = json!({ "apiKey": key, "domain": "localhost", "targets": [{ "type": "viewer", "viewerKey": "hall-1" }] });
    let token = app.call("POST", "/live", &[], Some(body)).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every open of a viewer stream the key's open session delivers to is a view of the key;
    // a viewer key no session delivers to is nobody's.
    let mut streams = Vec::new();
    for path in [
        "/viewer/hall-1",
        "/viewer/hall-1",
        "/viewer/hall-1",
        "/viewer/elsewhere",
    ] {
        let mut s = app.sse(path, None).await;
        assert_eq!(s.next().await.0, "connected");
        streams.push(s);
    }
    app.captions(&token, 1).await;
    assert_eq!(streams[0].next().await.0, "caption");
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    let rows = stats["viewerStats"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{stats}");
    assert_eq!(
        (rows[0]["viewer_key"].as_str(), rows[0]["views"].as_u64()),
        (Some("hall-1"), Some(3))
    );
    assert_eq!(rows[0]["date"].as_str().map(str::len), Some(10));
}

#[actix_web::test]
async fn erasure_anonymises_kills_tokens_blocks_the_email_and_keeps_site_totals() {
    let app = spawn_app_with(&[("ADMIN_KEY", "test-admin-key"), ("FREE_APIKEY_ACTIVE", "1")]);
    let created = app
        .call(
            "POST",
            "/keys?freetier",
            &[],
            Some(json!({ "name": "Alice", "email": "alice@example.com" })),
        )
        .await;
    let key = created.json()["key"].as_str().unwrap().to_owned();
    let (old, _) = app.open(&key, "lcyt.fi").await;
    app.bearer("DELETE", "/live", &old, None).await;
    let (token, _) = app.open(&key, "lcyt.fi").await;
    assert_eq!(app.captions(&token, 3).await.status, 202);
    let mut sse = app.sse("/events", Some(&token)).await;
    sse.next().await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let before = app.admin("GET", "/usage", None).await.json();

    let res = app.bearer("DELETE", "/stats", &token, None).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        json!({ "ok": true, "message": "Your data has been anonymised and deleted." })
    );
    // The batch's own delivery events may still be on the way; the close comes last.
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("session_closed") {
        seen.push(sse.next().await.0);
        assert!(seen.len() < 10, "no session_closed: {seen:?}");
    }

    let res = app.bearer("GET", "/stats", &token, None).await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("API key revoked"))
    );
    assert_eq!(
        app.bearer("DELETE", "/stats", &token, None).await.status,
        401
    );
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": key, "domain": "lcyt.fi" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("API key revoked"))
    );
    let again = app
        .call(
            "POST",
            "/keys?freetier",
            &[],
            Some(json!({ "name": "Al", "email": "ALICE@example.com" })),
        )
        .await;
    assert_eq!(again.status, 409);
    let shown = app.admin("GET", &format!("/keys/{key}"), None).await.json();
    assert_eq!(
        (
            shown["owner"].as_str(),
            shown["email"].is_null(),
            shown["active"].as_bool()
        ),
        (Some("[erased]"), true, Some(false))
    );
    assert_eq!(shown["lifetimeUsed"], 3);
    assert!(shown["erasedAt"].is_string());
    let res = app
        .admin(
            "PATCH",
            &format!("/keys/{key}"),
            Some(json!({ "email": "alice@example.com" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (409, Some("API key is erased"))
    );
    // The erased key's open session ends in the site's totals (no session record); every
    // other figure is unchanged.
    let after = app.admin("GET", "/usage", None).await.json();
    let (b, a) = (&before["data"][0], &after["data"][0]);
    assert_eq!(
        a["sessions_ended"].as_u64(),
        b["sessions_ended"].as_u64().map(|n| n + 1),
        "{after}"
    );
    assert!(a["total_duration_ms"].as_u64() >= b["total_duration_ms"].as_u64());
    for field in [
        "domain",
        "date",
        "sessions_started",
        "captions_sent",
        "captions_failed",
        "batches_sent",
        "peak_sessions",
    ] {
        assert_eq!(a[field], b[field], "{field}: {before} vs {after}");
    }
}
