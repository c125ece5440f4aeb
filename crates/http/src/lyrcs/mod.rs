//! The lyrcs.ai surface (seed 003): `GET /api/v1/usage`, an organisation's job and API-call
//! totals from the rollups.

pub mod usage;

use crate::api_doc::PROBLEM_ERRORS;
use crate::resource::Routes;

/// Adds the lyrcs route.
pub fn routes(r: &mut Routes) {
    r.get("/api/v1/usage", usage::usage);
}

/// The lyrcs surface's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(usage::usage), modifiers(&PROBLEM_ERRORS))]
pub struct LyrcsApi;
