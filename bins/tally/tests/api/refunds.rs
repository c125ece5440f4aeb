//! A refund (`PUT /usage/{id}`) or a deletion vanishes from every analytics endpoint of every
//! surface, and a restore brings it back.

use serde_json::json;

use crate::seed_client::{seeded, World};

/// Every analytics number that covers Alice's first event (today, key 1, gpt-4, Hindi).
async fn alice_numbers(w: &World) -> Vec<i64> {
    let a = w
        .app
        .get_as(&w.alice.token, "/v1/users/me/analytics")
        .await
        .json();
    let logs = w
        .app
        .get_as(&w.alice.token, "/v1/users/me/api-logs")
        .await
        .json();
    let key = w
        .app
        .get_as(
            &w.alice.token,
            &format!("/v1/api-keys/{}/usage", w.alice.keys[0].0),
        )
        .await
        .json();
    let org = w.app.get_as(&w.alice.token, "/api/v1/usage").await.json();
    let start = crate::seed_client::midnight(w.now.date()).unix_timestamp() - 6 * 86_400;
    let window = format!(
        "start_timestamp={start}&end_timestamp={}",
        start + 7 * 86_400 - 1
    );
    let data = w
        .app
        .get_as(&w.alice.token, &format!("/api/data/self?{window}"))
        .await
        .json();
    let data_count: i64 = data["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_i64().unwrap())
        .sum();
    let admin = w
        .app
        .get_as(&w.root, &format!("/api/data/?{window}"))
        .await
        .json();
    let admin_count: i64 = admin["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_i64().unwrap())
        .sum();
    vec![
        a["apiCalls"]["today"].as_i64().unwrap(),
        a["apiCalls"]["total"].as_i64().unwrap(),
        a["usage"]["units"].as_i64().unwrap(),
        a["breakdown"]["byModel"]["gpt-4"].as_i64().unwrap(),
        logs["total"].as_i64().unwrap(),
        key["requestsToday"].as_i64().unwrap(),
        key["requestsTotal"].as_i64().unwrap(),
        org["total_jobs"].as_i64().unwrap(),
        org["jobs_by_language"]["Hindi"].as_i64().unwrap(),
        data_count,
        admin_count,
    ]
}

#[actix_web::test]
async fn refunds_and_deletions_vanish_from_every_analytics_endpoint() {
    let w = seeded().await;
    let before = alice_numbers(&w).await;
    let first = format!("/usage/{}", w.events[0].id);
    let refunded = w
        .app
        .admin("PUT", &first, Some(json!({"units_used": 0, "cost_usd": 0})))
        .await;
    assert_eq!(refunded.status, 200);
    let after_refund = alice_numbers(&w).await;
    let units = w.events[0].units;
    let expect: Vec<i64> = before
        .iter()
        .enumerate()
        .map(|(i, n)| if i == 2 { n - units } else { n - 1 })
        .collect();
    assert_eq!(after_refund, expect, "before {before:?}");
    // Restoring brings it back; `status_active: false` voids it again; deleting removes it.
    let restore = json!({"units_used": units, "status_active": true});
    assert_eq!(w.app.admin("PUT", &first, Some(restore)).await.status, 200);
    assert_eq!(alice_numbers(&w).await, before);
    assert_eq!(
        w.app
            .admin("PUT", &first, Some(json!({"status_active": false})))
            .await
            .status,
        200
    );
    assert_eq!(alice_numbers(&w).await, expect);
    assert_eq!(
        w.app
            .admin("PUT", &first, Some(json!({"status_active": true})))
            .await
            .status,
        200
    );
    assert_eq!(w.app.admin("DELETE", &first, None).await.status, 204);
    assert_eq!(alice_numbers(&w).await, expect);
}
