//! meetbot (seed 002): analytics, api-logs and per-key usage, against the known dataset.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::Duration;

use crate::lcyt_client::ADMIN;
use crate::seed_client::{midnight, seeded, usd, Ev, World};

fn ymd(d: time::Date) -> String {
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The logs of a page, each named by its `createdAt` (the dataset's events of one user have
/// distinct times); their `id`s are checked to be distinct numbers.
fn ids(v: &Value) -> Vec<String> {
    let logs = v["logs"].as_array().unwrap();
    let numbers: std::collections::HashSet<u64> =
        logs.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(numbers.len(), logs.len(), "log ids are distinct numbers");
    logs.iter()
        .map(|r| r["createdAt"].as_str().unwrap().to_owned())
        .collect()
}

/// How the server prints an event's time.
fn stamp(e: &Ev) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    e.at.format(&f).unwrap()
}

fn newest_first(mut evs: Vec<&Ev>) -> Vec<String> {
    evs.sort_by_key(|e| std::cmp::Reverse(e.at));
    evs.iter().map(|e| stamp(e)).collect()
}

fn check_analytics(w: &World, body: &Value, user: &str, days: i64) {
    let today = w.now.date();
    let first = today - Duration::days(days - 1);
    let call = |e: &Ev| e.user == user && e.method.is_some();
    let calls = &body["apiCalls"];
    assert_eq!(calls["today"], w.count(|e| call(e) && e.at.date() == today));
    let month = |e: &Ev| e.at.year() == today.year() && e.at.month() == today.month();
    assert_eq!(calls["thisMonth"], w.count(|e| call(e) && month(e)));
    assert_eq!(calls["total"], w.count(call));
    let daily = calls["dailyBreakdown"].as_array().unwrap();
    assert_eq!(daily.len(), usize::try_from(days).unwrap());
    for (i, row) in daily.iter().enumerate() {
        let d = first + Duration::days(i64::try_from(i).unwrap());
        assert_eq!(row["date"], ymd(d).as_str());
        assert_eq!(
            row["count"],
            w.count(|e| call(e) && e.at.date() == d),
            "{d}"
        );
    }
    let in_period = w.select(|e| e.user == user && e.at.date() >= first);
    let usage = &body["usage"];
    assert_eq!(
        usage["units"],
        in_period.iter().map(|e| e.units).sum::<i64>()
    );
    assert_eq!(
        usage["tokens"],
        in_period.iter().map(|e| e.tokens).sum::<i64>()
    );
    assert_eq!(
        usage["quota"],
        in_period.iter().map(|e| e.quota).sum::<i64>()
    );
    assert_eq!(
        usage["costUsd"].as_f64().unwrap(),
        usd(in_period.iter().map(|e| e.cost_nanos).sum())
    );
    let by_model = body["breakdown"]["byModel"].as_object().unwrap();
    for (model, n) in by_model {
        let want = in_period
            .iter()
            .filter(|e| e.model == Some(model.as_str()))
            .count();
        assert_eq!(n.as_u64().unwrap(), u64::try_from(want).unwrap(), "{model}");
    }
    assert_eq!(
        by_model.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        in_period.iter().filter(|e| e.model.is_some()).count() as u64
    );
    let by_class = body["breakdown"]["byStatusClass"].as_object().unwrap();
    for (class, n) in by_class {
        let want = in_period
            .iter()
            .filter(|e| e.status.is_some_and(|s| format!("{}xx", s / 100) == *class))
            .count();
        assert_eq!(n.as_u64().unwrap(), want as u64, "{class}");
    }
    assert_eq!(
        by_class.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        in_period.iter().filter(|e| e.status.is_some()).count() as u64
    );
    assert!(body["breakdown"]["byApiName"].is_object());
    // meetbot's own blocks: the dataset has transcriptions (events with a language) but no
    // bot, recording or webhook events, whose blocks are then zeros of every field.
    let spoken: Vec<&&Ev> = in_period.iter().filter(|e| e.language.is_some()).collect();
    let minutes = spoken.iter().map(|e| e.duration_ms).sum::<i64>() as f64 / 60_000.0;
    assert_eq!(
        body["transcriptions"],
        json!({"total": spoken.len(), "totalMinutes": (minutes * 10.0).round() / 10.0})
    );
    assert_eq!(
        body["recordings"],
        json!({"total": 0, "totalDurationSeconds": 0, "storageUsedMb": 0})
    );
    assert_eq!(
        body["webhooks"],
        json!({"totalDeliveries": 0, "successRate": 0.0, "avgResponseTimeMs": 0.0})
    );
    let bots = &body["bots"];
    assert_eq!(
        (bots["created"].as_i64(), bots["active"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        bots["platformBreakdown"],
        json!({"google": 0, "zoom": 0, "teams": 0})
    );
    assert_eq!(
        bots["statusBreakdown"],
        json!({"DONE": 0, "IN_CALL": 0, "FATAL": 0})
    );
    assert_eq!(bots["dailyCreated"].as_array().unwrap().len(), daily.len());
}

#[actix_web::test]
async fn analytics_counts_api_calls_per_day_month_and_in_all() {
    let w = seeded().await;
    let default = w.app.get_as(&w.alice.token, "/v1/users/me/analytics").await;
    assert_eq!(default.status, 200);
    assert_eq!(default.json()["period"], "30d");
    check_analytics(&w, &default.json(), "alice", 30);
    for (p, days) in [("7d", 7), ("90d", 90)] {
        let res = w
            .app
            .get_as(
                &w.alice.token,
                &format!("/v1/users/me/analytics?period={p}"),
            )
            .await;
        check_analytics(&w, &res.json(), "alice", days);
    }
    check_analytics(
        &w,
        &w.app
            .get_as(&w.bob.token, "/v1/users/me/analytics")
            .await
            .json(),
        "bob",
        30,
    );
    // A key bound to Alice is Alice.
    let via_key = w
        .app
        .get_as(&w.alice.keys[1].1, "/v1/users/me/analytics")
        .await
        .json();
    assert_eq!(via_key, default.json());
    assert_eq!(
        w.app
            .get_as(&w.alice.token, "/v1/users/me/analytics?period=1y")
            .await
            .status,
        400
    );
    assert_eq!(w.app.get("/v1/users/me/analytics").await.status, 401);
    let res = w
        .app
        .call(
            "GET",
            "/v1/users/me/analytics",
            &[("X-Admin-Key", ADMIN)],
            None,
        )
        .await;
    assert_eq!(res.status, 403, "the admin key is nobody");
}

#[actix_web::test]
async fn api_logs_are_own_newest_first_with_every_filter() {
    let w = seeded().await;
    let get = |q: &str| {
        let path = format!("/v1/users/me/api-logs{q}");
        let w = &w;
        async move { w.app.get_as(&w.alice.token, &path).await }
    };
    let all = get("").await;
    assert_eq!(all.status, 200);
    let b = all.json();
    assert_eq!(
        (
            b["total"].as_i64(),
            b["page"].as_i64(),
            b["page_size"].as_i64()
        ),
        (
            Some(w.count(|e| e.user == "alice" && e.method.is_some())),
            Some(1),
            Some(20)
        )
    );
    // Request logs list API calls only: events with an HTTP method.
    let alice = w.select(|e| e.user == "alice" && e.method.is_some());
    assert_eq!(ids(&b), newest_first(alice.clone()));
    let row = b["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["createdAt"] == stamp(&w.events[1]).as_str())
        .unwrap();
    let created = row["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z'));
    assert_eq!(row["method"], "POST");
    assert_eq!(row["path"], "/api/v1/bots");
    assert_eq!(row["statusCode"], 201);
    assert_eq!(row["responseTimeMs"], Value::Null);
    assert_eq!(row["apiKeyId"], w.alice.keys[0].0);
    assert_eq!(row["apiKeyName"], "alice-prod");
    assert_eq!(
        (row["ipAddress"].as_str(), row["userAgent"].as_str()),
        (Some("192.168.1.1"), Some("curl/7.85.0"))
    );
    let unnamed = b["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["createdAt"] == stamp(&w.events[2]).as_str())
        .unwrap();
    let secret = &w.alice.keys[1].1;
    assert!(
        unnamed["apiKeyName"]
            .as_str()
            .unwrap()
            .starts_with(&secret[..6]),
        "alias when unnamed"
    );

    let today = w.now.date();
    let yesterday = today - Duration::days(1);
    let k2 = w.alice.keys[1].0;
    let cases: Vec<(String, Vec<&Ev>)> = vec![
        (
            "?method=post".into(),
            w.select(|e| e.user == "alice" && e.method.is_some() && e.method == Some("POST")),
        ),
        (
            "?status_code=404".into(),
            w.select(|e| e.user == "alice" && e.method.is_some() && e.status == Some(404)),
        ),
        (
            "?path=bots".into(),
            w.select(|e| {
                e.user == "alice"
                    && e.method.is_some()
                    && e.path.is_some_and(|p| p.contains("bots"))
            }),
        ),
        (
            format!("?api_key_id={k2}"),
            w.select(|e| e.user == "alice" && e.method.is_some() && e.key == k2),
        ),
        (format!("?api_key_id={}", w.bob.keys[0].0), vec![]),
        (
            format!("?end_date={}", ymd(yesterday)),
            w.select(|e| e.user == "alice" && e.method.is_some() && e.at.date() <= yesterday),
        ),
        (
            format!("?start_date={0}&end_date={0}", ymd(yesterday)),
            w.select(|e| e.user == "alice" && e.method.is_some() && e.at.date() == yesterday),
        ),
        (
            format!("?start_date={}", ymd(today)),
            w.select(|e| e.user == "alice" && e.method.is_some() && e.at.date() >= today),
        ),
        (
            format!(
                "?method=GET&path=bots&start_date={}",
                ymd(today - Duration::days(50))
            ),
            w.select(|e| {
                e.user == "alice"
                    && e.method.is_some()
                    && e.method == Some("GET")
                    && e.path.is_some_and(|p| p.contains("bots"))
                    && e.at.date() >= today - Duration::days(50)
            }),
        ),
    ];
    for (q, want) in cases {
        let b = get(&q).await.json();
        assert_eq!(b["total"].as_u64(), Some(want.len() as u64), "{q}");
        assert_eq!(b["total_exact"], true, "{q}: few enough to count");
        assert_eq!(ids(&b), newest_first(want), "{q}");
    }
    let all_ids = newest_first(alice);
    let page = get("?page=2&page_size=3").await.json();
    assert_eq!(
        (
            page["page"].as_i64(),
            page["page_size"].as_i64(),
            page["total"].as_i64()
        ),
        (Some(2), Some(3), Some(all_ids.len() as i64))
    );
    assert_eq!(ids(&page), all_ids[3..6].to_vec());
    assert_eq!(
        ids(&get("?page=3&page_size=3").await.json()),
        all_ids[6..].to_vec()
    );
    assert!(ids(&get("?page=9").await.json()).is_empty());
    for bad in [
        "?page=0",
        "?page=-1",
        "?page_size=101",
        "?page_size=0",
        "?status_code=abc",
        "?start_date=2026-13-01",
        "?end_date=yesterday",
        "?api_key_id=x",
    ] {
        assert_eq!(get(bad).await.status, 400, "{bad}");
    }
    let bob = w
        .app
        .get_as(&w.bob.token, "/v1/users/me/api-logs")
        .await
        .json();
    assert_eq!(
        ids(&bob),
        newest_first(w.select(|e| e.user == "bob" && e.method.is_some()))
    );
    let res = w
        .app
        .call(
            "GET",
            "/v1/users/me/api-logs",
            &[("X-Admin-Key", ADMIN)],
            None,
        )
        .await;
    assert_eq!(res.status, 403);
}

#[actix_web::test]
async fn key_usage_counts_requests_and_lists_recent_ones() {
    let w = seeded().await;
    let (k1, _) = &w.alice.keys[0];
    let path = format!("/v1/api-keys/{k1}/usage");
    let res = w.app.get_as(&w.alice.token, &path).await;
    assert_eq!(res.status, 200);
    let b = res.json();
    let today = w.now.date();
    let call = |e: &Ev| e.key == *k1 && e.method.is_some();
    assert_eq!(
        b["requestsToday"],
        w.count(|e| call(e) && e.at.date() == today)
    );
    assert_eq!(
        b["requestsThisMonth"],
        w.count(|e| call(e) && e.at.month() == today.month() && e.at.year() == today.year())
    );
    assert_eq!(b["requestsTotal"], w.count(call));
    let mut mine = w.select(|e| e.key == *k1);
    mine.sort_by_key(|e| std::cmp::Reverse(e.at));
    let recent = b["recentRequests"].as_array().unwrap();
    assert_eq!(recent.len(), mine.len());
    for (r, e) in recent.iter().zip(&mine) {
        assert_eq!(r.as_object().unwrap().len(), 4);
        assert_eq!(
            (r["method"].as_str(), r["path"].as_str()),
            (e.method, e.path)
        );
        assert_eq!(r["statusCode"].as_u64(), e.status.map(u64::from));
    }
    assert_eq!(w.app.get_as(&w.root, &path).await.json(), b);
    assert_eq!(
        w.app.get_as(&w.alice.keys[1].1, &path).await.status,
        200,
        "a key of the same user"
    );
    assert_eq!(
        w.app.get_as(&w.alice.keys[0].1, &path).await.status,
        200,
        "the key itself"
    );
    assert_eq!(
        w.app.get_as(&w.bob.token, &path).await.status,
        404,
        "someone else's key"
    );
    assert_eq!(w.app.get_as(&w.carol.keys[0].1, &path).await.status, 404);
    assert_eq!(
        w.app
            .get_as(&w.root, "/v1/api-keys/999999/usage")
            .await
            .status,
        404
    );
    assert_eq!(
        w.app.get_as(&w.root, "/v1/api-keys/abc/usage").await.status,
        400
    );
    assert_eq!(w.app.get("/v1/api-keys/1/usage").await.status, 401);
}

/// `total` is exact from the rollups without method/status/path filters, however many events
/// there are; with one, the count stops at 10,000 and `total_exact` says so.
#[actix_web::test]
async fn api_log_totals_are_exact_or_say_they_are_bounded() {
    let w = seeded().await;
    let base = midnight(w.now.date()) - Duration::days(3);
    let (calls, batch) = (10_050, 1_000);
    let mut sent = 0;
    while sent < calls {
        let events: Vec<Value> = (sent..(sent + batch).min(calls))
            .map(|i| {
                json!({
                    "user_id": w.bob.id, "key_id": w.bob.keys[0].0, "method": "GET",
                    "path": "/api/v1/bots", "status_code": 200,
                    "occurred_at": (base + Duration::seconds(i)).format(&Rfc3339).unwrap(),
                })
            })
            .collect();
        sent += events.len() as i64;
        let res = w
            .app
            .admin("POST", "/v1/events", Some(json!({ "events": events })))
            .await;
        assert_eq!(res.status, 200, "{}", res.json());
    }
    let bob_calls = calls + w.count(|e| e.user == "bob" && e.method.is_some());
    let get = |q: &'static str| w.app.get_as(&w.bob.token, q);
    let all = get("/v1/users/me/api-logs").await.json();
    assert_eq!(
        (all["total"].as_i64(), &all["total_exact"]),
        (Some(bob_calls), &json!(true))
    );
    // A range with partial hours at both ends is still exact.
    let ranged = w
        .app
        .get_as(
            &w.bob.token,
            &format!(
                "/v1/users/me/api-logs?start_date={}&end_date={}",
                (base + Duration::minutes(30)).format(&Rfc3339).unwrap(),
                (base + Duration::minutes(150)).format(&Rfc3339).unwrap()
            ),
        )
        .await
        .json();
    assert_eq!(
        (ranged["total"].as_i64(), &ranged["total_exact"]),
        (Some(7_201), &json!(true))
    );
    let bounded = get("/v1/users/me/api-logs?status_code=200").await.json();
    assert_eq!(
        (bounded["total"].as_i64(), &bounded["total_exact"]),
        (Some(10_000), &json!(false))
    );
    assert_eq!(bounded["logs"].as_array().unwrap().len(), 20);
    let few = get("/v1/users/me/api-logs?status_code=201").await.json();
    assert_eq!(
        (few["total"].as_i64(), &few["total_exact"]),
        (
            Some(w.count(|e| e.user == "bob" && e.status == Some(201))),
            &json!(true)
        )
    );
}
