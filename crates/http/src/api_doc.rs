//! The shared pieces of the OpenAPI document (DESIGN §12): the security schemes every surface
//! names, and the error answers every operation can give. Each surface describes its own
//! operations with `#[utoipa::path]` next to its handlers and lists them in its own
//! `#[derive(OpenApi)]`; `openapi` (the top floor, beside `routes`) merges them.
//!
//! Error answers are added here rather than on each handler because they come from layers
//! below the handlers — the extractors (400), the credential resolver (401, 403), the body
//! limit and media-type check (413, 415) and the store (503) — so every operation shares them.
//! A handler lists only what it alone answers (a 404 of a lookup, a 409, a 429 of a limit).

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::Modify;

/// `X-Admin-Key: <admin key>`.
pub const ADMIN_KEY: &str = "admin_key";
/// `Authorization: Bearer <session JWT>` from `POST /live`.
pub const SESSION_TOKEN: &str = "session_token";
/// `Authorization: Bearer <user JWT>` from `POST /v1/users/{id}/tokens`.
pub const USER_TOKEN: &str = "user_token";
/// `Authorization: Bearer <raw API key>`.
pub const API_KEY: &str = "api_key";

/// The operations of one path item (the methods Tally serves), for modifiers that edit each.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Registers the four credentials of DESIGN §4 as security schemes.
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut admin = ApiKeyValue::new("X-Admin-Key");
        admin.description = Some(
            "The operator's admin key (`ADMIN_KEY`). Admin routes answer 503 when none is \
             configured, 401 without the header and 403 with a wrong one."
                .to_owned(),
        );
        components.add_security_scheme(ADMIN_KEY, SecurityScheme::ApiKey(ApiKey::Header(admin)));
        let bearer = |format: &str, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            SESSION_TOKEN,
            bearer(
                "JWT",
                "A session token from `POST /live`; valid while its session is open and its \
                 key is neither revoked nor erased. `GET /events` and `GET /events/stream` also \
                 take it as `?token=`.",
            ),
        );
        components.add_security_scheme(
            USER_TOKEN,
            bearer(
                "JWT",
                "A user token from `POST /v1/users/{id}/tokens`; a token of role admin acts as \
                 the admin key.",
            ),
        );
        components.add_security_scheme(
            API_KEY,
            bearer(
                "tk_…",
                "A raw API key (any Bearer credential that is not a JWT).",
            ),
        );
    }
}

/// Adds the error answers of the shared layers to every operation that does not describe that
/// status itself: 400, 500 and 503 everywhere; 401 and 403 where a credential is required; 404
/// where the path names a resource; 413 and 415 where there is a request body.
pub struct ErrorResponses {
    schema: &'static str,
    content_type: &'static str,
}

/// [`ErrorResponses`] as RFC 9457 problem documents ([`crate::error::Problem`]): what every
/// surface but new-api answers.
pub const PROBLEM_ERRORS: ErrorResponses =
    ErrorResponses::new("Problem", crate::error::PROBLEM_JSON);

impl ErrorResponses {
    /// Errors answered with the component schema `schema` as `content_type` (new-api's envelope).
    #[must_use]
    pub const fn new(schema: &'static str, content_type: &'static str) -> Self {
        Self {
            schema,
            content_type,
        }
    }

    fn response(&self, description: &str) -> RefOr<Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    self.content_type,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(self.schema)))
                        .build(),
                )
                .build(),
        )
    }
}

impl Modify for ErrorResponses {
    fn modify(&self, doc: &mut OpenApi) {
        for (path, item) in &mut doc.paths.paths {
            for op in operations_mut(item) {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| self.response(description));
                };
                add(
                    "400",
                    "Invalid input; `error` names the field and the rule.",
                );
                if secured {
                    add("401", "Missing or invalid credentials.");
                    add("403", "Valid credentials that may not do this.");
                }
                if path.contains('{') {
                    add("404", "No such resource.");
                }
                if body {
                    add("413", "The body exceeds 1 MiB.");
                    add("415", "The body is not declared `application/json`.");
                }
                add(
                    "500",
                    "An internal fault (generic body; the cause is logged).",
                );
                add(
                    "503",
                    "The store is unavailable (with `Retry-After`), or a feature this route \
                     needs is not configured.",
                );
            }
        }
    }
}
