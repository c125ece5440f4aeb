//! A `UsageStore` whose backend is down: every call answers `StoreError::Unavailable`.

use tally_domain::erasure::{ErasureOutcome, ErasureReceipt};
use tally_domain::key::KeyId;
use tally_domain::ports::{Ingested, MeterError, MeterRequest, Metered};
use tally_domain::usage::{
    EventPatch, LogPage, LogQuery, NewUsageEvent, UsageEvent, UsageQuery, UsageRow,
};
use tally_domain::{StoreError, UsageStore};
use time::OffsetDateTime;
use uuid::Uuid;

pub struct DownUsage;

fn down() -> StoreError {
    StoreError::Unavailable("test: database down".to_owned())
}

impl UsageStore for DownUsage {
    fn meter(&self, _: MeterRequest) -> Result<Metered, MeterError> {
        Err(down().into())
    }
    fn ingest(
        &self,
        _: Vec<(Uuid, NewUsageEvent)>,
        _: OffsetDateTime,
    ) -> Result<Vec<Ingested>, StoreError> {
        Err(down())
    }
    fn get_event(&self, _: Uuid) -> Result<Option<UsageEvent>, StoreError> {
        Err(down())
    }
    fn update_event(&self, _: Uuid, _: &EventPatch) -> Result<Option<UsageEvent>, StoreError> {
        Err(down())
    }
    fn delete_event(&self, _: Uuid) -> Result<bool, StoreError> {
        Err(down())
    }
    fn list_events(&self, _: &LogQuery) -> Result<LogPage, StoreError> {
        Err(down())
    }
    fn aggregate(&self, _: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        Err(down())
    }
    fn erase_keys(&self, _: &[KeyId], _: OffsetDateTime) -> Result<ErasureOutcome, StoreError> {
        Err(down())
    }
    fn list_erasures(&self) -> Result<Vec<ErasureReceipt>, StoreError> {
        Err(down())
    }
    fn ping(&self) -> Result<(), StoreError> {
        Err(down())
    }
}
