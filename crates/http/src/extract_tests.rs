use actix_web::http::header;
use actix_web::{test, web, App, HttpResponse};
use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[expect(dead_code, reason = "only deserialised")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MicBody {
    client_id: String,
    count: u32,
}

#[derive(Debug, Deserialize)]
#[expect(dead_code, reason = "only deserialised")]
struct Page {
    limit: u32,
}

async fn echo_json(_: web::Json<MicBody>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn echo_query(_: web::Query<Page>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn echo_path(_: web::Path<i64>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

macro_rules! app {
    () => {
        test::init_service(
            App::new()
                .configure(register)
                .route("/json", web::post().to(echo_json))
                .route("/query", web::get().to(echo_query))
                .route("/path/{id}", web::get().to(echo_path)),
        )
        .await
    };
}

macro_rules! problem {
    ($app:expr, $req:expr) => {
        read_problem(test::call_service(&$app, $req.to_request()).await).await
    };
}

async fn read_problem(res: actix_web::dev::ServiceResponse) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    let ct = res.headers().get(header::CONTENT_TYPE).cloned();
    assert_eq!(ct.unwrap(), crate::error::PROBLEM_JSON);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["status"], status);
    (status, body)
}

fn post_json(body: &'static str) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/json")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body)
}

#[actix_web::test]
async fn valid_json_passes() {
    let app = app!();
    let req = post_json(r#"{"clientId":"a","count":1}"#).to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 200);
}

#[actix_web::test]
async fn malformed_json_is_400() {
    let app = app!();
    let (status, body) = problem!(app, post_json("{not json"));
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON"),
        "{body}"
    );
}

#[actix_web::test]
async fn missing_field_wrong_type_and_unknown_field_are_400_naming_the_problem() {
    let app = app!();
    let (status, body) = problem!(app, post_json(r#"{"count":1}"#));
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("clientId"),
        "{body}"
    );
    let (status, body) = problem!(app, post_json(r#"{"clientId":"a","count":"x"}"#));
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("invalid type"),
        "{body}"
    );
    let (status, body) = problem!(app, post_json(r#"{"clientId":"a","count":1,"x":1}"#));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("`x`"), "{body}");
}

#[actix_web::test]
async fn missing_or_wrong_content_type_is_415() {
    let app = app!();
    let req = test::TestRequest::post()
        .uri("/json")
        .set_payload(r#"{"clientId":"a","count":1}"#);
    let (status, _) = problem!(app, req);
    assert_eq!(status, 415);
    let req = test::TestRequest::post()
        .uri("/json")
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .set_payload(r#"{"clientId":"a","count":1}"#);
    let (status, body) = problem!(app, req);
    assert_eq!(status, 415);
    assert_eq!(body["error"], "Content-Type must be application/json");
}

#[actix_web::test]
async fn oversized_body_is_413() {
    let app = app!();
    let big = format!(r#"{{"clientId":"{}","count":1}}"#, "a".repeat(BODY_LIMIT));
    let req = test::TestRequest::post()
        .uri("/json")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(big);
    let (status, body) = problem!(app, req);
    assert_eq!(status, 413);
    assert_eq!(body["error"], "Payload too large");
}

#[actix_web::test]
async fn a_body_just_under_the_limit_is_read() {
    let app = app!();
    let filler = "a".repeat(BODY_LIMIT - 64);
    let req = post_json("").set_payload(format!(r#"{{"clientId":"{filler}","count":1}}"#));
    assert_eq!(
        test::call_service(&app, req.to_request()).await.status(),
        200
    );
}

#[actix_web::test]
async fn bad_query_and_path_are_400() {
    let app = app!();
    let (status, body) = problem!(app, test::TestRequest::get().uri("/query?limit=abc"));
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid query string"),
        "{body}"
    );
    let (status, body) = problem!(app, test::TestRequest::get().uri("/query"));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    let (status, body) = problem!(app, test::TestRequest::get().uri("/path/abc"));
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("invalid path"),
        "{body}"
    );
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    owner: Option<String>,
    lifetime_limit: Option<i64>,
    items: Option<Vec<Item>>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Item {
    text: String,
}

fn bad(body: &str) -> String {
    match parse_json::<KeyBody>(body.as_bytes()) {
        Err(ApiError::BadRequest(m)) => m,
        other => panic!("expected a 400 for {body}, got {other:?}"),
    }
}

// `test` is actix's module here, so the standard attribute is named in full.
#[::core::prelude::v1::test]
fn parse_json_reads_a_valid_body() {
    let b: KeyBody = parse_json(br#"{"owner":"A","lifetime_limit":3}"#).unwrap();
    assert_eq!(
        b,
        KeyBody {
            owner: Some("A".to_owned()),
            lifetime_limit: Some(3),
            items: None
        }
    );
}

// `test` is actix's module here, so the standard attribute is named in full.
#[::core::prelude::v1::test]
fn parse_json_names_the_field_of_a_wrong_type() {
    assert_eq!(
        bad(r#"{"owner":"A","lifetime_limit":"many"}"#),
        r#"invalid request body: lifetime_limit: invalid type: string "many", expected i64"#
    );
    assert_eq!(
        bad(r#"{"items":[{"text":"a"},{"text":5}]}"#),
        "invalid request body: items[1].text: invalid type: integer `5`, expected a string"
    );
    assert_eq!(
        bad(r#"{"items":[{}]}"#),
        "invalid request body: items[0]: missing field `text`"
    );
    assert_eq!(
        bad(r#""x""#),
        r#"invalid request body: invalid type: string "x", expected struct KeyBody"#
    );
    let unknown = bad(r#"{"owner":"A","colour":"red"}"#);
    assert!(
        unknown.starts_with("invalid request body: ") && unknown.contains("unknown field `colour`"),
        "{unknown}"
    );
}

// `test` is actix's module here, so the standard attribute is named in full.
#[::core::prelude::v1::test]
fn parse_json_reports_syntax_errors_with_their_position() {
    assert_eq!(
        bad("{not json"),
        "malformed JSON: key must be a string at line 1 column 2"
    );
    assert!(bad("").starts_with("malformed JSON: EOF"), "{}", bad(""));
    assert!(
        bad(r#"{"owner":"A"} x"#).starts_with("malformed JSON: trailing characters"),
        "{}",
        bad(r#"{"owner":"A"} x"#)
    );
}
