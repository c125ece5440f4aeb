//! OpenAPI schemas of the wire values several v1 types share (`#[schema(schema_with = …)]`),
//! so each rule is written once, next to the others.
//!
//! A request schema here is never stricter than the handler: every value the handler accepts
//! matches it, so input a fuzzer generates against the schema's rules is always refused. Where
//! the domain rule cannot be said exactly in a pattern (Unicode letters, e-mail normalisation)
//! the schema says less and its description says the rest.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::Object;

/// The characters Rust's `str::trim` removes (Unicode `White_Space`), spelled out because
/// `\s` means a different set in ECMA-262, Python and Rust.
const WS: &str = r"\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

fn string(nullable: bool) -> ObjectBuilder {
    if nullable {
        ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
    } else {
        ObjectBuilder::new().schema_type(Type::String)
    }
}

/// A display name (`parse_name`): 1-200 characters once leading and trailing white space is
/// trimmed.
fn name(nullable: bool) -> Object {
    let pattern = format!("^[{WS}]*[^{WS}](?:[\\s\\S]{{0,198}}[^{WS}])?[{WS}]*$");
    string(nullable)
        .pattern(Some(pattern))
        .description(Some(
            "1-200 characters after trimming white space; stored trimmed.",
        ))
        .build()
}

/// A required display name.
pub fn display_name() -> Object {
    name(false)
}

/// A display name that may be `null`.
pub fn nullable_display_name() -> Object {
    name(true)
}

const ORG_ID: &str = "^org_[A-Za-z0-9_-]{1,60}$";

fn org(nullable: bool) -> Object {
    string(nullable)
        .pattern(Some(ORG_ID))
        .description(Some(
            "An organisation id: `org_` and 1-60 letters, digits, `_` or `-`.",
        ))
        .build()
}

/// An organisation id a request body may name.
pub fn org_id() -> Object {
    org(true)
}

/// An organisation id a query names.
pub fn org_id_param() -> Object {
    org(false)
}

/// An instant a request sends: an RFC 3339 date-time, or `YYYY-MM-DD` (midnight UTC). The
/// pattern checks the shape both forms share; the handler parses the rest.
fn instant(nullable: bool) -> Object {
    string(nullable)
        .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt].*)?$"))
        .description(Some(
            "An RFC 3339 date-time (`2026-06-01T10:00:00Z`), or a date `YYYY-MM-DD` meaning \
             midnight UTC.",
        ))
        .build()
}

/// An instant a request body may send.
pub fn optional_instant() -> Object {
    instant(true)
}

/// An instant a query names.
pub fn instant_param() -> Object {
    instant(false)
}

/// An e-mail address as a request sends it: exactly one `@`, a dot in the domain, no white
/// space once trimmed; stored trimmed and lower-cased (at most 254 bytes then).
fn email(nullable: bool) -> Object {
    let pattern = format!("^[{WS}]*[^{WS}@]+@[^{WS}@.]+\\.[^{WS}@]*[^{WS}@.][{WS}]*$");
    string(nullable)
        .pattern(Some(pattern))
        .description(Some(
            "An e-mail address `local@domain.tld`, stored trimmed and lower-cased (at most \
             254 bytes).",
        ))
        .build()
}

/// An e-mail address a request may send (`null` = none).
pub fn optional_email() -> Object {
    email(true)
}

/// A limit: a non-negative integer, or `null` for unlimited.
pub fn limit() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0))
        .description(Some("`null` is unlimited; `0` blocks everything."))
        .build()
}

/// A time the server writes: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds).
fn timestamp(nullable: bool) -> Object {
    string(nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
}

/// A time the server writes.
pub fn time() -> Object {
    timestamp(false)
}

/// A time the server writes, `null` when it has not happened.
pub fn optional_time() -> Object {
    timestamp(true)
}
