//! The one crossing from async handlers into the synchronous ports.

use actix_web::web;

use crate::error::ApiError;

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
