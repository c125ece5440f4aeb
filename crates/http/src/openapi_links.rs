//! OpenAPI links: which answer feeds which operation (a created key's `id` into `GET
//! /v1/keys/{id}`, its secret into `POST /v1/verify`, …). Client generators use them to chain
//! calls and the fuzzer's stateful phase (`scripts/fuzz.sh`, `just fuzz`) uses them to reach
//! the routes behind a resource it has just created. Top floor: it names operations of several
//! surfaces by their ids, which `openapi::tests` checks exist.

use serde_json::{json, Value};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi, RefOr};

use crate::api_doc::operations_mut;

/// One link: the answer `status` of operation `from`, named `name`, feeds operation `to` with
/// path/query `parameters` and an optional request body (runtime expressions, OpenAPI §4.8.20.4).
pub struct LinkSpec {
    /// The operation whose answer is the source.
    pub from: &'static str,
    /// Its status.
    pub status: &'static str,
    /// The link's name.
    pub name: &'static str,
    /// The operation it leads to.
    pub to: &'static str,
    /// Parameters of `to`, each an expression over the answer.
    pub parameters: &'static [(&'static str, &'static str)],
    /// A request body for `to`.
    pub body: Option<fn() -> Value>,
}

const ID: &[(&str, &str)] = &[("id", "$response.body#/id")];
const LCYT_KEY: &[(&str, &str)] = &[("key", "$response.body#/key")];

/// Every link of the document.
pub const LINKS: &[LinkSpec] = &[
    link("v1_orgs_create", "201", "GetOrg", "v1_orgs_get", ID, None),
    link(
        "v1_users_create",
        "201",
        "GetUser",
        "v1_users_get",
        ID,
        None,
    ),
    link(
        "v1_users_create",
        "201",
        "IssueToken",
        "v1_users_tokens_create",
        ID,
        None,
    ),
    link(
        "v1_users_create",
        "201",
        "EraseUser",
        "v1_users_data_erase",
        ID,
        None,
    ),
    link("v1_keys_create", "201", "GetKey", "v1_keys_get", ID, None),
    link(
        "v1_keys_create",
        "201",
        "UpdateKey",
        "v1_keys_update",
        ID,
        None,
    ),
    link(
        "v1_keys_create",
        "201",
        "RevokeKey",
        "v1_keys_delete",
        ID,
        None,
    ),
    link(
        "v1_keys_create",
        "201",
        "EraseKey",
        "v1_keys_data_erase",
        ID,
        None,
    ),
    link(
        "v1_keys_create",
        "201",
        "VerifyKey",
        "v1_keys_verify",
        &[],
        Some(|| json!({ "key": "$response.body#/key", "units": 1 })),
    ),
    link(
        "lcyt_keys_create",
        "201",
        "GetKey",
        "lcyt_keys_get",
        LCYT_KEY,
        None,
    ),
    link(
        "lcyt_keys_create",
        "201",
        "UpdateKey",
        "lcyt_keys_update",
        LCYT_KEY,
        None,
    ),
    link(
        "lcyt_keys_create",
        "201",
        "DeleteKey",
        "lcyt_keys_delete",
        LCYT_KEY,
        None,
    ),
    link(
        "lcyt_keys_create",
        "201",
        "OpenSession",
        "lcyt_live_open",
        &[],
        Some(|| json!({ "apiKey": "$response.body#/key", "domain": "https://example.com" })),
    ),
];

const fn link(
    from: &'static str,
    status: &'static str,
    name: &'static str,
    to: &'static str,
    parameters: &'static [(&'static str, &'static str)],
    body: Option<fn() -> Value>,
) -> LinkSpec {
    LinkSpec {
        from,
        status,
        name,
        to,
        parameters,
        body,
    }
}

/// Adds [`LINKS`] to the answers they start from. A link whose source operation or status is
/// missing is skipped here and reported by `openapi::tests`.
pub fn add_links(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let Some(id) = op.operation_id.clone() else {
                continue;
            };
            for l in LINKS.iter().filter(|l| l.from == id) {
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(l.status) else {
                    continue;
                };
                let built = l
                    .parameters
                    .iter()
                    .fold(LinkBuilder::new().operation_id(l.to), |b, (n, v)| {
                        b.parameter(*n, *v)
                    })
                    .request_body(l.body.map(|f| f()))
                    .build();
                response.links.insert(l.name.to_owned(), RefOr::T(built));
            }
        }
    }
}

/// Renames the fields of every link in the serialised document to the specification's
/// camelCase: utoipa 5.5 serialises `Link` as `operation_id`/`operation_ref`/`request_body`,
/// which OpenAPI validators refuse.
pub fn camel_case_links(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut())
        .filter_map(|r| r.get_mut("links")?.as_object_mut())
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(v) = link.remove(from) {
                link.insert(to.to_owned(), v);
            }
        }
    }
}
