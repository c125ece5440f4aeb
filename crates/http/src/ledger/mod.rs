//! The usage ledger (seed 001, Billix): `POST /usage`, `GET /usage` with a Bearer credential,
//! `GET /usage/user/{user_id}` and `GET/PUT/DELETE /usage/{usage_id}`.
//!
//! `/usage` itself is shared with lcyt: `GET /usage` **with** an `Authorization: Bearer`
//! credential is the ledger list; without one it is lcyt's per-site analytics. `routes` mounts
//! that one resource (it is the only module that knows both surfaces); this module registers the
//! rest.

pub mod records;
pub mod wire;

use actix_web::web;

use crate::resource::resource;

/// Registers the ledger routes other than `/usage` itself.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/usage/user/{user_id}").route(web::get().to(records::by_user)))
        .service(
            resource("/usage/{usage_id}")
                .route(web::get().to(records::get))
                .route(web::put().to(records::update))
                .route(web::delete().to(records::delete)),
        );
}
