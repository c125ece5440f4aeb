//! The retention run: at start-up and then every `retention.interval_secs`, the store applies
//! its retention policy (`UsageService::apply_retention`). On Postgres the same run creates
//! the coming months' event partitions, so it must keep running even when nothing expires.

use std::time::Duration;

use actix_web::web;
use tally_domain::services::{Ports, UsageService};

/// Runs retention now and every `interval` until the runtime stops. A failure (a database
/// outage, a lock not granted in time) is logged and retried at the next tick.
pub async fn run(ports: Ports, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let service = UsageService::new(ports.clone());
        match web::block(move || service.apply_retention()).await {
            Ok(Ok(report)) if report.months_removed > 0 || report.rollups_compacted > 0 => {
                tracing::info!(
                    months_removed = report.months_removed,
                    rollups_compacted = report.rollups_compacted,
                    "retention applied"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "retention failed; retrying at the next run");
            }
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}
