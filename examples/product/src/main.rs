//! The example product's server: `DATABASE_URL` set → Postgres, else memory; `ADMIN_KEY` for
//! the `/tally` admin routes; `PRODUCT_ADDR` (default `127.0.0.1:8081`); `PRODUCT_WORKERS`
//! (default 1 per core); `RUST_LOG` (default `info`). Logs go to stderr.

fn main() -> std::io::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let database_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let (stores, kind) = product::stores(database_url.as_deref()).map_err(std::io::Error::other)?;
    if kind == tally_http::StoreKind::Memory {
        tracing::warn!("in-memory store: nothing is persisted (set DATABASE_URL to use Postgres)");
    }
    let admin_key = std::env::var("ADMIN_KEY").ok().filter(|k| !k.is_empty());
    let state = product::state(stores, kind, admin_key);
    let addr = std::env::var("PRODUCT_ADDR").unwrap_or_else(|_| "127.0.0.1:8081".to_owned());
    let workers = std::env::var("PRODUCT_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    actix_web::rt::System::new().block_on(async move {
        let running = product::serve(state, &addr, workers)?;
        tracing::info!("product listening on http://{}", running.addr);
        running.server.await
    })
}
