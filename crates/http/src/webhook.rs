//! Generic (webhook) targets: the body lcyt-backend POSTs to them (lcyt-clients reference
//! §4.3), field for field and in its order, and the per-thread HTTP client that also carries
//! YouTube's ingestion POSTs.

use std::collections::BTreeMap;

use actix_web::http::header;
use serde::Serialize;
use serde_json::{Map, Value};
use tally_domain::caption::Caption;

/// How long a webhook may take.
pub const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

thread_local! {
    /// One webhook client per worker thread, built on first use: building one loads the TLS
    /// trust store, far too slow to do per session (awc clients are per-thread by design).
    static WEBHOOK_CLIENT: std::cell::OnceCell<awc::Client> = const { std::cell::OnceCell::new() };
}

/// This worker thread's HTTP client for webhooks and YouTube.
#[must_use]
pub fn webhook_client() -> awc::Client {
    WEBHOOK_CLIENT.with(|c| {
        c.get_or_init(|| awc::Client::builder().timeout(WEBHOOK_TIMEOUT).finish())
            .clone()
    })
}

/// The body a generic target receives (lcyt-clients reference §4.3), fields in lcyt's order.
#[derive(Serialize)]
struct WebhookBody<'a> {
    source: &'a str,
    sequence: u64,
    captions: Vec<WebhookCaption<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookCaption<'a> {
    text: &'a str,
    composed_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    translations: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption_lang: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    show_original: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codes: Option<&'a Map<String, Value>>,
}

/// The exact bytes a generic target receives for a batch of `captions` with `sequence` from
/// the session of site `source`.
#[must_use]
pub fn webhook_body(source: &str, sequence: u64, captions: &[Caption]) -> Vec<u8> {
    let body = WebhookBody {
        source,
        sequence,
        captions: captions
            .iter()
            .map(|c| WebhookCaption {
                text: &c.text,
                composed_text: &c.composed_text,
                timestamp: c.time.fan_out(),
                translations: c.translations.as_ref(),
                caption_lang: c.caption_lang.as_deref().filter(|l| !l.is_empty()),
                show_original: c.show_original,
                codes: c.codes.as_ref(),
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// POSTs a batch to a generic target.
///
/// # Errors
/// `HTTP <status>` for a non-2xx answer, the client's error otherwise (no status).
pub async fn post_webhook(
    client: &awc::Client,
    url: &str,
    headers: &BTreeMap<String, String>,
    body: Vec<u8>,
) -> Result<(), (String, Option<u16>)> {
    // The target's own headers go after `Content-Type`, so they can override it.
    let mut req = client
        .post(url)
        .insert_header((header::CONTENT_TYPE, "application/json"));
    for (name, value) in headers {
        req = req.insert_header((name.as_str(), value.as_str()));
    }
    match req.send_body(body).await {
        Ok(res) if res.status().is_success() => Ok(()),
        Ok(res) => Err((
            format!("HTTP {}", res.status().as_u16()),
            Some(res.status().as_u16()),
        )),
        Err(e) => Err((e.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tally_domain::caption::CaptionTime;

    #[test]
    fn bodies_have_lcyts_fields_in_lcyts_order() {
        let captions = [
            Caption {
                text: "hello".to_owned(),
                composed_text: "hei".to_owned(),
                time: CaptionTime::Verbatim("2024-01-15T12:00:00.123".to_owned()),
                translations: json!({ "fi": "hei" }).as_object().cloned(),
                caption_lang: Some("fi".to_owned()),
                show_original: Some(false),
                codes: json!({ "section": "A" }).as_object().cloned(),
            },
            Caption {
                text: "x".to_owned(),
                composed_text: "x".to_owned(),
                time: CaptionTime::Unset,
                translations: None,
                caption_lang: Some(String::new()),
                show_original: None,
                codes: None,
            },
        ];
        let body = webhook_body("https://a.example", 7, &captions);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            concat!(
                r#"{"source":"https://a.example","sequence":7,"captions":["#,
                r#"{"text":"hello","composedText":"hei","timestamp":"2024-01-15T12:00:00.123","#,
                r#""translations":{"fi":"hei"},"captionLang":"fi","showOriginal":false,"codes":{"section":"A"}},"#,
                r#"{"text":"x","composedText":"x"}]}"#
            )
        );
    }
}
