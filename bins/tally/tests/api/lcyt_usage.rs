//! `GET /usage` (per-site analytics): auth modes, validation, rows, CORS.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::lcyt_keys::spawn_app_with;

#[actix_web::test]
async fn usage_needs_the_admin_key_unless_public() {
    let none = spawn_app_with(&[]);
    let res = none.call("GET", "/usage", &[], None).await;
    assert_eq!(res.status, 503);
    assert_eq!(
        res.json()["error"],
        "Usage stats are not publicly available. Set USAGE_PUBLIC or ADMIN_KEY."
    );
    let app = spawn_app().await;
    assert_eq!(app.call("GET", "/usage", &[], None).await.status, 401);
    assert_eq!(
        app.call("GET", "/usage", &[("X-Admin-Key", "no")], None)
            .await
            .status,
        403
    );
    let res = app.admin("GET", "/usage", None).await;
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(
        (body["granularity"].as_str(), body["public"].as_bool()),
        (Some("day"), Some(false))
    );
    let (from, to) = (body["from"].as_str().unwrap(), body["to"].as_str().unwrap());
    let span = time::Date::parse(
        to,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap()
        - time::Date::parse(
            from,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap();
    assert_eq!(span.whole_days(), 30, "from defaults to 30 days before to");
}

#[actix_web::test]
async fn usage_validates_dates_ranges_and_granularity() {
    let app = spawn_app().await;
    for (q, needle) in [
        ("from=2026-02-30", "from must be a valid date"),
        ("to=2026-13-01", "to must be a valid date"),
        ("from=26-01-01", "from must be a valid date"),
        ("from=2026-03-02&to=2026-03-01", "from must be <= to"),
        ("from=2025-01-01&to=2026-01-02", "366 days"),
        ("granularity=week", "granularity must be hour or day"),
        ("domain=a%20b", "domain"),
    ] {
        let res = app.admin("GET", &format!("/usage?{q}"), None).await;
        assert_eq!(res.status, 400, "{q}");
        assert!(
            res.json()["error"].as_str().unwrap().contains(needle),
            "{q}: {}",
            res.json()
        );
    }
    assert_eq!(
        app.admin("GET", "/usage?from=2025-01-01&to=2026-01-01", None)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn usage_rows_by_day_and_hour_with_a_domain_filter() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (t1, _) = app.open(&key, "lcyt.fi").await;
    let (t2, _) = app.open(&key, "http://localhost:5173").await;
    app.bearer("DELETE", "/live", &t2, None).await;
    let _ = t1;
    let day = app.admin("GET", "/usage", None).await.json();
    let rows = day["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let lcyt = rows
        .iter()
        .find(|r| r["domain"] == "https://lcyt.fi")
        .unwrap();
    assert_eq!(
        (
            lcyt["sessions_started"].as_u64(),
            lcyt["peak_sessions"].as_u64(),
            lcyt.get("hour")
        ),
        (Some(1), Some(1), None)
    );
    let local = rows
        .iter()
        .find(|r| r["domain"] == "http://localhost:5173")
        .unwrap();
    assert_eq!(local["sessions_ended"], 1);
    let hour = app
        .admin("GET", "/usage?granularity=hour&domain=lcyt.fi", None)
        .await
        .json();
    let rows = hour["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["hour"].as_u64().unwrap() < 24);
    assert_eq!(hour["granularity"], "hour");
}

#[actix_web::test]
async fn closed_past_ranges_may_be_cached_and_todays_may_not() {
    let app = spawn_app().await;
    let today = app.admin("GET", "/usage", None).await;
    assert_eq!(today.status, 200);
    assert_eq!(today.header("cache-control"), Some("no-store"));
    let past = app
        .admin("GET", "/usage?from=2025-01-01&to=2025-01-31", None)
        .await;
    assert_eq!(past.status, 200);
    assert_eq!(
        past.header("cache-control"),
        Some("private, max-age=1800, stale-while-revalidate=3600")
    );
    let public = crate::lcyt_keys::spawn_app_with(&[("USAGE_PUBLIC", "1")]);
    let res = public.get("/usage?from=2025-01-01&to=2025-01-31").await;
    assert_eq!(
        res.header("cache-control"),
        Some("public, max-age=1800, stale-while-revalidate=3600")
    );
}

#[actix_web::test]
async fn public_usage_answers_cors_and_rows_only_for_allowed_domains() {
    let app = spawn_app_with(&[
        ("ADMIN_KEY", "test-admin-key"),
        ("USAGE_PUBLIC", "1"),
        ("ALLOWED_DOMAINS", "a.example,localhost"),
    ]);
    let key = app.new_key(json!({ "owner": "A" })).await;
    app.open(&key, "https://a.example").await;
    app.open(&key, "localhost").await;
    let res = app
        .call("GET", "/usage", &[("Origin", "https://a.example")], None)
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    assert_eq!(res.json()["public"], true);
    let res = app
        .call("GET", "/usage", &[("Origin", "https://evil.example")], None)
        .await;
    assert_eq!(res.status, 200);
    assert!(res.header("access-control-allow-origin").is_none());

    let narrow = spawn_app_with(&[
        ("ADMIN_KEY", "test-admin-key"),
        ("USAGE_PUBLIC", "1"),
        ("ALLOWED_DOMAINS", "a.example"),
    ]);
    let key = narrow.new_key(json!({ "owner": "A" })).await;
    narrow.open(&key, "https://a.example").await;
    let rows = narrow.call("GET", "/usage", &[], None).await.json()["data"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["domain"], "https://a.example");
}
