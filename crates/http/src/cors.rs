//! CORS for the browser clients (DESIGN §10).
//!
//! - Every preflight (`OPTIONS`) reflects the origin and answers 204.
//! - `POST /live`, `GET /health` and `POST /keys?freetier` reflect any origin.
//! - Session routes answer CORS only to their session's own site (`Domain::same_site`: same
//!   host and port whatever the scheme, any loopback port for localhost; the session
//!   extractor records the site on the request), with `Access-Control-Allow-Credentials`,
//!   whether the token came in the header or the query. Their error answers carry the same
//!   headers: to the session's site once the token was accepted, else (refused by the token
//!   check) to any origin on `ALLOWED_DOMAINS` (every session's site is one), so a browser can read why it
//!   was refused instead of seeing a bare network error.
//! - `POST /live` also allows credentials.
//! - `GET /usage` in public mode answers only origins on `ALLOWED_DOMAINS` (its handler).
//! - Admin routes answer none.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use tally_domain::origin::Domain;

use crate::state::AppState;

/// The site of the session a request was authenticated for.
#[derive(Debug, Clone)]
pub struct SessionDomain(pub Domain);

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str =
    "Content-Type, Authorization, X-Admin-Key, X-API-Key, Idempotency-Key, New-Api-User";

/// The routes that act for one session (their token's).
fn is_session_route(req: &ServiceRequest) -> bool {
    match req.path() {
        "/live" => req.method() != Method::POST,
        "/captions" | "/sync" | "/mic" | "/stats" | "/events" | "/events/stream" => true,
        _ => false,
    }
}

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
                .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .insert_header((header::VARY, "Origin"));
        }
        return Ok(req.into_response(res.finish()).map_into_right_body());
    }
    let open = is_open(&req);
    let session_route = is_session_route(&req);
    let credentials = session_route || (req.method() == Method::POST && req.path() == "/live");
    let allowed_sites = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.allowed_domains.clone());
    let mut res = next.call(req).await?;
    if let Some(origin) = origin {
        let site = origin.to_str().ok().and_then(|o| Domain::parse(o).ok());
        let session = res.request().extensions().get::<SessionDomain>().cloned();
        let allowed = open
            || match session {
                Some(SessionDomain(d)) => site.as_ref().is_some_and(|o| o.same_site(&d)),
                // Refused before the session was known: any site that may open sessions.
                None => {
                    session_route
                        && (res.status().is_client_error() || res.status().is_server_error())
                        && site
                            .as_ref()
                            .zip(allowed_sites)
                            .is_some_and(|(o, sites)| sites.allows(o))
                }
            };
        if allowed {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
            if credentials {
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
        }
    }
    Ok(res.map_into_left_body())
}
