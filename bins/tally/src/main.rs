//! The `tally` command: `tally serve` (the default), `tally migrate` and `tally import`.

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
    /// Bring another system's database over (`tally import lcyt <db>`; needs DATABASE_URL).
    Import(tally::import::ImportArgs),
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(Command::Import(args)) = &cli.command {
        // Imports have an exit code per failure (missing file, not lcyt, …).
        return import(cli.config.clone(), args);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `tally import`: the summary on stdout, errors on stderr with their own exit codes.
fn import(config_path: Option<PathBuf>, args: &tally::import::ImportArgs) -> ExitCode {
    let result = config::load(&Sources::from_process(config_path))
        .map_err(tally::import::ImportError::from)
        .and_then(|config| tally::import::run(&config, args));
    match result {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tally import: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), StartupError> {
    let config = config::load(&Sources::from_process(cli.config))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => wiring::migrate(&config),
        Command::Import(args) => {
            // `main` runs imports itself for their exit codes; this is the plain path.
            tally::import::run(&config, &args)
                .map(|summary| print!("{summary}"))
                .map_err(|e| StartupError::Store(e.to_string()))
        }
        Command::Serve => actix_web::rt::System::new().block_on(async {
            let running = tally::spawn(&config)?;
            println!("listening on http://{}", running.addr);
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
            running.server.await.map_err(StartupError::Serve)
        }),
    }
}
