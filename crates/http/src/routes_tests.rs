use std::collections::BTreeSet;

use utoipa::openapi::path::PathItem;

use super::table;
use crate::openapi::spec;

fn methods(item: &PathItem) -> Vec<&'static str> {
    [
        ("GET", item.get.is_some()),
        ("PUT", item.put.is_some()),
        ("POST", item.post.is_some()),
        ("DELETE", item.delete.is_some()),
        ("PATCH", item.patch.is_some()),
        ("HEAD", item.head.is_some()),
        ("OPTIONS", item.options.is_some()),
        ("TRACE", item.trace.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}

#[test]
fn every_route_the_app_serves_is_an_operation_of_the_document_and_vice_versa() {
    let served: BTreeSet<(String, String)> = table()
        .operations()
        .map(|(m, p)| (m.as_str().to_owned(), p.to_owned()))
        .collect();
    let documented: BTreeSet<(String, String)> = spec()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            methods(item)
                .into_iter()
                .map(|m| (m.to_owned(), path.clone()))
        })
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes without an operation in the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "operations in the OpenAPI document that no route serves: {unserved:?}"
    );
}
