//! new-api (seed 004): `/api/data/self` and `/api/data/`, per (model, hour) rows in the
//! `{success, message, data}` envelope, the `New-Api-User` check and the span rules.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::Reply;
use crate::lcyt_client::ADMIN;
use crate::seed_client::{midnight, seeded, Ev, World};

/// `start_timestamp..end_timestamp` covering the last `days` whole days (today included).
fn window(w: &World, days: i64) -> (i64, i64) {
    let end = midnight(w.now.date()).unix_timestamp() + 86_400 - 1;
    (end + 1 - days * 86_400, end)
}

/// The rows new-api would give for the events passing `keep`: per (hour, model).
fn rows(w: &World, keep: impl Fn(&Ev) -> bool, user: Option<(u64, &str)>) -> Vec<Value> {
    let mut sums: BTreeMap<(i64, String), (i64, i64, i64)> = BTreeMap::new();
    for e in w.select(keep) {
        let hour = e.at.unix_timestamp() - e.at.unix_timestamp().rem_euclid(3600);
        let s = sums
            .entry((hour, e.model.unwrap_or("").to_owned()))
            .or_default();
        *s = (s.0 + 1, s.1 + e.quota, s.2 + e.tokens);
    }
    sums.into_iter()
        .map(|((hour, model), (count, quota, tokens))| {
            let mut row = json!({"model_name": model, "count": count, "quota": quota,
                "token_used": tokens, "created_at": hour});
            if let Some((id, name)) = user {
                row["user_id"] = json!(id);
                row["username"] = json!(name);
            }
            row
        })
        .collect()
}

fn ok_data(res: &Reply) -> Vec<Value> {
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.header("content-type"), Some("application/json"));
    let b = res.json();
    assert_eq!(
        (b["success"].as_bool(), b["message"].as_str()),
        (Some(true), Some(""))
    );
    b["data"].as_array().unwrap().clone()
}

fn refused(res: &Reply, status: u16) {
    assert_eq!(res.status, status, "{}", res.json());
    let b = res.json();
    assert_eq!(b["success"], false, "{b}");
    assert!(!b["message"].as_str().unwrap().is_empty());
}

#[actix_web::test]
async fn self_rows_per_model_and_hour_with_the_user() {
    let w = seeded().await;
    let (start, end) = window(&w, 7);
    let q = format!("/api/data/self?start_timestamp={start}&end_timestamp={end}");
    let in_window = |e: &Ev| (start..=end).contains(&e.at.unix_timestamp());
    let want = rows(
        &w,
        |e| e.user == "alice" && in_window(e),
        Some((w.alice.number, "alice")),
    );
    assert_eq!(want.len(), 4, "four (model, hour) rows: {want:?}");
    assert!(
        want.iter().any(|r| r["count"] == 2),
        "two events share an hour"
    );
    assert_eq!(ok_data(&w.app.get_as(&w.alice.token, &q).await), want);
    // New-Api-User must be the caller when present; a key bound to Alice is Alice.
    let alice_hdr = [
        ("Authorization", format!("Bearer {}", w.alice.token)),
        ("New-Api-User", w.alice.id.clone()),
    ];
    let hdrs: Vec<(&str, &str)> = alice_hdr.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(ok_data(&w.app.call("GET", &q, &hdrs, None).await), want);
    assert_eq!(ok_data(&w.app.get_as(&w.alice.keys[1].1, &q).await), want);
    // new-api clients send the user's number; so may a key bound to the user.
    let number = w.alice.number.to_string();
    for credential in [&w.alice.token, &w.alice.keys[0].1] {
        let auth = format!("Bearer {credential}");
        let h = [
            ("Authorization", auth.as_str()),
            ("New-Api-User", number.as_str()),
        ];
        assert_eq!(ok_data(&w.app.call("GET", &q, &h, None).await), want);
    }
    let bob_number = w.bob.number.to_string();
    for other in [w.bob.id.as_str(), bob_number.as_str(), "0", "x", ""] {
        let auth = format!("Bearer {}", w.alice.token);
        let h = [("Authorization", auth.as_str()), ("New-Api-User", other)];
        refused(&w.app.call("GET", &q, &h, None).await, 401);
    }
    refused(&w.app.get(&q).await, 401);
    refused(
        &w.app.call("GET", &q, &[("X-Admin-Key", ADMIN)], None).await,
        403,
    );
    // An hour's bucket is in when its start is within the inclusive bounds.
    let first = w.events[0].at.unix_timestamp();
    let hour = first - first.rem_euclid(3600);
    let one = format!("/api/data/self?start_timestamp={hour}&end_timestamp={hour}");
    let same_hour = |e: &Ev| {
        e.user == "alice" && e.at.unix_timestamp() - e.at.unix_timestamp().rem_euclid(3600) == hour
    };
    assert_eq!(
        ok_data(&w.app.get_as(&w.alice.token, &one).await),
        rows(&w, same_hour, Some((w.alice.number, "alice")))
    );
}

#[actix_web::test]
async fn self_defaults_to_seven_days_and_refuses_bad_windows() {
    let w = seeded().await;
    let got = ok_data(&w.app.get_as(&w.alice.token, "/api/data/self").await);
    let now = w.now.unix_timestamp();
    let since = now - 7 * 86_400;
    let since = since - since.rem_euclid(3600);
    // An hour's bucket is in when its start is within the window, so an event later in the
    // current hour than `now` (the dataset has events at fixed times of today) is in too.
    let keep = |e: &Ev| {
        let bucket = e.at.unix_timestamp() - e.at.unix_timestamp().rem_euclid(3600);
        e.user == "alice" && bucket >= since && bucket <= now
    };
    assert_eq!(got, rows(&w, keep, Some((w.alice.number, "alice"))));
    let (start, _) = window(&w, 31);
    for bad in [
        format!(
            "start_timestamp={start}&end_timestamp={}",
            start + 2_592_001
        ),
        "start_timestamp=abc".to_owned(),
        "end_timestamp=1.5".to_owned(),
        "start_timestamp=200&end_timestamp=100".to_owned(),
    ] {
        refused(
            &w.app
                .get_as(&w.alice.token, &format!("/api/data/self?{bad}"))
                .await,
            400,
        );
    }
    let exactly = format!(
        "/api/data/self?start_timestamp={start}&end_timestamp={}",
        start + 2_592_000
    );
    ok_data(&w.app.get_as(&w.alice.token, &exactly).await);
}

#[actix_web::test]
async fn site_wide_rows_are_for_admins() {
    let w = seeded().await;
    let (start, end) = window(&w, 60);
    let q = format!("/api/data/?start_timestamp={start}&end_timestamp={end}");
    let in_window = |e: &Ev| (start..=end).contains(&e.at.unix_timestamp());
    let want = rows(&w, in_window, None);
    assert_eq!(
        ok_data(&w.app.get_as(&w.root, &q).await),
        want,
        "no span cap for admins"
    );
    assert_eq!(
        ok_data(&w.app.call("GET", &q, &[("X-Admin-Key", ADMIN)], None).await),
        want
    );
    assert_eq!(
        ok_data(
            &w.app
                .get_as(&w.root, &q.replace("/api/data/", "/api/data"))
                .await
        ),
        want
    );
    let bob = format!("{q}&username=bob");
    let want_bob = rows(
        &w,
        |e| e.user == "bob" && in_window(e),
        Some((w.bob.number, "bob")),
    );
    assert_eq!(ok_data(&w.app.get_as(&w.root, &bob).await), want_bob);
    refused(
        &w.app.get_as(&w.root, &format!("{q}&username=nobody")).await,
        404,
    );
    refused(&w.app.get_as(&w.alice.token, &q).await, 403);
    refused(&w.app.get_as(&w.alice.keys[0].1, &q).await, 403);
    refused(&w.app.get(&q).await, 401);
    let h = [
        ("X-Admin-Key", ADMIN),
        ("New-Api-User", w.alice.id.as_str()),
    ];
    refused(&w.app.call("GET", &q, &h, None).await, 401);
    refused(
        &w.app.get_as(&w.root, "/api/data/?start_timestamp=x").await,
        400,
    );
}
