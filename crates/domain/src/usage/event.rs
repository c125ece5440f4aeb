//! The usage event: one record of metered usage.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::key::KeyId;
use crate::origin::Domain;
use crate::session::SessionId;
use crate::tenancy::{InvalidValue, OrgId, UserId};

/// What produced a usage event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// An API request (gateway traffic, `POST /v1/verify`).
    Request,
    /// A unit of work such as a transcription job.
    Job,
    /// A caption batch (`POST /captions`).
    Caption,
    /// A manually logged usage record (`POST /usage`).
    Usage,
}

impl EventKind {
    /// Stored and wire form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Job => "job",
            Self::Caption => "caption",
            Self::Usage => "usage",
        }
    }

    /// Parses the stored and wire form.
    ///
    /// # Errors
    /// An unknown kind.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "request" => Ok(Self::Request),
            "job" => Ok(Self::Job),
            "caption" => Ok(Self::Caption),
            "usage" => Ok(Self::Usage),
            _ => Err(InvalidValue::new(
                "kind must be request, job, caption or usage",
            )),
        }
    }
}

/// Money as integer nano-dollars (1e-9 USD). Never a float in storage.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct CostNanos(pub i64);

/// Nano-dollars per dollar.
const NANOS_PER_USD: i64 = 1_000_000_000;

/// The largest cost of one event, in whole dollars: 1,000,000 USD, i.e. 10^15 nano-dollars, the
/// bound of every other counter. Sums of 9,223 such events still fit an `i64` rollup.
pub const MAX_COST_USD: i64 = 1_000_000;

impl CostNanos {
    /// Parses a non-negative decimal dollar amount exactly, as written (`"0.0043"`, `"12"`,
    /// `"1e-3"` is refused: write it as a decimal).
    ///
    /// # Errors
    /// Not a plain decimal, negative, more than 9 decimal places, or above [`MAX_COST_USD`].
    pub fn parse_usd(s: &str) -> Result<Self, InvalidValue> {
        let bad = |why: &str| InvalidValue(format!("cost_usd {why}"));
        let s = s.trim();
        if s.starts_with('-') {
            return Err(bad("must not be negative"));
        }
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() && frac.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("must be a decimal number of dollars"));
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 9 {
            return Err(bad("has more than 9 decimal places"));
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad("is too large"))?
        };
        let frac_nanos: i64 = format!("{frac:0<9}")
            .parse()
            .map_err(|_| bad("is malformed"))?;
        whole
            .checked_mul(NANOS_PER_USD)
            .and_then(|w| w.checked_add(frac_nanos))
            .filter(|n| *n <= MAX_COST_USD * NANOS_PER_USD)
            .map(Self)
            .ok_or_else(|| bad("is too large"))
    }

    /// The exact decimal dollar string, without trailing zeros (`"0.0043"`, `"12"`).
    #[must_use]
    pub fn to_usd_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let nanos = NANOS_PER_USD.unsigned_abs();
        let (whole, frac) = (abs / nanos, abs % nanos);
        if frac == 0 {
            format!("{sign}{whole}")
        } else {
            let frac = format!("{frac:09}");
            format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl fmt::Display for CostNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_usd_string())
    }
}

/// A client-chosen key that makes an ingestion idempotent within an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Validates a key: 1-255 visible ASCII characters.
    ///
    /// # Errors
    /// Empty, too long or with other characters.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "idempotency key must be 1-255 visible ASCII characters",
            ))
        }
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored usage event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    /// Its id.
    pub id: Uuid,
    /// When it was recorded.
    pub created_at: OffsetDateTime,
    /// False once refunded or voided: it then counts in no analytics.
    pub active: bool,
    /// Everything the producer said about it.
    pub data: NewUsageEvent,
}

/// A usage event as produced, before the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsageEvent {
    /// Owning organisation.
    pub org_id: OrgId,
    /// The user, if known.
    pub user_id: Option<UserId>,
    /// The key, if any.
    pub key_id: Option<KeyId>,
    /// The session, for captions.
    pub session_id: Option<SessionId>,
    /// What produced it.
    pub kind: EventKind,
    /// Product-level API name (`llm_query`).
    pub api_name: Option<String>,
    /// Product-level endpoint (`/chat`).
    pub endpoint: Option<String>,
    /// HTTP method, upper-case: present means "an API call".
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP status.
    pub status_code: Option<u16>,
    /// Response time.
    pub response_time_ms: Option<u64>,
    /// Model name.
    pub model: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Site.
    pub domain: Option<Domain>,
    /// Metered units.
    pub units: u64,
    /// Cost.
    pub cost: CostNanos,
    /// Tokens.
    pub tokens: u64,
    /// Quota consumed.
    pub quota: u64,
    /// Work duration.
    pub duration_ms: u64,
    /// Whether it succeeded.
    pub success: bool,
    /// Error text on failure.
    pub error: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Idempotency key (unique per organisation).
    pub idempotency_key: Option<IdempotencyKey>,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
}

/// Longest accepted text field of an event.
pub const MAX_TEXT_LEN: usize = 2_048;

impl NewUsageEvent {
    /// A minimal event of `kind` for `org_id` at `now`: one successful unit, nothing else.
    #[must_use]
    pub fn new(org_id: OrgId, kind: EventKind, now: OffsetDateTime) -> Self {
        Self {
            org_id,
            user_id: None,
            key_id: None,
            session_id: None,
            kind,
            api_name: None,
            endpoint: None,
            method: None,
            path: None,
            status_code: None,
            response_time_ms: None,
            model: None,
            language: None,
            domain: None,
            units: 1,
            cost: CostNanos(0),
            tokens: 0,
            quota: 0,
            duration_ms: 0,
            success: true,
            error: None,
            ip: None,
            user_agent: None,
            idempotency_key: None,
            occurred_at: now,
        }
    }

    /// Checks the rules a store relies on.
    ///
    /// # Errors
    /// Names the first offending field: negative cost, a text field longer than 2,048
    /// characters, a method that is not an upper-case token, a status outside 100-599, or a
    /// counter above 10^15 (which keeps every rollup sum far from overflow).
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.cost.0 < 0 {
            return Err(InvalidValue::new("cost_usd must not be negative"));
        }
        let texts = [
            ("api_name", &self.api_name),
            ("endpoint", &self.endpoint),
            ("method", &self.method),
            ("path", &self.path),
            ("model", &self.model),
            ("language", &self.language),
            ("error", &self.error),
            ("ip", &self.ip),
            ("user_agent", &self.user_agent),
        ];
        for (field, value) in texts {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > MAX_TEXT_LEN)
            {
                return Err(InvalidValue(format!(
                    "{field} must be at most {MAX_TEXT_LEN} characters"
                )));
            }
        }
        if let Some(m) = &self.method {
            if m.is_empty() || m.len() > 16 || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(InvalidValue::new(
                    "method must be an upper-case HTTP method",
                ));
            }
        }
        if self.status_code.is_some_and(|s| !(100..=599).contains(&s)) {
            return Err(InvalidValue::new("status_code must be between 100 and 599"));
        }
        const MAX: u64 = 1_000_000_000_000_000;
        for (field, v) in [
            ("units", self.units),
            ("tokens", self.tokens),
            ("quota", self.quota),
            ("duration_ms", self.duration_ms),
            ("response_time_ms", self.response_time_ms.unwrap_or(0)),
        ] {
            if v > MAX {
                return Err(InvalidValue(format!("{field} must be at most {MAX}")));
            }
        }
        Ok(())
    }
}

/// An admin's correction of a recorded event (`PUT /usage/{id}`). Rollups follow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPatch {
    /// New units.
    pub units: Option<u64>,
    /// New cost.
    pub cost: Option<CostNanos>,
    /// New tokens.
    pub tokens: Option<u64>,
    /// New quota.
    pub quota: Option<u64>,
    /// New active flag (`false` = refunded).
    pub active: Option<bool>,
    /// The HTTP status, known only once the product answered (the metering middleware).
    pub status_code: Option<u16>,
    /// The response time, known only once the product answered (the metering middleware).
    pub response_time_ms: Option<u64>,
}

impl EventPatch {
    /// Applies the patch. Setting units and cost to zero is a refund: the event becomes
    /// inactive and leaves every analytics result, as does `active: false`.
    pub fn apply_to(&self, event: &mut UsageEvent) {
        let d = &mut event.data;
        if let Some(u) = self.units {
            d.units = u;
        }
        if let Some(c) = self.cost {
            d.cost = c;
        }
        if let Some(t) = self.tokens {
            d.tokens = t;
        }
        if let Some(q) = self.quota {
            d.quota = q;
        }
        if let Some(a) = self.active {
            event.active = a;
        }
        if let Some(s) = self.status_code {
            d.status_code = Some(s);
        }
        if let Some(ms) = self.response_time_ms {
            d.response_time_ms = Some(ms);
        }
        let zeroed = (self.units.is_some() || self.cost.is_some()) && d.units == 0 && d.cost.0 == 0;
        if zeroed && self.active != Some(true) {
            event.active = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cost_parses_exactly() {
        assert_eq!(
            CostNanos::parse_usd("0.0043").unwrap(),
            CostNanos(4_300_000)
        );
        assert_eq!(
            CostNanos::parse_usd("12").unwrap(),
            CostNanos(12_000_000_000)
        );
        assert_eq!(
            CostNanos::parse_usd("0.1").unwrap().0 * 3,
            CostNanos::parse_usd("0.3").unwrap().0
        );
        assert_eq!(CostNanos::parse_usd(".5").unwrap(), CostNanos(500_000_000));
        assert_eq!(CostNanos::parse_usd("0.000000001").unwrap(), CostNanos(1));
        assert_eq!(
            CostNanos::parse_usd("1.500000000000").unwrap(),
            CostNanos(1_500_000_000)
        );
        for bad in [
            "-1",
            "",
            ".",
            "1e-3",
            "0.0000000001",
            "abc",
            "1.2.3",
            "99999999999",
        ] {
            assert!(CostNanos::parse_usd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cost_prints_exactly() {
        assert_eq!(CostNanos(4_300_000).to_usd_string(), "0.0043");
        assert_eq!(CostNanos(12_000_000_000).to_usd_string(), "12");
        assert_eq!(CostNanos(1).to_usd_string(), "0.000000001");
        assert_eq!(CostNanos(-1_500_000_000).to_usd_string(), "-1.5");
    }

    proptest::proptest! {
        #[test]
        fn cost_round_trips(n in 0i64..1_000_000_000_000_000) {
            let c = CostNanos(n);
            proptest::prop_assert_eq!(CostNanos::parse_usd(&c.to_usd_string()).unwrap(), c);
        }
    }

    fn event() -> UsageEvent {
        let mut data = NewUsageEvent::new(
            OrgId::default_org(),
            EventKind::Usage,
            datetime!(2026-01-01 0:00 UTC),
        );
        data.units = 346;
        data.cost = CostNanos(4_300_000);
        UsageEvent {
            id: Uuid::nil(),
            created_at: data.occurred_at,
            active: true,
            data,
        }
    }

    #[test]
    fn zeroing_units_and_cost_is_a_refund() {
        let mut e = event();
        EventPatch {
            units: Some(0),
            cost: Some(CostNanos(0)),
            ..EventPatch::default()
        }
        .apply_to(&mut e);
        assert!(!e.active);
        let mut e = event();
        EventPatch {
            units: Some(10),
            ..EventPatch::default()
        }
        .apply_to(&mut e);
        assert!(e.active);
        assert_eq!(e.data.units, 10);
        let mut e = event();
        EventPatch {
            active: Some(false),
            ..EventPatch::default()
        }
        .apply_to(&mut e);
        assert!(!e.active);
    }

    #[test]
    fn validation_names_the_field() {
        let mut e = event().data;
        assert!(e.validate().is_ok());
        e.method = Some("post".into());
        assert!(e.validate().unwrap_err().0.contains("method"));
        e.method = Some("POST".into());
        e.status_code = Some(99);
        assert!(e.validate().unwrap_err().0.contains("status_code"));
        e.status_code = Some(200);
        e.model = Some("m".repeat(3000));
        assert!(e.validate().unwrap_err().0.contains("model"));
        e.model = None;
        e.cost = CostNanos(-1);
        assert!(e.validate().unwrap_err().0.contains("cost_usd"));
    }
}
