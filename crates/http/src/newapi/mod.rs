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

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn every_error_of_every_operation_is_the_envelope() {
        let doc = serde_json::to_value(super::NewApiApi::openapi()).unwrap();
        assert!(doc["components"]["schemas"]["NewApiError"].is_object());
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 3);
        for (path, item) in paths {
            let op = &item["get"];
            let responses = op["responses"].as_object().unwrap();
            for status in ["400", "401", "403", "500", "503"] {
                let content = &responses[status]["content"];
                assert_eq!(
                    content["application/json"]["schema"]["$ref"],
                    "#/components/schemas/NewApiError",
                    "{path} {status}: {content}"
                );
            }
            let problems = responses
                .values()
                .filter(|r| r["content"].get("application/problem+json").is_some())
                .count();
            assert_eq!(problems, 0, "{path}: no problem documents on new-api");
        }
    }
}
