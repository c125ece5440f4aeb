//! The `tally` command: `tally serve` (the default) and `tally migrate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tally::config::{self, Sources};
use tally::wiring::{self, StartupError};
use tracing_subscriber::EnvFilter;

/// Tally: API keys, exact usage limits, sessions, usage analytics, GDPR erasure.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML configuration file (default: ./tally.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `TALLY_LOG_FORMAT=json`: one JSON object per line (the access log's fields are keys);
    // anything else, or unset: human-readable lines.
    if std::env::var("TALLY_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), StartupError> {
    let config = config::load(&Sources::from_process(cli.config))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => wiring::migrate(&config),
        Command::Serve => actix_web::rt::System::new().block_on(async {
            let mut running = tally::spawn(&config)?;
            println!("listening on http://{}", running.addr);
            if let Some((addr, server)) = running.metrics.take() {
                println!("metrics on http://{addr}/metrics");
                actix_web::rt::spawn(server);
            }
            if let Some(key) = &running.generated_admin_key {
                // Shown once, on the terminal, never logged: this run's only admin credential.
                eprintln!(
                    "\nNo ADMIN_KEY is set and nothing is persisted, so this run has its own admin key:\n\n    \
                     {key}\n\nCreate a first API key with:\n\n    \
                     curl -s -X POST http://{addr}/v1/keys -H 'X-Admin-Key: {key}' \\\n      \
                     -H 'Content-Type: application/json' -d '{{\"name\": \"first\"}}'\n",
                    addr = running.addr
                );
            }
            running.run().await
        }),
    }
}
