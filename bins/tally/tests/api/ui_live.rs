//! The dashboard's Live page (open sessions over `GET /v1/sessions/events`) and Organisations
//! page in headless Chromium: a session's mic holder changes on screen without a reload, a user
//! sees only their own keys' sessions, and an organisation created on the page is in the API.

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::lcyt_keys::spawn_app_with;
use crate::ui::{sign_in_admin, sign_in_token};

fn app() -> TestApp {
    spawn_app_with(&[
        ("ADMIN_KEY", "test-admin-key"),
        ("ALLOWED_DOMAINS", "studio.example,other.example"),
    ])
}

async fn claim(app: &TestApp, token: &str, holder: &str) {
    let res = app
        .bearer(
            "POST",
            "/mic",
            token,
            Some(json!({ "action": "claim", "clientId": holder })),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["holder"], holder);
}

/// The text of a cell of the Live table's row for `session`.
fn cell(session: &str, css: &str) -> String {
    format!("#live-table tr[data-session-id='{session}'] {css}")
}

#[actix_web::test]
async fn ui_live_page_watches_a_sessions_mic_holder_change_live() {
    let app = app();
    let (alice, _, alice_token) = app.seed_user("alice", None, "user").await;
    let (bob, _, _) = app.seed_user("bob", None, "user").await;
    let (alice_key_id, alice_key) = app.seed_key(&alice, Some("alice-studio")).await;
    let (_, bob_key) = app.seed_key(&bob, Some("bob-studio")).await;
    let (_, bob_session) = app.open(&bob_key, "https://other.example").await;
    let Some(browser) = Browser::start("live", 1280, 900).await else {
        return;
    };
    sign_in_admin(&browser, &app).await;
    browser.click("a[data-page=live]").await;
    browser.find(&cell(&bob_session, "td")).await;
    browser
        .wait_text("#live-status", |t| t.starts_with("Live"))
        .await;
    // A marker that a reload would wipe: everything below must happen in this same page.
    browser.js("window.__sameLivePage = true", vec![]).await;

    // A session opened now appears by itself (the stream lists again every few seconds).
    let (session_token, session) = app.open(&alice_key, "https://studio.example").await;
    let row = browser
        .wait_text(
            &format!("#live-table tr[data-session-id='{session}']"),
            |_| true,
        )
        .await;
    assert!(row.contains("https://studio.example"), "{row}");
    assert!(row.contains(&format!("#{alice_key_id}")), "{row}");
    browser
        .wait_text(&cell(&session, "td.mic"), |t| t.contains("free"))
        .await;

    // The mic holder changes on screen as POST /mic changes it.
    claim(&app, &session_token, "laptop-1").await;
    browser
        .wait_text(&cell(&session, "td.mic"), |t| t == "laptop-1")
        .await;
    browser.screenshot("mic-laptop").await;
    claim(&app, &session_token, "studio-desk").await;
    browser
        .wait_text(&cell(&session, "td.mic"), |t| t == "studio-desk")
        .await;
    // Captions update the counts (and with them the rate).
    assert_eq!(app.captions(&session_token, 4).await.status, 202);
    browser
        .wait_text(&cell(&session, "td:nth-child(4)"), |t| t == "4")
        .await;
    let rate = browser
        .wait_text(&cell(&session, "td.rate"), |_| true)
        .await;
    assert!(
        rate.parse::<f64>().is_ok_and(|r| r > 0.0 && r <= 4.0),
        "{rate}"
    );
    let same = browser
        .js("return window.__sameLivePage === true", vec![])
        .await;
    assert_eq!(same, json!(true), "the page was not reloaded");
    browser.screenshot("mic-studio").await;

    // Ending the session takes its row away; Bob's stays.
    let res = app.bearer("DELETE", "/live", &session_token, None).await;
    assert_eq!(res.status, 200);
    browser
        .wait_text("#live-table tbody", |t| !t.contains("studio.example"))
        .await;
    assert!(browser.exists(&cell(&bob_session, "td")).await);

    // Alice sees her own sessions only, at phone width too.
    let (session_token, session) = app.open(&alice_key, "https://studio.example").await;
    claim(&app, &session_token, "phone").await;
    let Some(phone) = Browser::start("live-user", 390, 844).await else {
        return;
    };
    sign_in_token(&phone, &app, &alice_token).await;
    phone.wait_text("#whoami-name", |t| t == "alice").await;
    phone.click("a[data-page=live]").await;
    phone
        .wait_text(&cell(&session, "td.mic"), |t| t == "phone")
        .await;
    let rows = phone
        .js(
            "return [...document.querySelectorAll('#live-table tbody tr')].map(r => r.dataset.sessionId)",
            vec![],
        )
        .await;
    assert_eq!(rows, json!([session]), "never Bob's session");
    phone.screenshot("own-sessions").await;
    let res = app.bearer("DELETE", "/live", &session_token, None).await;
    assert_eq!(res.status, 200);
    phone
        .wait_text("#live-sessions", |t| t.contains("No open sessions"))
        .await;
    phone.screenshot("empty").await;
}

#[actix_web::test]
async fn ui_admin_lists_and_creates_organisations() {
    let app = app();
    let Some(browser) = Browser::start("orgs", 1280, 900).await else {
        return;
    };
    sign_in_admin(&browser, &app).await;
    browser.click("a[data-page=orgs]").await;
    browser
        .wait_text("#orgs-table", |t| t.contains("org_default"))
        .await;
    browser.fill("#new-org-name", "Acme Captions").await;
    browser.fill("#new-org-id", "org_acme_ui").await;
    browser.click("#new-org-form button[type=submit]").await;
    browser
        .wait_text("#orgs-notice", |t| t.contains("org_acme_ui"))
        .await;
    let row = browser
        .wait_text("#orgs-table tr[data-org-id='org_acme_ui']", |_| true)
        .await;
    assert!(row.contains("Acme Captions"), "{row}");
    let orgs = app.admin("GET", "/v1/orgs", None).await.json();
    let created = orgs["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "org_acme_ui")
        .cloned()
        .expect("the organisation is in the API");
    assert_eq!(created["name"], "Acme Captions");

    // The same id again: the API's 409, shown on the form.
    browser.fill("#new-org-name", "Again").await;
    browser.fill("#new-org-id", "org_acme_ui").await;
    browser.click("#new-org-form button[type=submit]").await;
    browser
        .wait_text("#new-org-form .message", |t| t.contains("409"))
        .await;
    browser.screenshot("orgs").await;
}
