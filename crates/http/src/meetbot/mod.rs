//! The meetbot surface (seed 002): the caller's analytics, their request log and one key's
//! usage. "API calls" are usage events with an HTTP method (DESIGN §10); counts come from the
//! rollups, logs from the raw events.

pub mod analytics;
pub mod api_logs;
pub mod blocks;
pub mod key_usage;

use crate::api_doc::PROBLEM_ERRORS;
use crate::resource::Routes;

/// Adds the meetbot routes (before the native v1 ones, which share the `/v1` prefix).
pub fn routes(r: &mut Routes) {
    r.get("/v1/users/me/analytics", analytics::analytics)
        .get("/v1/users/me/api-logs", api_logs::api_logs)
        .get("/v1/api-keys/{key_id}/usage", key_usage::key_usage);
}

/// The meetbot surface's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(analytics::analytics, api_logs::api_logs, key_usage::key_usage),
    components(schemas(analytics::Period, api_logs::DateOrInstant)),
    modifiers(&PROBLEM_ERRORS)
)]
pub struct MeetbotApi;
