//! The OpenAPI 3.1 document of every surface, served at `GET /openapi.json`, and its reference
//! page at `GET /docs/` (swagger-ui 5.35.0, Apache-2.0, vendored from npm with its licence in
//! `apidocs/vendor/`; embedded, so the page works offline). The top floor beside `routes`: the
//! only other module that knows every surface.
//!
//! The document is generated from the handlers' own `#[utoipa::path]` annotations and the
//! request/response types they (de)serialise, so it cannot drift from the code; a test of
//! `routes` fails when a route the app serves has no operation, or an operation has no route.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use crate::api_doc::{SecuritySchemes, PROBLEM_ERRORS};
use crate::error::{ApiError, Problem};
use crate::static_files::{asset, mount, Asset, CSS, HTML, JS, TEXT};
use crate::{health, lcyt, ledger, lyrcs, meetbot, newapi, openapi_links, usage_path, v1};

/// The operations below the surfaces (health, this document, and the shared `/usage` path),
/// the security schemes and the shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally",
        description = "API keys, exact daily and lifetime limits, collaborative sessions with a \
            mic lock over Server-Sent Events, caption delivery, metering and usage analytics, \
            and erasure on request. Six surfaces on one core: lcyt (seed 000), the usage \
            ledger (seed 001), meetbot (seed 002), lyrcs (seed 003), new-api (seed 004) and \
            the native v1 API. docs/API.md explains each route in prose.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(health::health, document, usage_path::get_usage),
    components(schemas(Problem)),
    modifiers(&SecuritySchemes, &PROBLEM_ERRORS),
    tags(
        (name = "meta", description = "Health and this document."),
        (name = "lcyt", description = "Seed 000: keys, sessions, captions, live events, the mic lock, statistics, per-site usage."),
        (name = "ledger", description = "Seed 001: usage records."),
        (name = "meetbot", description = "Seed 002: a user's analytics, request logs and per-key usage."),
        (name = "lyrcs", description = "Seed 003: organisation totals."),
        (name = "new-api", description = "Seed 004: per-model hourly aggregates in new-api's envelope."),
        (name = "v1", description = "The native API: tenancy, keys, the verify hot path, ingestion, analytics, erasure."),
    )
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] merged with every surface's operations.
#[must_use]
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(lcyt::LcytApi::openapi());
    doc.merge(ledger::LedgerApi::openapi());
    doc.merge(meetbot::MeetbotApi::openapi());
    doc.merge(lyrcs::LyrcsApi::openapi());
    doc.merge(newapi::NewApiApi::openapi());
    doc.merge(v1::V1Api::openapi());
    openapi_links::add_links(&mut doc);
    doc
}

/// `GET /openapi.json`: the OpenAPI 3.1 document of this server.
///
/// # Errors
/// 500 if the document cannot be serialised (it is built from static annotations).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    summary = "This document (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object))
)]
pub async fn document() -> Result<HttpResponse, ApiError> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(spec()).map_err(|e| e.to_string())?;
        openapi_links::camel_case_links(&mut doc);
        serde_json::to_string(&doc).map_err(|e| e.to_string())
    });
    match json {
        Ok(body) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(body.as_str())),
        Err(e) => Err(ApiError::Internal(format!("OpenAPI document: {e}"))),
    }
}

/// The policy of the reference page: swagger-ui sets inline styles, nothing else is loosened.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every file of the reference page.
const ASSETS: &[Asset] = &[
    asset!("apidocs", "index.html", HTML),
    asset!("apidocs", "init.js", JS),
    asset!("apidocs", "docs.css", CSS),
    asset!("apidocs", "vendor/swagger-ui/swagger-ui-bundle.js", JS),
    asset!("apidocs", "vendor/swagger-ui/swagger-ui.css", CSS),
    asset!("apidocs", "vendor/swagger-ui/LICENSE", TEXT),
    asset!("apidocs", "vendor/swagger-ui/NOTICE", TEXT),
    asset!(
        "apidocs",
        "vendor/swagger-ui/swagger-ui-bundle.js.LICENSE.txt",
        TEXT
    ),
];

/// Registers `/docs` (a redirect to `/docs/`), `/docs/` and `/docs/{file}`: pages, not API
/// operations, so they are not in the document. The redirect is relative, so the page also
/// works where Tally is mounted under a prefix.
pub fn configure_docs(cfg: &mut web::ServiceConfig) {
    mount(cfg, "/docs", "docs/", ASSETS, CONTENT_SECURITY_POLICY);
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
