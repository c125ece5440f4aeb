//! The one state behind `MemStore`'s lock, with the helpers several ports share.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use tally_domain::audit::AuthEvent;
use tally_domain::erasure::{anonymise, ErasureOutcome, ErasureReceipt};
use tally_domain::key::{ApiKey, KeyId, SecretHash};
use tally_domain::limits::DayCounter;
use tally_domain::origin::Domain;
use tally_domain::ports::DeliveryReport;
use tally_domain::session::{CaptionError, Session, SessionRecord, SessionRef, ViewerKey};
use tally_domain::session::{DeliveryOutcome, EndReason};
use tally_domain::tenancy::{Org, OrgId, User, UserId};
use tally_domain::usage::{
    DomainActivity, DomainCounters, DomainRollupKey, IdempotencyKey, LogPage, LogQuery, RollupKey,
    Totals, UsageEvent,
};

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::event_index::{EventIndex, IndexSnapshot, Logged};
use crate::rollups::RollupTable;

#[derive(Debug)]
pub(crate) struct State {
    pub orgs: BTreeMap<OrgId, Org>,
    pub users: BTreeMap<UserId, User>,
    pub keys: BTreeMap<KeyId, ApiKey>,
    pub key_by_hash: HashMap<SecretHash, KeyId>,
    pub next_key_id: i64,
    /// Each key's daily counter (its latest day).
    pub today: HashMap<KeyId, DayCounter>,
    /// Units of the days before each key's latest one (history, read by `key_usage`).
    pub daily: HashMap<(KeyId, Date), u64>,
    pub auth_events: Vec<AuthEvent>,
    /// Open sessions by organisation and id.
    pub sessions: HashMap<SessionRef, Session>,
    pub records: Vec<SessionRecord>,
    pub caption_errors: Vec<CaptionError>,
    /// Viewer stream opens per (key, day, viewer key).
    pub viewer_days: BTreeMap<(KeyId, Date, ViewerKey), u64>,
    /// The site rollup per organisation, as Postgres keeps it (`(org_id, date, hour, domain)`).
    pub domain_rollups: BTreeMap<(OrgId, DomainRollupKey), DomainCounters>,
    /// Every event with its number (`LogPage::numbers`), shared with the indexes.
    pub events: HashMap<Uuid, Arc<Logged>>,
    pub next_event_number: u64,
    pub next_user_number: u64,
    /// Time-ordered indexes of the events (all, per user, per key), so request logs read
    /// only the caller's events, newest first, and stop once their page and count are done
    /// — outside the lock, from a snapshot (`event_index`).
    pub events_by_time: EventIndex,
    pub events_by_user: HashMap<UserId, EventIndex>,
    pub events_by_key: HashMap<KeyId, EventIndex>,
    pub idempotency: HashMap<(OrgId, IdempotencyKey), Uuid>,
    /// Hourly (and compacted daily) rollups, aggregated outside the lock (`rollups`).
    pub rollups: RollupTable,
    pub erasures: Vec<ErasureReceipt>,
}

impl State {
    pub fn new() -> Self {
        let default = Org {
            id: OrgId::default_org(),
            name: "Default".to_owned(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        Self {
            orgs: BTreeMap::from([(default.id.clone(), default)]),
            users: BTreeMap::new(),
            keys: BTreeMap::new(),
            key_by_hash: HashMap::new(),
            next_key_id: 1,
            today: HashMap::new(),
            daily: HashMap::new(),
            auth_events: Vec::new(),
            sessions: HashMap::new(),
            records: Vec::new(),
            caption_errors: Vec::new(),
            viewer_days: BTreeMap::new(),
            domain_rollups: BTreeMap::new(),
            events: HashMap::new(),
            next_event_number: 1,
            next_user_number: 1,
            events_by_time: EventIndex::default(),
            events_by_user: HashMap::new(),
            events_by_key: HashMap::new(),
            idempotency: HashMap::new(),
            rollups: RollupTable::default(),
            erasures: Vec::new(),
        }
    }

    /// The units of `key` counted on `day` (see [`DayCounter::used_on`]).
    pub fn used_on(&self, key: KeyId, day: Date) -> u64 {
        DayCounter::used_on(self.today.get(&key).copied(), day)
            .unwrap_or_else(|| self.daily.get(&(key, day)).copied().unwrap_or(0))
    }

    /// Charges `units` admitted at `day` to the key's daily counter (a day it turns away
    /// from becomes history), or to the history of `day` when that is before the counter's.
    pub fn charge_day(&mut self, key: KeyId, day: Date, units: u64) {
        match DayCounter::charge(self.today.get(&key).copied(), day, units) {
            Some((counter, turned)) => {
                if let Some(old) = turned {
                    self.daily.insert((key, old.day), old.used);
                }
                self.today.insert(key, counter);
            }
            None => *self.daily.entry((key, day)).or_insert(0) += units,
        }
    }

    /// Sets a key's counted days (an import): the latest is its counter, the rest history.
    pub fn set_days(&mut self, key: KeyId, days: &[(Date, u64)]) {
        let latest = days.iter().max_by_key(|(day, _)| *day);
        for (day, used) in days {
            if Some(day) == latest.map(|(d, _)| d) {
                self.today.insert(
                    key,
                    DayCounter {
                        day: *day,
                        used: *used,
                    },
                );
            } else {
                self.daily.insert((key, *day), *used);
            }
        }
    }

    /// Adds `delta` to an event's rollup row, dropping rows that become empty.
    pub fn add_rollup(&mut self, key: RollupKey, delta: Totals, subtract: bool) {
        self.rollups.add(key, delta, subtract);
    }

    /// Records how a caption batch fared: the session's and the site's counts, and a caption
    /// error for a failure.
    pub fn record_delivery(&mut self, report: DeliveryReport) {
        let site = DomainRollupKey::at(report.domain, report.at);
        let session = SessionRef::new(report.org_id.clone(), report.session_id.clone());
        match report.outcome {
            DeliveryOutcome::Delivered { batch_size } => {
                if let Some(x) = self.sessions.get_mut(&session) {
                    x.captions_sent += batch_size;
                }
                let activity = DomainActivity::Delivered { batch_size };
                self.domain_activity(&report.org_id, site, activity);
            }
            DeliveryOutcome::Failed {
                batch_size,
                error,
                status_code,
            } => {
                if let Some(x) = self.sessions.get_mut(&session) {
                    x.captions_failed += batch_size;
                }
                let activity = DomainActivity::Failed { batch_size };
                self.domain_activity(&report.org_id, site, activity);
                self.caption_errors.push(CaptionError {
                    session_id: report.session_id,
                    key_id: report.key_id,
                    org_id: report.org_id,
                    error,
                    status_code,
                    occurred_at: report.at,
                    batch_size,
                });
            }
        }
    }

    /// Records an organisation's site activity in its domain rollup.
    pub fn domain_activity(&mut self, org: &OrgId, key: DomainRollupKey, activity: DomainActivity) {
        self.domain_rollups
            .entry((org.clone(), key))
            .or_default()
            .apply(activity);
    }

    /// Inserts a new event with its idempotency record and rollup contribution.
    pub fn insert_event(&mut self, event: UsageEvent) -> UsageEvent {
        if let Some(k) = &event.data.idempotency_key {
            self.idempotency
                .insert((event.data.org_id.clone(), k.clone()), event.id);
        }
        self.add_rollup(RollupKey::of(&event), Totals::of(&event), false);
        let logged = Arc::new(Logged {
            number: self.next_event_number,
            event,
        });
        self.next_event_number += 1;
        self.index(&logged);
        let event = logged.event.clone();
        self.events.insert(event.id, logged);
        event
    }

    /// Replaces a stored event by its corrected version (same id, time, user and key: an
    /// `EventPatch` changes none of them), keeping its number; not its rollup contribution.
    pub fn replace_event(&mut self, event: UsageEvent) {
        let Some(number) = self.events.get(&event.id).map(|l| l.number) else {
            return;
        };
        let logged = Arc::new(Logged { number, event });
        self.index(&logged);
        self.events.insert(logged.event.id, logged);
    }

    /// Lists an event in every index that covers it (replacing an entry at its place).
    fn index(&mut self, logged: &Arc<Logged>) {
        let data = &logged.event.data;
        self.events_by_time.insert(Arc::clone(logged));
        if let Some(user) = data.user_id {
            let ix = self.events_by_user.entry(user).or_default();
            ix.insert(Arc::clone(logged));
        }
        if let Some(key) = data.key_id {
            let ix = self.events_by_key.entry(key).or_default();
            ix.insert(Arc::clone(logged));
        }
    }

    /// Removes an event with its number and index entries (not its rollup contribution).
    pub fn remove_event(&mut self, id: &Uuid) -> Option<UsageEvent> {
        let logged = self.events.remove(id)?;
        let at = logged.at();
        let e = &logged.event;
        self.events_by_time.remove(&at);
        if let Some(user) = e.data.user_id {
            if let Some(ix) = self.events_by_user.get_mut(&user) {
                ix.remove(&at);
                if ix.is_empty() {
                    self.events_by_user.remove(&user);
                }
            }
        }
        if let Some(key) = e.data.key_id {
            if let Some(ix) = self.events_by_key.get_mut(&key) {
                ix.remove(&at);
                if ix.is_empty() {
                    self.events_by_key.remove(&key);
                }
            }
        }
        Some(Arc::unwrap_or_clone(logged).event)
    }

    /// The events a log query may list, to page through once the lock is released: the
    /// narrowest index the query's scope allows (key, user, or every event), within the
    /// query's time range. See [`State::page_of`].
    pub fn log_snapshot(&self, q: &LogQuery) -> Option<IndexSnapshot> {
        let index = match (q.key_id, q.user_id) {
            (Some(k), _) => self.events_by_key.get(&k)?,
            (None, Some(u)) => self.events_by_user.get(&u)?,
            (None, None) => &self.events_by_time,
        };
        // A window that ends before it starts (e.g. an `end_date` older than the retention
        // cutoff the query starts at) holds nothing; the snapshot is empty then.
        let lower = q
            .start
            .map_or(Bound::Unbounded, |s| Bound::Included((s, Uuid::nil())));
        let upper = q
            .end
            .map_or(Bound::Unbounded, |e| Bound::Excluded((e, Uuid::nil())));
        Some(index.snapshot(lower, upper))
    }

    /// A page of the log from [`State::log_snapshot`]'s events, walked newest first.
    pub fn page_of(q: &LogQuery, events: Option<&IndexSnapshot>) -> LogPage {
        match events {
            Some(snapshot) => {
                q.page_of_newest(snapshot.newest_first().map(|l| (l.number, &l.event)))
            }
            None => q.page_of_newest(std::iter::empty()),
        }
    }

    /// The original event for an idempotency key already seen in `org`.
    pub fn replay(&self, org: &OrgId, key: Option<&IdempotencyKey>) -> Option<UsageEvent> {
        let id = self.idempotency.get(&(org.clone(), key?.clone()))?;
        self.events.get(id).map(|l| l.event.clone())
    }

    /// Removes a key's raw history and moves its rollups to the anonymous bucket; returns
    /// the number of rows deleted (records, caption errors, auth events, usage events).
    pub fn forget_key_history(&mut self, id: KeyId) -> u64 {
        let count = |s: &Self| {
            s.records.len() + s.caption_errors.len() + s.auth_events.len() + s.viewer_days.len()
        };
        let before = count(self);
        self.records.retain(|r| r.key_id != id);
        self.caption_errors.retain(|e| e.key_id != id);
        self.auth_events.retain(|e| e.key_id != Some(id));
        self.viewer_days.retain(|(k, _, _), _| *k != id);
        let history = before - count(self);
        let events = self.forget_events(|e| e.data.key_id == Some(id));
        self.anonymise_rollups(|k| k.key_id == Some(id));
        (history + events) as u64
    }

    /// Removes the raw usage events of a user that no key of theirs covered and moves every
    /// rollup row of the user to the anonymous bucket.
    pub fn forget_user_history(&mut self, user: UserId) {
        self.forget_events(|e| e.data.user_id == Some(user));
        self.anonymise_rollups(|k| k.user_id == Some(user));
    }

    /// Deletes the usage events matching `which` with their idempotency records; returns how
    /// many.
    fn forget_events(&mut self, which: impl Fn(&UsageEvent) -> bool) -> usize {
        let gone: Vec<Uuid> = self
            .events
            .values()
            .filter(|l| which(&l.event))
            .map(|l| l.event.id)
            .collect();
        for event_id in &gone {
            if let Some(e) = self.remove_event(event_id) {
                if let Some(k) = &e.data.idempotency_key {
                    self.idempotency.remove(&(e.data.org_id.clone(), k.clone()));
                }
            }
        }
        gone.len()
    }

    /// Moves the rollup rows matching `which` to the anonymous bucket.
    fn anonymise_rollups(&mut self, which: impl Fn(&RollupKey) -> bool) {
        for k in self.rollups.keys_where(which) {
            if let Some(t) = self.rollups.remove(&k) {
                self.add_rollup(k.anonymised(), t, false);
            }
        }
    }

    /// Open sessions of an organisation on a domain.
    pub fn open_sessions_of(&self, org: &OrgId, domain: &Domain) -> u64 {
        self.sessions
            .values()
            .filter(|s| s.org_id == *org && s.domain == *domain)
            .count() as u64
    }

    /// Erases keys as `tally_domain::erasure` describes (the caller holds the lock, so it is
    /// one atomic step).
    pub fn erase_keys(&mut self, keys: &[KeyId], now: OffsetDateTime) -> ErasureOutcome {
        let s = self;
        let mut out = ErasureOutcome::default();
        for id in keys {
            let Some(key) = s.keys.get(id).cloned() else {
                continue;
            };
            if key.erased_at.is_some() {
                continue;
            }
            s.keys.insert(*id, anonymise(&key, now));
            let mut closed: Vec<SessionRef> = s
                .sessions
                .values()
                .filter(|x| x.key_id == *id)
                .map(Session::reference)
                .collect();
            closed.sort();
            for sid in &closed {
                // Erasure leaves no record (EndReason::Erased), but the site's totals still
                // count the session as ended.
                debug_assert!(!EndReason::Erased.leaves_record());
                if let Some(session) = s.sessions.remove(sid) {
                    let duration_ms = tally_domain::session::duration_ms(session.started_at, now);
                    s.domain_activity(
                        &session.org_id,
                        DomainRollupKey::at(session.domain, now),
                        DomainActivity::SessionEnded { duration_ms },
                    );
                }
            }
            out.closed_sessions
                .extend(closed.into_iter().map(|x| x.id().clone()));
            let rows_deleted = s.forget_key_history(*id);
            let receipt = ErasureReceipt {
                key_id: *id,
                org_id: key.org_id,
                erased_at: now,
                rows_deleted,
            };
            s.erasures.push(receipt.clone());
            out.receipts.push(receipt);
        }
        out
    }
}
