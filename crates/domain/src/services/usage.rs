//! Ingesting usage events and answering usage questions.

use super::Ports;
use crate::ports::{Ingested, StoreError};
use crate::usage::{LogPage, LogQuery, NewUsageEvent, UsageQuery, UsageRow};

/// The most events one ingestion call may carry.
pub const MAX_BATCH: usize = 1_000;

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The batch is empty or larger than `MAX_BATCH` (1,000).
    #[error("a batch holds 1 to {MAX_BATCH} events")]
    BatchSize,
    /// An event is invalid; nothing was written.
    #[error("event {index}: {message}")]
    Invalid {
        /// Its position in the batch.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// Backend failure; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Usage use cases.
#[derive(Debug, Clone)]
pub struct UsageService {
    ports: Ports,
}

impl UsageService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Validates the whole batch, then records it in one transaction with per-event
    /// idempotency.
    ///
    /// # Errors
    /// [`IngestError`]; nothing is written on any error.
    pub fn ingest(&self, events: Vec<NewUsageEvent>) -> Result<Vec<Ingested>, IngestError> {
        if events.is_empty() || events.len() > MAX_BATCH {
            return Err(IngestError::BatchSize);
        }
        for (index, e) in events.iter().enumerate() {
            e.validate().map_err(|v| IngestError::Invalid {
                index,
                message: v.0,
            })?;
        }
        let batch = events
            .into_iter()
            .map(|e| (self.ports.ids.uuid(), e))
            .collect();
        Ok(self
            .ports
            .stores
            .usage
            .ingest(batch, self.ports.clock.now())?)
    }

    /// Answers an aggregation from the rollups.
    ///
    /// # Errors
    /// Store.
    pub fn query(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        self.ports.stores.usage.aggregate(query)
    }

    /// A page of raw events.
    ///
    /// # Errors
    /// Store.
    pub fn logs(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        self.ports.stores.usage.list_events(query)
    }
}
