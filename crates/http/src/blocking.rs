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
    let started = std::time::Instant::now();
    let answer = web::block(use_case).await;
    crate::observe::store_call(started.elapsed());
    match answer {
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

/// Runs a use case that answers through a callback (the `…_then` use cases over
/// [`tally_domain::ports::UsageStore::meter_then`]) and waits for its answer without holding
/// a thread: `start` runs inline on the HTTP worker — it only queues the meter on a batching
/// store, or meters at once on the in-memory one — and the answer wakes this task directly,
/// saving the two blocking-pool hand-offs per request of [`run_blocking`].
///
/// # Errors
/// The use case's own error converted to [`ApiError`]; a 500 when `start` panics or the
/// answer is never sent.
pub async fn run_then<S, T, E>(start: S) -> Result<T, ApiError>
where
    S: FnOnce(Box<dyn FnOnce(Result<T, E>) + Send>),
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    let done = Box::new(move |result: Result<T, E>| {
        // A request that went away has nobody to tell.
        let _told = answer.send(result);
    });
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| start(done))).is_err() {
        return Err(ApiError::Internal("use case panicked".to_owned()));
    }
    match answered.await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(ApiError::Internal(
            "the use case dropped its answer".to_owned(),
        )),
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
    async fn run_then_waits_for_an_answer_from_another_thread() {
        let r = run_then(|done: Box<dyn FnOnce(Result<i32, ApiError>) + Send>| {
            std::thread::spawn(move || done(Ok(7)));
        });
        assert_eq!(r.await, Ok(7));
        let dropped = run_then(|done: Box<dyn FnOnce(Result<i32, ApiError>) + Send>| drop(done));
        assert!(matches!(dropped.await, Err(ApiError::Internal(_))));
    }

    #[actix_web::test]
    async fn a_panicking_use_case_is_a_500() {
        let r = run_blocking(|| -> Result<(), ApiError> { panic!("boom") }).await;
        assert!(matches!(r, Err(ApiError::Internal(_))), "{r:?}");
    }
}
