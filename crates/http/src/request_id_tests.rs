use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{error, test, web, App, HttpResponse};
use uuid::Uuid;

use super::*;

async fn ok(id: RequestId) -> HttpResponse {
    HttpResponse::Ok().body(id.as_str().to_owned())
}

async fn plain_error() -> Result<HttpResponse, actix_web::Error> {
    Err(error::ErrorConflict("plain text conflict"))
}

async fn plain_500() -> Result<HttpResponse, actix_web::Error> {
    Err(error::ErrorInternalServerError("secret cause"))
}

macro_rules! app {
    () => {
        test::init_service(
            App::new()
                .wrap(from_fn(request_id_middleware))
                .route("/ok", web::get().to(ok))
                .route("/plain", web::get().to(plain_error))
                .route("/plain500", web::get().to(plain_500)),
        )
        .await
    };
}

fn header_of(res: &ServiceResponse, name: &HeaderName) -> String {
    res.headers()
        .get(name)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn generates_an_id_when_absent_and_hands_it_to_handlers() {
    let app = app!();
    let res = test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
    let id = header_of(&res, &X_REQUEST_ID);
    assert!(Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(test::read_body(res).await, id.as_bytes());
}

#[actix_web::test]
async fn echoes_a_sane_incoming_id() {
    let app = app!();
    let req = test::TestRequest::get()
        .uri("/ok")
        .insert_header(("X-Request-Id", "edge-lb:42.a_b"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(header_of(&res, &X_REQUEST_ID), "edge-lb:42.a_b");
}

#[actix_web::test]
async fn replaces_an_insane_incoming_id() {
    let app = app!();
    for bad in ["", "has space", "<script>", &"x".repeat(129)] {
        let req = test::TestRequest::get()
            .uri("/ok")
            .insert_header(("X-Request-Id", bad))
            .to_request();
        let res = test::call_service(&app, req).await;
        let id = header_of(&res, &X_REQUEST_ID);
        assert!(Uuid::parse_str(&id).is_ok(), "{bad:?} -> {id}");
    }
}

#[actix_web::test]
async fn plain_error_responses_become_problem_json_with_the_id() {
    let app = app!();
    let res = test::call_service(&app, test::TestRequest::get().uri("/plain").to_request()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        header_of(&res, &header::CONTENT_TYPE),
        "application/problem+json"
    );
    assert!(res.headers().contains_key(&X_REQUEST_ID));
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["status"], 409);
    assert_eq!(body["error"], "Conflict");
    assert_eq!(body["detail"], "plain text conflict");
}

#[actix_web::test]
async fn plain_500s_keep_their_cause_out_of_the_body() {
    let app = app!();
    let req = test::TestRequest::get().uri("/plain500").to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "Internal Server Error");
    assert!(!body.to_string().contains("secret"));
}

#[actix_web::test]
async fn unknown_routes_and_wrong_methods_get_json_too() {
    let app = app!();
    let res = test::call_service(&app, test::TestRequest::get().uri("/nope").to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        header_of(&res, &header::CONTENT_TYPE),
        "application/problem+json"
    );
    let res = test::call_service(&app, test::TestRequest::post().uri("/ok").to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().contains_key(&X_REQUEST_ID));
}

#[actix_web::test]
async fn sanity_rule() {
    assert!(is_sane("a"));
    assert!(is_sane(&"a".repeat(128)));
    assert!(!is_sane(&"a".repeat(129)));
    assert!(!is_sane("a/b"));
}
