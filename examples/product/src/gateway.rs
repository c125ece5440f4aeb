//! The non-embedded way, for comparison: the product's handler calls a Tally server's
//! `POST /v1/verify` over HTTP before it runs, and passes Tally's refusal on unchanged.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// Where to verify, the admin key to do it with, and this worker's HTTP client (one per
/// worker: the client keeps its connections alive).
#[derive(Clone)]
pub struct Gateway {
    verify: Option<(String, String)>,
    client: awc::Client,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("url", &self.verify.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// `tally_url` is the base of a Tally API (`http://host:port` or a mount such as
    /// `http://host:port/tally`); both it and an admin key are needed to verify.
    #[must_use]
    pub fn new(tally_url: Option<&str>, admin_key: Option<&str>) -> Self {
        Self {
            verify: tally_url
                .zip(admin_key)
                .map(|(u, k)| (format!("{u}/v1/verify"), k.to_owned())),
            client: awc::Client::default(),
        }
    }
}

fn problem(status: u16, error: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    tally_http::error::problem_response(status, error, error)
}

/// `GET /gateway/items/{id}`: verifies the Bearer key with one unit, then answers as
/// [`crate::item`].
pub async fn item(
    req: HttpRequest,
    gateway: web::Data<Gateway>,
    id: web::Path<String>,
) -> HttpResponse {
    let Some((url, admin_key)) = &gateway.verify else {
        return problem(503, "no Tally server configured for the gateway");
    };
    let Some(key) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return problem(401, "API key required");
    };
    let sent = gateway
        .client
        .post(url.as_str())
        .insert_header(("X-Admin-Key", admin_key.as_str()))
        .send_json(&json!({ "key": key, "units": 1 }))
        .await;
    let mut res = match sent {
        Ok(res) => res,
        Err(e) => return problem(502, &format!("Tally unreachable: {e}")),
    };
    if res.status().is_success() {
        return crate::item(id).await;
    }
    let status = res.status().as_u16();
    match res.body().await {
        Ok(body) => HttpResponse::build(res.status())
            .content_type("application/json")
            .body(body),
        Err(_) => problem(status, "Tally refused the key"),
    }
}
