//! The native v1 API: tenancy (orgs, users, user tokens, keys), the gateway hot path
//! (`POST /v1/verify`), batch ingestion (`POST /v1/events`), the generic analytics query
//! (`GET /v1/analytics`) and erasure (`DELETE /v1/users/{id}/data`, `GET /v1/erasures`).
//! One casing: every request field, response field and query parameter is snake_case.

pub mod analytics;
pub mod events;
pub mod keys;
pub mod orgs;
pub mod sessions;
pub mod users;
pub mod verify;

use actix_web::web;

use crate::resource::resource;

/// Registers the v1 routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/orgs")
            .route(web::post().to(orgs::create))
            .route(web::get().to(orgs::list)),
    )
    .service(resource("/v1/orgs/{id}").route(web::get().to(orgs::get)))
    .service(
        resource("/v1/users")
            .route(web::post().to(users::create))
            .route(web::get().to(users::list)),
    )
    .service(resource("/v1/users/{id}").route(web::get().to(users::get)))
    .service(resource("/v1/users/{id}/tokens").route(web::post().to(users::issue_token)))
    .service(resource("/v1/users/{id}/data").route(web::delete().to(users::erase)))
    .service(resource("/v1/erasures").route(web::get().to(users::erasures)))
    .service(
        resource("/v1/keys")
            .route(web::post().to(keys::create))
            .route(web::get().to(keys::list)),
    )
    .service(
        resource("/v1/keys/{id}")
            .route(web::get().to(keys::get))
            .route(web::patch().to(keys::update))
            .route(web::delete().to(keys::delete)),
    )
    .service(resource("/v1/keys/{id}/data").route(web::delete().to(keys::erase)))
    .service(resource("/v1/verify").route(web::post().to(verify::verify)))
    .service(resource("/v1/events").route(web::post().to(events::ingest)))
    .service(resource("/v1/analytics").route(web::get().to(analytics::query)))
    .service(resource("/v1/sessions").route(web::get().to(sessions::list)))
    .service(resource("/v1/sessions/events").route(web::get().to(sessions::events)));
}
