//! The lyrcs.ai surface (seed 003): `GET /api/v1/usage`, an organisation's job and API-call
//! totals from the rollups.

pub mod usage;

use actix_web::web;

use crate::resource::resource;

/// Registers the lyrcs route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/usage").route(web::get().to(usage::usage)));
}
