//! Ingesting usage events and answering usage questions.

use super::Ports;
use crate::ports::{Ingested, StoreError};
use crate::usage::{
    Granularity, LogCount, LogPage, LogQuery, NewUsageEvent, RetentionReport, UsageFilters,
    UsageQuery, UsageRow,
};
use time::OffsetDateTime;

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

    /// The oldest instant request logs reach back to now (the store's
    /// [`crate::usage::RetentionPolicy::raw_cutoff`]); `None` when raw events are kept for
    /// good.
    #[must_use]
    pub fn logs_reach_back_to(&self) -> Option<OffsetDateTime> {
        self.ports
            .stores
            .usage
            .retention()
            .raw_cutoff(self.ports.clock.now())
    }

    /// A page of raw events, never older than [`Self::logs_reach_back_to`] (events the
    /// store has not removed yet are not listed either, so the answer does not depend on
    /// when retention last ran). With [`LogCount::Skip`] nothing is counted. When every
    /// filter is a rollup dimension ([`LogQuery::rollup_filters`]) the total comes from the rollups and
    /// its cost does not grow with the history: they count the whole UTC days of the range,
    /// and only the events of its partial first and last days are counted one by one, as
    /// `query.count` says (the total is exact unless such a day holds more events than a
    /// bound allows). Otherwise the store counts as `query.count` says.
    ///
    /// # Errors
    /// Store.
    pub fn logs(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        let mut query = query.clone();
        if let Some(cutoff) = self.logs_reach_back_to() {
            query.start = Some(query.start.map_or(cutoff, |s| s.max(cutoff)));
        }
        let query = &query;
        let usage = &self.ports.stores.usage;
        let filters = match query.rollup_filters() {
            Some(f) if query.count != LogCount::Skip => f,
            _ => return usage.list_events(query),
        };
        let mut page_query = query.clone();
        page_query.count = LogCount::Skip;
        let mut page = usage.list_events(&page_query)?;
        let plan = query.total_plan();
        let mut total = 0u64;
        let mut exact = true;
        if let Some((from, to)) = plan.days {
            total += self.rollup_count(from, to, &filters)?;
        }
        for (start, end) in plan.edges {
            let mut edge = query.clone();
            edge.start = start;
            edge.end = end;
            edge.offset = 0;
            edge.limit = 0;
            let counted = usage.list_events(&edge)?;
            total += counted.total;
            exact &= counted.total_exact;
        }
        page.total = total.max(query.offset.saturating_add(page.events.len() as u64));
        page.total_exact = exact;
        Ok(page)
    }

    /// Applies the store's retention policy now (see [`crate::UsageStore::apply_retention`]):
    /// the maintenance step a server runs at start-up and periodically.
    ///
    /// # Errors
    /// Store.
    pub fn apply_retention(&self) -> Result<RetentionReport, StoreError> {
        self.ports
            .stores
            .usage
            .apply_retention(self.ports.clock.now())
    }

    /// The events the rollups hold for `[from, to)` (whole days), asked in spans a query
    /// may cover.
    fn rollup_count(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        filters: &UsageFilters,
    ) -> Result<u64, StoreError> {
        let mut count = 0i64;
        let mut start = from;
        while start < to {
            let end = (start + Granularity::Month.max_span()).min(to);
            let q = UsageQuery::new(
                start,
                end,
                Granularity::Month,
                Vec::new(),
                filters.clone(),
                Vec::new(),
            )
            .map_err(|e| StoreError::Internal(format!("log total window: {}", e.0)))?;
            count += self
                .ports
                .stores
                .usage
                .aggregate(&q)?
                .iter()
                .map(|r| r.totals.count)
                .sum::<i64>();
            start = end;
        }
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
