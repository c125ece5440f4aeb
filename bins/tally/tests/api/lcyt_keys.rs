//! `/keys`: admin checks, shapes, validation, revoke and delete, free tier.

use std::collections::HashMap;

use serde_json::json;
use tally::config::{self, Sources};

use crate::helpers::{spawn_app, spawn_on, TestApp};

fn app_with(env: &[(&str, &str)]) -> TestApp {
    let mut vars: HashMap<String, String> = [
        ("TALLY_HTTP__PORT", "0"),
        ("TALLY_HTTP__WORKERS", "1"),
        ("JWT_SECRET", "test-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in env {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = config::load(&Sources {
        file: None,
        env: vars,
    })
    .expect("config");
    spawn_on(&config)
}

/// An app with the given extra environment (no admin key unless given).
pub fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    app_with(env)
}

#[actix_web::test]
async fn admin_routes_check_the_admin_key_in_order() {
    let unconfigured = app_with(&[]);
    let res = unconfigured
        .call("GET", "/keys", &[("X-Admin-Key", "x")], None)
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (503, Some("Admin API not configured"))
    );
    let app = spawn_app().await;
    let res = app.call("GET", "/keys", &[], None).await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("X-Admin-Key header required"))
    );
    let res = app
        .call("GET", "/keys", &[("X-Admin-Key", "wrong")], None)
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (403, Some("Invalid admin key"))
    );
    assert_eq!(app.admin("GET", "/keys", None).await.status, 200);
    // A session token is not an admin credential.
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    let res = app.bearer("GET", "/keys", &token, None).await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (403, Some("Admin access required"))
    );
}

#[actix_web::test]
async fn a_user_token_of_role_admin_is_an_admin_on_the_lcyt_routes() {
    let app = spawn_app().await;
    let mut tokens = Vec::new();
    for (name, role) in [("root", "admin"), ("pleb", "user")] {
        let res = app
            .admin(
                "POST",
                "/v1/users",
                Some(json!({ "username": name, "role": role })),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.json());
        let id = res.json()["id"].as_str().unwrap().to_owned();
        let tok = app
            .admin("POST", &format!("/v1/users/{id}/tokens"), None)
            .await;
        tokens.push(tok.json()["token"].as_str().unwrap().to_owned());
    }
    let (admin, user) = (&tokens[0], &tokens[1]);
    let res = app
        .bearer("POST", "/keys", admin, Some(json!({ "owner": "Via JWT" })))
        .await;
    assert_eq!(res.status, 201, "{}", res.json());
    let key = res.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(app.bearer("GET", "/keys", admin, None).await.status, 200);
    let path = format!("/keys/{key}");
    assert_eq!(app.bearer("GET", &path, admin, None).await.status, 200);
    let res = app
        .bearer("PATCH", &path, admin, Some(json!({ "daily_limit": 5 })))
        .await;
    assert_eq!(res.status, 200);
    for (method, p) in [
        ("GET", "/keys"),
        ("GET", path.as_str()),
        ("DELETE", path.as_str()),
    ] {
        let res = app.bearer(method, p, user, None).await;
        assert_eq!(res.status, 403, "{method} {p} as a plain user");
    }
    let res = app
        .bearer("POST", "/keys", user, Some(json!({ "owner": "x" })))
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(app.bearer("DELETE", &path, admin, None).await.status, 200);
}

#[actix_web::test]
async fn keys_are_created_shown_once_and_listed() {
    let app = spawn_app().await;
    let res = app
        .admin(
            "POST",
            "/keys",
            Some(json!({ "owner": "Alice", "email": "alice@example.com", "daily_limit": 10, "lifetime_limit": 100, "expires": "2099-01-01" })),
        )
        .await;
    assert_eq!(res.status, 201);
    let created = res.json();
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tk_") && secret.len() == 35);
    assert_eq!(created["owner"], "Alice");
    assert_eq!(created["email"], "alice@example.com");
    assert_eq!(
        (
            created["dailyLimit"].as_u64(),
            created["lifetimeLimit"].as_u64()
        ),
        (Some(10), Some(100))
    );
    assert_eq!(created["lifetimeUsed"], 0);
    assert_eq!(created["active"], true);
    assert_eq!(created["expires"], "2099-01-01T00:00:00.000Z");
    assert_eq!(
        created["alias"].as_str().unwrap(),
        format!("{}…{}", &secret[..6], &secret[31..])
    );

    let one = app.admin("GET", &format!("/keys/{secret}"), None).await;
    assert_eq!(one.status, 200);
    assert!(
        one.json().get("key").is_none(),
        "the secret is shown only once"
    );
    let custom = app
        .new_key(json!({ "owner": "Bob", "key": "bobs-custom-key" }))
        .await;
    assert_eq!(custom, "bobs-custom-key");
    let list = app.admin("GET", "/keys", None).await.json();
    let owners: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, vec!["Alice", "Bob"]);
    assert_eq!(
        app.admin("GET", "/keys/no-such-key", None).await.status,
        404
    );
}

#[actix_web::test]
async fn bad_key_input_is_a_clear_400_or_409() {
    let app = spawn_app().await;
    for (body, needle) in [
        (json!({}), "owner is required"),
        (json!({ "owner": "  " }), "owner is required"),
        (json!({ "owner": "A", "daily_limit": -1 }), "daily_limit"),
        (
            json!({ "owner": "A", "lifetime_limit": "many" }),
            "invalid request body: lifetime_limit: invalid type: string \"many\", expected i64",
        ),
        (json!({ "owner": "A", "expires": "2026-02-30" }), "expires"),
        (json!({ "owner": "A", "key": "short" }), "key must be"),
        (json!({ "owner": "A", "email": "nope" }), "email"),
        (json!({ "owner": "A", "colour": "red" }), "unknown field"),
    ] {
        let res = app.admin("POST", "/keys", Some(body.clone())).await;
        assert_eq!(res.status, 400, "{body}");
        assert!(
            res.json()["error"].as_str().unwrap().contains(needle),
            "{body}: {}",
            res.json()
        );
    }
    let res = app
        .call(
            "POST",
            "/keys",
            &[
                ("X-Admin-Key", "test-admin-key"),
                ("Content-Type", "application/json"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status, 400);
    app.new_key(json!({ "owner": "A", "key": "dup-key-123" }))
        .await;
    let res = app
        .admin(
            "POST",
            "/keys",
            Some(json!({ "owner": "B", "key": "dup-key-123" })),
        )
        .await;
    assert_eq!(res.status, 409);
    assert_eq!(
        app.admin("GET", "/keys", None).await.json()["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn patch_validates_everything_first_and_keeps_counters() {
    let app = spawn_app().await;
    let key = app
        .new_key(json!({ "owner": "A", "lifetime_limit": 10 }))
        .await;
    let (token, _) = app.open(&key, "localhost").await;
    assert_eq!(app.captions(&token, 3).await.status, 202);
    let bad = app
        .admin(
            "PATCH",
            &format!("/keys/{key}"),
            Some(json!({ "owner": "B", "daily_limit": -5 })),
        )
        .await;
    assert_eq!(bad.status, 400);
    let unchanged = app.admin("GET", &format!("/keys/{key}"), None).await.json();
    assert_eq!(unchanged["owner"], "A");
    let ok = app
        .admin(
            "PATCH",
            &format!("/keys/{key}"),
            Some(json!({ "owner": "B", "daily_limit": 5, "lifetime_limit": null })),
        )
        .await;
    assert_eq!(ok.status, 200);
    let k = ok.json();
    assert_eq!(
        (
            k["owner"].as_str(),
            k["dailyLimit"].as_u64(),
            k["lifetimeLimit"].is_null()
        ),
        (Some("B"), Some(5), true)
    );
    assert_eq!(k["lifetimeUsed"], 3);
    assert_eq!(
        app.admin("PATCH", "/keys/none-such-key", Some(json!({})))
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn revoking_ends_sessions_and_deleting_forgets() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    let res = app.admin("DELETE", &format!("/keys/{key}"), None).await;
    assert_eq!(
        (res.status, res.json()["revoked"].as_bool()),
        (200, Some(true))
    );
    let res = app.bearer("GET", "/live", &token, None).await;
    assert_eq!(res.status, 401);
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": key, "domain": "localhost" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (401, Some("API key revoked"))
    );
    let shown = app.admin("GET", &format!("/keys/{key}"), None).await.json();
    assert_eq!(shown["active"], false);
    assert!(shown["revokedAt"].is_string());

    let res = app
        .admin("DELETE", &format!("/keys/{key}?permanent=true"), None)
        .await;
    assert_eq!(
        (res.status, res.json()["deleted"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        app.admin("GET", &format!("/keys/{key}"), None).await.status,
        404
    );
    assert_eq!(
        app.admin("DELETE", &format!("/keys/{key}"), None)
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn free_tier_is_off_by_default_and_one_per_email() {
    let app = spawn_app().await;
    let res = app
        .call(
            "POST",
            "/keys?freetier",
            &[],
            Some(json!({ "name": "A", "email": "a@example.com" })),
        )
        .await;
    assert_eq!(res.status, 404);
    let app = app_with(&[("FREE_APIKEY_ACTIVE", "1")]);
    let res = app
        .call(
            "POST",
            "/keys?freetier",
            &[("Origin", "https://x.example")],
            Some(json!({ "name": "A", "email": "A@Example.com" })),
        )
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://x.example")
    );
    let k = res.json();
    assert_eq!(
        (k["dailyLimit"].as_u64(), k["lifetimeLimit"].as_u64()),
        (Some(200), Some(1000))
    );
    assert_eq!(k["email"], "a@example.com");
    assert!(k["expires"].is_string());
    let again = app
        .call(
            "POST",
            "/keys?freetier",
            &[],
            Some(json!({ "name": "B", "email": "a@example.com" })),
        )
        .await;
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (409, Some("A key already exists for this email"))
    );
    let res = app
        .call(
            "POST",
            "/keys?freetier",
            &[],
            Some(json!({ "name": "", "email": "b@example.com" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("name is required"))
    );
    let res = app
        .call(
            "POST",
            "/keys?freetier",
            &[],
            Some(json!({ "name": "B", "email": "b" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("a valid email is required"))
    );
}
