//! The bus's outbox: notifications leave on a thread of their own, many per round trip, so
//! publishing never waits for the database — not on a request's thread, not on an HTTP worker
//! delivering captions, and not while the database is away (a publish then costs nothing; the
//! notifications of that moment are dropped with a warning, as a disconnected listener's are,
//! and subscribers resynchronise from the store). Nothing is sent while no other instance's
//! listener is registered in `bus_listeners` (see [`PEER_FRESH_SECS`]); and once a statement
//! has found none, nothing is even encoded for [`ALONE_RECHECK`] (see [`Outbox::wanted`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text};

use crate::fixed::Fixed;
use crate::PgStore;

/// Most notifications waiting to be sent; beyond it new ones are dropped (and counted in the
/// log) rather than growing memory while the database is away.
const CAPACITY: usize = 10_000;
/// Most notifications per statement.
const PER_STATEMENT: usize = 500;

/// The condition of every notification statement (its origin is parameter `$3`): another
/// instance's listener has renewed its row in `bus_listeners` lately. One instance alone then
/// sends nothing, and Postgres does no notification work for it. The check is part of the
/// statement, so an instance whose listener has registered receives every event published
/// after that — there is no moment when a peer is known to the database but not yet to us.
/// How recent another listener's heartbeat (every 5 s, `crate::bus`) must be for a bus to
/// notify: four heartbeats.
pub(crate) const PEER_FRESH_SECS: i32 = 20;

/// The condition as statement text, for statements prepared once per connection
/// ([`Fixed`]): our origin is parameter `$3`, [`PEER_FRESH_SECS`] parameter `$4`.
macro_rules! peers_listen {
    () => {
        "EXISTS (SELECT 1 FROM bus_listeners \
         WHERE origin <> $3 AND seen_at > now() - $4 * interval '1 second')"
    };
}

/// How long the sender lets notifications gather after the first one arrives, so that a
/// busy instance sends one statement for many events instead of one for every few (a meter
/// batch publishes several): the cost is this much delay for other instances' subscribers.
const GATHER: Duration = Duration::from_millis(2);

/// How long an answer of "no other instance listens" is trusted: until it is this old, the bus
/// neither encodes nor sends its events; the next one after it asks again. A listener
/// therefore reports listening only this long (and a margin) after it registered
/// (`crate::bus`), so that every event published after that reaches it. A lone instance
/// sends four small statements a second instead of one per gathering of events.
pub(crate) const ALONE_RECHECK: Duration = Duration::from_millis(250);

/// One notification to send.
pub(crate) enum Outgoing {
    /// A payload small enough for `pg_notify`.
    Inline(String),
    /// An envelope stored in `bus_payloads`; the notification carries its id.
    Stored(String),
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Outgoing>,
    dropped: u64,
    stopped: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// When the latest statement found no other instance listening: until this instant (in
    /// nanoseconds after `epoch`) nothing is encoded or sent; zero when one listens.
    alone_until: AtomicU64,
    epoch: Instant,
}

/// The sending side; dropping it stops the sender once the queue is empty.
pub(crate) struct Outbox {
    shared: Arc<Shared>,
}

impl Outbox {
    /// Starts the sender thread, which sends on `store`'s pool to `channel` for `origin`.
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub(crate) fn start(
        store: PgStore,
        channel: &'static str,
        origin: String,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            alone_until: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let sender = Sender {
            shared: shared.clone(),
            store,
            channel,
            origin,
        };
        thread::Builder::new()
            .name("tally-pg-notify".into())
            .spawn(move || sender.run())?;
        Ok(Self { shared })
    }

    /// Whether an event is worth encoding for the other instances: false while the latest
    /// statement, less than [`ALONE_RECHECK`] ago, found none listening (its events would
    /// not be sent anyway).
    pub(crate) fn wanted(&self) -> bool {
        !self.shared.alone()
    }

    /// Queues a notification (never blocks on the database).
    pub(crate) fn send(&self, item: Outgoing) {
        {
            let mut q = self.shared.lock();
            if q.items.len() >= CAPACITY {
                q.dropped += 1;
                return;
            }
            q.items.push_back(item);
            // Only an empty queue has a sender waiting on it.
            if q.items.len() > 1 {
                return;
            }
        }
        self.shared.wake.notify_one();
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn alone(&self) -> bool {
        self.now() < self.alone_until.load(Ordering::Acquire)
    }

    /// Records what a statement that started at `asked` (see [`Shared::now`]) found: `sent`
    /// notifications, none meaning that no other instance listened.
    fn found(&self, asked: u64, sent: usize) {
        let until = if sent == 0 {
            let recheck = u64::try_from(ALONE_RECHECK.as_nanos()).unwrap_or(u64::MAX);
            asked.saturating_add(recheck).max(1)
        } else {
            0
        };
        self.alone_until.store(until, Ordering::Release);
    }
}

struct Sender {
    shared: Arc<Shared>,
    store: PgStore,
    channel: &'static str,
    origin: String,
}

impl Sender {
    fn run(self) {
        loop {
            let (items, dropped) = {
                let mut q = self.shared.lock();
                while q.items.is_empty() && !q.stopped {
                    q = self
                        .shared
                        .wake
                        .wait(q)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if q.items.is_empty() {
                    return;
                }
                if q.items.len() < PER_STATEMENT && !q.stopped {
                    drop(q);
                    thread::sleep(GATHER);
                    q = self.shared.lock();
                }
                let items: Vec<Outgoing> = q.items.drain(..).collect();
                (items, std::mem::take(&mut q.dropped))
            };
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "bus outbox full: live events not sent to other instances"
                );
            }
            self.send_all(items);
        }
    }

    /// Sends `items` in order: runs of inline payloads one statement each, stored ones alone.
    fn send_all(&self, items: Vec<Outgoing>) {
        let mut inline: Vec<String> = Vec::new();
        for item in items {
            match item {
                Outgoing::Inline(p) => {
                    inline.push(p);
                    if inline.len() >= PER_STATEMENT {
                        self.notify(std::mem::take(&mut inline));
                    }
                }
                Outgoing::Stored(envelope) => {
                    self.notify(std::mem::take(&mut inline));
                    self.notify_stored(envelope);
                }
            }
        }
        self.notify(inline);
    }

    fn notify(&self, payloads: Vec<String>) {
        // Queued before the answer that nobody listens came: not sent, as the statement
        // would not have sent them either.
        if payloads.is_empty() || self.shared.alone() {
            return;
        }
        let n = payloads.len();
        let asked = self.shared.now();
        let sent = self.store.read(|c| {
            Ok(Fixed::new(concat!(
                "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) \
                 WHERE ",
                peers_listen!(),
                " ORDER BY i"
            ))
            .bind::<Text, _>(self.channel)
            .bind::<Array<Text>, _>(&payloads)
            .bind::<Text, _>(&self.origin)
            .bind::<Integer, _>(PEER_FRESH_SECS)
            .execute(c)?)
        });
        match sent {
            Ok(sent) => self.shared.found(asked, sent),
            Err(e) => {
                tracing::warn!(error = %e, events = n, "live events not sent to other instances")
            }
        }
    }

    fn notify_stored(&self, envelope: String) {
        if self.shared.alone() {
            return;
        }
        let asked = self.shared.now();
        let sent = self.store.read(|c| {
            let sent = Fixed::new(concat!(
                "WITH p AS (INSERT INTO bus_payloads (payload) SELECT $1 WHERE ",
                peers_listen!(),
                " RETURNING id) \
                 SELECT pg_notify($2, json_build_object('o', $3::text, 'r', p.id)::text) FROM p"
            ))
            .bind::<Text, _>(envelope)
            .bind::<Text, _>(self.channel)
            .bind::<Text, _>(&self.origin)
            .bind::<Integer, _>(PEER_FRESH_SECS)
            .execute(c)?;
            diesel::sql_query(
                "DELETE FROM bus_payloads WHERE created_at < now() - interval '5 minutes'",
            )
            .execute(c)?;
            Ok(sent)
        });
        match sent {
            Ok(sent) => self.shared.found(asked, sent),
            Err(e) => {
                tracing::warn!(error = %e, "a large live event was not sent to other instances")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            alone_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    #[test]
    fn nobody_listening_is_trusted_for_the_recheck_interval_from_when_it_was_asked() {
        let s = shared();
        assert!(!s.alone(), "nothing is known before the first statement");
        s.found(s.now(), 0);
        assert!(s.alone());
        s.found(s.now(), 2);
        assert!(
            !s.alone(),
            "a statement that notified someone ends it at once"
        );
        // An answer asked for longer ago than the interval has already expired.
        thread::sleep(ALONE_RECHECK + Duration::from_millis(20));
        let long_ago = s.now() - u64::try_from(ALONE_RECHECK.as_nanos()).unwrap() - 1;
        s.found(long_ago, 0);
        assert!(!s.alone());
    }
}
