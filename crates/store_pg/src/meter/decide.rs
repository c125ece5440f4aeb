//! How a batch decides: each meter in arrival order with the domain's rule, from the keys
//! and sessions it read (under locks, [`super::meter_batch_tx`], or with their versions,
//! [`super::optimistic`]), and what it will write.

use std::collections::{BTreeMap, HashMap};

use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::key::KeyRejection;
use tally_domain::limits::{admit, utc_day, DayCounter, KeyUsage};
use tally_domain::ports::{KeyRef, MeterError, MeterRequest, Metered};
use tally_domain::session::Session;
use tally_domain::usage::{
    DomainActivity, DomainCounters, DomainRollupKey, RollupKey, Totals, UsageEvent,
};

use super::history::PastDays;
use super::outcome::{Outcome, SessionMeter};
use super::reads::KeyState;
use crate::convert::micros;
use crate::error::Fail;
use crate::rows::events::EventRow;
use crate::rows::keys::NewAuthEvent;

/// The key each meter of `batch` names, among the batch's `keys` (`None`: not found).
pub(super) fn resolve(batch: &[MeterRequest], keys: &BTreeMap<i64, KeyState>) -> Vec<Option<i64>> {
    let by_hash: HashMap<[u8; 32], i64> = keys
        .values()
        .map(|k| (k.key.secret_hash.0, k.key.id.0))
        .collect();
    let key_of = |req: &MeterRequest| match &req.key {
        KeyRef::Id(id) => keys.contains_key(&id.0).then_some(id.0),
        KeyRef::InOrg(org, id) => keys
            .get(&id.0)
            .filter(|k| &k.key.org_id == org)
            .map(|k| k.key.id.0),
        KeyRef::Secret(hash) => by_hash.get(&hash.0).copied(),
    };
    batch.iter().map(key_of).collect()
}

/// What a batch decided, before anything is written: one outcome per meter and the rows
/// its writes are made of.
pub(super) struct Decided<'a> {
    /// One per meter, in arrival order.
    pub outcomes: Vec<Outcome>,
    /// The admitted meters' events.
    pub rows: Vec<EventRow>,
    /// The refused meters' auth events.
    pub refusals: Vec<NewAuthEvent>,
    /// What the admitted meters add to the hourly rollups.
    pub deltas: BTreeMap<RollupKey, Totals>,
    /// The admitted meters of sessions.
    pub session_meters: Vec<SessionMeter<'a>>,
    /// What they add to the site rollups, by organisation.
    pub sites: BTreeMap<(String, DomainRollupKey), DomainCounters>,
}

impl Decided<'_> {
    /// The events the batch records afresh (not replays).
    pub fn created(&self) -> impl Iterator<Item = &UsageEvent> {
        self.outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok().filter(|m| !m.replayed).map(|m| &m.event))
    }
}

/// Decides each meter of `batch` in arrival order with the domain's rule, carrying the
/// counters of `keys` (and the days of `past`, the replays of `replays`) forward from one
/// meter to the next, so meters of one key see each other as in separate transactions.
/// `resolved` is [`resolve`]'s answer; `open` the sessions the batch names, as read.
pub(super) fn decide<'a>(
    batch: &[MeterRequest],
    resolved: &[Option<i64>],
    keys: &mut BTreeMap<i64, KeyState>,
    open: &'a HashMap<String, Session>,
    past: &mut PastDays,
    replays: &mut HashMap<(String, String), UsageEvent>,
) -> Result<Decided<'a>, Fail> {
    // The last sequence handed out of each session so far, by session id.
    let mut sequences: HashMap<&str, u64> = HashMap::new();
    let mut d = Decided {
        outcomes: Vec::with_capacity(batch.len()),
        rows: Vec::new(),
        refusals: Vec::new(),
        deltas: BTreeMap::new(),
        session_meters: Vec::new(),
        sites: BTreeMap::new(),
    };
    for (i, req) in batch.iter().enumerate() {
        let Some(state) = resolved[i].and_then(|id| keys.get_mut(&id)) else {
            d.outcomes
                .push(Err(MeterError::Key(KeyRejection::UnknownKey)));
            continue;
        };
        let now = micros(req.now);
        if let Err(rejection) = state.key.check_usable(now) {
            d.outcomes.push(Err(MeterError::Key(rejection)));
            continue;
        }
        let session = match &req.session {
            None => None,
            Some(id) => match open.get(id.as_str()).filter(|x| {
                x.key_id == state.key.id && req.session_lifetime.is_none_or(|t| x.in_lifetime(t))
            }) {
                Some(open) => Some(open),
                None => {
                    d.outcomes.push(Err(MeterError::SessionEnded));
                    continue;
                }
            },
        };
        let day = utc_day(now);
        let usage = KeyUsage {
            lifetime_used: state.key.lifetime_used + state.added,
            daily_used: DayCounter::used_on(state.daily, day)
                .unwrap_or_else(|| past.get(&(state.key.id.0, day)).map_or(0, |d| d.0)),
        };
        let limits = state.key.limits;
        let scope = req
            .event
            .idempotency_key
            .as_ref()
            .map(|k| (state.key.org_id.as_str().to_owned(), k.as_str().to_owned()));
        if let Some(original) = scope.as_ref().and_then(|s| replays.get(s)) {
            d.outcomes.push(Ok(Metered {
                event: original.clone(),
                usage,
                limits,
                sequence: None,
                session: session.cloned(),
                replayed: true,
            }));
            continue;
        }
        if let Err(exceeded) = admit(limits, usage, req.units) {
            d.refusals.push(NewAuthEvent::from(&AuthEvent {
                key_id: Some(state.key.id),
                org_id: state.key.org_id.clone(),
                kind: AuthEventKind::from(exceeded),
                domain: session
                    .map(|x| x.domain.clone())
                    .or_else(|| req.event.domain.clone()),
                occurred_at: now,
            }));
            d.outcomes.push(Err(MeterError::Limit {
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
        if let Some(x) = session {
            data.domain = Some(x.domain.clone());
        }
        // A value the database cannot hold fails this meter alone.
        let row = match EventRow::of(req.event_id, &data, now) {
            Ok(row) => row,
            Err(e) => {
                d.outcomes.push(Err(MeterError::Store(e.into_store())));
                continue;
            }
        };
        let event = row.clone().into_domain()?;
        let n = req.units.get();
        state.added += n;
        match DayCounter::charge(state.daily, day, n) {
            Some((counter, turned)) => {
                state.daily = Some(counter);
                state.daily_charged = true;
                if let Some(old) = turned {
                    past.insert((state.key.id.0, old.day), (old.used, true));
                }
            }
            None => {
                let d = past.entry((state.key.id.0, day)).or_insert((0, false));
                *d = (d.0 + n, true);
            }
        }
        *d.deltas.entry(RollupKey::of(&event)).or_default() += Totals::of(&event);
        if let Some(scope) = scope {
            replays.insert(scope, event.clone());
        }
        let mut sequence = None;
        if let Some(x) = session {
            let next = sequences.entry(x.id.as_str()).or_insert(x.sequence);
            *next += 1;
            sequence = Some(*next);
            state.caption = Some((*next, now));
            let delivered = x.delivers_to_itself();
            d.session_meters.push(SessionMeter {
                index: i,
                session: x,
                delivered,
                sequence: *next,
            });
            if delivered {
                let site = DomainRollupKey::at(x.domain.clone(), now);
                d.sites
                    .entry((x.org_id.as_str().to_owned(), site))
                    .or_default()
                    .apply(DomainActivity::Delivered { batch_size: n });
            }
        }
        d.rows.push(row);
        d.outcomes.push(Ok(Metered {
            event,
            usage: KeyUsage {
                lifetime_used: usage.lifetime_used + n,
                daily_used: usage.daily_used + n,
            },
            limits,
            sequence,
            session: session.cloned(),
            replayed: false,
        }));
    }
    Ok(d)
}
