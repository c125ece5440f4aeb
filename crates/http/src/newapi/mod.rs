//! The new-api surface (seed 004): `GET /api/data/self` and `GET /api/data/` (admin), hourly
//! per-model sums in the `{success, message, data}` envelope, with the `New-Api-User` check.

pub mod data;
pub mod envelope;

use crate::api_doc::ErrorResponses;
use crate::resource::Routes;

/// new-api's errors: its envelope as `application/json`. The handlers resolve the credential
/// and parse the query themselves, so no shared layer answers with a problem document.
const NEW_API_ERRORS: ErrorResponses = ErrorResponses::new("NewApiError", "application/json");

/// Adds the new-api routes (`/api/data` answers like `/api/data/`).
pub fn routes(r: &mut Routes) {
    r.get("/api/data/self", data::self_data)
        .get("/api/data/", data::all_data)
        .get("/api/data", data::all_data_no_slash);
}

/// The new-api surface's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(data::self_data, data::all_data, data::all_data_no_slash),
    components(schemas(envelope::NewApiError)),
    modifiers(&NEW_API_ERRORS)
)]
pub struct NewApiApi;
