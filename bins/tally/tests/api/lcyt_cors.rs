//! CORS as lcyt's browser clients need it: session routes answer their session's site with
//! credentials allowed, on errors too, whichever way the token came.

use serde_json::json;

use crate::helpers::{spawn_app, Reply};

const ORIGIN: &str = "http://localhost:5173";

fn assert_cors(res: &Reply, what: &str) {
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some(ORIGIN),
        "{what}: {:?}",
        res.headers
    );
    assert_eq!(
        res.header("access-control-allow-credentials"),
        Some("true"),
        "{what}"
    );
}

#[actix_web::test]
async fn session_routes_answer_their_site_on_success_and_on_errors() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let res = app
        .call(
            "POST",
            "/live",
            &[("Origin", ORIGIN)],
            Some(json!({ "apiKey": key, "domain": ORIGIN })),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_cors(&res, "POST /live");
    let token = res.json()["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");

    // `GET /events` with the header and with the query token.
    for (path, header) in [
        ("/events".to_owned(), true),
        (format!("/events?token={token}"), false),
        (format!("/events/stream?token={token}"), false),
    ] {
        let mut req = app
            .client
            .get(format!("{}{path}", app.address))
            .insert_header(("Origin", ORIGIN));
        if header {
            req = req.insert_header(("Authorization", auth.as_str()));
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let h = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            h("access-control-allow-origin").as_deref(),
            Some(ORIGIN),
            "{path}"
        );
        assert_eq!(
            h("access-control-allow-credentials").as_deref(),
            Some("true"),
            "{path}"
        );
    }

    let headers = [("Origin", ORIGIN), ("Authorization", auth.as_str())];
    let ok = app.call("GET", "/live", &headers, None).await;
    assert_eq!(ok.status, 200);
    assert_cors(&ok, "GET /live");
    // A 400 after the token was accepted.
    let bad = app
        .call(
            "POST",
            "/captions",
            &headers,
            Some(json!({ "captions": [] })),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_cors(&bad, "400 on /captions");
    // Refused by the token check: a missing token, a forged one, an ended session's.
    let res = app
        .call("POST", "/captions", &[("Origin", ORIGIN)], Some(json!({})))
        .await;
    assert_eq!(res.status, 401);
    assert_cors(&res, "401 without a token");
    let res = app
        .call(
            "GET",
            "/stats",
            &[("Origin", ORIGIN), ("Authorization", "Bearer a.b.c")],
            None,
        )
        .await;
    assert_eq!(res.status, 401);
    assert_cors(&res, "401 for a bad token");
    assert_eq!(
        app.call("DELETE", "/live", &headers, None).await.status,
        200
    );
    for (method, path) in [
        ("GET", "/live"),
        ("POST", "/sync"),
        ("POST", "/mic"),
        ("GET", "/stats"),
    ] {
        let res = app.call(method, path, &headers, None).await;
        assert_eq!(res.status, 401, "{method} {path}");
        assert_cors(&res, path);
        assert!(res.json()["error"].is_string(), "errors are JSON");
    }
    // A site that may not open sessions learns nothing.
    let res = app
        .call(
            "GET",
            "/live",
            &[
                ("Origin", "https://evil.example"),
                ("Authorization", auth.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn preflights_allow_credentials_and_lcyts_headers() {
    let app = spawn_app().await;
    let res = app
        .call(
            "OPTIONS",
            "/captions",
            &[
                ("Origin", ORIGIN),
                ("Access-Control-Request-Method", "POST"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status, 204);
    assert_cors(&res, "preflight");
    let allowed = res.header("access-control-allow-headers").unwrap();
    for h in ["Content-Type", "Authorization", "X-Admin-Key", "X-API-Key"] {
        assert!(allowed.contains(h), "{allowed}");
    }
}
