//! The bus's outbox: notifications leave on a thread of their own, many per round trip, so
//! publishing never waits for the database — not on a request's thread, not on an HTTP worker
//! delivering captions, and not while the database is away (a publish then costs nothing; the
//! notifications of that moment are dropped with a warning, as a disconnected listener's are,
//! and subscribers resynchronise from the store). Nothing is sent while no other instance's
//! listener is registered in `bus_listeners` (see [`PEER_FRESH_SECS`]).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

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
        if payloads.is_empty() {
            return;
        }
        let n = payloads.len();
        let sent = self.store.read(|c| {
            Fixed::new(concat!(
                "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) \
                 WHERE ",
                peers_listen!(),
                " ORDER BY i"
            ))
            .bind::<Text, _>(self.channel)
            .bind::<Array<Text>, _>(&payloads)
            .bind::<Text, _>(&self.origin)
            .bind::<Integer, _>(PEER_FRESH_SECS)
            .execute(c)?;
            Ok(())
        });
        if let Err(e) = sent {
            tracing::warn!(error = %e, events = n, "live events not sent to other instances");
        }
    }

    fn notify_stored(&self, envelope: String) {
        let sent = self.store.read(|c| {
            Fixed::new(concat!(
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
            Ok(())
        });
        if let Err(e) = sent {
            tracing::warn!(error = %e, "a large live event was not sent to other instances");
        }
    }
}
