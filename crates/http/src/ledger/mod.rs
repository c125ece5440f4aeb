//! The usage ledger (seed 001, Billix): `POST /usage`, `GET /usage` with a Bearer credential,
//! `GET /usage/user/{user_id}` and `GET/PUT/DELETE /usage/{usage_id}`.
//!
//! `/usage` itself is shared with lcyt: `GET /usage` **with** an `Authorization: Bearer`
//! credential is the ledger list; without one it is lcyt's per-site analytics. `routes` mounts
//! that one resource (it is the only module that knows both surfaces); this module registers the
//! rest.

pub mod records;
pub mod wire;

use utoipa::openapi::{OpenApi, RefOr, Schema};
use utoipa::Modify;

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
#[openapi(
    paths(
        records::create,
        records::by_user,
        records::get,
        records::update,
        records::delete
    ),
    components(schemas(wire::UsageRecord)),
    modifiers(&PROBLEM_ERRORS, &AtLeastOneField)
)]
pub struct LedgerApi;

/// Marks `UpdateUsageRequest` as needing at least one field. Done here because utoipa-gen 5.5
/// renders `#[schema(min_properties = 1)]` as `maxProperties`.
struct AtLeastOneField;

impl Modify for AtLeastOneField {
    fn modify(&self, doc: &mut OpenApi) {
        let schema = doc
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("UpdateUsageRequest"));
        if let Some(RefOr::T(Schema::Object(o))) = schema {
            o.min_properties = Some(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn a_correction_needs_at_least_one_field() {
        let doc = serde_json::to_value(super::LedgerApi::openapi()).unwrap();
        let body = &doc["components"]["schemas"]["UpdateUsageRequest"];
        assert_eq!(body["minProperties"], 1, "{body}");
        assert!(body.get("maxProperties").is_none(), "{body}");
        assert_eq!(body["additionalProperties"], false);
    }
}
