//! The reads of a meter batch: its keys (with their counters, the daily one included) and
//! the sessions it names, locked by a locking batch, or read without locks, with each row's
//! version, by an optimistic one ([`Lock`]). (A caption batch reads its keys and its sessions
//! with one statement, [`super::one_lock`]; the rarer reads after the locks are in
//! [`super::history`].)
//!
//! Every read names whole primary keys as `unnest`ed tuples joined to the table, so each row
//! is one primary-key probe whatever the table holds, in a custom plan and in the generic plan
//! a prepared statement ([`crate::fixed`]) turns into after five runs alike. The earlier form,
//! `org_id = ANY($1) AND id = ANY($2)`, had a generic plan that probed by organisation alone
//! and filtered every key of it (1.2 ms per batch at 10,000 keys, growing with the org).

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date as SqlDate, Nullable, Text};
use tally_domain::key::ApiKey;
use tally_domain::limits::DayCounter;
use tally_domain::ports::{KeyRef, MeterRequest};
use tally_domain::session::Session;
use time::{Date, OffsetDateTime};

use crate::convert::day_counter;
use crate::error::Fail;
use crate::fixed::Fixed;
use crate::key_row::resolve_secrets;
use crate::rows::keys::KeyRow;
use crate::rows::sessions::SessionRow;

// Column lists spelled out, not `*`: a prepared statement's result shape is fixed, so a
// column added by a later migration must not change what a cached statement returns.
macro_rules! key_columns {
    ($before:literal, $after:literal) => {
        concat!(
            $before,
            " ",
            "id, org_id, secret_hash, alias, name, owner, email, email_hash, user_id, \
         created_at, expires_at, active, revoked_at, erased_at, daily_limit, \
         lifetime_limit, lifetime_used, sequence, last_caption_at, daily_day, daily_used, \
         xmin::text::bigint AS key_version",
            " ",
            $after
        )
    };
}

pub(super) use key_columns;

macro_rules! session_columns {
    () => {
        "id, key_id, org_id, domain, stream_key, sequence, targets, started_at, \
         last_activity_at, captions_sent, captions_failed, mic_holder, sync_offset_ms"
    };
}

pub(super) use session_columns;

/// A locked key and its counters as the batch moves through it.
pub(super) struct KeyState {
    pub key: ApiKey,
    /// Units admitted by this batch so far.
    pub added: u64,
    /// The key's daily counter: as committed, then as this batch charges it.
    pub daily: Option<DayCounter>,
    /// Whether this batch charged the daily counter (then it is written back).
    pub daily_charged: bool,
    /// The key's caption sequence after this batch's last session meter, with its instant.
    pub caption: Option<(u64, OffsetDateTime)>,
    /// The row version read (its `xmin`: the transaction that wrote it), which an optimistic
    /// batch checks again when it writes ([`super::optimistic`]).
    pub version: i64,
}

impl KeyState {
    /// Whether this batch changed the key's row (then the counters' statement writes it).
    pub fn changed(&self) -> bool {
        self.added > 0 || self.caption.is_some() || self.daily_charged
    }
}

/// Locks every key the batch names, in id order (so concurrent batches cannot deadlock).
/// Secrets are resolved to `(org, key)` through the `key_secrets` reference table (in the
/// locking statement itself when the batch names keys by secret only), so the lock names
/// whole primary keys, as keys given by organisation and id already do; keys
/// given by id alone (a token from before tokens named their organisation) are locked by id.
pub(super) fn lock_keys(
    c: &mut PgConnection,
    batch: &[MeterRequest],
) -> Result<BTreeMap<i64, KeyState>, Fail> {
    let mut ids = Vec::new();
    let mut hashes = Vec::new();
    let mut named = Vec::new();
    for req in batch {
        match &req.key {
            KeyRef::Id(id) => ids.push(id.0),
            KeyRef::InOrg(org, id) => named.push((org.as_str().to_owned(), id.0)),
            KeyRef::Secret(hash) => hashes.push(hash.to_hex()),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    hashes.sort_unstable();
    hashes.dedup();
    let rows: Vec<LockedKey> = if hashes.is_empty() && named.is_empty() {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        return by_id(c, &ids, Lock::ForUpdate);
    } else if ids.is_empty() && named.is_empty() {
        // Keys by secret alone (`POST /v1/verify`): resolved and locked by one statement, one
        // round trip.
        return by_secret(c, &hashes, Lock::ForUpdate);
    } else {
        let mut pairs = resolve_secrets(c, &hashes)?;
        pairs.extend(named);
        if !ids.is_empty() {
            // Both kinds in one batch: name the keys given by id by their organisation too,
            // so one statement locks the union in id order.
            pairs.extend(resolve_ids(c, &ids)?);
        }
        // The probes lock in the arrays' order: id order, as every batch locks.
        pairs.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        pairs.dedup();
        let (orgs, keys): (Vec<String>, Vec<i64>) = pairs.into_iter().unzip();
        Fixed::new(concat!(
            "SELECT a.* FROM unnest($1::text[], $2::bigint[]) AS v(org, id) CROSS JOIN LATERAL (",
            key_columns!(
                "SELECT",
                "FROM api_keys WHERE org_id = v.org AND id = v.id FOR UPDATE"
            ),
            ") AS a",
        ))
        .bind::<Array<Text>, _>(&orgs)
        .bind::<Array<BigInt>, _>(&keys)
        .load(c)?
    };
    key_states(rows)
}

/// Whether a read locks the rows it reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lock {
    /// `FOR UPDATE`: the pessimistic batch's reads.
    ForUpdate,
    /// No lock: an optimistic batch's reads, checked again when it writes.
    None,
}

impl Lock {
    /// The statement text of this mode, of a statement written in both.
    pub(super) fn pick(self, locked: &'static str, unlocked: &'static str) -> &'static str {
        match self {
            Self::ForUpdate => locked,
            Self::None => unlocked,
        }
    }
}

/// The keys of the secrets `hashes` (hex, sorted), read with `lock` in id order, by one
/// statement: the ordered subquery feeds the lateral probes in id order.
pub(super) fn by_secret(
    c: &mut PgConnection,
    hashes: &[String],
    lock: Lock,
) -> Result<BTreeMap<i64, KeyState>, Fail> {
    macro_rules! statement {
        ($lock:literal) => {
            concat!(
                "SELECT a.* FROM (SELECT s.org_id, s.key_id FROM unnest($1::text[]) AS h(hash) \
                     CROSS JOIN LATERAL (SELECT org_id, key_id FROM key_secrets \
                         WHERE secret_hash = h.hash) AS s \
                     ORDER BY s.key_id, s.org_id) AS v CROSS JOIN LATERAL (",
                key_columns!(
                    "SELECT",
                    "FROM api_keys WHERE org_id = v.org_id AND id = v.key_id"
                ),
                " ",
                $lock,
                ") AS a",
            )
        };
    }
    let sql = lock.pick(statement!("FOR UPDATE"), statement!(""));
    let rows: Vec<LockedKey> = Fixed::new(sql).bind::<Array<Text>, _>(hashes).load(c)?;
    key_states(rows)
}

/// The keys of `ids` (sorted), read with `lock` in id order: keys named by id alone (tokens
/// from before tokens named their organisation), which the id index finds.
pub(super) fn by_id(
    c: &mut PgConnection,
    ids: &[i64],
    lock: Lock,
) -> Result<BTreeMap<i64, KeyState>, Fail> {
    macro_rules! statement {
        ($lock:literal) => {
            concat!(
                "SELECT a.* FROM unnest($1::bigint[]) AS v(id) CROSS JOIN LATERAL (",
                key_columns!("SELECT", "FROM api_keys WHERE id = v.id"),
                " ",
                $lock,
                ") AS a",
            )
        };
    }
    let sql = lock.pick(statement!("FOR UPDATE"), statement!(""));
    let rows: Vec<LockedKey> = Fixed::new(sql).bind::<Array<BigInt>, _>(ids).load(c)?;
    key_states(rows)
}

/// The batch's view of its locked keys, by id.
pub(super) fn key_states(rows: Vec<LockedKey>) -> Result<BTreeMap<i64, KeyState>, Fail> {
    rows.into_iter()
        .map(|row| {
            let daily = day_counter(row.daily_day, row.daily_used)?;
            let key = row.key.into_domain()?;
            Ok((
                key.id.0,
                KeyState {
                    key,
                    added: 0,
                    daily,
                    daily_charged: false,
                    caption: None,
                    version: row.key_version,
                },
            ))
        })
        .collect()
}

/// A key row as the lock reads it: the key and its daily counter.
#[derive(QueryableByName)]
pub(super) struct LockedKey {
    #[diesel(embed)]
    key: KeyRow,
    #[diesel(sql_type = Nullable<SqlDate>)]
    daily_day: Option<Date>,
    #[diesel(sql_type = BigInt)]
    daily_used: i64,
    #[diesel(sql_type = BigInt)]
    key_version: i64,
}

/// The `(org, id)` of each existing key of `ids`, unlocked (a key's organisation never
/// changes).
fn resolve_ids(c: &mut PgConnection, ids: &[i64]) -> Result<Vec<(String, i64)>, Fail> {
    #[derive(QueryableByName)]
    struct Pair {
        #[diesel(sql_type = Text)]
        org_id: String,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let found: Vec<Pair> = Fixed::new(
        "SELECT a.org_id, a.id FROM unnest($1::bigint[]) AS v(id) \
         CROSS JOIN LATERAL (SELECT org_id, id FROM api_keys WHERE id = v.id) AS a",
    )
    .bind::<Array<BigInt>, _>(ids)
    .load(c)?;
    Ok(found.into_iter().map(|p| (p.org_id, p.id)).collect())
}

/// The open sessions the batch's meters name, by id, looked up in their key's organisation (a
/// session of another organisation is not the key's session anyway), and locked, in
/// `(organisation, id)` order, after their keys: every writer of a session that also locks
/// keys locks the keys first, so the order cannot deadlock. Under the lock the rows read
/// are the latest committed ones, so the batch hands out each session's next sequences
/// itself and writes them in its one write statement. A session that ends while the batch
/// waits for its lock is gone from the answer: its meters are refused as after its end.
pub(super) fn lock_sessions(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    resolved: &[Option<i64>],
    keys: &BTreeMap<i64, KeyState>,
) -> Result<HashMap<String, Session>, Fail> {
    let mut wanted: Vec<(&str, &str)> = batch
        .iter()
        .zip(resolved)
        .filter_map(|(r, k)| {
            let state = keys.get(&(*k)?)?;
            Some((state.key.org_id.as_str(), r.session.as_ref()?.as_str()))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let (orgs, ids): (Vec<&str>, Vec<&str>) = wanted.into_iter().unzip();
    let rows: Vec<SessionRow> = Fixed::new(concat!(
        "SELECT s.* FROM unnest($1::text[], $2::text[]) AS v(org, id) \
         CROSS JOIN LATERAL (SELECT ",
        session_columns!(),
        " FROM sessions \
             WHERE org_id = v.org AND id = v.id FOR UPDATE) AS s",
    ))
    .bind::<Array<Text>, _>(&orgs)
    .bind::<Array<Text>, _>(&ids)
    .load(c)?;
    rows.into_iter()
        .map(|row| {
            let session = row.into_domain()?;
            Ok((session.id.as_str().to_owned(), session))
        })
        .collect()
}
