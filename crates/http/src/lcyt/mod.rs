//! The lcyt surface (seed 000): keys, sessions, captions, live events, the mic lock, per-key
//! statistics with erasure, per-site usage and the idle sweep. One file per resource; each
//! handler only translates between HTTP and the domain services. Caption delivery and the SSE
//! streams are shared services below the surfaces ([`crate::delivery`], [`crate::sse`]).

pub mod auth;
pub mod captions;
pub mod events;
pub mod keys;
pub mod live;
pub mod mic;
pub mod stats;
pub mod sweep;
pub mod sync;
pub mod usage;

use actix_web::web;

use crate::resource::resource;

/// Registers the lcyt routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/keys")
            .route(web::post().to(keys::create))
            .route(web::get().to(keys::list)),
    )
    .service(
        resource("/keys/{key}")
            .route(web::get().to(keys::get))
            .route(web::patch().to(keys::update))
            .route(web::delete().to(keys::delete)),
    )
    .service(
        resource("/live")
            .route(web::post().to(live::open))
            .route(web::get().to(live::get))
            .route(web::patch().to(live::patch))
            .route(web::delete().to(live::end)),
    )
    .service(resource("/captions").route(web::post().to(captions::post)))
    .service(resource("/sync").route(web::post().to(sync::post)))
    .service(resource("/events").route(web::get().to(events::session_events)))
    .service(resource("/events/stream").route(web::get().to(events::event_stream)))
    .service(resource("/viewer/{viewer_key}").route(web::get().to(events::viewer_events)))
    .service(resource("/mic").route(web::post().to(mic::mic)))
    .service(
        resource("/stats")
            .route(web::get().to(stats::get))
            .route(web::delete().to(stats::erase)),
    );
    // `GET /usage` (usage::domain_usage) shares its path with the ledger: `routes` mounts it
    // and the credential picks the meaning.
}
