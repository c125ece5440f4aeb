//! The new-api surface (seed 004): `GET /api/data/self` and `GET /api/data/` (admin), hourly
//! per-model sums in the `{success, message, data}` envelope, with the `New-Api-User` check.

pub mod data;
pub mod envelope;

use crate::api_doc::PROBLEM_ERRORS;
use crate::resource::Routes;

/// Adds the new-api routes (`/api/data` answers like `/api/data/`).
pub fn routes(r: &mut Routes) {
    r.get("/api/data/self", data::self_data)
        .get("/api/data/", data::all_data)
        .get("/api/data", data::all_data);
}

/// The new-api surface's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(), modifiers(&PROBLEM_ERRORS))]
pub struct NewApiApi;
