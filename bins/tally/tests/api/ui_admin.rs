//! The dashboard's admin pages in headless Chromium: keys (create, use, limits, revoke), users
//! (token, erasure) and sites, each action checked through the API.

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::helpers::spawn_app;
use crate::ui::{sign_in_admin, verify};

#[actix_web::test]
async fn ui_admin_creates_a_key_changes_its_limit_and_revokes_it() {
    let app = spawn_app().await;
    let Some(browser) = Browser::start("keys", 1280, 1000).await else {
        return;
    };
    // Refusals are the API's own messages.
    browser.goto(&format!("{}/ui/", app.address)).await;
    browser.fill("#secret", "wrong-admin-key").await;
    browser.click("#sign-in-form button[type=submit]").await;
    browser
        .wait_text("#sign-in-status", |t| t.contains("Invalid admin key"))
        .await;
    browser.screenshot("refused").await;

    sign_in_admin(&browser, &app).await;
    browser.click("a[data-page=keys]").await;
    browser
        .wait_text("#keys-list", |t| t.contains("No keys yet"))
        .await;
    browser.fill("#new-key-name", "ui-key").await;
    browser.fill("#new-key-daily", "5").await;
    browser.click("#new-key-form button[type=submit]").await;
    let secret = browser
        .wait_text("#new-key-secret", |t| t.starts_with("tk_"))
        .await;
    browser.click("#keys-notice .secret button").await;
    browser
        .wait_text("#keys-notice .secret [role=status]", |t| {
            t.contains("Copied") || t.contains("Selected")
        })
        .await;
    let keys = app.admin("GET", "/v1/keys", None).await.json();
    let id = keys["keys"][0]["id"].as_i64().unwrap();
    assert_eq!(keys["keys"][0]["name"], "ui-key");
    assert_eq!(keys["keys"][0]["daily_limit"], 5);

    let (status, body) = verify(&app, &secret, 2).await;
    assert_eq!(
        (status, &body["remaining"]["daily"]),
        (200, &json!(3)),
        "{body}"
    );
    browser.click("#keys-refresh").await;
    let row = format!("tr[data-key-id='{id}']");
    let text = browser
        .wait_text(&row, |t| t.contains("2 / 5") && t.contains("2 (no limit)"))
        .await;
    assert!(text.contains("active"), "{text}");
    let meter = browser
        .js(
            "const m = document.querySelector(arguments[0] + ' meter'); return [m.value, m.max]",
            vec![json!(row)],
        )
        .await;
    assert_eq!(meter, json!([2, 5]));
    browser.screenshot("created").await;

    browser
        .click(&format!("{row} button[data-action=limits]"))
        .await;
    browser.fill("#edit-daily", "2").await;
    browser.fill("#edit-lifetime", "100").await;
    browser.click("#edit-limits-form button[type=submit]").await;
    browser
        .wait_text(&row, |t| t.contains("2 / 2") && t.contains("2 / 100"))
        .await;
    let key = app
        .admin("GET", &format!("/v1/keys/{id}"), None)
        .await
        .json();
    assert_eq!(
        (
            &key["daily_limit"],
            &key["lifetime_limit"],
            &key["lifetime_used"]
        ),
        (&json!(2), &json!(100), &json!(2))
    );
    let (status, body) = verify(&app, &secret, 1).await;
    assert_eq!(
        (status, &body["code"]),
        (429, &json!("DAILY_LIMIT_EXCEEDED"))
    );

    browser
        .click(&format!("{row} button[data-action=revoke]"))
        .await;
    browser
        .wait_text("#confirm-body", |t| t.contains(&format!("Key #{id}")))
        .await;
    browser.screenshot("revoke-confirm").await;
    browser.click("#confirm-ok").await;
    browser.wait_text(&row, |t| t.contains("revoked")).await;
    let (status, body) = verify(&app, &secret, 1).await;
    assert_eq!((status, &body["code"]), (401, &json!("REVOKED")));
    browser.screenshot("revoked").await;
}

#[actix_web::test]
async fn ui_admin_creates_a_user_issues_a_token_and_erases_them() {
    let app = spawn_app().await;
    let Some(browser) = Browser::start("users", 1280, 1000).await else {
        return;
    };
    sign_in_admin(&browser, &app).await;
    browser.click("a[data-page=users]").await;
    browser
        .wait_text("#erasures", |t| t.contains("No erasures yet"))
        .await;
    browser.fill("#new-user-name", "dora").await;
    browser.fill("#new-user-email", "dora@example.com").await;
    browser.click("#new-user-form button[type=submit]").await;
    browser
        .wait_text("tr[data-username=dora]", |t| t.contains("dora@example.com"))
        .await;
    let users = app.admin("GET", "/v1/users", None).await.json();
    let user = users["users"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(users["users"][0]["username"], "dora");
    let key = app
        .admin(
            "POST",
            "/v1/keys",
            Some(json!({ "user_id": user, "name": "dora-key" })),
        )
        .await
        .json();
    let key_id = key["id"].as_i64().unwrap();

    browser
        .click("tr[data-username=dora] button[data-action=token]")
        .await;
    let token = browser
        .wait_text("#new-token", |t| t.starts_with("eyJ"))
        .await;
    assert_eq!(
        app.get_as(&token, &format!("/v1/users/{user}"))
            .await
            .status,
        200
    );
    browser.screenshot("token").await;

    browser
        .click("tr[data-username=dora] button[data-action=erase]")
        .await;
    let warning = browser
        .wait_text("#confirm-body", |t| t.contains("dora-key"))
        .await;
    assert!(
        warning.contains("dora@example.com") && warning.contains(&format!("#{key_id}")),
        "{warning}"
    );
    browser.screenshot("erase-confirm").await;
    browser.click("#confirm-ok").await;
    browser
        .wait_text(&format!("tr[data-user-id='{user}']"), |t| {
            t.contains("erased")
        })
        .await;
    browser
        .wait_text("#erasures-table", |t| t.contains(&format!("#{key_id}")))
        .await;
    let erased = app
        .admin("GET", &format!("/v1/users/{user}"), None)
        .await
        .json();
    assert!(erased["erased_at"].is_string(), "{erased}");
    assert_eq!(
        app.get_as(&token, &format!("/v1/users/{user}"))
            .await
            .status,
        401
    );
    browser.screenshot("erased").await;
}

#[actix_web::test]
async fn ui_sites_page_shows_the_site_rollups_of_usage() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "site" })).await;
    for domain in ["https://lcyt.fi", "https://www.lcyt.fi"] {
        let (token, _) = app.open(&key, domain).await;
        assert_eq!(app.captions(&token, 3).await.status, 202);
    }
    // Delivery is asynchronous: wait until the rollups hold all six captions.
    let mut usage = Value::Null;
    let mut sent = 0;
    for _ in 0..100 {
        usage = app.admin("GET", "/usage", None).await.json();
        sent = usage["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["captions_sent"].as_i64().unwrap())
            .sum::<i64>();
        if sent == 6 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 6, "{usage}");
    let Some(browser) = Browser::start("sites", 1280, 1000).await else {
        return;
    };
    sign_in_admin(&browser, &app).await;
    browser.click("a[data-page=sites]").await;
    browser.find("#sites-table").await;
    browser.find("#sites .chart canvas").await;
    for row in usage["data"].as_array().unwrap() {
        let domain = row["domain"].as_str().unwrap();
        let text = browser
            .wait_text(&format!("tr[data-domain='{domain}']"), |_| true)
            .await;
        let cells: Vec<&str> = text.split('\t').map(str::trim).collect();
        assert_eq!(
            cells[..4],
            [
                domain,
                &row["captions_sent"].to_string(),
                &row["captions_failed"].to_string(),
                &row["sessions_started"].to_string()
            ],
            "{text}"
        );
    }
    browser.screenshot("sites").await;
}
