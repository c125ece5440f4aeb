use actix_web::body::to_bytes;

use super::*;

async fn render(
    e: ApiError,
) -> (
    StatusCode,
    Option<String>,
    Option<String>,
    serde_json::Value,
) {
    let res = e.error_response();
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let retry = res
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(res.into_body()).await.unwrap();
    (status, ct, retry, serde_json::from_slice(&body).unwrap())
}

#[actix_web::test]
async fn every_variant_has_its_status_and_a_problem_body() {
    let cases = [
        (
            ApiError::BadRequest("clientId required".into()),
            400,
            "clientId required",
        ),
        (
            ApiError::Unauthorized("API key revoked".into()),
            401,
            "API key revoked",
        ),
        (
            ApiError::Forbidden("Domain not allowed".into()),
            403,
            "Domain not allowed",
        ),
        (
            ApiError::NotFound("Session not found".into()),
            404,
            "Session not found",
        ),
        (ApiError::MethodNotAllowed, 405, "Method not allowed"),
        (
            ApiError::Conflict("Key already exists".into()),
            409,
            "Key already exists",
        ),
        (ApiError::PayloadTooLarge, 413, "Payload too large"),
        (
            ApiError::UnsupportedMediaType,
            415,
            "Content-Type must be application/json",
        ),
        (
            ApiError::TooManyRequests {
                error: "lifetime_limit_exceeded".into(),
                retry_after_secs: None,
            },
            429,
            "lifetime_limit_exceeded",
        ),
        (
            ApiError::Unavailable("pool timeout".into()),
            503,
            "Service unavailable",
        ),
        (
            ApiError::Internal("db row corrupt".into()),
            500,
            "Internal server error",
        ),
    ];
    for (e, status, error) in cases {
        let (s, ct, _, body) = render(e).await;
        assert_eq!(s.as_u16(), status);
        assert_eq!(ct.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(body["status"], status);
        assert_eq!(body["error"], error);
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], s.canonical_reason().unwrap());
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

#[actix_web::test]
async fn causes_never_reach_the_client() {
    for e in [
        ApiError::Internal("password=hunter2".into()),
        ApiError::Unavailable("password=hunter2".into()),
    ] {
        let (_, _, _, body) = render(e).await;
        assert!(!body.to_string().contains("hunter2"));
    }
}

#[actix_web::test]
async fn retry_after_on_503_and_on_daily_429() {
    let (_, _, retry, _) = render(ApiError::Unavailable("down".into())).await;
    assert_eq!(retry.as_deref(), Some("5"));
    let daily = ApiError::TooManyRequests {
        error: "daily_limit_exceeded".into(),
        retry_after_secs: Some(3600),
    };
    let (_, _, retry, _) = render(daily).await;
    assert_eq!(retry.as_deref(), Some("3600"));
    let lifetime = ApiError::TooManyRequests {
        error: "lifetime_limit_exceeded".into(),
        retry_after_secs: None,
    };
    let (_, _, retry, _) = render(lifetime).await;
    assert_eq!(retry, None);
    let (_, _, retry, _) = render(ApiError::Internal("x".into())).await;
    assert_eq!(retry, None);
}

#[test]
fn store_errors_map_to_503_and_500() {
    assert_eq!(
        ApiError::from(StoreError::Unavailable("x".into())).status_code(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        ApiError::from(StoreError::Internal("x".into())).status_code(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
