//! The OpenAPI contract of the lcyt bodies that their handlers read leniently, field by field
//! from a JSON value, as lcyt does (`POST /live`'s targets, `POST /captions`' captions). These
//! types are never deserialised: they only describe what the handlers accept, exactly, so a
//! body the document calls invalid is one the handler refuses. Where lcyt ignores a field of
//! the wrong type (a generic target's `headers`, a YouTube target's `streamKey`), the schema
//! leaves its type open too.

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

/// One entry of a session's `targets`; other fields (lcyt-web's `id`, `noBatch`, `iconId`) are
/// ignored.
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TargetSpec {
    /// Captions go to the public stream `GET /viewer/{viewerKey}`.
    Viewer {
        /// The stream's public key.
        #[serde(rename = "viewerKey")]
        #[schema(pattern = "^[A-Za-z0-9_-]{3,128}$")]
        viewer_key: String,
    },
    /// Each batch is POSTed as JSON `{source, sequence, captions}` to `url`.
    Generic {
        /// An `http` or `https` URL with a host, without whitespace, at most 2,048 bytes.
        #[schema(max_length = 2048, pattern = "^https?://[^/?#\\s]\\S*$")]
        url: String,
        /// Extra request headers (at most 32; names HTTP tokens, values printable ASCII),
        /// sent after `Content-Type`. A value that is not an object is ignored, as lcyt does.
        #[schema(schema_with = target_headers)]
        headers: Option<()>,
    },
    /// Each batch is POSTed to YouTube's caption ingestion with this stream key.
    Youtube {
        /// The stream's caption key, trimmed: 1-256 printable ASCII characters. An entry whose
        /// key is absent, blank or not a string is dropped, as lcyt drops unfilled rows.
        #[serde(rename = "streamKey")]
        #[schema(schema_with = youtube_stream_key)]
        stream_key: Option<()>,
    },
}

fn target_headers() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .max_properties(Some(tally_domain::session::MAX_TARGET_HEADERS))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(4096))
                .pattern(Some("^[ -~]*$")),
        ))
        .description(Some(
            "Extra request headers: an object of strings (at most 32; names HTTP tokens of at \
             most 256 characters, values at most 4,096 printable ASCII characters). Any other \
             value is ignored.",
        ))
        .into()
}

fn youtube_stream_key() -> RefOr<Schema> {
    // `pattern` constrains strings only: anything else drops the entry.
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .pattern(Some("^\\s*([!-~]([ -~]{0,254}[!-~])?)?\\s*$"))
        .description(Some(
            "The stream's caption key, trimmed: 1-256 printable ASCII characters. An entry \
             whose key is absent, blank or not a string is dropped.",
        ))
        .into()
}

/// One caption of `POST /captions`; other fields (`fileFormats`, `speechStart`) are ignored.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptionSpec {
    /// The caption line (may be empty).
    #[schema(max_length = 5000)]
    pub text: String,
    /// When it was said: a string (as sent to YouTube; one ending in `Z` is an RFC 3339 time,
    /// re-written in YouTube's form), epoch milliseconds (≥ 1000), seconds from now (another
    /// non-zero number), or `0`, `false`, `null`: the moment of sending.
    #[schema(schema_with = caption_timestamp)]
    pub timestamp: Option<()>,
    /// Milliseconds since the session's `startedAt`; used when `timestamp` is absent or `null`.
    #[schema(schema_with = caption_time)]
    pub time: Option<()>,
    /// Translations, language → text.
    #[schema(value_type = Option<Object>)]
    pub translations: Option<()>,
    /// Which translation `composedText` shows.
    #[schema(max_length = 64)]
    pub caption_lang: Option<String>,
    /// Compose `original<br>translation`.
    pub show_original: Option<bool>,
    /// Metacode values (`section`, `lang`, …), passed on to viewers and webhooks.
    #[schema(value_type = Option<Object>)]
    pub codes: Option<()>,
}

fn caption_timestamp() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64))
                // A string ending in `Z` must be an RFC 3339 time.
                .pattern(Some(
                    "^([\\s\\S]*[^Zz])?$|^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?[Zz]$",
                )),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .exclusive_minimum(Some(-1.0e15))
                .exclusive_maximum(Some(1.0e15)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([false])),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "A string of at most 64 characters (one ending in `Z` an RFC 3339 time), a number \
             (epoch ms when ≥ 1000, else seconds from now; `0` = now), `false` or `null` (now).",
        ))
        .into()
}

fn caption_time() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
        .exclusive_minimum(Some(-1.0e13))
        .exclusive_maximum(Some(1.0e13))
        .description(Some(
            "Milliseconds since the session's `startedAt`; used when `timestamp` is absent or \
             `null`.",
        ))
        .into()
}

/// The body of `POST /captions`; other fields are ignored.
#[derive(ToSchema)]
pub struct CaptionsBody {
    /// The batch, in order: 1-100 captions, each metered as one unit.
    #[schema(min_items = 1, max_items = 100)]
    pub captions: Vec<CaptionSpec>,
}
