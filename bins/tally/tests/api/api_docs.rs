//! `GET /openapi.json` and the reference page `GET /docs/`: the document over plain HTTP, then
//! the page in a real headless Chromium, which must list the operations with nothing fetched
//! from anywhere but the server itself (the page works offline).

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::spawn_app;

#[actix_web::test]
async fn the_openapi_document_is_served_as_json_and_names_every_surface() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let doc: Value = res.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/health",
        "/live",
        "/captions",
        "/usage",
        "/v1/users/me/api-logs",
        "/api/v1/usage",
        "/api/data/self",
        "/v1/verify",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} is not in the document"
        );
    }
}

#[actix_web::test]
async fn the_reference_page_lists_the_operations_offline_in_chromium() {
    let app = spawn_app().await;
    let Some(browser) = Browser::start("api-docs", 1280, 900).await else {
        return;
    };
    browser.goto(&format!("{}/docs", app.address)).await;
    browser
        .wait_text(".swagger-ui .info .title", |t| t.contains("Tally"))
        .await;
    browser
        .wait_text(".swagger-ui", |t| {
            t.contains("/v1/verify") && t.contains("/captions")
        })
        .await;
    let operations = browser
        .js(
            "return document.querySelectorAll('.opblock').length",
            vec![],
        )
        .await;
    assert!(
        operations.as_u64().unwrap_or(0) >= 40,
        "the page lists {operations} operations"
    );
    let foreign = browser
        .js(
            "return performance.getEntriesByType('resource').map(r => r.name)\
             .filter(u => new URL(u).origin !== location.origin)",
            vec![],
        )
        .await;
    assert_eq!(foreign, Value::Array(vec![]), "fetched from elsewhere");
    browser.screenshot("operations").await;
}
