//! Usage: the one event model, the hourly rollups it feeds, and the queries over both.

pub mod domain_rollup;
pub mod event;
pub mod logs;
pub mod query;
pub mod retention;
pub mod rollup;

pub use domain_rollup::{
    DomainActivity, DomainCounters, DomainRollupKey, DomainUsageQuery, DomainUsageRow,
};
pub use event::{CostNanos, EventKind, EventPatch, IdempotencyKey, NewUsageEvent, UsageEvent};
pub use logs::{LogCount, LogPage, LogQuery, TotalPlan, LOG_COUNT_LIMIT};
pub use query::{DimValue, Dimension, Granularity, Metric, UsageFilters, UsageQuery, UsageRow};
pub use retention::{RetentionPolicy, RetentionReport};
pub use rollup::{RollupKey, Totals};
