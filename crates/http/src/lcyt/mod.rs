//! The lcyt surface (seed 000): keys, sessions, captions, live events, the mic lock, per-key
//! statistics with erasure, per-site usage and the idle sweep. One file per resource; each
//! handler only translates between HTTP and the domain services. Caption delivery and the SSE
//! streams are shared services below the surfaces ([`crate::delivery`], [`crate::sse`]).

pub mod auth;
pub mod captions;
mod captions_body;
pub mod contract;
pub mod events;
mod key_shapes;
pub mod keys;
pub mod live;
pub mod mic;
pub mod stats;
pub mod sweep;
pub mod sync;
pub mod usage;

use crate::api_doc::PROBLEM_ERRORS;
use crate::resource::Routes;

/// Adds the lcyt routes. `GET /usage` (usage::domain_usage) shares its path with the ledger:
/// `routes` adds it and the credential picks the meaning.
pub fn routes(r: &mut Routes) {
    r.post("/keys", keys::create)
        .get("/keys", keys::list)
        .get("/keys/{key}", keys::get)
        .patch("/keys/{key}", keys::update)
        .delete("/keys/{key}", keys::delete)
        .post("/live", live::open)
        .get("/live", live::get)
        .patch("/live", live::patch)
        .delete("/live", live::end)
        .post("/captions", captions::post)
        .post("/sync", sync::post)
        .get("/events", events::session_events)
        .get("/events/stream", events::event_stream)
        .get("/viewer/{viewer_key}", events::viewer_events)
        .post("/mic", mic::mic)
        .get("/stats", stats::get)
        .delete("/stats", stats::erase);
}

/// The lcyt surface's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        keys::create,
        keys::list,
        keys::get,
        keys::update,
        keys::delete,
        live::open,
        live::get,
        live::patch,
        live::end,
        captions::post,
        sync::post,
        events::session_events,
        events::event_stream,
        events::viewer_events,
        mic::mic,
        stats::get,
        stats::erase,
    ),
    // `GET /usage` (usage_path) is shared with the ledger; its lcyt answer is listed here.
    components(schemas(usage::SiteUsageResponse)),
    modifiers(&PROBLEM_ERRORS)
)]
pub struct LcytApi;
