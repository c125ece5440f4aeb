//! The usage ledger (seed 001, Billix): `POST /usage`, `GET /usage` with a Bearer credential,
//! `GET /usage/user/{user_id}` and `GET/PUT/DELETE /usage/{usage_id}`.
//!
//! `/usage` itself is shared with lcyt: `GET /usage` **with** an `Authorization: Bearer`
//! credential is the ledger list; without one it is lcyt's per-site analytics. `routes` mounts
//! that one resource (it is the only module that knows both surfaces); this module registers the
//! rest.

pub mod records;
pub mod wire;

use crate::api_doc::PROBLEM_ERRORS;
use crate::resource::Routes;

/// Adds the ledger routes other than `/usage` itself.
pub fn routes(r: &mut Routes) {
    r.get("/usage/user/{user_id}", records::by_user)
        .get("/usage/{usage_id}", records::get)
        .put("/usage/{usage_id}", records::update)
        .delete("/usage/{usage_id}", records::delete);
}

/// The ledger surface's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(), modifiers(&PROBLEM_ERRORS))]
pub struct LedgerApi;
