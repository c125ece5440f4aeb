//! YouTube's caption ingestion protocol, as lcyt's `YoutubeLiveCaptionSender` speaks it
//! (lcyt-clients reference §2): `POST <base>?cid=<streamKey>&seq=<n>` with a `text/plain`
//! body of `timestamp\ntext\n` blocks, and the empty-body POST whose answer (YouTube's clock)
//! gives the sync offset. Pure formatting is unit-tested here; [`post`] does the I/O.

use std::time::Duration;

use actix_web::http::header;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How long one ingestion POST may take (lcyt sets no limit, so a stalled YouTube stalls the
/// session's queue for good; Tally gives up and reports the batch failed).
pub const YOUTUBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Spacing of unstamped captions within one batch, as lcyt's sender stamps them.
pub const BATCH_SPACING_MS: i64 = 100;

/// `application/x-www-form-urlencoded` encoding of a query value (what the WHATWG
/// `URLSearchParams` serialiser lcyt uses produces): alphanumerics and `*-._` stay, a space
/// becomes `+`, every other byte is `%XX`.
#[must_use]
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The ingestion URL of one POST.
#[must_use]
pub fn ingestion_url(base: &str, stream_key: &str, seq: u64) -> String {
    format!("{base}?cid={}&seq={seq}", form_encode(stream_key))
}

/// The request body: one `timestamp\ntext\n` block per caption.
#[must_use]
pub fn body<'a>(blocks: impl IntoIterator<Item = (String, &'a str)>) -> String {
    blocks
        .into_iter()
        .map(|(time, text)| format!("{time}\n{text}\n"))
        .collect()
}

/// What YouTube answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The trimmed body, when not empty: YouTube's receive time (`YYYY-MM-DDTHH:MM:SS.mmm`).
    pub server_timestamp: Option<String>,
}

impl Answer {
    /// Whether YouTube took the captions (any 2xx).
    #[must_use]
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// YouTube's clock from an answer body (UTC without a zone), if it parses.
#[must_use]
pub fn server_time(server_timestamp: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(&format!("{server_timestamp}Z"), &Rfc3339).ok()
}

/// The largest clock offset taken from a sync: an answer further off than a day is not a
/// clock (and would push caption times out of range).
pub const MAX_SYNC_OFFSET: time::Duration = time::Duration::DAY;

/// lcyt's sync offset: YouTube's time minus the midpoint of the round trip, in whole ms
/// (positive when YouTube's clock is ahead of ours); `None` beyond [`MAX_SYNC_OFFSET`].
#[must_use]
pub fn sync_offset_ms(
    sent: OffsetDateTime,
    answered: OffsetDateTime,
    server: OffsetDateTime,
) -> Option<i64> {
    let half: time::Duration = (answered - sent) / 2;
    let mid: OffsetDateTime = sent + half;
    let ahead: time::Duration = server - mid;
    if ahead.abs() > MAX_SYNC_OFFSET {
        return None;
    }
    let ms = ahead.whole_microseconds() as f64 / 1000.0;
    Some(ms.round() as i64)
}

/// Sends one ingestion POST: exactly `Content-Type: text/plain` (YouTube refuses a charset)
/// and the body's UTF-8 length.
///
/// # Errors
/// The transport failure, worded as lcyt's sender words it (`Failed to send: …`).
pub async fn post(client: &awc::Client, url: &str, body: String) -> Result<Answer, String> {
    let mut res = client
        .post(url)
        .timeout(YOUTUBE_TIMEOUT)
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .send_body(body)
        .await
        .map_err(|e| format!("Failed to send: {e}"))?;
    let status = res.status().as_u16();
    let text = res
        .body()
        .limit(64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    Ok(Answer {
        status,
        server_timestamp: Some(text).filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn urls_carry_the_form_encoded_key_and_the_sequence() {
        assert_eq!(
            ingestion_url("http://upload.youtube.com/closedcaption", "ab-cd", 5),
            "http://upload.youtube.com/closedcaption?cid=ab-cd&seq=5"
        );
        assert_eq!(form_encode("a b&c=d/é~"), "a+b%26c%3Dd%2F%C3%A9%7E");
    }

    #[test]
    fn bodies_are_two_line_blocks_ending_in_a_newline() {
        let b = body([
            ("2024-01-15T12:00:00.597".to_owned(), "a"),
            ("2024-01-15T12:00:00.697".to_owned(), "b"),
        ]);
        assert_eq!(
            b,
            "2024-01-15T12:00:00.597\na\n2024-01-15T12:00:00.697\nb\n"
        );
    }

    #[test]
    fn the_sync_offset_is_youtubes_time_minus_the_round_trip_midpoint() {
        let sent = datetime!(2024-01-15 12:00:00.000 UTC);
        let answered = datetime!(2024-01-15 12:00:00.100 UTC);
        let server = server_time("2024-01-15T12:00:01.550").unwrap();
        assert_eq!(sync_offset_ms(sent, answered, server), Some(1500));
        let behind = server_time("2024-01-15T11:59:59.050").unwrap();
        assert_eq!(sync_offset_ms(sent, answered, behind), Some(-1000));
        let absurd = server_time("9999-12-31T23:59:59.999").unwrap();
        assert_eq!(sync_offset_ms(sent, answered, absurd), None);
        assert!(server_time("not a time").is_none());
        assert!(server_time("").is_none());
    }
}
