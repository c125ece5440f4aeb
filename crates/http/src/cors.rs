//! CORS for the browser clients (DESIGN §10).
//!
//! - Every preflight (`OPTIONS`) reflects the origin and answers 204.
//! - `POST /live`, `GET /health` and `POST /keys?freetier` reflect any origin.
//! - Session routes answer CORS only to their session's own site (`Domain::same_site`: same
//!   host and port whatever the scheme, any loopback port for localhost; the session
//!   extractor records the site on the request).
//! - `GET /usage` in public mode answers only origins on `ALLOWED_DOMAINS` (its handler).
//! - Admin routes answer none.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use tally_domain::origin::Domain;

/// The site of the session a request was authenticated for.
#[derive(Debug, Clone)]
pub struct SessionDomain(pub Domain);

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str =
    "Content-Type, Authorization, X-Admin-Key, Idempotency-Key, New-Api-User";

fn is_open(req: &ServiceRequest) -> bool {
    let path = req.path();
    (req.method() == Method::POST && path == "/live")
        || path == "/health"
        || (req.method() == Method::POST
            && path == "/keys"
            && req
                .query_string()
                .split('&')
                .any(|p| p == "freetier" || p.starts_with("freetier=")))
}

/// The CORS middleware; wrap the app with `actix_web::middleware::from_fn(tally_http::cors::cors)`.
///
/// # Errors
/// The inner service's.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origin = req.headers().get(header::ORIGIN).cloned();
    if req.method() == Method::OPTIONS {
        let mut res = HttpResponse::NoContent();
        if let Some(o) = origin {
            res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .insert_header((header::VARY, "Origin"));
        }
        return Ok(req.into_response(res.finish()).map_into_right_body());
    }
    let open = is_open(&req);
    let mut res = next.call(req).await?;
    if let Some(origin) = origin {
        let allowed = open || {
            let session = res.request().extensions().get::<SessionDomain>().cloned();
            session.is_some_and(|SessionDomain(d)| {
                origin
                    .to_str()
                    .ok()
                    .and_then(|o| Domain::parse(o).ok())
                    .is_some_and(|o| o.same_site(&d))
            })
        };
        if allowed {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    Ok(res.map_into_left_body())
}
