//! `/live` and `/mic`: opening, joining, tokens, validation, ending.

use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn opening_validates_and_audits_refusals() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let res = app
        .call("POST", "/live", &[], Some(json!({ "apiKey": key })))
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("apiKey and domain are required"))
    );
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": key, "domain": "evil.example" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (403, Some("Domain not allowed"))
    );
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": "nope-nope", "domain": "lcyt.fi" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("API key unknown_key"))
    );
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": key, "domain": "lcyt.fi", "targets": [{ "type": "bogus" }] })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("Invalid target type: bogus"))
    );
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": key, "domain": "lcyt.fi", "targets": [{ "type": "generic" }] })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("Generic target requires a url field"))
    );
    let expired = app
        .new_key(json!({ "owner": "B", "expires": "2020-01-01" }))
        .await;
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": expired, "domain": "lcyt.fi" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("API key expired"))
    );
}

#[actix_web::test]
async fn same_key_and_domain_share_a_session_with_fresh_tokens() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let res = app
        .call(
            "POST",
            "/live",
            &[("Origin", "https://lcyt.fi")],
            Some(json!({ "apiKey": key, "domain": "https://lcyt.fi/" })),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://lcyt.fi")
    );
    let first = res.json();
    assert_eq!(first["sessionId"].as_str().unwrap().len(), 16);
    assert_eq!(
        (first["sequence"].as_u64(), first["syncOffset"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(
        first["startedAt"].as_i64().unwrap() > 1_600_000_000_000,
        "epoch milliseconds"
    );
    let (token2, sid2) = app.open(&key, "lcyt.fi").await;
    assert_eq!(first["sessionId"].as_str().unwrap(), sid2);
    assert_ne!(first["token"].as_str().unwrap(), token2);
    for token in [first["token"].as_str().unwrap(), token2.as_str()] {
        let res = app.bearer("GET", "/live", token, None).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["sequence"], 0);
    }
    let res = app.call("GET", "/live", &[], None).await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("Authorization header required"))
    );
    let res = app.bearer("GET", "/live", "not.a.token", None).await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("Invalid or expired token"))
    );
}

#[actix_web::test]
async fn patch_is_all_or_nothing_and_delete_kills_every_token() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, sid) = app.open(&key, "localhost").await;
    let res = app
        .bearer(
            "PATCH",
            "/live",
            &token,
            Some(json!({ "sequence": 10, "targets": [{ "type": "bogus" }] })),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        app.bearer("GET", "/live", &token, None).await.json()["sequence"],
        0,
        "nothing applied"
    );
    let res = app
        .bearer("PATCH", "/live", &token, Some(json!({ "sequence": -1 })))
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("sequence must be a non-negative number"))
    );
    let res = app
        .bearer(
            "PATCH",
            "/live",
            &token,
            Some(
                json!({ "sequence": 10, "targets": [{ "type": "viewer", "viewerKey": "room-1" }] }),
            ),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        (
            res.json()["sequence"].as_u64(),
            res.json()["targetsCount"].as_u64()
        ),
        (Some(10), Some(1))
    );
    let res = app.bearer("DELETE", "/live", &token, None).await;
    assert_eq!(
        (
            res.status,
            res.json()["removed"].as_bool(),
            res.json()["sessionId"].as_str()
        ),
        (200, Some(true), Some(sid.as_str()))
    );
    for path in ["/live", "/stats", "/events"] {
        let res = app.bearer("GET", path, &token, None).await;
        assert_eq!(
            (res.status, res.json()["error"].as_str()),
            (401, Some("Session has ended")),
            "{path}"
        );
    }
    let stats_token = app.open(&key, "localhost").await.0;
    let stats = app.bearer("GET", "/stats", &stats_token, None).await.json();
    assert_eq!(stats["sessions"][0]["endedBy"], "client");
    assert_eq!(stats["sessions"][0]["sessionId"], sid);
}

#[actix_web::test]
async fn a_reopened_session_does_not_honour_the_old_lifetimes_tokens() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (old, sid) = app.open(&key, "localhost").await;
    assert_eq!(app.bearer("DELETE", "/live", &old, None).await.status, 200);
    let (new, again) = app.open(&key, "localhost").await;
    assert_eq!(sid, again, "the same derived session id");
    for (method, path) in [("GET", "/live"), ("GET", "/stats"), ("POST", "/sync")] {
        let res = app.bearer(method, path, &old, None).await;
        assert_eq!(res.status, 401, "{method} {path} with the old token");
    }
    assert_eq!(app.captions(&old, 1).await.status, 401);
    let res = app.get(&format!("/events?token={old}")).await;
    assert_eq!(res.status, 401);
    assert_eq!(app.bearer("GET", "/live", &new, None).await.status, 200);
    assert_eq!(app.captions(&new, 1).await.status, 202);
}

#[actix_web::test]
async fn the_mic_lock_validates_and_reports_the_holder() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    let res = app.bearer("POST", "/mic", &token, None).await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("clientId required"))
    );
    let res = app
        .bearer(
            "POST",
            "/mic",
            &token,
            Some(json!({ "action": "claim", "clientId": "x".repeat(129) })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("clientId required"))
    );
    let res = app
        .bearer(
            "POST",
            "/mic",
            &token,
            Some(json!({ "action": "grab", "clientId": "a" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("action must be claim or release"))
    );
    let claim = |c: &str| json!({ "action": "claim", "clientId": c });
    let release = |c: &str| json!({ "action": "release", "clientId": c });
    let res = app.bearer("POST", "/mic", &token, Some(claim("a"))).await;
    assert_eq!(res.json(), json!({ "ok": true, "holder": "a" }));
    assert_eq!(
        app.bearer("POST", "/mic", &token, Some(release("b")))
            .await
            .json()["holder"],
        "a"
    );
    assert_eq!(
        app.bearer("POST", "/mic", &token, Some(claim("b")))
            .await
            .json()["holder"],
        "b"
    );
    assert!(app
        .bearer("POST", "/mic", &token, Some(release("b")))
        .await
        .json()["holder"]
        .is_null());
    app.bearer("DELETE", "/live", &token, None).await;
    assert_eq!(
        app.bearer("POST", "/mic", &token, Some(claim("a")))
            .await
            .status,
        401
    );
}

#[actix_web::test]
async fn session_routes_answer_cors_only_to_their_own_site() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    let auth = format!("Bearer {token}");
    let res = app
        .call(
            "GET",
            "/live",
            &[
                ("Authorization", auth.as_str()),
                ("Origin", "http://localhost:5173"),
            ],
            None,
        )
        .await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let res = app
        .call(
            "GET",
            "/live",
            &[
                ("Authorization", auth.as_str()),
                ("Origin", "https://evil.example"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(res.header("access-control-allow-origin").is_none());
    let res = app.admin("GET", "/keys", None).await;
    assert!(res.header("access-control-allow-origin").is_none());
    let pre = app
        .call(
            "OPTIONS",
            "/captions",
            &[("Origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(
        (pre.status, pre.header("access-control-allow-origin")),
        (204, Some("https://evil.example"))
    );
}
