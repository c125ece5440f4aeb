//! The atomic meter, executed set-based: a batch of meters is one transaction with a constant
//! number of statements, whatever the batch size ([`crate::group_commit`] gathers them).
//!
//! Correctness argument: the batch first locks every key it names with one
//! `SELECT … ORDER BY id FOR UPDATE` (id order, so concurrent batches cannot deadlock on
//! keys), so meters of one key run one batch after another, whichever process or pool they
//! come from. Under those locks the counters read are the committed ones; the batch then
//! decides each meter in arrival order with the pure domain rule ([`admit`]), carrying the
//! counters forward from one meter to the next, so meters of one key inside a batch see each
//! other exactly as they would in separate transactions. The writes (events, idempotency
//! keys, counters, rollups, session sequences and delivered counts, the site rollup,
//! refusals' auth events) are one multi-row statement each and commit together or not at all.

use std::collections::{BTreeMap, HashMap};

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date as SqlDate, Nullable, Text, Timestamptz};
use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::key::{ApiKey, KeyRejection};
use tally_domain::limits::{admit, utc_day, KeyUsage};
use tally_domain::ports::{KeyRef, MeterError, MeterRequest, Metered};
use tally_domain::session::{Session, SessionId};
use tally_domain::usage::{
    DomainActivity, DomainCounters, DomainRollupKey, IdempotencyKey, RollupKey, Totals, UsageEvent,
};
use time::{Date, OffsetDateTime};

use crate::convert::{from_db, micros, to_db};
use crate::error::Fail;
use crate::key_row::resolve_secrets;
use crate::rollups::{add_domain, add_usage};
use crate::rows::events::{EventRow, IdempotencyRow};
use crate::rows::keys::{KeyRow, NewAuthEvent};
use crate::rows::sessions::SessionRow;
use crate::schema::{api_keys, auth_events, idempotency_keys as ik, key_daily_usage as kd};
use crate::schema::{sessions, usage_events};

/// An admitted meter of a session: its index in the batch, the session's organisation and
/// id, and whether the meter records its batch as delivered.
type SessionMeter = (usize, String, String, bool);

/// The answer to one meter of a batch.
pub(crate) type Outcome = Result<Metered, MeterError>;

/// Rows per multi-row insert (28 columns each: well under the 65,535 bind limit).
const CHUNK: usize = 1_000;

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
    for chunk in rows.chunks(1_000) {
        let inserted = diesel::insert_into(ik::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(c)?;
        if inserted < chunk.len() {
            return Err(Fail::Retry);
        }
    }
    Ok(())
}

/// A locked key and its counters as the batch moves through it.
struct KeyState {
    key: ApiKey,
    /// Units admitted by this batch so far.
    added: u64,
    /// The key's caption sequence after this batch's last session meter, with its instant.
    caption: Option<(u64, OffsetDateTime)>,
}

/// Runs `batch` in the caller's transaction, in arrival order, and returns one outcome per
/// meter: the inner `Err` is a refusal (that meter wrote only its auth event); the outer one
/// a failure of the database, and then nothing of the batch is written.
pub(crate) fn meter_batch_tx(
    c: &mut PgConnection,
    batch: &[MeterRequest],
) -> Result<Vec<Outcome>, Fail> {
    let mut keys = lock_keys(c, batch)?;
    let by_hash: HashMap<[u8; 32], i64> = keys
        .values()
        .map(|k| (k.key.secret_hash.0, k.key.id.0))
        .collect();
    let key_of = |req: &MeterRequest| match &req.key {
        KeyRef::Id(id) => keys.contains_key(&id.0).then_some(id.0),
        KeyRef::Secret(hash) => by_hash.get(&hash.0).copied(),
    };
    let resolved: Vec<Option<i64>> = batch.iter().map(key_of).collect();
    // Read after the locks are held, by a statement of its own: a statement that waits for a
    // row lock keeps its older snapshot for everything but the locked row.
    let mut daily = daily_counters(c, batch, &resolved, &keys)?;
    let mut replays = stored_replays(c, batch, &resolved, &keys)?;
    let open = open_sessions(c, batch)?;

    let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch.len());
    let mut rows: Vec<EventRow> = Vec::new();
    let mut refusals: Vec<NewAuthEvent> = Vec::new();
    let mut deltas: BTreeMap<RollupKey, Totals> = BTreeMap::new();
    // (meter, session's org, session, whether the meter records its batch as delivered)
    let mut session_meters: Vec<SessionMeter> = Vec::new();
    let mut sites: BTreeMap<(String, DomainRollupKey), DomainCounters> = BTreeMap::new();
    // Units admitted per (key, day), the daily counters' writes.
    let mut added: BTreeMap<(i64, Date), u64> = BTreeMap::new();
    for (i, req) in batch.iter().enumerate() {
        let Some(state) = resolved[i].and_then(|id| keys.get_mut(&id)) else {
            outcomes.push(Err(MeterError::Key(KeyRejection::UnknownKey)));
            continue;
        };
        let now = micros(req.now);
        if let Err(rejection) = state.key.check_usable(now) {
            outcomes.push(Err(MeterError::Key(rejection)));
            continue;
        }
        let session = match &req.session {
            None => None,
            Some(id) => match open.get(id.as_str()).filter(|x| {
                x.key_id == state.key.id && req.session_lifetime.is_none_or(|t| x.in_lifetime(t))
            }) {
                Some(open) => Some(open.clone()),
                None => {
                    outcomes.push(Err(MeterError::SessionEnded));
                    continue;
                }
            },
        };
        let day = utc_day(now);
        let day_used = daily.entry((state.key.id.0, day)).or_insert(0);
        let usage = KeyUsage {
            lifetime_used: state.key.lifetime_used + state.added,
            daily_used: *day_used,
        };
        let limits = state.key.limits;
        let scope = req
            .event
            .idempotency_key
            .as_ref()
            .map(|k| (state.key.org_id.as_str().to_owned(), k.as_str().to_owned()));
        if let Some(original) = scope.as_ref().and_then(|s| replays.get(s)) {
            outcomes.push(Ok(Metered {
                event: original.clone(),
                usage,
                limits,
                sequence: None,
                session,
                replayed: true,
            }));
            continue;
        }
        if let Err(exceeded) = admit(limits, usage, req.units) {
            refusals.push(NewAuthEvent::from(&AuthEvent {
                key_id: Some(state.key.id),
                org_id: state.key.org_id.clone(),
                kind: AuthEventKind::from(exceeded),
                domain: session
                    .as_ref()
                    .map(|x| x.domain.clone())
                    .or_else(|| req.event.domain.clone()),
                occurred_at: now,
            }));
            outcomes.push(Err(MeterError::Limit {
                exceeded,
                usage,
                limits,
            }));
            continue;
        }
        let mut data = req.event.clone();
        data.org_id = state.key.org_id.clone();
        data.user_id = state.key.user_id;
        data.key_id = Some(state.key.id);
        data.session_id = req.session.clone().or(data.session_id);
        if let Some(x) = &session {
            data.domain = Some(x.domain.clone());
        }
        // A value the database cannot hold fails this meter alone.
        let row = match EventRow::of(req.event_id, &data, now) {
            Ok(row) => row,
            Err(e) => {
                outcomes.push(Err(MeterError::Store(e.into_store())));
                continue;
            }
        };
        let event = row.clone().into_domain()?;
        let n = req.units.get();
        state.added += n;
        *day_used += n;
        *added.entry((state.key.id.0, day)).or_insert(0) += n;
        *deltas.entry(RollupKey::of(&event)).or_default() += Totals::of(&event);
        if let Some(scope) = scope {
            replays.insert(scope, event.clone());
        }
        if let Some(x) = &session {
            let delivered = x.delivers_to_itself();
            session_meters.push((
                i,
                x.org_id.as_str().to_owned(),
                x.id.as_str().to_owned(),
                delivered,
            ));
            if delivered {
                let site = DomainRollupKey::at(x.domain.clone(), now);
                sites
                    .entry((x.org_id.as_str().to_owned(), site))
                    .or_default()
                    .apply(DomainActivity::Delivered { batch_size: n });
            }
        }
        rows.push(row);
        outcomes.push(Ok(Metered {
            event,
            usage: KeyUsage {
                lifetime_used: usage.lifetime_used + n,
                daily_used: usage.daily_used + n,
            },
            limits,
            sequence: None,
            session,
            replayed: false,
        }));
    }

    for chunk in rows.chunks(CHUNK) {
        diesel::insert_into(usage_events::table)
            .values(chunk)
            .execute(c)?;
    }
    let created: Vec<&UsageEvent> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().filter(|m| !m.replayed).map(|m| &m.event))
        .collect();
    remember_idempotent(c, &created)?;
    advance_sessions(
        c,
        batch,
        &session_meters,
        &mut outcomes,
        &resolved,
        &mut keys,
    )?;
    count(c, &keys, &added)?;
    add_usage(c, &deltas)?;
    add_domain(c, &sites)?;
    if !refusals.is_empty() {
        diesel::insert_into(auth_events::table)
            .values(&refusals)
            .execute(c)?;
    }
    Ok(outcomes)
}

/// The open sessions the batch's meters name, by id. Read without a lock: a session that
/// ends while the batch runs is one whose last captions were metered just before its end.
fn open_sessions(
    c: &mut PgConnection,
    batch: &[MeterRequest],
) -> Result<HashMap<String, Session>, Fail> {
    let mut ids: Vec<&str> = batch
        .iter()
        .filter_map(|r| r.session.as_ref().map(SessionId::as_str))
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    ids.sort_unstable();
    ids.dedup();
    sessions::table
        .filter(sessions::id.eq_any(&ids))
        .select(SessionRow::as_select())
        .load(c)?
        .into_iter()
        .map(|row| {
            let session = row.into_domain()?;
            Ok((session.id.as_str().to_owned(), session))
        })
        .collect()
}

/// Locks every key the batch names, in id order. Secrets are resolved to their organisation
/// and key first (`key_secrets`), so the lock names the organisation of every key given by
/// secret; keys given by id (a session token's key) are locked by id alone.
fn lock_keys(
    c: &mut PgConnection,
    batch: &[MeterRequest],
) -> Result<BTreeMap<i64, KeyState>, Fail> {
    let mut ids = Vec::new();
    let mut hashes = Vec::new();
    for req in batch {
        match &req.key {
            KeyRef::Id(id) => ids.push(id.0),
            KeyRef::Secret(hash) => hashes.push(hash.to_hex()),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    hashes.sort_unstable();
    hashes.dedup();
    let (mut orgs, mut by_secret): (Vec<String>, Vec<i64>) =
        resolve_secrets(c, &hashes)?.into_iter().unzip();
    orgs.sort_unstable();
    orgs.dedup();
    by_secret.sort_unstable();
    let (secrets, bare) = (!by_secret.is_empty(), !ids.is_empty());
    if !secrets && !bare {
        return Ok(BTreeMap::new());
    }
    // Only the parts the batch needs, so a batch of secrets alone filters by organisation
    // alone (one shard per organisation on a distributed schema).
    let secret_keys = api_keys::org_id
        .eq_any(orgs)
        .and(api_keys::id.eq_any(by_secret));
    let wanted: Box<dyn BoxableExpression<api_keys::table, Pg, SqlType = Bool>> =
        match (secrets, bare) {
            (true, false) => Box::new(secret_keys),
            (false, _) => Box::new(api_keys::id.eq_any(ids)),
            (true, true) => Box::new(secret_keys.or(api_keys::id.eq_any(ids))),
        };
    let rows: Vec<KeyRow> = api_keys::table
        .filter(wanted)
        .order(api_keys::id.asc())
        .select(KeyRow::as_select())
        .for_update()
        .load(c)?;
    rows.into_iter()
        .map(|row| {
            let key = row.into_domain()?;
            Ok((
                key.id.0,
                KeyState {
                    key,
                    added: 0,
                    caption: None,
                },
            ))
        })
        .collect()
}

/// The committed daily counters of the `(key, day)` pairs the batch charges.
fn daily_counters(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    resolved: &[Option<i64>],
    keys: &BTreeMap<i64, KeyState>,
) -> Result<HashMap<(i64, Date), u64>, Fail> {
    let mut kids: Vec<i64> = resolved.iter().flatten().copied().collect();
    kids.sort_unstable();
    kids.dedup();
    let mut days: Vec<Date> = batch.iter().map(|r| utc_day(micros(r.now))).collect();
    days.sort_unstable();
    days.dedup();
    if kids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut orgs: Vec<&str> = keys.values().map(|k| k.key.org_id.as_str()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let found: Vec<(i64, Date, i64)> = kd::table
        .filter(kd::org_id.eq_any(&orgs))
        .filter(kd::key_id.eq_any(&kids))
        .filter(kd::day.eq_any(&days))
        .select((kd::key_id, kd::day, kd::used))
        .load(c)?;
    found
        .into_iter()
        .map(|(k, d, used)| Ok(((k, d), from_db(used, "daily_used")?)))
        .collect()
}

/// Events already recorded under the idempotency keys the batch carries, by `(org, key)`.
fn stored_replays(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    resolved: &[Option<i64>],
    keys: &BTreeMap<i64, KeyState>,
) -> Result<HashMap<(String, String), UsageEvent>, Fail> {
    let mut wanted: Vec<&str> = batch
        .iter()
        .zip(resolved)
        .filter(|(_, k)| k.is_some())
        .filter_map(|(r, _)| r.event.idempotency_key.as_ref().map(IdempotencyKey::as_str))
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut orgs: Vec<&str> = keys.values().map(|k| k.key.org_id.as_str()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let found: Vec<(String, String, EventRow)> = ik::table
        .inner_join(
            usage_events::table.on(usage_events::org_id
                .eq(ik::org_id)
                .and(usage_events::id.eq(ik::event_id))
                .and(usage_events::occurred_at.eq(ik::event_occurred_at))),
        )
        .filter(ik::org_id.eq_any(&orgs))
        .filter(ik::idempotency_key.eq_any(&wanted))
        .select((ik::org_id, ik::idempotency_key, EventRow::as_select()))
        .load(c)?;
    found
        .into_iter()
        .map(|(org, key, row)| Ok(((org, key), row.into_domain()?)))
        .collect()
}

/// Advances the sequence of every open session the batch's admitted caption meters name —
/// one per meter, in arrival order — touches it, and remembers the last sequence on the key.
fn advance_sessions(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    session_meters: &[SessionMeter],
    outcomes: &mut [Outcome],
    resolved: &[Option<i64>],
    keys: &mut BTreeMap<i64, KeyState>,
) -> Result<(), Fail> {
    if session_meters.is_empty() {
        return Ok(());
    }
    // Per session: meters, captions recorded as delivered with them, latest instant.
    let mut per_session: BTreeMap<(&str, &str), (i64, i64, OffsetDateTime)> = BTreeMap::new();
    for (i, org, id, delivered) in session_meters {
        let req = &batch[*i];
        let at = micros(req.now);
        let entry = per_session
            .entry((org.as_str(), id.as_str()))
            .or_insert((0, 0, at));
        entry.0 += 1;
        if *delivered {
            entry.1 += to_db(req.units.get(), "units")?;
        }
        entry.2 = entry.2.max(at);
    }
    let mut orgs = Vec::with_capacity(per_session.len());
    let mut ids = Vec::with_capacity(per_session.len());
    let mut counts = Vec::with_capacity(per_session.len());
    let mut sent = Vec::with_capacity(per_session.len());
    let mut ats = Vec::with_capacity(per_session.len());
    for ((org, id), (n, delivered, at)) in &per_session {
        orgs.push(*org);
        ids.push(*id);
        counts.push(*n);
        sent.push(*delivered);
        ats.push(*at);
    }
    #[derive(QueryableByName)]
    struct Advanced {
        #[diesel(sql_type = Text)]
        org_id: String,
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = BigInt)]
        sequence: i64,
    }
    let advanced: Vec<Advanced> = diesel::sql_query(
        "UPDATE sessions AS s \
         SET sequence = s.sequence + v.n, captions_sent = s.captions_sent + v.sent, \
             last_activity_at = greatest(s.last_activity_at, v.at) \
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[]) \
              AS v(id, n, sent, at, org) \
         WHERE s.org_id = v.org AND s.id = v.id \
         RETURNING s.org_id, s.id, s.sequence",
    )
    .bind::<Array<Text>, _>(&ids)
    .bind::<Array<BigInt>, _>(&counts)
    .bind::<Array<BigInt>, _>(&sent)
    .bind::<Array<Timestamptz>, _>(&ats)
    .bind::<Array<Text>, _>(&orgs)
    .load(c)?;
    // The first sequence each session hands out in this batch.
    let mut next: HashMap<(String, String), u64> = HashMap::with_capacity(advanced.len());
    for a in advanced {
        let n = per_session
            .get(&(a.org_id.as_str(), a.id.as_str()))
            .map_or(0, |(n, _, _)| *n);
        next.insert((a.org_id, a.id), from_db(a.sequence - n + 1, "sequence")?);
    }
    for (i, org, id, _) in session_meters {
        let Some(seq) = next.get_mut(&(org.clone(), id.clone())) else {
            continue;
        };
        if let Ok(m) = &mut outcomes[*i] {
            m.sequence = Some(*seq);
        }
        if let Some(state) = resolved[*i].and_then(|k| keys.get_mut(&k)) {
            state.caption = Some((*seq, micros(batch[*i].now)));
        }
        *seq += 1;
    }
    Ok(())
}

/// The counters' writes, in one statement: each key's lifetime counter and caption
/// sequence, and each day's counter.
fn count(
    c: &mut PgConnection,
    keys: &BTreeMap<i64, KeyState>,
    daily: &BTreeMap<(i64, Date), u64>,
) -> Result<(), Fail> {
    let mut key_ids = Vec::new();
    let mut key_orgs = Vec::new();
    let mut added = Vec::new();
    let mut sequences = Vec::new();
    let mut caption_ats = Vec::new();
    for (id, state) in keys {
        if state.added == 0 && state.caption.is_none() {
            continue;
        }
        key_ids.push(*id);
        key_orgs.push(state.key.org_id.as_str());
        added.push(to_db(state.added, "units")?);
        sequences.push(
            state
                .caption
                .map(|(s, _)| to_db(s, "sequence"))
                .transpose()?,
        );
        caption_ats.push(state.caption.map(|(_, at)| at));
    }
    if key_ids.is_empty() {
        return Ok(());
    }
    let mut day_keys = Vec::with_capacity(daily.len());
    let mut days = Vec::with_capacity(daily.len());
    let mut day_orgs = Vec::with_capacity(daily.len());
    let mut day_units = Vec::with_capacity(daily.len());
    for ((key, day), units) in daily {
        let Some(state) = keys.get(key) else { continue };
        day_keys.push(*key);
        days.push(*day);
        day_orgs.push(state.key.org_id.as_str());
        day_units.push(to_db(*units, "units")?);
    }
    diesel::sql_query(
        "WITH k AS ( \
             UPDATE api_keys AS a \
             SET lifetime_used = a.lifetime_used + v.n, \
                 sequence = COALESCE(v.seq, a.sequence), \
                 last_caption_at = COALESCE(v.at, a.last_caption_at) \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], \
                         $9::text[]) AS v(id, n, seq, at, org) \
             WHERE a.org_id = v.org AND a.id = v.id RETURNING 1) \
         INSERT INTO key_daily_usage (key_id, day, org_id, used) \
         SELECT * FROM unnest($5::bigint[], $6::date[], $7::text[], $8::bigint[]) \
         ON CONFLICT (org_id, key_id, day) \
         DO UPDATE SET used = key_daily_usage.used + EXCLUDED.used",
    )
    .bind::<Array<BigInt>, _>(&key_ids)
    .bind::<Array<BigInt>, _>(&added)
    .bind::<Array<Nullable<BigInt>>, _>(&sequences)
    .bind::<Array<Nullable<Timestamptz>>, _>(&caption_ats)
    .bind::<Array<BigInt>, _>(&day_keys)
    .bind::<Array<SqlDate>, _>(&days)
    .bind::<Array<Text>, _>(&day_orgs)
    .bind::<Array<BigInt>, _>(&day_units)
    .bind::<Array<Text>, _>(&key_orgs)
    .execute(c)?;
    Ok(())
}
