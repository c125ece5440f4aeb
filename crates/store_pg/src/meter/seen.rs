//! The keys and sessions the meter's writers last read or wrote, each with its row version
//! (`xmin`), so that an optimistic batch ([`super::optimistic`]) can decide without reading
//! them again.
//!
//! Nothing here is trusted: an optimistic batch locks every row it decided from in its one
//! write statement and fails, writing nothing, when a version differs. A stale entry (a key
//! changed by an administrator, by another instance, by a pessimistic batch) costs one
//! failed statement and is then forgotten; it can never change what is admitted. Keys whose
//! batches lost such a race are *contended* for a while: their batches take the locks up
//! front instead ([`crate::meter::meter_batch_tx`]), so one hot key shared by every batch
//! does not fail every other statement.
//!
//! Memory is bounded: each map holds at most [`CAPACITY`] entries, and a new entry beyond it
//! displaces an arbitrary one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tally_domain::key::ApiKey;
use tally_domain::limits::DayCounter;
use tally_domain::ports::{KeyRef, MeterRequest};
use tally_domain::session::Session;

use super::reads::KeyState;

/// Most keys, sessions, secrets and contended keys remembered (each).
pub(crate) const CAPACITY: usize = 16_384;

/// How long a key that lost a race keeps its batches on the locking path.
const CONTENDED_FOR: Duration = Duration::from_secs(1);

/// The store's memory of keys and sessions (one per meter queue, shared by its writers).
#[derive(Default)]
pub(crate) struct Seen {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    keys: HashMap<i64, SeenKey>,
    /// Secret hash → key id (a key's secret never changes; a deleted key's entry only fails
    /// the check).
    secrets: HashMap<[u8; 32], i64>,
    /// By `(organisation, session id)`.
    sessions: HashMap<(String, String), (Session, i64)>,
    /// Key id → until when its batches take the locks.
    contended: HashMap<i64, Instant>,
}

struct SeenKey {
    key: ApiKey,
    daily: Option<DayCounter>,
    version: i64,
}

/// What [`Seen::lookup`] found for a batch, and what it lacks.
pub(super) struct Lookup<'b> {
    /// The keys found, as a batch starts with them.
    pub keys: BTreeMap<i64, KeyState>,
    /// The sessions found, by session id, with their versions.
    pub sessions: HashMap<String, Session>,
    pub session_versions: HashMap<String, i64>,
    /// Secrets (hex) of keys not found.
    pub missing_secrets: Vec<String>,
    /// `(id, organisation)` of keys named by organisation and not found.
    pub missing_keys: Vec<(i64, &'b str)>,
    /// Ids of keys named by id alone and not found.
    pub missing_ids: Vec<i64>,
    /// `(organisation, id)` of sessions not found.
    pub missing_sessions: Vec<(&'b str, &'b str)>,
}

impl Seen {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is remembered of `batch`'s keys and sessions, or `None` when one of its keys is
    /// contended (the batch should take the locks). The batch's meters must name keys by
    /// secret or by organisation, and sessions only with keys named by organisation.
    pub(super) fn lookup<'b>(&self, batch: &'b [MeterRequest], now: Instant) -> Option<Lookup<'b>> {
        let inner = self.lock();
        let mut found = Lookup {
            keys: BTreeMap::new(),
            sessions: HashMap::new(),
            session_versions: HashMap::new(),
            missing_secrets: Vec::new(),
            missing_keys: Vec::new(),
            missing_ids: Vec::new(),
            missing_sessions: Vec::new(),
        };
        for req in batch {
            if req.session.is_some() && !matches!(req.key, KeyRef::InOrg(..)) {
                return None;
            }
            let (id, org) = match &req.key {
                KeyRef::Secret(hash) => match inner.secrets.get(&hash.0) {
                    Some(id) => (*id, None),
                    None => {
                        found.missing_secrets.push(hash.to_hex());
                        continue;
                    }
                },
                KeyRef::InOrg(org, id) => (id.0, Some(org.as_str())),
                KeyRef::Id(id) => (id.0, None),
            };
            if inner.contended.get(&id).is_some_and(|until| *until > now) {
                return None;
            }
            match inner.keys.get(&id) {
                Some(seen) if org.is_none_or(|o| o == seen.key.org_id.as_str()) => {
                    found.keys.entry(id).or_insert_with(|| KeyState {
                        key: seen.key.clone(),
                        added: 0,
                        daily: seen.daily,
                        daily_charged: false,
                        caption: None,
                        version: seen.version,
                    });
                }
                _ => match (&req.key, org) {
                    (KeyRef::Secret(hash), _) => found.missing_secrets.push(hash.to_hex()),
                    (_, Some(org)) => found.missing_keys.push((id, org)),
                    (_, None) => found.missing_ids.push(id),
                },
            }
            if let (Some(sid), Some(org)) = (&req.session, org) {
                match inner
                    .sessions
                    .get(&(org.to_owned(), sid.as_str().to_owned()))
                {
                    Some((session, version)) => {
                        found
                            .sessions
                            .insert(sid.as_str().to_owned(), session.clone());
                        found
                            .session_versions
                            .insert(sid.as_str().to_owned(), *version);
                    }
                    None => found.missing_sessions.push((org, sid.as_str())),
                }
            }
        }
        found.missing_secrets.sort_unstable();
        found.missing_secrets.dedup();
        found.missing_ids.sort_unstable();
        found.missing_ids.dedup();
        Some(found)
    }

    /// Remembers keys and sessions as a batch leaves them, each with its version.
    pub(super) fn remember(
        &self,
        keys: impl IntoIterator<Item = (ApiKey, Option<DayCounter>, i64)>,
        sessions: impl IntoIterator<Item = (Session, i64)>,
    ) {
        let mut inner = self.lock();
        for (key, daily, version) in keys {
            let id = key.id.0;
            bounded_insert(&mut inner.secrets, key.secret_hash.0, id);
            bounded_insert(
                &mut inner.keys,
                id,
                SeenKey {
                    key,
                    daily,
                    version,
                },
            );
        }
        for (session, version) in sessions {
            let at = (
                session.org_id.as_str().to_owned(),
                session.id.as_str().to_owned(),
            );
            bounded_insert(&mut inner.sessions, at, (session, version));
        }
    }

    /// Forgets what `batch`'s meters name (after a batch that wrote them under locks, whose
    /// versions are not known here).
    pub(crate) fn forget(&self, batch: &[MeterRequest]) {
        let mut inner = self.lock();
        for req in batch {
            let (id, org) = match &req.key {
                KeyRef::Secret(hash) => match inner.secrets.get(&hash.0) {
                    Some(id) => (*id, None),
                    None => continue,
                },
                KeyRef::InOrg(org, id) => (id.0, Some(org.as_str().to_owned())),
                KeyRef::Id(id) => (id.0, None),
            };
            let org = org.or_else(|| {
                inner
                    .keys
                    .get(&id)
                    .map(|k| k.key.org_id.as_str().to_owned())
            });
            inner.keys.remove(&id);
            if let (Some(org), Some(sid)) = (org, &req.session) {
                inner.sessions.remove(&(org, sid.as_str().to_owned()));
            }
        }
    }

    /// Marks `keys` contended until `now` + [`CONTENDED_FOR`] and forgets them.
    pub(super) fn contend(&self, keys: impl IntoIterator<Item = i64>, now: Instant) {
        let mut inner = self.lock();
        if inner.contended.len() >= CAPACITY {
            inner.contended.retain(|_, until| *until > now);
        }
        for id in keys {
            inner.keys.remove(&id);
            bounded_insert(&mut inner.contended, id, now + CONTENDED_FOR);
        }
    }
}

/// Inserts into `map`, first displacing an arbitrary entry when a new key would take it
/// past [`CAPACITY`].
fn bounded_insert<K: std::hash::Hash + Eq + Clone, V>(map: &mut HashMap<K, V>, k: K, v: V) {
    if map.len() >= CAPACITY && !map.contains_key(&k) {
        if let Some(old) = map.keys().next().cloned() {
            map.remove(&old);
        }
    }
    map.insert(k, v);
}
