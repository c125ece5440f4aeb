use std::collections::BTreeSet;

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};

use super::{spec, ASSETS};

/// The operations of one path item with their methods.
fn operations(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

#[test]
fn the_document_is_openapi_3_1_with_the_four_credentials() {
    let json = serde_json::to_value(spec()).unwrap();
    assert_eq!(json["openapi"], "3.1.0");
    let schemes = json["components"]["securitySchemes"].as_object().unwrap();
    for name in ["admin_key", "session_token", "user_token", "api_key"] {
        assert!(schemes.contains_key(name), "security scheme {name} missing");
    }
    assert!(json["components"]["schemas"]["Problem"].is_object());
}

#[test]
fn every_operation_has_a_unique_id_a_tag_a_success_answer_and_its_path_parameters() {
    let doc = spec();
    let mut ids = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in operations(item) {
            let at = format!("{method} {path}");
            let id = op.operation_id.clone().unwrap_or_default();
            assert!(!id.is_empty(), "{at}: no operationId");
            assert!(ids.insert(id.clone()), "{at}: operationId {id} used twice");
            assert!(
                op.tags.as_ref().is_some_and(|t| !t.is_empty()),
                "{at}: no tag"
            );
            assert!(
                op.responses
                    .responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{at}: no success answer"
            );
            let declared: BTreeSet<String> = op
                .parameters
                .iter()
                .flatten()
                .filter(|p| matches!(p.parameter_in, ParameterIn::Path))
                .map(|p| p.name.clone())
                .collect();
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            assert_eq!(declared, in_path, "{at}: path parameters");
        }
    }
}

#[test]
fn every_file_of_the_reference_page_is_embedded_once() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("apidocs");
    crate::static_files::assert_assets_cover(ASSETS, &root, &["vendor/README.md"]);
}

#[test]
fn every_link_starts_at_a_documented_answer_and_leads_to_an_operation_with_its_parameters() {
    let doc = spec();
    let ops: Vec<(String, &Operation)> = doc
        .paths
        .paths
        .values()
        .flat_map(operations)
        .map(|(_, op)| (op.operation_id.clone().unwrap_or_default(), op))
        .collect();
    let find = |id: &str| ops.iter().find(|(i, _)| i == id).map(|(_, op)| *op);
    for l in crate::openapi_links::LINKS {
        let from =
            find(l.from).unwrap_or_else(|| panic!("link {}: no operation {}", l.name, l.from));
        let Some(utoipa::openapi::RefOr::T(answer)) = from.responses.responses.get(l.status) else {
            panic!("link {}: {} has no {} answer", l.name, l.from, l.status);
        };
        assert!(
            answer.links.contains_key(l.name),
            "link {} not added",
            l.name
        );
        let to = find(l.to).unwrap_or_else(|| panic!("link {}: no operation {}", l.name, l.to));
        for (name, _) in l.parameters {
            assert!(
                to.parameters.iter().flatten().any(|p| p.name == *name),
                "link {}: {} has no parameter {name}",
                l.name,
                l.to
            );
        }
        // A link without a body leaves the body to the caller (generated from its schema).
        if l.body.is_some() {
            assert!(
                to.request_body.is_some(),
                "link {}: {} takes no body",
                l.name,
                l.to
            );
        }
    }
}

#[test]
fn served_links_use_the_specifications_camel_case() {
    let mut doc = serde_json::to_value(spec()).unwrap();
    crate::openapi_links::camel_case_links(&mut doc);
    let link = &doc["paths"]["/v1/keys"]["post"]["responses"]["201"]["links"]["VerifyKey"];
    assert_eq!(link["operationId"], "v1_keys_verify");
    assert_eq!(link["requestBody"]["key"], "$response.body#/key");
    assert!(link.get("operation_id").is_none() && link.get("request_body").is_none());
}
