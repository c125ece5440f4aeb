//! Session tokens name their session by organisation and id; tokens issued before they did
//! keep working until they expire.

use serde_json::json;
use tally_auth::{JwtKeys, SessionClaims};
use tally_domain::tenancy::OrgId;
use time::OffsetDateTime;

use crate::helpers::{spawn_app, TestApp};

/// The `JWT_SECRET` of `test_config()`.
fn jwt() -> JwtKeys {
    JwtKeys::from_secret(b"test-secret")
}

fn claims_of(token: &str) -> SessionClaims {
    jwt()
        .verify_session(token, OffsetDateTime::now_utc())
        .expect("a session token of the test secret")
}

/// The same token re-signed with its claims changed by `change`.
fn resigned(token: &str, change: impl FnOnce(&mut SessionClaims)) -> String {
    let mut claims = claims_of(token);
    change(&mut claims);
    jwt().issue(claims).expect("signed")
}

async fn session_routes_answer(app: &TestApp, token: &str) {
    let res = app.bearer("GET", "/live", token, None).await;
    assert_eq!(res.status, 200, "GET /live");
    let res = app
        .bearer(
            "POST",
            "/mic",
            token,
            Some(json!({ "action": "claim", "clientId": "old-client" })),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["holder"].as_str()),
        (200, Some("old-client"))
    );
    let res = app
        .bearer("PATCH", "/live", token, Some(json!({ "sequence": 40 })))
        .await;
    assert_eq!(
        (res.status, res.json()["sequence"].as_i64()),
        (200, Some(40))
    );
    let res = app.captions(token, 2).await;
    assert_eq!(res.status, 202, "POST /captions");
    let res = app.bearer("GET", "/stats", token, None).await;
    assert_eq!(res.status, 200, "GET /stats");
}

#[actix_web::test]
async fn post_live_issues_tokens_that_name_the_sessions_organisation() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "Org" })).await;
    let (token, sid) = app.open(&key, "lcyt.fi").await;
    let claims = claims_of(&token);
    assert_eq!(claims.sid.as_str(), sid);
    assert_eq!(claims.org, Some(OrgId::default_org()));
    session_routes_answer(&app, &token).await;
}

#[actix_web::test]
async fn a_token_from_before_the_org_claim_works_until_its_session_ends() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "Old" })).await;
    let (token, sid) = app.open(&key, "lcyt.fi").await;
    let old = resigned(&token, |c| c.org = None);
    assert_eq!(claims_of(&old).org, None, "the old shape: sid and kid only");
    session_routes_answer(&app, &old).await;
    let mut events = app.sse(&format!("/events?token={old}"), None).await;
    let (name, data) = events.next().await;
    assert_eq!(
        (name.as_str(), data["sessionId"].as_str()),
        ("connected", Some(sid.as_str()))
    );
    let res = app.bearer("DELETE", "/live", &old, None).await;
    assert_eq!(res.status, 200, "DELETE /live with the old token");
    assert_eq!(
        events.next().await,
        ("session_closed".to_owned(), json!({}))
    );
    let res = app.bearer("GET", "/live", &old, None).await;
    assert_eq!(res.status, 401, "the ended session's old token");
    let res = app.bearer("GET", "/live", &token, None).await;
    assert_eq!(res.status, 401, "and its new one");
}

#[actix_web::test]
async fn a_token_naming_another_organisation_is_refused() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "Elsewhere" })).await;
    let (token, _) = app.open(&key, "lcyt.fi").await;
    let other = OrgId::parse("org_elsewhere").expect("an org id");
    let forged = resigned(&token, |c| c.org = Some(other));
    let res = app.bearer("GET", "/live", &forged, None).await;
    assert_eq!(res.status, 401);
    let res = app
        .bearer(
            "POST",
            "/mic",
            &forged,
            Some(json!({ "action": "claim", "clientId": "x" })),
        )
        .await;
    assert_eq!(res.status, 401);
    let res = app.bearer("GET", "/live", &token, None).await;
    assert_eq!(res.status, 200, "the genuine token still works");
}
