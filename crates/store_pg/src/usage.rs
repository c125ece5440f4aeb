//! `UsageStore`: the meter, ingestion, corrections, logs, analytics and erasure.

use tally_domain::erasure::{ErasureOutcome, ErasureReceipt};
use tally_domain::key::KeyId;
use tally_domain::ports::{Ingested, MeterDone, MeterError, MeterRequest, Metered, UsageStore};
use tally_domain::tenancy::UserId;
use tally_domain::usage::{EventPatch, LogPage, LogQuery, NewUsageEvent, UsageEvent, UsageQuery};
use tally_domain::usage::{RetentionPolicy, RetentionReport, UsageRow};
use tally_domain::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{analytics, erasure, events, partitions, rollups, PgStore};

impl UsageStore for PgStore {
    fn meter(&self, request: MeterRequest) -> Result<Metered, MeterError> {
        self.meters().meter(request)
    }

    fn meter_then(&self, request: MeterRequest, done: MeterDone) {
        self.meters().meter_then(request, done);
    }

    fn ingest(
        &self,
        batch: Vec<(Uuid, NewUsageEvent)>,
        now: OffsetDateTime,
    ) -> Result<Vec<Ingested>, StoreError> {
        self.tx(|c| events::ingest_tx(c, &batch, now))
    }

    fn get_event(&self, id: Uuid) -> Result<Option<UsageEvent>, StoreError> {
        self.read(|c| events::find_event(c, id, false))
    }

    fn update_event(&self, id: Uuid, patch: &EventPatch) -> Result<Option<UsageEvent>, StoreError> {
        self.tx(|c| events::update_tx(c, id, patch))
    }

    fn delete_event(&self, id: Uuid) -> Result<bool, StoreError> {
        self.tx(|c| events::delete_tx(c, id))
    }

    fn list_events(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        self.read(|c| events::list(c, query))
    }

    fn aggregate(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        self.read(|c| analytics::aggregate(c, query))
    }

    fn erase_keys(
        &self,
        keys: &[KeyId],
        now: OffsetDateTime,
    ) -> Result<ErasureOutcome, StoreError> {
        self.tx(|c| erasure::erase_tx(c, keys, now))
    }

    fn erase_user(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<ErasureOutcome>, StoreError> {
        self.tx(|c| erasure::erase_user_tx(c, user, now))
    }

    fn list_erasures(&self) -> Result<Vec<ErasureReceipt>, StoreError> {
        self.read(erasure::receipts)
    }

    fn retention(&self) -> RetentionPolicy {
        self.retention_policy()
    }

    fn apply_retention(&self, now: OffsetDateTime) -> Result<RetentionReport, StoreError> {
        let policy = self.retention_policy();
        let months_removed = self.tx(|c| partitions::maintain(c, now, policy.raw_cutoff(now)))?;
        let rollups_compacted = match policy.hourly_cutoff(now) {
            Some(cutoff) => self.tx(|c| rollups::compact(c, cutoff))?,
            None => 0,
        };
        Ok(RetentionReport {
            months_removed,
            rollups_compacted,
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
}
