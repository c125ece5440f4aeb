//! The atomic meter, executed set-based: a batch of meters is one transaction with a constant
//! number of statements, whatever the batch size ([`crate::group_commit`] gathers them).
//!
//! Correctness argument: the batch first locks every key it names with one
//! `SELECT … ORDER BY id FOR UPDATE` (id order, so concurrent batches cannot deadlock on
//! keys), so meters of one key run one batch after another, whichever process or pool they
//! come from. The lock returns the rows' latest committed versions, counters included (the
//! lifetime counter and the daily one, both on the key row), so under those locks the
//! counters read are the committed ones; the batch then
//! decides each meter in arrival order with the pure domain rule ([`admit`]), carrying the
//! counters forward from one meter to the next, so meters of one key inside a batch see each
//! other exactly as they would in separate transactions. The writes (events, idempotency
//! keys, refusals' auth events) are one multi-row statement each — the events, key counters,
//! session sequences and delivered counts, hourly and site rollups one statement together
//! ([`Chain`]) — and commit together or not at all. The sessions the batch names are locked
//! after its keys (by the same statement when every meter names its key by organisation,
//! [`one_lock`]), so it hands out their sequences itself.

mod decide;
mod history;
mod one_lock;
mod optimistic;
mod outcome;
mod reads;
mod seen;
mod writes;

use diesel::prelude::*;
use tally_domain::ports::MeterRequest;
use tally_domain::usage::UsageEvent;

use crate::columnar::{events_insert, insert_idempotency, rollups_upsert, sites_upsert};
use crate::error::Fail;
use crate::fixed::Chain;
use crate::rollups::{domain_rows, usage_rows};
use crate::rows::events::IdempotencyRow;
use crate::schema::auth_events;
use decide::{decide, resolve};
use history::{past_days, stored_replays};
use one_lock::lock_keys_and_sessions;
pub(crate) use optimistic::meter_batch_optimistic;
pub(crate) use outcome::Outcome;
use reads::{lock_keys, lock_sessions};
pub(crate) use seen::Seen;
use writes::{archive_days, counters_update, sessions_update};

/// Remembers the idempotency keys of freshly recorded events. `Retry` when a concurrent
/// transaction took one of the keys first: the retry then replays that transaction's event.
pub(crate) fn remember_idempotent(
    c: &mut PgConnection,
    events: &[&UsageEvent],
) -> Result<(), Fail> {
    let rows: Vec<IdempotencyRow> = events
        .iter()
        .filter_map(|e| IdempotencyRow::of(e))
        .collect();
    if insert_idempotency(c, &rows)? < rows.len() {
        return Err(Fail::Retry);
    }
    Ok(())
}

/// Runs `batch` in the caller's transaction, in arrival order, and returns one outcome per
/// meter: the inner `Err` is a refusal (that meter wrote only its auth event); the outer one
/// a failure of the database, and then nothing of the batch is written.
pub(crate) fn meter_batch_tx(
    c: &mut PgConnection,
    batch: &[MeterRequest],
) -> Result<Vec<Outcome>, Fail> {
    let (mut keys, locked_sessions) = match lock_keys_and_sessions(c, batch)? {
        Some(locks) => (locks.keys, Some(locks.sessions)),
        None => (lock_keys(c, batch)?, None),
    };
    let resolved = resolve(batch, &keys);
    // Read after the locks are held, by statements of their own: a statement that waits for
    // a row lock keeps its older snapshot for everything but the locked row.
    let mut past = past_days(c, batch, &resolved, &keys)?;
    let mut replays = stored_replays(c, batch, &resolved, &keys)?;
    let open = match locked_sessions {
        Some(open) => open,
        None => lock_sessions(c, batch, &resolved, &keys)?,
    };
    let decided = decide(batch, &resolved, &mut keys, &open, &mut past, &mut replays)?;
    let created: Vec<&UsageEvent> = decided.created().collect();
    remember_idempotent(c, &created)?;
    // Events, key counters, sessions, site rollups and hourly rollups: one statement, one
    // round trip.
    let usage = usage_rows(&decided.deltas)?;
    let sites = domain_rows(&decided.sites)?;
    if !(decided.rows.is_empty() && usage.is_empty() && sites.is_empty()) {
        let mut parts = vec![
            ("events", events_insert(&decided.rows)),
            ("counters", counters_update(&keys)?),
        ];
        if !decided.session_meters.is_empty() {
            parts.push(("sessions", sessions_update(batch, &decided.session_meters)?));
        }
        parts.push(("sites", sites_upsert(&sites)));
        Chain::new(parts, rollups_upsert(&usage)).execute(c)?;
    }
    archive_days(c, &keys, &past)?;
    if !decided.refusals.is_empty() {
        diesel::insert_into(auth_events::table)
            .values(&decided.refusals)
            .execute(c)?;
    }
    Ok(decided.outcomes)
}
