//! The usage ledger (seed 001): records, lists, the `/usage` dispatch, refunds and deletion.

use serde_json::{json, Value};

use crate::seed_client::seeded;

fn seed_body(key: &str) -> Value {
    json!({
        "api_name": "llm_query", "endpoint": "/chat", "units_used": 346,
        "cost_usd": 0.0043, "api_key_used": key
    })
}

#[actix_web::test]
async fn post_usage_returns_the_seed_record_once_per_idempotency_key() {
    let w = seeded().await;
    let (key_id, secret) = &w.alice.keys[0];
    let idem = [
        ("Authorization", format!("Bearer {}", w.alice.token)),
        ("Idempotency-Key", "rec-1".to_owned()),
    ];
    let headers: Vec<(&str, &str)> = idem.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = w
        .app
        .call("POST", "/usage", &headers, Some(seed_body(secret)))
        .await;
    assert_eq!(first.status, 201, "{}", first.json());
    let r = first.json();
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 9, "{r}");
    assert_eq!(r["user_id"], w.alice.id.as_str());
    assert_eq!(
        (r["api_name"].as_str(), r["endpoint"].as_str()),
        (Some("llm_query"), Some("/chat"))
    );
    assert_eq!(
        (r["units_used"].as_i64(), r["cost_usd"].as_f64()),
        (Some(346), Some(0.0043))
    );
    assert_eq!(r["status_active"], true);
    assert!(r["created_at"].as_str().unwrap().ends_with('Z'));
    let alias = r["api_key_used"].as_str().unwrap();
    assert_ne!(alias, secret.as_str(), "the secret is never shown");
    assert!(alias.starts_with(&secret[..6]) && alias.ends_with(&secret[secret.len() - 4..]));
    let again = w
        .app
        .call("POST", "/usage", &headers, Some(seed_body(secret)))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), r);
    // The field works like the header; a key credential charges itself.
    let by_field = json!({ "units_used": 2, "idempotency_key": "rec-2" });
    let key_bearer = format!("Bearer {secret}");
    let auth = [("Authorization", key_bearer.as_str())];
    let a = w
        .app
        .call("POST", "/usage", &auth, Some(by_field.clone()))
        .await;
    assert_eq!(a.status, 201);
    let b = w.app.call("POST", "/usage", &auth, Some(by_field)).await;
    assert_eq!(
        (b.status, b.json()["usage_id"].clone()),
        (200, a.json()["usage_id"].clone())
    );
    assert_eq!(a.json()["api_key_used"], alias);
    let listed = w
        .app
        .get_as(&w.root, &format!("/usage/user/{}?limit=1000", w.alice.id))
        .await;
    let copies = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["usage_id"] == r["usage_id"])
        .count();
    assert_eq!(copies, 1, "recorded once");
    assert!(*key_id > 0);
    // Bob reusing Alice's idempotency key in the same organisation learns nothing.
    let bob = w
        .app
        .call(
            "POST",
            "/usage",
            &[
                ("Authorization", &format!("Bearer {}", w.bob.token)),
                ("Idempotency-Key", "rec-1"),
            ],
            Some(json!({})),
        )
        .await;
    assert_eq!(bob.status, 409, "{}", bob.json());
}

#[actix_web::test]
async fn post_usage_refuses_bad_input_and_foreign_keys() {
    let w = seeded().await;
    let post = |body: Value| w.app.bearer("POST", "/usage", &w.alice.token, Some(body));
    let bob_key = &w.bob.keys[0].1;
    let res = post(seed_body(bob_key)).await;
    assert_eq!(res.status, 403, "{}", res.json());
    assert_eq!(post(seed_body("no-such-key-123")).await.status, 400);
    for (body, field) in [
        (json!({"units_used": -1}), "units_used"),
        (json!({"cost_usd": -0.5}), "cost_usd"),
        (json!({"units": 1}), "units"),
        (json!({"user_id": w.bob.id}), "admin"),
    ] {
        let res = post(body).await;
        assert_eq!(res.status, 400);
        assert!(
            res.json()["error"].as_str().unwrap().contains(field),
            "{}",
            res.json()
        );
    }
    assert_eq!(
        w.app
            .call("POST", "/usage", &[], Some(json!({})))
            .await
            .status,
        401
    );
    // An admin may record for anyone; the key's user is taken when none is given.
    let res = w
        .app
        .admin("POST", "/usage", Some(seed_body(bob_key)))
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(res.json()["user_id"], w.bob.id.as_str());
}

#[actix_web::test]
async fn records_are_read_by_their_owner_and_changed_only_by_admins() {
    let w = seeded().await;
    let id = &w.events[0].id;
    let path = format!("/usage/{id}");
    let own = w.app.get_as(&w.alice.token, &path).await;
    assert_eq!(own.status, 200);
    assert_eq!(
        (
            own.json()["units_used"].as_i64(),
            own.json()["cost_usd"].as_f64()
        ),
        (Some(2), Some(0.5))
    );
    assert_eq!(
        w.app.get_as(&w.bob.token, &path).await.status,
        404,
        "someone else's record"
    );
    assert_eq!(w.app.get_as(&w.root, &path).await.status, 200);
    assert_eq!(
        w.app
            .get_as(&w.root, "/usage/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );
    assert_eq!(w.app.get_as(&w.root, "/usage/not-a-uuid").await.status, 400);
    let refund = json!({"units_used": 0, "cost_usd": 0.00});
    assert_eq!(
        w.app
            .bearer("PUT", &path, &w.alice.token, Some(refund.clone()))
            .await
            .status,
        403
    );
    assert_eq!(
        w.app
            .bearer("DELETE", &path, &w.alice.token, None)
            .await
            .status,
        403
    );
    assert_eq!(
        w.app
            .bearer("PUT", &path, &w.alice.keys[0].1, Some(refund.clone()))
            .await
            .status,
        403
    );
    assert_eq!(
        w.app
            .bearer("PUT", &path, &w.root, Some(json!({})))
            .await
            .status,
        400
    );
    assert_eq!(
        w.app
            .bearer("PUT", &path, &w.root, Some(json!({"units_used": -3})))
            .await
            .status,
        400
    );
    let res = w
        .app
        .bearer(
            "PUT",
            &path,
            &w.root,
            Some(json!({"units_used": 9, "cost_usd": "1.25"})),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        (
            res.json()["units_used"].as_i64(),
            res.json()["cost_usd"].as_f64(),
            res.json()["status_active"].as_bool()
        ),
        (Some(9), Some(1.25), Some(true))
    );
    let res = w.app.admin("PUT", &path, Some(refund)).await;
    assert_eq!(
        (res.status, res.json()["status_active"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(
        w.app
            .admin(
                "PUT",
                "/usage/00000000-0000-0000-0000-000000000000",
                Some(json!({"status_active": false}))
            )
            .await
            .status,
        404
    );
    assert_eq!(w.app.admin("DELETE", &path, None).await.status, 204);
    assert_eq!(w.app.get_as(&w.root, &path).await.status, 404);
    assert_eq!(w.app.admin("DELETE", &path, None).await.status, 404);
    assert_eq!(
        w.app.bearer("PATCH", &path, &w.root, None).await.status,
        405
    );
}
