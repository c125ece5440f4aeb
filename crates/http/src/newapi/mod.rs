//! The new-api surface (seed 004): `GET /api/data/self` and `GET /api/data/` (admin), hourly
//! per-model sums in the `{success, message, data}` envelope, with the `New-Api-User` check.

pub mod data;
pub mod envelope;

use actix_web::web;

use crate::resource::resource;

/// Registers the new-api routes (`/api/data` answers like `/api/data/`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/data/self").route(web::get().to(data::self_data)))
        .service(resource("/api/data/").route(web::get().to(data::all_data)))
        .service(resource("/api/data").route(web::get().to(data::all_data)));
}
