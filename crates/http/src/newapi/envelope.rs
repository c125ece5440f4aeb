//! new-api's `{success, message, data}` envelope, for answers and for errors alike. Unlike
//! new-api (which answers 200 with `success: false`), errors keep their real status.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use tally_domain::tenancy::UserId;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

/// The header new-api clients send with the caller's user id.
pub const NEW_API_USER: &str = "New-Api-User";

/// new-api's answer: `{success: true, message: "", data}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    /// Always `""`.
    #[schema(max_length = 0)]
    pub message: &'static str,
    /// The rows.
    pub data: T,
}

/// new-api's error answer, `{success: false, message}`, with the error's real status.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewApiError<'a> {
    /// Always `false`.
    pub success: bool,
    /// What went wrong, e.g. `end_timestamp must not be before start_timestamp`.
    #[schema(example = "end_timestamp must not be before start_timestamp")]
    pub message: &'a str,
}

/// `200 {success: true, message: "", data}`.
#[must_use]
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        success: true,
        message: "",
        data,
    })
}

/// The error's status (and `Retry-After`) with `{success: false, message}`.
#[must_use]
pub fn error(e: &ApiError) -> HttpResponse {
    let status = e.status_code();
    if status.is_server_error() {
        tracing::error!(error = %e, "new-api request failed");
    }
    let mut res = HttpResponse::build(status);
    if let Some(retry) = e.error_response().headers().get(header::RETRY_AFTER) {
        res.insert_header((header::RETRY_AFTER, retry.clone()));
    }
    res.json(NewApiError {
        success: false,
        message: e.public_message(),
    })
}

/// When `New-Api-User` is present it must name the caller's user: by their number (what
/// new-api clients send, new-api's ids being integers) or by Tally's UUID. `caller` is the
/// caller's user as `(id, number)`, `None` for a credential that is no user.
///
/// # Errors
/// 401 when the header names anyone else, or the caller is no user.
pub fn check_new_api_user(
    req: &HttpRequest,
    caller: Option<(UserId, u64)>,
) -> Result<(), ApiError> {
    let Some(v) = req.headers().get(NEW_API_USER) else {
        return Ok(());
    };
    let presented = v.to_str().ok().map(str::trim).unwrap_or_default();
    let matches = caller.is_some_and(|(id, number)| {
        presented.parse::<u64>().is_ok_and(|n| n == number)
            || Uuid::parse_str(presented).is_ok_and(|u| UserId(u) == id)
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "New-Api-User does not match the authenticated user".to_owned(),
        ))
    }
}

/// Whether the request carries `New-Api-User`.
#[must_use]
pub fn sends_new_api_user(req: &HttpRequest) -> bool {
    req.headers().contains_key(NEW_API_USER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;
    use actix_web::test::TestRequest;
    use serde_json::json;

    #[actix_web::test]
    async fn errors_keep_their_status_inside_the_envelope() {
        let res = error(&ApiError::BadRequest(
            "start_timestamp must be unix seconds".into(),
        ));
        assert_eq!(res.status().as_u16(), 400);
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(res.into_body()).await.unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"success": false, "message": "start_timestamp must be unix seconds"})
        );
        let res = error(&ApiError::Unavailable("db down".into()));
        assert_eq!(res.status().as_u16(), 503);
        assert!(res.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn the_admin_key_is_nobody_for_new_api_user() {
        let req = TestRequest::default()
            .insert_header((NEW_API_USER, Uuid::nil().to_string()))
            .to_http_request();
        assert!(check_new_api_user(&req, None).is_err());
        let bare = TestRequest::default().to_http_request();
        assert!(check_new_api_user(&bare, None).is_ok());
    }

    #[test]
    fn new_api_user_names_the_caller_by_number_or_uuid() {
        let me = (UserId(Uuid::from_u128(5)), 7);
        let with = |v: &str| {
            TestRequest::default()
                .insert_header((NEW_API_USER, v.to_owned()))
                .to_http_request()
        };
        assert!(check_new_api_user(&with("7"), Some(me)).is_ok());
        assert!(check_new_api_user(&with(&Uuid::from_u128(5).to_string()), Some(me)).is_ok());
        for other in ["8", "0", "-7", "x", &Uuid::from_u128(6).to_string()] {
            assert!(
                check_new_api_user(&with(other), Some(me)).is_err(),
                "{other}"
            );
        }
    }
}
