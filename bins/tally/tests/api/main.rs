//! Black-box tests of the `tally` server: each test starts the real server in-process on a free
//! port (`helpers::spawn_app`) and talks HTTP to it. One test binary, one module per area.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failed step is a failed test"
)]

mod api_docs;
mod browser;
mod cli;
mod errors;
mod fake_youtube;
mod first_run;
mod health;
mod helpers;
mod lcyt_captions;
mod lcyt_client;
mod lcyt_cors;
mod lcyt_events;
mod lcyt_import;
mod lcyt_instances;
mod lcyt_keys;
mod lcyt_live;
mod lcyt_payloads;
mod lcyt_stats;
mod lcyt_stream;
mod lcyt_sweep;
mod lcyt_tokens;
mod lcyt_usage;
mod lcyt_youtube;
mod ledger;
mod ledger_lists;
mod lyrcs;
mod meetbot;
mod metrics;
mod newapi;
mod outage;
mod process;
mod refunds;
mod retention;
mod seed_client;
mod seed_docs;
mod seed_examples;
mod shutdown;
mod ui;
mod ui_admin;
mod ui_live;
mod v1;
mod v1_sessions;
