//! The one crossing from async handlers into the synchronous ports.

use actix_web::web;

use crate::error::ApiError;
use crate::state::{AppState, StoreKind};

/// Runs one use case on actix's blocking pool and maps its error through the error table.
///
/// Ports are synchronous (DESIGN §2), so every handler calls this exactly once per use case.
/// A closure that panics (or a pool shutting down) is a 500 whose cause is logged.
///
/// # Errors
/// The use case's own error converted to [`ApiError`], or [`ApiError::Internal`].
pub async fn run_blocking<F, T, E>(use_case: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    match web::block(use_case).await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(ApiError::Internal(format!("blocking task failed: {e}"))),
    }
}

/// Runs a short use case of the hot path (a meter, a token check, a mic call): inline on the
/// HTTP worker when the store's calls never block (the in-memory store: a mutex held for
/// microseconds), on the blocking pool otherwise. The pool hop costs two cross-thread wake-ups
/// per request, which dominated the in-memory hot path (docs/BENCHMARKS.md). Long use cases
/// (analytics, logs, erasure) always use [`run_blocking`], so a scan never stalls a worker.
///
/// # Errors
/// As [`run_blocking`]; a panicking inline use case is a 500 too.
pub async fn run_short<F, T, E>(state: &AppState, use_case: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    if state.settings.store == StoreKind::Memory {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(use_case)) {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(ApiError::Internal("use case panicked".to_owned())),
        }
    } else {
        run_blocking(use_case).await
    }
}

#[cfg(test)]
mod tests {
    use tally_domain::StoreError;

    use super::*;

    #[actix_web::test]
    async fn passes_values_and_maps_errors() {
        assert_eq!(run_blocking(|| Ok::<_, ApiError>(7)).await, Ok(7));
        let unavailable = run_blocking(|| Err::<(), _>(StoreError::Unavailable("down".into())));
        assert_eq!(unavailable.await, Err(ApiError::Unavailable("down".into())));
    }

    #[actix_web::test]
    async fn a_panicking_use_case_is_a_500() {
        let r = run_blocking(|| -> Result<(), ApiError> { panic!("boom") }).await;
        assert!(matches!(r, Err(ApiError::Internal(_))), "{r:?}");
    }
}
