//! The import, table by table: keys first (their ids and erasure decide where history goes),
//! then session records, caption errors, auth events and site rows, each in batches of one
//! transaction, with a progress bar per table.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rusqlite::types::Value;
use tally_domain::import::{Copies, ImportCount, KeyImport};
use tally_domain::{ImportStore, StoreError};

use super::lcyt::{text, LcytDb};
use super::{map, ImportError, ImportOptions, Summary, TableSummary};

/// Rows per transaction.
const BATCH: usize = 500;

/// Each raw lcyt key string and what became of its key.
type Owners = HashMap<String, KeyImport>;

/// Imports every table of `db` into `store`.
pub(super) fn import(
    db: &LcytDb,
    store: &dyn ImportStore,
    options: &ImportOptions,
) -> Result<Summary, ImportError> {
    let mut notes = Vec::new();
    let (keys, days, owners) = keys(db, store, options, &mut notes)?;
    Ok(Summary {
        tables: vec![
            keys,
            days,
            sessions(db, store, options, &owners)?,
            caption_errors(db, store, options, &owners)?,
            auth_events(db, store, options, &owners)?,
            sites(db, store, options)?,
        ],
        notes,
    })
}

fn bar(options: &ImportOptions, table: &str, len: u64) -> ProgressBar {
    let target = if options.progress && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{msg:<20} [{bar:40}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(table.to_owned());
    bar
}

/// Writes mapped rows batch by batch, one transaction each.
fn write_batches<T>(
    options: &ImportOptions,
    summary: &mut TableSummary,
    rows: &[Copies<T>],
    write: impl Fn(&[Copies<T>]) -> Result<ImportCount, StoreError>,
) -> Result<(), ImportError> {
    let copies = |rows: &[Copies<T>]| rows.iter().map(|c| c.count).sum::<u64>();
    let bar = bar(options, summary.table, copies(rows));
    for chunk in rows.chunks(BATCH) {
        summary.add(write(chunk)?);
        bar.inc(copies(chunk));
    }
    bar.finish_and_clear();
    Ok(())
}

/// `api_keys` with their `caption_usage` days.
fn keys(
    db: &LcytDb,
    store: &dyn ImportStore,
    options: &ImportOptions,
    notes: &mut Vec<String>,
) -> Result<(TableSummary, TableSummary, Owners), ImportError> {
    let mut keys_sum = TableSummary::new("api_keys");
    let mut days_sum = TableSummary::new("caption_usage");
    let (daily, daily_left) = map::daily_usage(&db.daily);
    for reason in daily_left {
        days_sum.leave_out(reason);
    }
    let mut batch = Vec::new();
    let mut raws = Vec::new();
    for row in &db.keys {
        let raw = text(&row[1]).unwrap_or_default();
        let days = daily.get(&raw).map_or(&[][..], Vec::as_slice);
        match map::key(row, days, &options.org, options.now, notes) {
            Ok(k) => {
                batch.push(k);
                raws.push(raw);
            }
            Err(reason) => keys_sum.leave_out(format!("key #{:?}: {reason}", text(&row[0]))),
        }
    }
    let known: HashSet<&String> = raws.iter().collect();
    for (raw, days) in &daily {
        if !known.contains(raw) {
            for _ in days {
                days_sum.leave_out("its key is not in the lcyt database".to_owned());
            }
        }
    }
    let mut owners = Owners::new();
    let bar = bar(options, keys_sum.table, batch.len() as u64);
    for (chunk, raw_chunk) in batch.chunks(BATCH).zip(raws.chunks(BATCH)) {
        let done = store.import_keys(chunk)?;
        for ((k, raw), result) in chunk.iter().zip(raw_chunk).zip(done) {
            let days = k.daily.len() as u64;
            if let KeyImport::Created(_) = result {
                keys_sum.imported += 1;
                days_sum.imported += days;
            } else {
                keys_sum.skipped += 1;
                days_sum.skipped += days;
            }
            owners.insert(raw.clone(), result);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok((keys_sum, days_sum, owners))
}

fn session_reason(session_id: &Value, reason: &str) -> String {
    match text(session_id) {
        Some(s) => format!("session {s}: {reason}"),
        None => reason.to_owned(),
    }
}

/// `session_stats`.
fn sessions(
    db: &LcytDb,
    store: &dyn ImportStore,
    options: &ImportOptions,
    owners: &Owners,
) -> Result<TableSummary, ImportError> {
    let mut sum = TableSummary::new("session_stats");
    let mut rows = Vec::new();
    for row in &db.sessions {
        let mapped =
            map::owner(owners, text(&row[1])).and_then(|key| map::session(row, key, &options.org));
        match mapped {
            Ok(r) => rows.push(r),
            Err(reason) => sum.leave_out(session_reason(&row[0], &reason)),
        }
    }
    write_batches(options, &mut sum, &map::copies(rows), |b| {
        store.import_session_records(b)
    })?;
    Ok(sum)
}

/// `caption_errors`.
fn caption_errors(
    db: &LcytDb,
    store: &dyn ImportStore,
    options: &ImportOptions,
    owners: &Owners,
) -> Result<TableSummary, ImportError> {
    let mut sum = TableSummary::new("caption_errors");
    let mut rows = Vec::new();
    for row in &db.caption_errors {
        let mapped = map::owner(owners, text(&row[0]))
            .and_then(|key| map::caption_error(row, key, &options.org));
        match mapped {
            Ok(e) => rows.push(e),
            Err(reason) => sum.leave_out(session_reason(&row[1], &reason)),
        }
    }
    write_batches(options, &mut sum, &map::copies(rows), |b| {
        store.import_caption_errors(b)
    })?;
    Ok(sum)
}

/// `auth_events`: a refusal of a key lcyt never had comes without a key.
fn auth_events(
    db: &LcytDb,
    store: &dyn ImportStore,
    options: &ImportOptions,
    owners: &Owners,
) -> Result<TableSummary, ImportError> {
    let mut sum = TableSummary::new("auth_events");
    let mut rows = Vec::new();
    for row in &db.auth_events {
        let raw = text(&row[0]);
        let key = match raw.as_ref().and_then(|r| owners.get(r)) {
            None => Ok(None),
            Some(_) => map::owner(owners, raw).map(Some),
        };
        match key.and_then(|key| map::auth_event(row, key, &options.org)) {
            Ok(e) => rows.push(e),
            Err(reason) => sum.leave_out(reason),
        }
    }
    write_batches(options, &mut sum, &map::copies(rows), |b| {
        store.import_auth_events(b)
    })?;
    Ok(sum)
}

/// `domain_hourly_stats`, merged per normalised site (counted as Tally's rows).
fn sites(
    db: &LcytDb,
    store: &dyn ImportStore,
    options: &ImportOptions,
) -> Result<TableSummary, ImportError> {
    let mut sum = TableSummary::new("domain_hourly_stats");
    let (rows, left) = map::site_rollups(&db.rollups);
    for reason in left {
        sum.leave_out(reason);
    }
    let rows: Vec<Copies<_>> = rows
        .into_iter()
        .map(|row| Copies { row, count: 1 })
        .collect();
    write_batches(options, &mut sum, &rows, |b| {
        let rows: Vec<_> = b.iter().map(|c| c.row.clone()).collect();
        store.import_domain_rollups(&rows)
    })?;
    Ok(sum)
}
