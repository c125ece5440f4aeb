//! Collaborative sessions: ids, targets, idle expiry, end reasons and the records they leave.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::key::{KeyId, KeySecret};
use crate::mic::ClientId;
use crate::origin::Domain;
use crate::tenancy::{InvalidValue, OrgId};

pub use crate::session_ref::SessionRef;
pub use crate::target::{StreamKey, Target, ViewerDay, ViewerKey, MAX_TARGETS, MAX_TARGET_HEADERS};

/// A session id: the first 16 hex characters of SHA-256 of `<key>:<streamKey or "">:<domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Derives the id. The domain is taken in normalised form, so `https://a.com/` and `a.com`
    /// join the same session.
    #[must_use]
    pub fn derive(secret: &KeySecret, stream_key: Option<&str>, domain: &Domain) -> Self {
        let input = format!(
            "{}:{}:{}",
            secret.expose(),
            stream_key.unwrap_or(""),
            domain.as_str()
        );
        let digest = Sha256::digest(input.as_bytes());
        Self(hex::encode(&digest[..8]))
    }

    /// Accepts an id read back from a store or a token.
    ///
    /// # Errors
    /// When it is not 16 lower-case hex characters.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("session id must be 16 hex characters"))
        }
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    /// `DELETE /live`.
    Client,
    /// Idle longer than the TTL.
    Ttl,
    /// Its key was revoked.
    Revoked,
    /// Its key was erased (leaves no session record).
    Erased,
}

impl EndReason {
    /// Stored and wire form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Ttl => "ttl",
            Self::Revoked => "revoked",
            Self::Erased => "erased",
        }
    }

    /// Parses the stored form.
    ///
    /// # Errors
    /// An unknown value.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "client" => Ok(Self::Client),
            "ttl" => Ok(Self::Ttl),
            "revoked" => Ok(Self::Revoked),
            "erased" => Ok(Self::Erased),
            _ => Err(InvalidValue::new("unknown end reason")),
        }
    }

    /// Whether ending for this reason writes a session record (erasure leaves none).
    #[must_use]
    pub fn leaves_record(self) -> bool {
        !matches!(self, Self::Erased)
    }
}

/// An open session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Derived id.
    pub id: SessionId,
    /// The key it belongs to.
    pub key_id: KeyId,
    /// The key's organisation.
    pub org_id: OrgId,
    /// The site it was opened from.
    pub domain: Domain,
    /// Optional stream key it was opened with.
    pub stream_key: Option<String>,
    /// +1 per accepted caption request.
    pub sequence: u64,
    /// Delivery targets.
    pub targets: Vec<Target>,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// Last authenticated request or open SSE stream.
    pub last_activity_at: OffsetDateTime,
    /// Captions delivered.
    pub captions_sent: u64,
    /// Captions whose delivery failed.
    pub captions_failed: u64,
    /// Current mic holder.
    pub mic_holder: Option<ClientId>,
    /// Milliseconds YouTube's clock is ahead of ours, measured by the last sync (0 unsynced).
    pub sync_offset_ms: i64,
}

impl Session {
    /// How this session is named: its organisation and id.
    #[must_use]
    pub fn reference(&self) -> SessionRef {
        SessionRef::new(self.org_id.clone(), self.id.clone())
    }

    /// Whether this is the lifetime of the session that started at `started` — a token
    /// carries its session's start (to the millisecond, which is what tokens hold), so that
    /// a session ended and opened again does not revive the old lifetime's tokens.
    #[must_use]
    pub fn in_lifetime(&self, started: OffsetDateTime) -> bool {
        self.started_at.unix_timestamp_nanos() / 1_000_000
            == started.unix_timestamp_nanos() / 1_000_000
    }

    /// Whether its caption batches are delivered by publishing to its own subscribers (it has
    /// no targets and no primary YouTube sender): such a delivery cannot fail, so it is
    /// recorded with the batch's meter.
    #[must_use]
    pub fn delivers_to_itself(&self) -> bool {
        self.targets.is_empty() && self.primary_stream_key().is_none()
    }

    /// The stream key of lcyt's legacy mode: a session opened with a `streamKey` has a
    /// primary YouTube sender whose status is the batch's reported status.
    #[must_use]
    pub fn primary_stream_key(&self) -> Option<StreamKey> {
        self.stream_key
            .as_deref()
            .and_then(|k| StreamKey::parse(k).ok())
    }

    /// Whether the session has been idle for at least `ttl` at `now`.
    #[must_use]
    pub fn is_idle(&self, now: OffsetDateTime, ttl: Duration) -> bool {
        now - self.last_activity_at >= ttl
    }

    /// The record it leaves when it ends at `ended_at`.
    #[must_use]
    pub fn record(&self, ended_at: OffsetDateTime, ended_by: EndReason) -> SessionRecord {
        SessionRecord {
            session_id: self.id.clone(),
            key_id: self.key_id,
            org_id: self.org_id.clone(),
            domain: self.domain.clone(),
            started_at: self.started_at,
            ended_at,
            duration_ms: duration_ms(self.started_at, ended_at),
            captions_sent: self.captions_sent,
            captions_failed: self.captions_failed,
            final_sequence: self.sequence,
            ended_by,
        }
    }
}

/// Milliseconds from `from` to `to`, never negative.
#[must_use]
pub fn duration_ms(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

/// How long a key's caption sequence carries over into a new session.
pub const SEQUENCE_CARRY_OVER: Duration = Duration::hours(2);

/// The sequence a new session starts from: the client's explicit value, else the key's last
/// sequence if its last caption is under two hours old, else 0.
#[must_use]
pub fn initial_sequence(
    requested: Option<u64>,
    key_sequence: u64,
    last_caption_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> u64 {
    requested.unwrap_or_else(|| match last_caption_at {
        Some(at) if now - at < SEQUENCE_CARRY_OVER => key_sequence,
        _ => 0,
    })
}

/// Everything needed to open (or join) a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSession {
    /// Derived id.
    pub id: SessionId,
    /// The key.
    pub key_id: KeyId,
    /// The key's organisation.
    pub org_id: OrgId,
    /// The site.
    pub domain: Domain,
    /// Optional stream key.
    pub stream_key: Option<String>,
    /// Starting sequence when the session is new.
    pub sequence: u64,
    /// Targets; `None` keeps a joined session's targets (a new one gets none).
    pub targets: Option<Vec<Target>>,
    /// Now.
    pub now: OffsetDateTime,
}

/// A validated partial update of an open session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionPatch {
    /// New sequence.
    pub sequence: Option<u64>,
    /// New targets (replacing the old ones).
    pub targets: Option<Vec<Target>>,
    /// A new clock offset against YouTube (`POST /sync`).
    pub sync_offset_ms: Option<i64>,
}

/// The record an ended session leaves (not for erasure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session.
    pub session_id: SessionId,
    /// Its key.
    pub key_id: KeyId,
    /// The key's organisation.
    pub org_id: OrgId,
    /// Its site.
    pub domain: Domain,
    /// Start.
    pub started_at: OffsetDateTime,
    /// End.
    pub ended_at: OffsetDateTime,
    /// `ended_at - started_at` in ms.
    pub duration_ms: u64,
    /// Captions delivered.
    pub captions_sent: u64,
    /// Captions failed.
    pub captions_failed: u64,
    /// Last sequence.
    pub final_sequence: u64,
    /// Why it ended.
    pub ended_by: EndReason,
}

/// The outcome of delivering one caption batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Every target accepted the batch.
    Delivered {
        /// Captions in the batch.
        batch_size: u64,
    },
    /// A target refused it or could not be reached.
    Failed {
        /// Captions in the batch.
        batch_size: u64,
        /// What went wrong, e.g. `HTTP 403`.
        error: String,
        /// The HTTP status, when there was one.
        status_code: Option<u16>,
    },
}

/// What the primary YouTube sender (lcyt's legacy `streamKey` mode) answered for a batch:
/// the status and receive time its `caption_result` reports. Sessions without one report 200
/// and no time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// YouTube's status for the batch (any 2xx on success).
    pub status_code: Option<u16>,
    /// YouTube's trimmed answer body (its receive time), when not empty.
    pub server_timestamp: Option<String>,
}

/// A failed caption delivery, as listed by `GET /stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionError {
    /// The session.
    pub session_id: SessionId,
    /// Its key.
    pub key_id: KeyId,
    /// The key's organisation.
    pub org_id: OrgId,
    /// What went wrong.
    pub error: String,
    /// HTTP status, if any.
    pub status_code: Option<u16>,
    /// When.
    pub occurred_at: OffsetDateTime,
    /// Captions in the failed batch.
    pub batch_size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn domain(s: &str) -> Domain {
        Domain::parse(s).unwrap()
    }

    #[test]
    fn session_id_is_sixteen_hex_of_sha256() {
        let key = KeySecret::presented("abc");
        let id = SessionId::derive(&key, None, &domain("https://a.example"));
        // sha256("abc::https://a.example") starts with these 16 hex characters.
        let digest = Sha256::digest(b"abc::https://a.example");
        assert_eq!(id.as_str(), &hex::encode(digest)[..16]);
        assert_eq!(SessionId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn same_key_and_domain_share_a_session() {
        let key = KeySecret::presented("abc");
        let a = SessionId::derive(&key, None, &domain("https://a.example/"));
        let b = SessionId::derive(&key, None, &domain("A.example"));
        let c = SessionId::derive(&key, Some("s1"), &domain("a.example"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn idle_ttl_is_inclusive() {
        let s = Session {
            id: SessionId::parse("0123456789abcdef").unwrap(),
            key_id: KeyId(1),
            org_id: OrgId::default_org(),
            domain: domain("a.example"),
            stream_key: None,
            sequence: 0,
            targets: vec![],
            started_at: datetime!(2026-01-01 10:00 UTC),
            last_activity_at: datetime!(2026-01-01 10:30 UTC),
            captions_sent: 3,
            captions_failed: 1,
            mic_holder: None,
            sync_offset_ms: 0,
        };
        let ttl = Duration::hours(2);
        assert!(!s.is_idle(datetime!(2026-01-01 12:29:59 UTC), ttl));
        assert!(s.is_idle(datetime!(2026-01-01 12:30 UTC), ttl));
        let r = s.record(datetime!(2026-01-01 11:00 UTC), EndReason::Ttl);
        assert_eq!(r.duration_ms, 3_600_000);
        assert_eq!((r.captions_sent, r.captions_failed), (3, 1));
    }

    #[test]
    fn sequence_carries_over_for_two_hours() {
        let now = datetime!(2026-01-01 12:00 UTC);
        assert_eq!(initial_sequence(Some(5), 9, None, now), 5);
        assert_eq!(
            initial_sequence(None, 9, Some(datetime!(2026-01-01 10:00:01 UTC)), now),
            9
        );
        assert_eq!(
            initial_sequence(None, 9, Some(datetime!(2026-01-01 10:00 UTC)), now),
            0
        );
        assert_eq!(initial_sequence(None, 9, None, now), 0);
    }

    #[test]
    fn erasure_leaves_no_record() {
        assert!(!EndReason::Erased.leaves_record());
        assert!(EndReason::Ttl.leaves_record());
        assert_eq!(EndReason::parse("revoked").unwrap(), EndReason::Revoked);
    }
}
