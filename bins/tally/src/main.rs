//! The `tally` command: `tally serve` (the default), `tally migrate`, `tally import`, and the
//! operator's commands over a running server's admin API ([`tally::cli`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use tally::cli::{self, CliError, Remote};
use tally::config::{self, Sources};
use tally::wiring::{self, StartupError};
use tracing_subscriber::EnvFilter;

/// jemalloc rather than glibc's malloc: the hot path allocates on one thread and frees on
/// another (HTTP workers hand requests to the meter writers, which hand answers back), the
/// pattern glibc's arenas handle worst (`malloc_consolidate`, `unlink_chunk`: a fifth to a
/// quarter of the server's CPU). jemalloc returns pages unused for its decay time (10 s) to
/// the system, so the one-session flood peaks at 41 MiB against glibc's 35 (mimalloc: 118;
/// docs/BENCHMARKS.md, sessions 10 and 11).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Tally: API keys, exact usage limits, sessions, usage analytics, GDPR erasure.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML configuration file (default: ./tally.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Server(ServerCommand),
    #[command(flatten)]
    Operate(cli::Operation),
    /// Bring another system's database over (`tally import lcyt <db>`; needs DATABASE_URL).
    Import(tally::import::ImportArgs),
}

/// The commands that run on the configuration itself.
#[derive(Debug, Subcommand)]
enum ServerCommand {
    /// Serve the HTTP API (the default).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets masked).
    Config,
    /// Print a shell completion script (`tally completions bash > /etc/bash_completion.d/tally`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // OpenSSL initialised first, and without an exit handler: libpq would otherwise register
    // OpenSSL's cleanup to run at exit, while the bus listener, meter writers and pool threads
    // may still be inside a TLS call on their connections — a crash (SIGSEGV) at the end of
    // an otherwise clean stop. The process's memory goes with it anyway.
    openssl::init();
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
    let Cli {
        config,
        remote,
        command,
    } = Cli::parse();
    match command.unwrap_or(Command::Server(ServerCommand::Serve)) {
        Command::Operate(operation) => match operate(config, &remote, operation) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tally: {e}");
                ExitCode::from(e.exit_code())
            }
        },
        // Imports have an exit code per failure (missing file, not lcyt, …).
        Command::Import(args) => import(config, &args),
        Command::Server(command) => match run(config, command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tally: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The operator's commands: a client of the configured (or `--url`) server's admin API.
fn operate(
    config_path: Option<PathBuf>,
    remote: &Remote,
    operation: cli::Operation,
) -> Result<(), CliError> {
    let config = config::load(&Sources::from_process(config_path))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let url = remote.url.clone().unwrap_or_else(|| {
        let host = match config.http.host.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1",
            h => h,
        };
        format!("http://{host}:{}", config.http.port)
    });
    let client = cli::Client::new(url, remote.admin_key.clone().or(config.admin_key))?;
    let as_json = remote.json;
    actix_web::rt::System::new().block_on(cli::operate(&client, operation, as_json))
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

fn run(config_path: Option<PathBuf>, command: ServerCommand) -> Result<(), StartupError> {
    let config = config::load(&Sources::from_process(config_path))?;
    match command {
        ServerCommand::Migrate => wiring::migrate(&config),
        ServerCommand::Config => {
            println!("{config:#?}");
            Ok(())
        }
        ServerCommand::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tally", &mut std::io::stdout());
            Ok(())
        }
        ServerCommand::Serve => actix_web::rt::System::new().block_on(async {
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
