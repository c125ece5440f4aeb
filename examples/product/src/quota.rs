//! Embedding Tally's domain alone: a product's own quota logic on [`KeyService`] and
//! [`MeterService`], with no HTTP and no Tally server. Its tests run it on `tally_store_mem`
//! with a `FixedClock`; `src/bin/quota.rs` runs it on `tally_store_pg`. The store is the one
//! argument of [`ports`] — the swap is one line.

use std::sync::Arc;

use tally_domain::limits::{seconds_until_daily_reset, Limits, Remaining, Units};
use tally_domain::ports::{KeyStore, SessionStore, TenantStore, UsageStore};
use tally_domain::services::{
    CreateKey, IssueKeyError, IssuedKey, KeyService, MeterService, Ports, Stores, VerifyError,
};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{EventKind, NewUsageEvent};
use tally_domain::{Clock, IdGenerator, LocalBus};

/// A trial: 3 units a day, 100 in all.
pub const TRIAL: Limits = Limits {
    daily: Some(3),
    lifetime: Some(100),
};

/// The ports of a quota program over any store, with an in-process bus.
#[must_use]
pub fn ports<S>(store: Arc<S>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Ports
where
    S: TenantStore + KeyStore + SessionStore + UsageStore + 'static,
{
    Ports {
        stores: Stores::from_one(store, Arc::new(LocalBus::new())),
        clock,
        ids,
    }
}

/// The product's quota: trial keys and charges against them.
#[derive(Debug, Clone)]
pub struct Quota {
    ports: Ports,
}

/// A charge that went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    /// What is left.
    pub remaining: Remaining,
    /// Seconds until today's allowance is back (UTC midnight).
    pub resets_in_secs: u64,
}

impl Quota {
    /// A quota over `ports`.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Opens a trial key for `owner`; the secret is in the answer, shown this once.
    ///
    /// # Errors
    /// [`IssueKeyError`] (an empty owner is `Invalid`).
    pub fn open_trial(&self, owner: &str) -> Result<IssuedKey, IssueKeyError> {
        KeyService::new(self.ports.clone()).issue(CreateKey {
            secret: None,
            owner: owner.to_owned(),
            name: Some("trial".to_owned()),
            email: None,
            user_id: None,
            org_id: OrgId::default_org(),
            expires_at: None,
            limits: TRIAL,
            email_must_be_new: false,
        })
    }

    /// Charges `units` to the key `secret`, exactly (the same meter as `POST /v1/verify`).
    ///
    /// # Errors
    /// [`VerifyError`]: `Limit` with `retry_after` for today's allowance, `Key` for an
    /// unusable key, `Invalid` for too many units.
    pub fn charge(&self, secret: &str, units: u64) -> Result<Charged, VerifyError> {
        let units = Units::new(i64::try_from(units).unwrap_or(i64::MAX))?;
        let now = self.ports.clock.now();
        let mut event = NewUsageEvent::new(OrgId::default_org(), EventKind::Usage, now);
        event.api_name = Some("quota".to_owned());
        event.units = units.get();
        let metered = MeterService::new(self.ports.clone()).verify(secret, units, event)?;
        Ok(Charged {
            remaining: Remaining::of(metered.limits, metered.usage),
            resets_in_secs: seconds_until_daily_reset(now),
        })
    }
}
