//! The native v1 API: tenancy (orgs, users, user tokens, keys), the gateway hot path
//! (`POST /v1/verify`), batch ingestion (`POST /v1/events`), the generic analytics query
//! (`GET /v1/analytics`) and erasure (`DELETE /v1/users/{id}/data`, `GET /v1/erasures`).
//! One casing: every request field, response field and query parameter is snake_case.

pub mod analytics;
pub mod events;
mod key_wire;
pub mod keys;
pub mod orgs;
mod schema;
pub mod sessions;
mod user_wire;
pub mod users;
pub mod verify;

use crate::api_doc::PROBLEM_ERRORS;
use crate::resource::Routes;

/// Adds the v1 routes.
pub fn routes(r: &mut Routes) {
    r.post("/v1/orgs", orgs::create)
        .get("/v1/orgs", orgs::list)
        .get("/v1/orgs/{id}", orgs::get)
        .post("/v1/users", users::create)
        .get("/v1/users", users::list)
        .get("/v1/users/{id}", users::get)
        .post("/v1/users/{id}/tokens", users::issue_token)
        .delete("/v1/users/{id}/data", users::erase)
        .get("/v1/erasures", users::erasures)
        .post("/v1/keys", keys::create)
        .get("/v1/keys", keys::list)
        .get("/v1/keys/{id}", keys::get)
        .patch("/v1/keys/{id}", keys::update)
        .delete("/v1/keys/{id}", keys::delete)
        .delete("/v1/keys/{id}/data", keys::erase)
        .post("/v1/verify", verify::verify)
        .post("/v1/events", events::ingest)
        .get("/v1/analytics", analytics::query)
        .get("/v1/sessions", sessions::list)
        .get("/v1/sessions/events", sessions::watch::events);
}

/// The v1 surface's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        orgs::create,
        orgs::list,
        orgs::get,
        users::create,
        users::list,
        users::get,
        users::issue_token,
        users::erase,
        users::erasures,
        keys::create,
        keys::list,
        keys::get,
        keys::update,
        keys::delete,
        keys::erase,
        verify::verify,
        events::ingest,
        analytics::query,
        sessions::list,
        sessions::watch::events,
    ),
    modifiers(&PROBLEM_ERRORS)
)]
pub struct V1Api;
