//! The native v1 API: tenancy, tokens, keys, verify, events, analytics, erasure.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

impl TestApp {
    async fn v1_user(&self, username: &str, org: Option<&str>, role: &str) -> (String, String) {
        let res = self
            .admin(
                "POST",
                "/v1/users",
                Some(json!({ "username": username, "org_id": org, "role": role })),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.json());
        let id = res.json()["id"].as_str().unwrap().to_owned();
        let tok = self
            .admin("POST", &format!("/v1/users/{id}/tokens"), None)
            .await;
        assert_eq!(tok.status, 201);
        (id, tok.json()["token"].as_str().unwrap().to_owned())
    }

    async fn v1_key(&self, body: Value) -> Value {
        let res = self.admin("POST", "/v1/keys", Some(body)).await;
        assert_eq!(res.status, 201, "{}", res.json());
        res.json()
    }
}

#[actix_web::test]
async fn orgs_and_users_are_admin_managed_and_private() {
    let app = spawn_app().await;
    let res = app
        .admin(
            "POST",
            "/v1/orgs",
            Some(json!({ "id": "org_acme", "name": "Acme" })),
        )
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(
        (res.json()["id"].as_str(), res.json()["name"].as_str()),
        (Some("org_acme"), Some("Acme"))
    );
    assert_eq!(
        app.admin(
            "POST",
            "/v1/orgs",
            Some(json!({ "id": "org_acme", "name": "Again" }))
        )
        .await
        .status,
        409
    );
    let gen = app
        .admin("POST", "/v1/orgs", Some(json!({ "name": "Generated" })))
        .await
        .json();
    assert!(gen["id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(
        app.admin("POST", "/v1/orgs", Some(json!({ "name": "" })))
            .await
            .status,
        400
    );
    assert_eq!(
        app.admin("GET", "/v1/orgs", None).await.json()["orgs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let (alice, alice_token) = app.v1_user("alice", Some("org_acme"), "user").await;
    let (bob, _) = app.v1_user("bob", None, "user").await;
    let res = app
        .admin("POST", "/v1/users", Some(json!({ "username": "alice" })))
        .await;
    assert_eq!(res.status, 409);
    let res = app
        .admin(
            "POST",
            "/v1/users",
            Some(json!({ "username": "carol", "org_id": "org_none" })),
        )
        .await;
    assert_eq!(res.status, 400);
    let res = app
        .admin(
            "POST",
            "/v1/users",
            Some(json!({ "username": "dave", "role": "root" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (400, Some("role must be admin or user"))
    );

    let me = app
        .bearer("GET", &format!("/v1/users/{alice}"), &alice_token, None)
        .await;
    assert_eq!(
        (me.status, me.json()["org_id"].as_str()),
        (200, Some("org_acme"))
    );
    assert_eq!(
        app.bearer("GET", &format!("/v1/users/{bob}"), &alice_token, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.bearer("GET", "/v1/users", &alice_token, None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.bearer(
            "POST",
            "/v1/orgs",
            &alice_token,
            Some(json!({ "name": "x" }))
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.bearer("GET", "/v1/orgs/org_acme", &alice_token, None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.bearer("GET", "/v1/orgs/org_default", &alice_token, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.bearer("GET", "/v1/users", "garbage.jwt.value", None)
            .await
            .status,
        401
    );
    assert_eq!(app.call("GET", "/v1/users", &[], None).await.status, 401);

    let (_, admin_token) = app.v1_user("root", None, "admin").await;
    assert_eq!(
        app.bearer("GET", "/v1/users", &admin_token, None)
            .await
            .json()["users"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[actix_web::test]
async fn keys_bind_to_users_and_are_scoped() {
    let app = spawn_app().await;
    app.admin(
        "POST",
        "/v1/orgs",
        Some(json!({ "id": "org_acme", "name": "Acme" })),
    )
    .await;
    let (alice, alice_token) = app.v1_user("alice", Some("org_acme"), "user").await;
    let k = app
        .v1_key(json!({ "user_id": alice, "name": "prod", "daily_limit": 10 }))
        .await;
    assert_eq!(
        (
            k["org_id"].as_str(),
            k["owner"].as_str(),
            k["daily_limit"].as_u64()
        ),
        (Some("org_acme"), Some("alice"), Some(10))
    );
    assert!(k["key"].as_str().unwrap().starts_with("tk_"));
    let other = app.v1_key(json!({ "name": "other" })).await;
    let res = app
        .admin(
            "POST",
            "/v1/keys",
            Some(json!({ "user_id": alice, "org_id": "org_default" })),
        )
        .await;
    assert_eq!(res.status, 400);
    let mine = app
        .bearer("GET", "/v1/keys", &alice_token, None)
        .await
        .json();
    assert_eq!(mine["keys"].as_array().unwrap().len(), 1);
    assert!(mine["keys"][0].get("key").is_none());
    let id = k["id"].as_i64().unwrap();
    assert_eq!(
        app.bearer("GET", &format!("/v1/keys/{id}"), &alice_token, None)
            .await
            .status,
        200
    );
    let oid = other["id"].as_i64().unwrap();
    assert_eq!(
        app.bearer("GET", &format!("/v1/keys/{oid}"), &alice_token, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.bearer(
            "PATCH",
            &format!("/v1/keys/{id}"),
            &alice_token,
            Some(json!({}))
        )
        .await
        .status,
        403
    );
    let raw = k["key"].as_str().unwrap();
    let by_key = app.bearer("GET", "/v1/keys", raw, None).await.json();
    assert_eq!(by_key["keys"].as_array().unwrap().len(), 1);
    let res = app
        .admin(
            "PATCH",
            &format!("/v1/keys/{id}"),
            Some(json!({ "daily_limit": null, "lifetime_limit": 5 })),
        )
        .await;
    assert_eq!(
        (
            res.json()["daily_limit"].is_null(),
            res.json()["lifetime_limit"].as_u64()
        ),
        (true, Some(5))
    );
    let res = app.admin("DELETE", &format!("/v1/keys/{oid}"), None).await;
    assert_eq!(res.json()["revoked"], true);
    assert_eq!(
        app.bearer("GET", "/v1/keys", other["key"].as_str().unwrap(), None)
            .await
            .status,
        401
    );
    assert_eq!(
        app.admin("DELETE", &format!("/v1/keys/{oid}?permanent=true"), None)
            .await
            .json()["deleted"],
        true
    );
    assert_eq!(
        app.admin("GET", &format!("/v1/keys/{oid}"), None)
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn verify_meters_and_answers_with_codes() {
    let app = spawn_app().await;
    let k = app
        .v1_key(json!({ "daily_limit": 3, "lifetime_limit": 5 }))
        .await;
    let secret = k["key"].as_str().unwrap();
    let res = app
        .admin(
            "POST",
            "/v1/verify",
            Some(json!({ "key": secret, "units": 2, "event": { "model": "gpt-x", "tokens": 40 } })),
        )
        .await;
    assert_eq!(res.status, 200);
    let b = res.json();
    assert_eq!(
        (b["valid"].as_bool(), b["code"].as_str()),
        (Some(true), Some("VALID"))
    );
    assert_eq!(b["remaining"], json!({ "daily": 1, "lifetime": 3 }));
    assert!(b["reset"].as_str().unwrap().ends_with("T00:00:00.000Z"));
    assert!(res.header("ratelimit").is_some());
    let res = app
        .admin(
            "POST",
            "/v1/verify",
            Some(json!({ "key": secret, "units": 2 })),
        )
        .await;
    assert_eq!(res.status, 429);
    assert_eq!(
        (res.json()["valid"].as_bool(), res.json()["code"].as_str()),
        (Some(false), Some("DAILY_LIMIT_EXCEEDED"))
    );
    assert!(res.header("retry-after").is_some());
    let res = app
        .admin("POST", "/v1/verify", Some(json!({ "key": "nope-nope" })))
        .await;
    assert_eq!(
        (res.status, res.json()["code"].as_str()),
        (401, Some("NOT_FOUND"))
    );
    let res = app
        .admin(
            "POST",
            "/v1/verify",
            Some(json!({ "key": secret, "units": -1 })),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        app.bearer("POST", "/v1/verify", secret, Some(json!({ "key": secret })))
            .await
            .status,
        403
    );
    app.admin("DELETE", &format!("/v1/keys/{}", k["id"]), None)
        .await;
    let res = app
        .admin("POST", "/v1/verify", Some(json!({ "key": secret })))
        .await;
    assert_eq!(
        (res.status, res.json()["code"].as_str()),
        (401, Some("REVOKED"))
    );
    let rows = app
        .admin("GET", "/v1/analytics?group_by=model", None)
        .await
        .json();
    assert_eq!(rows["rows"][0]["model"], "gpt-x");
    assert_eq!(
        (
            rows["rows"][0]["units"].as_i64(),
            rows["rows"][0]["tokens"].as_i64()
        ),
        (Some(2), Some(40))
    );
}

#[actix_web::test]
async fn events_are_validated_whole_and_idempotent() {
    let app = spawn_app().await;
    let ev = |units: i64, idem: &str| json!({ "units": units, "cost_usd": 0.0043, "model": "m", "idempotency_key": idem });
    let res = app
        .admin(
            "POST",
            "/v1/events",
            Some(json!({ "events": [ev(1, "a"), ev(-1, "b")] })),
        )
        .await;
    assert_eq!(res.status, 400);
    assert!(
        res.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("event 1:"),
        "{}",
        res.json()
    );
    let res = app
        .admin(
            "POST",
            "/v1/events",
            Some(json!({ "events": [ev(1, "a"), ev(2, "b"), ev(9, "a")] })),
        )
        .await;
    assert_eq!(res.status, 200);
    let body = res.json();
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["created", "created", "duplicate"]);
    let again = app
        .admin(
            "POST",
            "/v1/events",
            Some(json!({ "events": [ev(5, "b")] })),
        )
        .await
        .json();
    assert_eq!(again["results"][0]["status"], "duplicate");
    let rows = app.admin("GET", "/v1/analytics", None).await.json();
    assert_eq!(
        (
            rows["rows"][0]["count"].as_i64(),
            rows["rows"][0]["units"].as_i64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(rows["rows"][0]["cost_usd"], json!(0.0086));
    let res = app
        .admin("POST", "/v1/events", Some(json!({ "events": [] })))
        .await;
    assert_eq!(res.status, 400);
    let res = app
        .admin(
            "POST",
            "/v1/events",
            Some(json!({ "events": [{ "unitz": 1 }] })),
        )
        .await;
    assert_eq!(res.status, 400);
}

#[actix_web::test]
async fn analytics_are_scoped_to_the_caller() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.v1_user("alice", None, "user").await;
    let (bob, _) = app.v1_user("bob", None, "user").await;
    let events: Vec<Value> = [(alice.as_str(), "a", 1), (alice.as_str(), "b", 2), (bob.as_str(), "a", 4)]
        .iter()
        .map(|(u, m, n)| json!({ "user_id": u, "model": m, "units": n, "occurred_at": "2026-03-10T12:30:00Z" }))
        .collect();
    app.admin("POST", "/v1/events", Some(json!({ "events": events })))
        .await;
    let q = "/v1/analytics?from=2026-03-10&to=2026-03-11&granularity=hour&group_by=model,user";
    let all = app.admin("GET", q, None).await.json();
    assert_eq!(all["rows"].as_array().unwrap().len(), 3);
    assert_eq!(all["rows"][0]["bucket"], "2026-03-10T12:00:00.000Z");
    let mine = app.bearer("GET", q, &alice_token, None).await.json();
    let models: Vec<&str> = mine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, vec!["a", "b"]);
    let res = app
        .bearer("GET", &format!("{q}&user_id={bob}"), &alice_token, None)
        .await;
    assert_eq!(res.status, 403);
    for bad in [
        "granularity=week",
        "group_by=colour",
        "metrics=joy",
        "from=2026-13-01",
        "from=2026-03-11&to=2026-03-10",
    ] {
        assert_eq!(
            app.admin("GET", &format!("/v1/analytics?{bad}"), None)
                .await
                .status,
            400,
            "{bad}"
        );
    }
    let only_count = app
        .admin(
            "GET",
            "/v1/analytics?from=2026-03-10&to=2026-03-11&metrics=count",
            None,
        )
        .await
        .json();
    assert_eq!(
        only_count["rows"][0],
        json!({ "bucket": "2026-03-10T00:00:00.000Z", "count": 3 })
    );
}

#[actix_web::test]
async fn erasing_a_user_erases_all_their_keys_and_leaves_receipts() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.v1_user("alice", None, "user").await;
    assert_eq!(
        app.bearer("GET", &format!("/v1/users/{alice}"), &alice_token, None)
            .await
            .status,
        200
    );
    let a = app.v1_key(json!({ "user_id": alice })).await;
    let b = app.v1_key(json!({ "user_id": alice })).await;
    let other = app.v1_key(json!({})).await;
    let res = app
        .admin("DELETE", &format!("/v1/users/{alice}/data"), None)
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["receipts"].as_array().unwrap().len(), 2);
    for k in [&a, &b] {
        let res = app
            .admin("POST", "/v1/verify", Some(json!({ "key": k["key"] })))
            .await;
        assert_eq!(res.json()["code"], "REVOKED");
        let shown = app
            .admin("GET", &format!("/v1/keys/{}", k["id"]), None)
            .await
            .json();
        assert_eq!(shown["owner"], "[erased]");
    }
    assert_eq!(
        app.admin("POST", "/v1/verify", Some(json!({ "key": other["key"] })))
            .await
            .status,
        200
    );
    let receipts = app.admin("GET", "/v1/erasures", None).await.json();
    assert_eq!(receipts["erasures"].as_array().unwrap().len(), 2);
    assert!(receipts["erasures"][0].get("owner").is_none());
    assert_eq!(
        app.admin("DELETE", "/v1/users/not-a-uuid/data", None)
            .await
            .status,
        404
    );
    let res = app
        .bearer("GET", &format!("/v1/users/{alice}"), &alice_token, None)
        .await;
    assert_eq!(res.status, 401, "an erased user's tokens die");
    let shown = app
        .admin("GET", &format!("/v1/users/{alice}"), None)
        .await
        .json();
    assert!(shown["username"].as_str().unwrap().starts_with("erased-"));
    assert!(shown["email"].is_null());
    assert!(shown["erased_at"].is_string());
    let res = app
        .admin("POST", &format!("/v1/users/{alice}/tokens"), None)
        .await;
    assert_eq!(
        (res.status, res.json()["error"].as_str()),
        (409, Some("user is erased"))
    );
    let res = app
        .admin("POST", "/v1/keys", Some(json!({ "user_id": alice })))
        .await;
    assert_eq!(res.status, 400);
}

/// Every v1 request field, response field and query parameter is snake_case; the camelCase
/// names the tenancy and key routes used to take are refused, never silently ignored.
#[actix_web::test]
async fn v1_speaks_snake_case_everywhere() {
    let app = spawn_app().await;
    let org = app
        .admin(
            "POST",
            "/v1/orgs",
            Some(json!({ "id": "org_snake", "name": "Snake" })),
        )
        .await
        .json();
    assert!(org["created_at"].is_string(), "{org}");
    let user = app
        .admin(
            "POST",
            "/v1/users",
            Some(json!({ "username": "sally", "org_id": "org_snake" })),
        )
        .await
        .json();
    assert_eq!(user["org_id"], "org_snake");
    assert!(
        user["created_at"].is_string() && user["erased_at"].is_null(),
        "{user}"
    );
    let id = user["id"].as_str().unwrap().to_owned();
    let tok = app
        .admin(
            "POST",
            &format!("/v1/users/{id}/tokens"),
            Some(json!({ "ttl_secs": 60 })),
        )
        .await;
    assert_eq!(tok.status, 201, "{}", tok.json());
    assert_eq!(tok.json()["user_id"], id.as_str());
    assert!(tok.json()["expires_at"].is_string());
    let res = app
        .admin(
            "POST",
            &format!("/v1/users/{id}/tokens"),
            Some(json!({ "ttl_secs": 0 })),
        )
        .await;
    assert_eq!(
        res.json()["error"],
        "ttl_secs must be between 1 and 7776000"
    );
    // The body is optional (as the OpenAPI document says): `null` takes the defaults.
    let res = app
        .admin("POST", &format!("/v1/users/{id}/tokens"), Some(json!(null)))
        .await;
    assert_eq!(res.status, 201, "{}", res.json());
    assert_eq!(res.json()["user_id"], id.as_str());
    let listed = app.admin("GET", "/v1/users?org_id=org_snake", None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["users"].as_array().unwrap().len(), 1);
    let k = app
        .v1_key(json!({
            "user_id": id, "daily_limit": 3, "lifetime_limit": 9, "expires_at": "2099-01-01"
        }))
        .await;
    for field in [
        "user_id",
        "org_id",
        "created_at",
        "expires_at",
        "revoked_at",
        "erased_at",
        "daily_limit",
        "lifetime_limit",
        "lifetime_used",
    ] {
        assert!(k.get(field).is_some(), "{field} missing from {k}");
    }
    assert_eq!(k["expires_at"], "2099-01-01T00:00:00.000Z");
    let keys = app
        .admin(
            "GET",
            &format!("/v1/keys?user_id={id}&org_id=org_snake"),
            None,
        )
        .await;
    assert_eq!(keys.status, 200);
    assert_eq!(keys.json()["keys"].as_array().unwrap().len(), 1);
    let res = app
        .admin("POST", "/v1/keys", Some(json!({ "daily_limit": -1 })))
        .await;
    assert_eq!(
        res.json()["error"],
        "daily_limit must be a non-negative integer or null"
    );
    let res = app
        .admin(
            "POST",
            "/v1/users",
            Some(json!({ "username": "x", "org_id": "org_nope" })),
        )
        .await;
    assert_eq!(res.json()["error"], "org_id: unknown organisation");
    for (method, path, body) in [
        (
            "POST",
            "/v1/users".to_owned(),
            json!({ "username": "y", "orgId": "org_snake" }),
        ),
        ("POST", "/v1/keys".to_owned(), json!({ "userId": id })),
        (
            "POST",
            format!("/v1/users/{id}/tokens"),
            json!({ "ttlSecs": 60 }),
        ),
        (
            "PATCH",
            format!("/v1/keys/{}", k["id"]),
            json!({ "dailyLimit": 1 }),
        ),
    ] {
        let res = app.admin(method, &path, Some(body)).await;
        assert_eq!(res.status, 400, "{method} {path}: {}", res.json());
    }
    for path in ["/v1/users?orgId=org_snake", "/v1/keys?userId=x"] {
        assert_eq!(app.admin("GET", path, None).await.status, 400, "{path}");
    }
}
