//! The building block of every route table: an actix resource whose unsupported methods answer
//! a JSON 405. Surfaces build their routes with it; it sits below them so that `routes` (which
//! mounts the surfaces) is the only module that knows them all.

use actix_web::{web, HttpResponse};

use crate::error::ApiError;

/// A resource at `path` whose unsupported methods answer a JSON 405.
#[must_use]
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
