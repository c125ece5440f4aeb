//! The idle sweep: ends sessions idle for longer than the TTL (`endedBy: ttl`).

use std::time::Duration;

use actix_web::web;

use crate::state::session_service;
use crate::state::AppState;

/// Runs the sweep every `interval` until the runtime stops. Failures (a database outage) are
/// logged and retried at the next tick.
pub async fn run(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let service = session_service(&state);
        match web::block(move || service.sweep()).await {
            Ok(Ok(ended)) if !ended.is_empty() => {
                crate::observe::swept(ended.len());
                tracing::info!(count = ended.len(), "ended idle sessions")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "idle sweep failed; retrying at the next tick")
            }
            Err(e) => tracing::error!(error = %e, "idle sweep task failed"),
        }
    }
}
