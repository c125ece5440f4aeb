//! The dashboard under `/ui/`: its embedded files over plain HTTP, then the pages in a real
//! headless Chromium (`browser`) against a seeded server — every number on screen checked
//! against what the API answers for the same question, every action checked through the API
//! (the admin's pages are in `ui_admin`). Each browser test saves screenshots under
//! `target/ui-screenshots/`.

use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::browser::Browser;
use crate::helpers::{spawn_app, spawn_on, test_config, TestApp};
use crate::lcyt_client::ADMIN;
use crate::seed_client::seeded;

pub fn day(t: OffsetDateTime) -> String {
    t.date().to_string()
}

/// The four totals the dashboard shows, summed from `/v1/analytics` rows.
pub fn totals(rows: &Value) -> [f64; 4] {
    let mut t = [0.0; 4];
    for r in rows["rows"].as_array().unwrap() {
        for (i, m) in ["count", "units", "tokens", "cost_usd"].iter().enumerate() {
            t[i] += r[m].as_f64().unwrap();
        }
    }
    t
}

/// A number as the dashboard prints it (`1,234`, `$0.5043`).
pub fn number(text: &str) -> f64 {
    text.trim()
        .replace([',', '$'], "")
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a number: {e}"))
}

/// The tiles `#<prefix>-count|units|tokens|cost_usd`, as numbers.
pub async fn tiles(browser: &Browser, prefix: &str) -> [f64; 4] {
    let mut t = [0.0; 4];
    for (i, m) in ["count", "units", "tokens", "cost_usd"].iter().enumerate() {
        t[i] = number(&browser.wait_text(&format!("#{prefix}-{m}"), |_| true).await);
    }
    t
}

pub fn assert_same(ui: [f64; 4], api: [f64; 4], what: &str) {
    for i in 0..4 {
        assert!(
            (ui[i] - api[i]).abs() < 1e-9,
            "{what}: dashboard shows {ui:?}, the API says {api:?}"
        );
    }
}

pub async fn sign_in_admin(browser: &Browser, app: &TestApp) {
    browser.goto(&format!("{}/ui/", app.address)).await;
    browser.click("input[name=kind][value=admin]").await;
    browser.fill("#secret", ADMIN).await;
    browser.click("#sign-in-form button[type=submit]").await;
    browser
        .wait_text("#whoami-name", |t| t.contains("admin"))
        .await;
}

pub async fn sign_in_token(browser: &Browser, app: &TestApp, token: &str) {
    browser.goto(&format!("{}/ui/", app.address)).await;
    browser.click("input[name=kind][value=token]").await;
    browser.fill("#secret", token).await;
    browser.click("#sign-in-form button[type=submit]").await;
}

pub async fn verify(app: &TestApp, key: &str, units: i64) -> (u16, Value) {
    let res = app
        .admin(
            "POST",
            "/v1/verify",
            Some(json!({ "key": key, "units": units })),
        )
        .await;
    (res.status, res.json())
}

#[actix_web::test]
async fn ui_files_are_embedded_with_types_caching_and_a_strict_csp() {
    let app = spawn_app().await;
    let no_redirects = awc::Client::builder().disable_redirects().finish();
    let root = crate::helpers::send(no_redirects.get(format!("{}/ui", app.address)), None).await;
    assert_eq!(root.status, 308);
    assert_eq!(root.header("location"), Some("/ui/"));

    let index = app.get("/ui/").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    let csp = index.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8(index.body.clone()).unwrap();
    assert!(html.contains(r#"<script type="module" src="/ui/js/app.js">"#));
    assert!(!html.contains("<script>"), "no inline script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );

    for (path, kind) in [
        ("/ui/js/app.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
        (
            "/ui/vendor/uplot/uPlot.esm.js",
            "text/javascript; charset=utf-8",
        ),
        ("/ui/vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let res = app.get(path).await;
        assert_eq!(
            (res.status, res.header("content-type")),
            (200, Some(kind)),
            "{path}"
        );
        let etag = res.header("etag").unwrap().to_owned();
        let again = app.get_with_header(path, "If-None-Match", &etag).await;
        assert_eq!(again.status, 304, "{path} revalidates");
        assert!(again.body.is_empty());
    }
    let uplot = app.get("/ui/vendor/uplot/uPlot.esm.js").await;
    assert!(String::from_utf8_lossy(&uplot.body).contains("(v1.6.32)"));

    let missing = app.get("/ui/js/nope.js").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "Not found");
    assert_eq!(app.get("/ui/../Cargo.toml").await.status, 404);
}

#[actix_web::test]
async fn ui_overview_shows_what_the_analytics_api_answers() {
    let world = seeded().await;
    let app = &world.app;
    let Some(browser) = Browser::start("overview", 1280, 1000).await else {
        return;
    };
    sign_in_admin(&browser, app).await;

    let now = OffsetDateTime::now_utc();
    let today = day(now);
    let tomorrow = day(now + Duration::days(1));
    let api_today = app
        .admin(
            "GET",
            &format!("/v1/analytics?from={today}&to={tomorrow}&granularity=day"),
            None,
        )
        .await;
    let expected = totals(&api_today.json());
    let seeded_today = world.count(|e| e.at.date() == now.date());
    assert!(seeded_today > 0);
    assert!((expected[0] - f64::from(u32::try_from(seeded_today).unwrap())).abs() < 1e-9);
    assert_same(tiles(&browser, "today").await, expected, "today");

    // The default range: the last seven UTC days, today included.
    let from = day(now - Duration::days(6));
    let week = app
        .admin(
            "GET",
            &format!("/v1/analytics?from={from}&to={tomorrow}&granularity=day"),
            None,
        )
        .await;
    assert_same(
        tiles(&browser, "range").await,
        totals(&week.json()),
        "range",
    );
    browser.find("#chart canvas").await;

    // Stacked by model: one breakdown row per model the API returns.
    browser.select("#ov-group_by", "model").await;
    browser.select("#ov-metric", "tokens").await;
    browser.click("#overview-form button[type=submit]").await;
    let by_model = app
        .admin(
            "GET",
            &format!("/v1/analytics?from={from}&to={tomorrow}&group_by=model"),
            None,
        )
        .await
        .json();
    let mut models: Vec<String> = by_model["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap_or("(none)").to_owned())
        .collect();
    models.sort();
    models.dedup();
    let table = browser
        .wait_text("#breakdown", |t| {
            t.contains("gpt-4") && t.contains("claude")
        })
        .await;
    for m in &models {
        assert!(table.contains(m.as_str()), "{m} missing from\n{table}");
    }
    let rows = browser
        .js(
            "return document.querySelectorAll('#breakdown tbody tr').length",
            vec![],
        )
        .await;
    assert_eq!(rows.as_u64(), Some(models.len() as u64));
    browser
        .wait_text(".u-legend", |t| t.contains("gpt-4"))
        .await;
    browser.screenshot("by-model").await;

    // Stacked by key: rows named after the keys.
    browser.select("#ov-group_by", "key").await;
    browser.click("#overview-form button[type=submit]").await;
    let (alice_prod, _) = world.alice.keys[0];
    browser
        .wait_text("#breakdown", |t| {
            t.contains(&format!("#{alice_prod} alice-prod"))
        })
        .await;

    // Hour granularity over a two-day range: 48 buckets, the same totals.
    let yesterday = day(now - Duration::days(1));
    browser.fill("#ov-from", "").await;
    browser
        .js(
            "document.getElementById('ov-from').value = arguments[0]",
            vec![json!(yesterday)],
        )
        .await;
    browser.select("#ov-granularity", "hour").await;
    browser.select("#ov-group_by", "").await;
    browser.click("#overview-form button[type=submit]").await;
    browser
        .wait_text("#range", |t| t.contains("48 hour buckets"))
        .await;
    let two_days = app
        .admin(
            "GET",
            &format!("/v1/analytics?from={yesterday}&to={tomorrow}&granularity=hour"),
            None,
        )
        .await;
    assert_same(
        tiles(&browser, "range").await,
        totals(&two_days.json()),
        "hours",
    );
    browser.screenshot("hourly").await;
}

#[actix_web::test]
async fn ui_a_user_sees_only_their_own_data_at_phone_width() {
    let world = seeded().await;
    let app = &world.app;
    let Some(browser) = Browser::start("user", 390, 844).await else {
        return;
    };
    sign_in_token(&browser, app, "not-a-token").await;
    browser
        .wait_text("#sign-in-status", |t| t.contains("not a user token"))
        .await;
    sign_in_token(&browser, app, &world.alice.token).await;
    browser.wait_text("#whoami-name", |t| t == "alice").await;
    let users_link_shown = browser
        .js(
            "return document.querySelector('a[data-page=users]').offsetParent !== null",
            vec![],
        )
        .await;
    assert_eq!(users_link_shown, json!(false));

    let now = OffsetDateTime::now_utc();
    let (today, tomorrow) = (day(now), day(now + Duration::days(1)));
    let path = format!("/v1/analytics?from={today}&to={tomorrow}");
    let mine = totals(&app.get_as(&world.alice.token, &path).await.json());
    let everyone = totals(&app.admin("GET", &path, None).await.json());
    let alice_today = world.count(|e| e.user == "alice" && e.at.date() == now.date());
    assert!((mine[0] - f64::from(u32::try_from(alice_today).unwrap())).abs() < 1e-9);
    assert!(everyone[0] > mine[0], "the dataset has others' usage today");
    assert_same(tiles(&browser, "today").await, mine, "alice today");
    browser.screenshot("overview").await;

    // The users page is not hers: its route falls back to the overview.
    browser.goto(&format!("{}/ui/#/users", app.address)).await;
    browser.find("#today-count").await;
    assert!(!browser.exists("#users-table").await);

    browser.click("a[data-page=keys]").await;
    browser.find("#keys-table").await;
    let ids = browser
        .js(
            "return [...document.querySelectorAll('#keys-table tbody tr')].map(r => Number(r.dataset.keyId))",
            vec![],
        )
        .await;
    let alice: Vec<i64> = world.alice.keys.iter().map(|k| k.0).collect();
    assert_eq!(ids, json!(alice));
    assert!(!browser.exists("#new-key-form").await, "no admin actions");
    assert!(!browser.exists("button[data-action=revoke]").await);
    browser.screenshot("keys").await;

    browser.click("a[data-page=logs]").await;
    let calls = world.count(|e| e.user == "alice" && e.method.is_some());
    browser
        .wait_text("#logs-page", |t| t.contains(&format!("· {calls} calls")))
        .await;
    let paths = browser
        .js(
            "return [...document.querySelectorAll('#logs-table tbody tr td:nth-child(3)')].map(c => c.innerText)",
            vec![],
        )
        .await;
    let own: Vec<&str> = world
        .select(|e| e.user == "alice")
        .iter()
        .filter_map(|e| e.path)
        .collect();
    let shown = paths.as_array().unwrap();
    assert_eq!(shown.len() as i64, calls);
    assert!(
        shown.iter().all(|p| own.contains(&p.as_str().unwrap())),
        "{paths}"
    );
    browser.select("#logs-method", "POST").await;
    browser.click("#logs-form button[type=submit]").await;
    let posts = world.count(|e| e.user == "alice" && e.method == Some("POST"));
    browser
        .wait_text("#logs-page", |t| t.contains(&format!("· {posts} calls")))
        .await;
    browser.screenshot("logs").await;

    // Paging: 20 more calls of hers make two pages of 20.
    let extra: Vec<Value> = (0..20)
        .map(|i| json!({ "method": "PUT", "path": format!("/extra/{i}"), "status_code": 200 }))
        .collect();
    let res = app
        .bearer(
            "POST",
            "/v1/events",
            &world.alice.token,
            Some(json!({ "events": extra })),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    browser.select("#logs-method", "").await;
    browser.click("#logs-form button[type=submit]").await;
    let all = calls + 20;
    browser
        .wait_text("#logs-page", |t| t == format!("Page 1 of 2 · {all} calls"))
        .await;
    browser.click(".pager button:last-child").await;
    browser
        .wait_text("#logs-page", |t| t == format!("Page 2 of 2 · {all} calls"))
        .await;
    let rows = browser
        .js(
            "return document.querySelectorAll('#logs-table tbody tr').length",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(all - 20));
}

#[actix_web::test]
async fn ui_sign_in_by_keyboard_and_the_apis_503_and_401_are_shown() {
    let mut config = test_config();
    config.admin_key = None;
    let app = spawn_on(&config);
    let Some(browser) = Browser::start("errors", 800, 700).await else {
        return;
    };
    browser.goto(&format!("{}/ui/", app.address)).await;
    // Typed and submitted from the keyboard (Enter), as without a mouse.
    browser.fill("#secret", "some-admin-key\u{E007}").await;
    browser
        .wait_text("#sign-in-status", |t| {
            t.contains("Tally is unavailable") && t.contains("Admin API not configured")
        })
        .await;
    browser.screenshot("not-configured").await;

    // A token that stops working mid-session (its user erased) sends the tab back to sign-in.
    let app = spawn_app().await;
    let (user, _, token) = app.seed_user("erin", None, "user").await;
    sign_in_token(&browser, &app, &token).await;
    browser.wait_text("#whoami-name", |t| t == "erin").await;
    let res = app
        .admin("DELETE", &format!("/v1/users/{user}/data"), None)
        .await;
    assert_eq!(res.status, 200);
    browser.click("a[data-page=keys]").await;
    browser
        .wait_text("#sign-in-status", |t| {
            t.contains("Signed out") && t.contains("Invalid or expired token")
        })
        .await;
    let stored = browser
        .js("return sessionStorage.getItem('tally.credential')", vec![])
        .await;
    assert_eq!(stored, Value::Null, "the dead credential is forgotten");
    browser.screenshot("signed-out").await;

    // The admin key is nobody on the request logs: the API's 403, explained.
    sign_in_admin(&browser, &app).await;
    browser.click("a[data-page=logs]").await;
    let text = browser
        .wait_text("#logs-results", |t| t.contains("Request logs are per user"))
        .await;
    assert!(text.contains("Not allowed"), "{text}");
    browser.screenshot("forbidden").await;
}
