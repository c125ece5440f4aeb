//! `quota trial <owner>` / `quota charge <key> <units>` on Postgres (`DATABASE_URL`): the
//! product's quota logic ([`product::quota`]) in production, with no Tally server.

use std::process::ExitCode;
use std::sync::Arc;

use product::quota::{ports, Quota};
use tally_auth::OsIds;
use tally_domain::services::VerifyError;
use tally_domain::SystemClock;
use tally_store_pg::{PgOptions, PgStore};

const USAGE: &str = "usage: quota trial <owner> | quota charge <key> <units>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL is required (the quota lives in Postgres)");
        return ExitCode::from(2);
    };
    let store = match PgStore::connect(&url, PgOptions::default()).and_then(|s| {
        s.migrate()?;
        Ok(s)
    }) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("database: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The one line that differs from the tests: a PgStore instead of a MemStore.
    let quota = Quota::new(ports(
        Arc::new(store),
        Arc::new(SystemClock),
        Arc::new(OsIds),
    ));
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["trial", owner] => match quota.open_trial(owner) {
            Ok(issued) => {
                println!("{} (id {})", issued.secret.expose(), issued.key.id.0);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot open a trial: {e}");
                ExitCode::FAILURE
            }
        },
        ["charge", key, units] => {
            let Ok(units) = units.parse::<u64>() else {
                eprintln!("units must be a non-negative integer");
                return ExitCode::from(2);
            };
            match quota.charge(key, units) {
                Ok(c) => {
                    println!(
                        "charged {units}; left today {:?}, in all {:?}; resets in {} s",
                        c.remaining.daily, c.remaining.lifetime, c.resets_in_secs
                    );
                    ExitCode::SUCCESS
                }
                Err(VerifyError::Limit {
                    exceeded,
                    retry_after,
                    ..
                }) => {
                    eprintln!("refused: {exceeded} (retry after {retry_after:?} s)");
                    ExitCode::from(3)
                }
                Err(e) => {
                    eprintln!("refused: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
