//! The error model seen from outside: problem bodies, 404 for unknown routes, request ids.

use uuid::Uuid;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn unknown_routes_are_404_problem_json() {
    let app = spawn_app().await;
    for path in ["/nope", "/health/extra", "/v1/does-not-exist?x=1"] {
        let res = app.get(path).await;
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let body = res.json();
        assert_eq!(body["error"], "Not found");
        assert_eq!(body["status"], 404);
        assert_eq!(body["title"], "Not Found");
        assert_eq!(body["type"], "about:blank");
    }
    let res = app
        .send_raw("POST", "/nope", "application/json", "{not json")
        .await;
    assert_eq!(res.status, 404);
}

#[actix_web::test]
async fn every_response_has_a_request_id() {
    let app = spawn_app().await;
    for res in [app.get_health().await, app.get("/nope").await] {
        let id = res.header("x-request-id").expect("X-Request-Id");
        assert!(Uuid::parse_str(id).is_ok(), "{id}");
    }
    let a = app.get_health().await;
    let b = app.get_health().await;
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[actix_web::test]
async fn a_sane_incoming_request_id_is_echoed_and_an_insane_one_replaced() {
    let app = spawn_app().await;
    let res = app
        .get_with_header("/health", "X-Request-Id", "gw-7f3a.1")
        .await;
    assert_eq!(res.header("x-request-id"), Some("gw-7f3a.1"));
    let res = app
        .get_with_header("/nope", "X-Request-Id", "gw-7f3a.2")
        .await;
    assert_eq!(res.header("x-request-id"), Some("gw-7f3a.2"));
    let res = app
        .get_with_header("/health", "X-Request-Id", "<bad id>")
        .await;
    let id = res.header("x-request-id").unwrap();
    assert!(Uuid::parse_str(id).is_ok(), "{id}");
}

#[actix_web::test]
async fn json_bodies_must_be_declared_json_on_every_route() {
    let app = spawn_app().await;
    for (method, path) in [
        ("POST", "/live"),
        ("POST", "/captions"),
        ("PATCH", "/live"),
        ("POST", "/mic"),
        ("POST", "/keys"),
        ("POST", "/usage"),
        ("POST", "/v1/verify"),
        ("POST", "/v1/events"),
    ] {
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let res = app.send_raw(method, path, content_type, "{}").await;
            assert_eq!(res.status, 415, "{method} {path} as {content_type}");
            assert_eq!(res.json()["error"], "Content-Type must be application/json");
        }
    }
    // `+json` types and parameters are JSON; bodiless requests declare nothing.
    let res = app
        .send_raw("POST", "/live", "application/json; charset=utf-8", "{}")
        .await;
    assert_eq!(res.status, 400, "validated, not refused");
    let res = app
        .send_raw("POST", "/live", "application/merge-patch+json", "{}")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(app.call("POST", "/sync", &[], None).await.status, 401);
}
