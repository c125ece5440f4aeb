//! The meetbot surface (seed 002): the caller's analytics, their request log and one key's
//! usage. "API calls" are usage events with an HTTP method (DESIGN §10); counts come from the
//! rollups, logs from the raw events.

pub mod analytics;
pub mod api_logs;
pub mod blocks;
pub mod key_usage;

use actix_web::web;

use crate::resource::resource;

/// Registers the meetbot routes (before the native v1 ones, which share the `/v1` prefix).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/users/me/analytics").route(web::get().to(analytics::analytics)))
        .service(resource("/v1/users/me/api-logs").route(web::get().to(api_logs::api_logs)))
        .service(
            resource("/v1/api-keys/{key_id}/usage").route(web::get().to(key_usage::key_usage)),
        );
}
