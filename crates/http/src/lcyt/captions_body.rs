//! The `POST /captions` body as it is read: the `captions` array item by item, each item
//! field by field, without first building the whole body as a `serde_json::Value` tree (a
//! map with owned keys per caption, a tenth of an HTTP worker's time on the captions
//! benchmark). Only the fields a caption has are kept, each as the JSON value it was sent as,
//! so [`super::captions`] validates them with messages naming the field, as it did from the
//! tree: a `captions` that is not an array, an item that is not an object and a repeated field
//! (the last one counts) read as they did. Whatever is not kept is still read as a `Value` and
//! dropped, so a malformed string or number anywhere is the same 400 `malformed JSON` as
//! before; items past the hundred-and-first are read and dropped too (the request is refused
//! for their number), so an oversized array holds no more than that many items at once.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// Most captions per request.
pub const MAX_CAPTIONS: usize = 100;

/// The `visit_*` methods of every JSON scalar (and `null`), each answering `$value`.
macro_rules! scalars_are {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// `POST /captions` body; its contract is [`CaptionsBody`](super::contract::CaptionsBody).
#[derive(Debug, Deserialize)]
pub(super) struct CaptionsRequest {
    /// `None` when absent or `null`.
    pub(super) captions: Option<CaptionList>,
}

/// The `captions` member: its items when it is an array, `None` when it is anything else.
#[derive(Debug)]
pub(super) struct CaptionList(pub(super) Option<Vec<CaptionItem>>);

/// One item of `captions`, by field (`None`: absent; JSON `null` is kept as `Value::Null`).
/// An item that is not an object has no fields.
#[derive(Debug, Default)]
pub(super) struct CaptionItem {
    pub(super) text: Option<Value>,
    pub(super) timestamp: Option<Value>,
    pub(super) time: Option<Value>,
    pub(super) translations: Option<Value>,
    pub(super) caption_lang: Option<Value>,
    pub(super) show_original: Option<Value>,
    pub(super) codes: Option<Value>,
}

impl<'de> Deserialize<'de> for CaptionList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor)
    }
}

impl<'de> Deserialize<'de> for CaptionItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

/// Accepts any JSON value: an array becomes its first [`MAX_CAPTIONS`] + 1 items (the rest are
/// read and dropped), anything else `None` (after reading it through).
struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = CaptionList;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
        while items.len() <= MAX_CAPTIONS {
            let Some(item) = seq.next_element()? else {
                return Ok(CaptionList(Some(items)));
            };
            items.push(item);
        }
        while seq.next_element::<Value>()?.is_some() {}
        Ok(CaptionList(Some(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<String, Value>()?.is_some() {}
        Ok(CaptionList(None))
    }

    scalars_are!(CaptionList(None));
}

/// Accepts any JSON value: an object's caption fields are kept (other members are read
/// through), anything else is an item without fields.
struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = CaptionItem;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut item = CaptionItem::default();
        while let Some(field) = map.next_key::<Field>()? {
            let slot = match field {
                Field::Text => &mut item.text,
                Field::Timestamp => &mut item.timestamp,
                Field::Time => &mut item.time,
                Field::Translations => &mut item.translations,
                Field::CaptionLang => &mut item.caption_lang,
                Field::ShowOriginal => &mut item.show_original,
                Field::Codes => &mut item.codes,
                Field::Other => {
                    map.next_value::<Value>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(item)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(CaptionItem::default())
    }

    scalars_are!(CaptionItem::default());
}

/// A member name of a caption item.
enum Field {
    Text,
    Timestamp,
    Time,
    Translations,
    CaptionLang,
    ShowOriginal,
    Codes,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Names;
        impl Visitor<'_> for Names {
            type Value = Field;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "text" => Field::Text,
                    "timestamp" => Field::Timestamp,
                    "time" => Field::Time,
                    "translations" => Field::Translations,
                    "captionLang" => Field::CaptionLang,
                    "showOriginal" => Field::ShowOriginal,
                    "codes" => Field::Codes,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(Names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> CaptionsRequest {
        crate::extract::parse_json(body.as_bytes()).unwrap()
    }

    #[test]
    fn items_keep_their_caption_fields_and_skip_the_rest() {
        let r = read(
            r#"{"captions":[{"text":"a","x":{"y":[1,2]},"time":5,"codes":{"c":"d"}},
                {"text":"b","text":"c","showOriginal":null}], "other": 1}"#,
        );
        let items = r.captions.unwrap().0.unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].text, Some(Value::from("a")));
        assert_eq!(items[0].time, Some(Value::from(5)));
        assert_eq!(items[0].codes, Some(serde_json::json!({"c": "d"})));
        assert_eq!(items[0].timestamp, None);
        assert_eq!(
            items[1].text,
            Some(Value::from("c")),
            "the last repeat counts"
        );
        assert_eq!(items[1].show_original, Some(Value::Null));
    }

    #[test]
    fn a_captions_member_that_is_no_array_and_items_that_are_no_objects_read_through() {
        for body in [
            r#"{"captions":"x"}"#,
            r#"{"captions":{"a":[1]}}"#,
            r#"{"captions":5}"#,
            r#"{"captions":true}"#,
        ] {
            assert!(read(body).captions.unwrap().0.is_none(), "{body}");
        }
        assert!(read(r#"{"captions":null}"#).captions.is_none());
        assert!(read("{}").captions.is_none());
        let items = read(r#"{"captions":[1,"a",[2,{"text":"x"}],null]}"#)
            .captions
            .unwrap()
            .0
            .unwrap();
        assert_eq!(items.len(), 4);
        assert!(items.iter().all(|i| i.text.is_none()));
    }

    #[test]
    fn malformed_json_anywhere_is_still_malformed() {
        for body in [
            r#"{"captions":[{"text":}]}"#,
            r#"{"captions":[{"text":"a","x":"\uD800"}]}"#,
            r#"{"captions":{"a":1e400}}"#,
            r#"{"captions":[[1e400]]}"#,
        ] {
            let e = crate::extract::parse_json::<CaptionsRequest>(body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("malformed JSON"), "{body}: {e}");
        }
    }

    #[test]
    fn an_oversized_array_keeps_one_item_more_than_allowed() {
        let body = format!(
            r#"{{"captions":[{}]}}"#,
            vec![r#"{"text":"a"}"#; 500].join(",")
        );
        let items = read(&body).captions.unwrap().0.unwrap();
        assert_eq!(items.len(), MAX_CAPTIONS + 1);
    }
}
