//! The usage ledger's lists (seed 001): `GET /usage` by credential, `GET /usage/user/{id}`.

use serde_json::{json, Value};

use crate::lcyt_client::ADMIN;
use crate::seed_client::seeded;

#[actix_web::test]
async fn get_usage_lists_own_records_with_skip_and_limit() {
    let w = seeded().await;
    let mut alice = w.select(|e| e.user == "alice");
    alice.sort_by_key(|e| std::cmp::Reverse(e.at));
    let res = w.app.get_as(&w.alice.token, "/usage").await;
    assert_eq!(res.status, 200);
    let ids: Vec<String> = res
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["usage_id"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = alice.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, want, "own records, newest first");
    assert_eq!(res.header("x-total-count"), Some("8"));
    let page = w
        .app
        .get_as(&w.alice.token, "/usage?skip=2&limit=3")
        .await
        .json();
    let page: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["usage_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        want[2..5].iter().map(String::as_str).collect::<Vec<_>>()
    );
    // A key bound to Alice sees Alice's records; an admin token sees everyone's.
    let key = &w.alice.keys[1].1;
    assert_eq!(
        w.app
            .get_as(key, "/usage")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        w.app
            .get_as(&w.root, "/usage?limit=1000")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        12
    );
    for bad in ["limit=1001", "limit=0", "skip=-1", "limit=x"] {
        let res = w.app.get_as(&w.alice.token, &format!("/usage?{bad}")).await;
        assert_eq!(res.status, 400, "{bad}");
    }
    assert_eq!(w.app.get_as("not-a-key-at-all", "/usage").await.status, 401);
}

#[actix_web::test]
async fn get_usage_without_bearer_is_lcyt_domain_usage() {
    let w = seeded().await;
    let res = w.app.get("/usage").await;
    assert_eq!(res.status, 401, "no credential: lcyt's admin check");
    let res = w
        .app
        .call("GET", "/usage", &[("X-Admin-Key", ADMIN)], None)
        .await;
    assert_eq!(res.status, 200);
    let b = res.json();
    assert_eq!(b["granularity"], "day");
    assert!(b["data"].is_array() && b.get("from").is_some());
    let res = w
        .app
        .call(
            "GET",
            "/usage?granularity=week",
            &[("X-Admin-Key", ADMIN)],
            None,
        )
        .await;
    assert_eq!(res.status, 400);
}

#[actix_web::test]
async fn usage_by_user_is_for_admins_and_self() {
    let w = seeded().await;
    let path = format!("/usage/user/{}", w.alice.id);
    assert_eq!(
        w.app
            .get_as(&w.alice.token, &path)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        w.app
            .get_as(&w.root, &path)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        w.app
            .admin("GET", &format!("{path}?skip=7"), None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(w.app.get_as(&w.bob.token, &path).await.status, 403);
    assert_eq!(w.app.get_as(&w.bob.keys[0].1, &path).await.status, 403);
    assert_eq!(
        w.app
            .get_as(&w.root, "/usage/user/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );
    assert_eq!(w.app.get_as(&w.root, "/usage/user/nope").await.status, 400);
    assert_eq!(
        w.app
            .get_as(&w.alice.token, &format!("{path}?limit=5000"))
            .await
            .status,
        400
    );
}

#[actix_web::test]
async fn a_session_token_records_and_reads_its_own_keys_usage() {
    let w = seeded().await;
    let key = w.app.new_key(json!({ "owner": "Caption desk" })).await;
    let (token, _) = w.app.open(&key, "lcyt.fi").await;
    let body = json!({ "api_name": "captions", "units_used": 4 });
    let res = w.app.bearer("POST", "/usage", &token, Some(body)).await;
    assert_eq!(res.status, 201, "{}", res.json());
    let rec = res.json();
    assert_eq!(
        rec["user_id"],
        Value::Null,
        "an lcyt key is bound to no user"
    );
    assert!(rec["api_key_used"].as_str().unwrap().starts_with(&key[..6]));
    // The session and its raw key see exactly that record, nobody else's.
    for cred in [token.as_str(), key.as_str()] {
        let list = w.app.get_as(cred, "/usage").await.json();
        assert_eq!(list, json!([rec.clone()]));
        let a = w
            .app
            .get_as(cred, "/v1/users/me/analytics?period=7d")
            .await
            .json();
        assert_eq!(
            (
                a["usage"]["units"].as_i64(),
                a["apiCalls"]["total"].as_i64()
            ),
            (Some(4), Some(0))
        );
        assert_eq!(a["breakdown"]["byApiName"], json!({ "captions": 1 }));
    }
    let other = format!("/usage/{}", w.events[0].id);
    assert_eq!(w.app.get_as(&token, &other).await.status, 404);
    assert_eq!(
        w.app
            .get_as(
                &w.alice.token,
                &format!("/usage/{}", rec["usage_id"].as_str().unwrap())
            )
            .await
            .status,
        404
    );
}
