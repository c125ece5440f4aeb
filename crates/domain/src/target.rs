//! Where a session's captions go: viewer streams, generic webhooks and YouTube ingestion,
//! each validated on construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tenancy::InvalidValue;

/// A public viewer key: at least 3 of `[A-Za-z0-9_-]` (at most 128).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ViewerKey(String);

impl ViewerKey {
    /// Validates a viewer key.
    ///
    /// # Errors
    /// Shorter than 3 or longer than 128 characters, or a character outside `[A-Za-z0-9_-]`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if (3..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "viewerKey must be 3-128 characters of letters, digits, _ or -",
            ))
        }
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ViewerKey {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ViewerKey> for String {
    fn from(k: ViewerKey) -> Self {
        k.0
    }
}

/// One day of a viewer key's stream opens (`GET /stats`'s `viewerStats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerDay {
    /// The UTC day.
    pub date: time::Date,
    /// The viewer key.
    pub viewer_key: ViewerKey,
    /// Opens of its stream that day.
    pub views: u64,
}

/// Where a session's captions are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Target {
    /// Broadcast on the public `GET /viewer/{viewerKey}` stream.
    Viewer {
        /// The public key of the stream.
        #[serde(rename = "viewerKey")]
        viewer_key: ViewerKey,
    },
    /// HTTP POST of `{source, sequence, captions}` to a URL.
    Generic {
        /// An `http` or `https` URL.
        url: String,
        /// Extra request headers, sent after (so able to override) `Content-Type`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// YouTube's caption ingestion (`POST <base>?cid=<streamKey>&seq=<n>`).
    Youtube {
        /// The stream's caption key (`cid`).
        #[serde(rename = "streamKey")]
        stream_key: StreamKey,
    },
}

/// Most targets a session may have.
pub const MAX_TARGETS: usize = 16;

/// Most extra headers of a generic target.
pub const MAX_TARGET_HEADERS: usize = 32;

impl Target {
    /// A generic target, validating its URL and headers (names are HTTP tokens, values
    /// visible ASCII or spaces, so every one of them can be sent).
    ///
    /// # Errors
    /// When the URL is not `http(s)://host…` or is longer than 2,048 characters, or a header
    /// is not sendable.
    pub fn generic(url: &str, headers: BTreeMap<String, String>) -> Result<Self, InvalidValue> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                InvalidValue(format!("Generic target URL must use http or https: {url}"))
            })?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || url.len() > 2048 || url.chars().any(char::is_whitespace) {
            return Err(InvalidValue(format!("Invalid generic target URL: {url}")));
        }
        if headers.len() > MAX_TARGET_HEADERS {
            return Err(InvalidValue(format!(
                "a generic target may have at most {MAX_TARGET_HEADERS} headers"
            )));
        }
        for (name, value) in &headers {
            let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            if name.is_empty() || name.len() > 256 || !name.bytes().all(token) {
                return Err(InvalidValue(format!(
                    "Invalid generic target header name: {name}"
                )));
            }
            if value.len() > 4096 || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
                return Err(InvalidValue(format!(
                    "Invalid value of generic target header {name}"
                )));
            }
        }
        Ok(Self::Generic {
            url: url.to_owned(),
            headers,
        })
    }
}

/// A YouTube stream's caption key: 1–256 printable ASCII characters (it is pasted into the
/// ingestion URL's query, form-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamKey(String);

impl StreamKey {
    /// Validates a stream key.
    ///
    /// # Errors
    /// Empty, longer than 256 characters, or a character outside printable ASCII.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if (1..=256).contains(&s.len()) && s.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "streamKey must be 1-256 printable ASCII characters",
            ))
        }
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StreamKey {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<StreamKey> for String {
    fn from(k: StreamKey) -> Self {
        k.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_validated() {
        let none = BTreeMap::new;
        assert!(Target::generic("https://hook.example/x", none()).is_ok());
        assert!(Target::generic("ftp://hook.example", none()).is_err());
        assert!(Target::generic("https://", none()).is_err());
        let header = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(Target::generic("https://h.example", header("X-Token", "a b")).is_ok());
        assert!(Target::generic("https://h.example", header("X Token", "a")).is_err());
        assert!(Target::generic("https://h.example", header("X-Token", "a\r\nb")).is_err());
        let t: Target = serde_json::from_str(r#"{"type":"youtube","streamKey":"ab-cd"}"#).unwrap();
        assert_eq!(
            t,
            Target::Youtube {
                stream_key: StreamKey::parse("ab-cd").unwrap()
            }
        );
        let g: Target =
            serde_json::from_str(r#"{"type":"generic","url":"https://h.example"}"#).unwrap();
        assert_eq!(g, Target::generic("https://h.example", none()).unwrap());
        assert!(ViewerKey::parse("ab").is_err());
        assert!(ViewerKey::parse("abc_-1").is_ok());
        let t: Target = serde_json::from_str(r#"{"type":"viewer","viewerKey":"room-1"}"#).unwrap();
        assert_eq!(
            t,
            Target::Viewer {
                viewer_key: ViewerKey::parse("room-1").unwrap()
            }
        );
        assert!(serde_json::from_str::<Target>(r#"{"type":"viewer","viewerKey":"a"}"#).is_err());
    }
}
