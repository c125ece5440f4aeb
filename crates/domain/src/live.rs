//! Live events: what SSE subscribers of a session or a viewer stream receive.

use serde::{Deserialize, Serialize};

use crate::mic::ClientId;
use crate::session::{SessionId, ViewerKey};

/// Where a live event goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Topic {
    /// The subscribers of one session (`GET /events`).
    Session(SessionId),
    /// The public viewers of one viewer key (`GET /viewer/{key}`).
    Viewer(ViewerKey),
}

/// An event pushed to live subscribers. The names and payloads are the SSE wire format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A caption batch was delivered.
    CaptionResult {
        /// The `/captions` request.
        #[serde(rename = "requestId")]
        request_id: String,
        /// Its sequence.
        sequence: u64,
        /// Captions in it.
        count: u64,
        /// The primary YouTube sender's status (any 2xx), else 200.
        #[serde(rename = "statusCode")]
        status_code: u16,
        /// YouTube's receive time from the primary sender's answer, when it gave one.
        #[serde(rename = "serverTimestamp", default)]
        server_timestamp: Option<String>,
    },
    /// A caption batch failed.
    CaptionError {
        /// The `/captions` request.
        #[serde(rename = "requestId")]
        request_id: String,
        /// What went wrong.
        error: String,
        /// The target's status, or 502 for a network error.
        #[serde(rename = "statusCode")]
        status_code: u16,
        /// Its sequence.
        sequence: u64,
    },
    /// The mic holder after a `/mic` call.
    MicState {
        /// Current holder.
        holder: Option<ClientId>,
    },
    /// The key's counters after a metered request.
    Usage {
        /// Units over the key's life.
        #[serde(rename = "lifetimeUsed")]
        lifetime_used: u64,
        /// Units today.
        #[serde(rename = "dailyUsed")]
        daily_used: u64,
        /// Daily limit.
        #[serde(rename = "dailyLimit")]
        daily_limit: Option<u64>,
        /// Lifetime limit.
        #[serde(rename = "lifetimeLimit")]
        lifetime_limit: Option<u64>,
    },
    /// The session ended; the stream ends after this.
    SessionClosed {},
    /// One caption on a public viewer stream.
    Caption(CaptionFrame),
}

/// The `caption` frame of a viewer stream (lcyt-clients reference §4.2); fields in lcyt's
/// order, optional ones left out when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptionFrame {
    /// Caption text as sent.
    pub text: String,
    /// The composed text (translation rule).
    pub composed_text: String,
    /// Sequence of its batch.
    pub sequence: u64,
    /// The timestamp viewers get (see `CaptionTime::fan_out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Client translations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translations: Option<serde_json::Map<String, serde_json::Value>>,
    /// Metacode values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<serde_json::Map<String, serde_json::Value>>,
}

impl LiveEvent {
    /// The SSE event name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::CaptionResult { .. } => "caption_result",
            Self::CaptionError { .. } => "caption_error",
            Self::MicState { .. } => "mic_state",
            Self::Usage { .. } => "usage",
            Self::SessionClosed {} => "session_closed",
            Self::Caption(_) => "caption",
        }
    }

    /// The SSE `data` payload as compact JSON.
    #[must_use]
    pub fn data_json(&self) -> String {
        // A caption frame keeps its fields in lcyt's order (a `Value` would sort them).
        if let Self::Caption(frame) = self {
            return serde_json::to_string(frame).unwrap_or_else(|_| "{}".to_owned());
        }
        serde_json::to_value(self)
            .ok()
            .and_then(|mut v| v.get_mut("data").map(serde_json::Value::take))
            .map_or_else(|| "{}".to_owned(), |d| d.to_string())
    }
}

/// An event with its destination: the unit the bus carries (and the NOTIFY payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Destination.
    pub topic: Topic,
    /// Event.
    pub event: LiveEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_and_payloads() {
        let e = LiveEvent::MicState {
            holder: Some(ClientId::parse("c1").unwrap()),
        };
        assert_eq!(e.name(), "mic_state");
        assert_eq!(e.data_json(), r#"{"holder":"c1"}"#);
        assert_eq!(LiveEvent::SessionClosed {}.data_json(), "{}");
        let u = LiveEvent::Usage {
            lifetime_used: 3,
            daily_used: 2,
            daily_limit: None,
            lifetime_limit: Some(9),
        };
        let v: serde_json::Value = serde_json::from_str(&u.data_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"lifetimeUsed": 3, "dailyUsed": 2, "dailyLimit": null, "lifetimeLimit": 9})
        );
    }

    #[test]
    fn caption_frames_keep_lcyt_field_order() {
        let frame = CaptionFrame {
            text: "hello".to_owned(),
            composed_text: "hei".to_owned(),
            sequence: 3,
            timestamp: None,
            translations: serde_json::json!({ "fi": "hei" }).as_object().cloned(),
            codes: None,
        };
        let e = LiveEvent::Caption(frame);
        assert_eq!(
            e.data_json(),
            r#"{"text":"hello","composedText":"hei","sequence":3,"translations":{"fi":"hei"}}"#
        );
        let env = Envelope {
            topic: Topic::Viewer(ViewerKey::parse("room").unwrap()),
            event: e,
        };
        let v = serde_json::to_value(&env).unwrap();
        assert_eq!(serde_json::from_value::<Envelope>(v).unwrap(), env);
    }

    #[test]
    fn envelopes_round_trip() {
        let env = Envelope {
            topic: Topic::Session(SessionId::parse("0123456789abcdef").unwrap()),
            event: LiveEvent::SessionClosed {},
        };
        let s = serde_json::to_string(&env).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&s).unwrap(), env);
    }
}
