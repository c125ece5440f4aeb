//! `PgEventBus`: the `EventBus` port over Postgres `LISTEN/NOTIFY`.
//!
//! Publishing delivers to this instance's subscribers at once (through a [`LocalBus`]) and
//! queues the envelope for `pg_notify('tally_events', …)` to every other instance (sent by
//! the outbox's thread, many per round trip). Each bus
//! has an origin id in its notifications and ignores its own when they come back, so a local
//! subscriber receives each event exactly once. A listener thread, on its own connection,
//! hands notifications from other instances to the local subscribers, and reconnects (with
//! backoff) when the connection is lost; notifications sent while it is disconnected are
//! lost — subscribers resynchronise from the store, as for any dropped event.
//!
//! Each listener registers its origin in `bus_listeners` before it reports listening and
//! renews it every few seconds; a bus notifies only while another origin there is fresh, so a
//! lone instance costs Postgres no notification work at all. A bus that found nobody else
//! listening does not even encode its events for [`ALONE_RECHECK`], so a listener waits that
//! long (and a margin) after registering before it reports listening: from then on, every
//! other bus has asked again and sees it.
//!
//! A notification payload must stay under 8,000 bytes. A larger envelope (a long caption in a
//! non-Latin script can be) is stored in `bus_payloads` and the notification carries its id;
//! such rows are swept after five minutes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::Value;
use tally_domain::bus::{EventBus, EventSink, LocalBus, Subscription};
use tally_domain::live::{Envelope, Topic};
use tally_domain::StoreError;

use crate::bus_outbox::{Outbox, Outgoing, ALONE_RECHECK};
use crate::error::Fail;
use crate::PgStore;

/// The notification channel.
const CHANNEL: &str = "tally_events";
/// Largest payload sent inline (Postgres refuses 8,000 bytes and more).
const MAX_INLINE: usize = 7_900;
/// How often the listener looks for notifications.
const POLL: Duration = Duration::from_millis(10);
/// How often a listener renews its row in `bus_listeners` (which also checks that its
/// connection still works).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// How long a listener waits after registering before it reports listening: every other
/// bus's answer of "nobody else listens" from before the registration has expired by then.
const SETTLE: Duration = ALONE_RECHECK.saturating_add(Duration::from_millis(100));

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    listening: AtomicBool,
}

/// The cross-instance event bus. Subscriptions are local; events reach the subscribers of
/// every instance whose bus shares the database. Dropping the bus stops its listener.
pub struct PgEventBus {
    local: LocalBus,
    outbox: Outbox,
    origin: String,
    /// `{"o":"<origin>"`: how this bus's inline notifications begin.
    own_prefix: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PgEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEventBus")
            .field("origin", &self.origin)
            .field("listening", &self.is_listening())
            .finish_non_exhaustive()
    }
}

/// A process-unique origin id: process, start instant and a counter.
fn new_origin() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos:x}-{n}", std::process::id())
}

impl PgEventBus {
    /// Starts a bus on `store`'s database: its listener thread opens its own connection (and
    /// keeps reopening it while the database is away); a sender thread notifies the other
    /// instances on the store's pool (`bus_outbox`), so publishing never waits.
    ///
    /// # Errors
    /// [`StoreError::Internal`] when the listener thread cannot be spawned.
    pub fn start(store: &PgStore) -> Result<Self, StoreError> {
        let origin = new_origin();
        let outbox = Outbox::start(store.clone(), CHANNEL, origin.clone())
            .map_err(|e| StoreError::Internal(format!("cannot start the bus sender: {e}")))?;
        let bus = Self {
            local: LocalBus::new(),
            outbox,
            own_prefix: own_prefix(&origin),
            origin,
            shared: Arc::new(Shared::default()),
        };
        let listener = Listener {
            url: store.url().to_owned(),
            local: bus.local.clone(),
            origin: bus.origin.clone(),
            own_prefix: bus.own_prefix.clone(),
            shared: bus.shared.clone(),
        };
        thread::Builder::new()
            .name("tally-pg-listen".into())
            .spawn(move || listener.run())
            .map_err(|e| StoreError::Internal(format!("cannot start the bus listener: {e}")))?;
        Ok(bus)
    }

    /// Whether the listener is connected and listening right now.
    #[must_use]
    pub fn is_listening(&self) -> bool {
        self.shared.listening.load(Ordering::Acquire)
    }

    /// Waits up to `timeout` for the listener to listen; true when it does. Events published
    /// by other instances before that are not received.
    #[must_use]
    pub fn wait_listening(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_listening() {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Drop for PgEventBus {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
    }
}

impl EventBus for PgEventBus {
    fn publish(&self, envelope: Envelope) -> Result<(), StoreError> {
        self.local.deliver_local(&envelope);
        if !self.outbox.wanted() {
            return Ok(());
        }
        let body = serde_json::to_string(&envelope)
            .map_err(|e| StoreError::Internal(format!("cannot encode a live event: {e}")))?;
        let inline = inline_payload(&self.own_prefix, &body);
        if inline.len() <= MAX_INLINE {
            self.outbox.send(Outgoing::Inline(inline));
        } else {
            tracing::debug!(
                bytes = inline.len(),
                "live event too large to notify inline"
            );
            self.outbox.send(Outgoing::Stored(body));
        }
        Ok(())
    }

    fn subscribe(&self, topic: Topic, sink: Arc<dyn EventSink>) -> Subscription {
        self.local.subscribe(topic, sink)
    }

    fn local_subscribers(&self, topic: &Topic) -> usize {
        self.local.local_subscribers(topic)
    }

    fn reaches_anyone(&self, topic: &Topic) -> bool {
        self.local.local_subscribers(topic) > 0 || self.outbox.wanted()
    }
}

/// How the inline notifications of `origin` begin (an origin is digits, hex and dashes, so
/// it needs no JSON escaping).
fn own_prefix(origin: &str) -> String {
    format!("{{\"o\":\"{origin}\"")
}

/// `{"o":<origin>,"e":<envelope>}`, written directly: the origin comes first so that a
/// listener recognises its own notifications by their prefix, without parsing them.
fn inline_payload(own_prefix: &str, envelope: &str) -> String {
    let mut inline = String::with_capacity(own_prefix.len() + envelope.len() + 6);
    inline.push_str(own_prefix);
    inline.push_str(",\"e\":");
    inline.push_str(envelope);
    inline.push('}');
    inline
}

/// The listener thread's state.
struct Listener {
    url: String,
    local: LocalBus,
    origin: String,
    own_prefix: String,
    shared: Arc<Shared>,
}

impl Listener {
    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    /// Waits `d`, or less when the bus stops meanwhile.
    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until && !self.stopped() {
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn run(self) {
        let mut backoff = Duration::from_millis(50);
        while !self.stopped() {
            match PgConnection::establish(&self.url) {
                Ok(mut conn) => match conn
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .and_then(|()| self.beat(&mut conn))
                {
                    Ok(()) => {
                        self.pause(SETTLE);
                        self.shared.listening.store(true, Ordering::Release);
                        backoff = Duration::from_millis(50);
                        let result = self.pump(&mut conn);
                        self.shared.listening.store(false, Ordering::Release);
                        match result {
                            Ok(()) => {
                                self.leave(&mut conn);
                                return;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "bus listener lost its connection")
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "bus listener cannot LISTEN"),
                },
                Err(e) => tracing::warn!(error = %e, "bus listener cannot connect"),
            }
            self.pause(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Records this listener in `bus_listeners` (the other instances' buses notify while it
    /// is fresh; see [`crate::bus_outbox`]). Runs before `listening` is reported, so an event
    /// published anywhere after that reaches this instance.
    fn beat(&self, conn: &mut PgConnection) -> Result<(), diesel::result::Error> {
        diesel::sql_query(
            "INSERT INTO bus_listeners (origin, seen_at) VALUES ($1, now()) \
             ON CONFLICT (origin) DO UPDATE SET seen_at = now()",
        )
        .bind::<Text, _>(&self.origin)
        .execute(conn)?;
        // Rows of instances that went away without leaving.
        diesel::sql_query("DELETE FROM bus_listeners WHERE seen_at < now() - interval '1 hour'")
            .execute(conn)?;
        Ok(())
    }

    /// Removes this listener's row on a clean stop (best effort: a stale row only costs the
    /// others notifications for [`crate::bus_outbox::PEER_FRESH_SECS`]).
    fn leave(&self, conn: &mut PgConnection) {
        let left = diesel::sql_query("DELETE FROM bus_listeners WHERE origin = $1")
            .bind::<Text, _>(&self.origin)
            .execute(conn);
        if let Err(e) = left {
            tracing::debug!(error = %e, "bus listener could not remove its row");
        }
    }

    /// Hands notifications over until stopped (`Ok`) or the connection fails (`Err`),
    /// renewing the heartbeat on time whether or not notifications keep coming.
    fn pump(&self, conn: &mut PgConnection) -> Result<(), diesel::result::Error> {
        let mut beaten = Instant::now();
        while !self.stopped() {
            if beaten.elapsed() >= HEARTBEAT {
                self.beat(conn)?;
                beaten = Instant::now();
            }
            let batch = conn.notifications_iter().collect::<Result<Vec<_>, _>>()?;
            if batch.is_empty() {
                thread::sleep(POLL);
                continue;
            }
            for n in batch {
                if let Some(envelope) = self.decode(conn, &n.payload) {
                    self.local.deliver_local(&envelope);
                }
            }
        }
        Ok(())
    }

    /// The envelope of a notification from another instance (`None` for our own, or for a
    /// payload we cannot read, which is logged).
    fn decode(&self, conn: &mut PgConnection, payload: &str) -> Option<Envelope> {
        // Our own inline notifications, recognised without parsing them (in one instance,
        // every notification is one).
        if payload
            .strip_prefix(self.own_prefix.as_str())
            .is_some_and(|rest| rest.starts_with(','))
        {
            return None;
        }
        let wire: Value = match serde_json::from_str(payload) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable bus notification");
                return None;
            }
        };
        if wire.get("o").and_then(Value::as_str) == Some(self.origin.as_str()) {
            return None;
        }
        let body = match (wire.get("e"), wire.get("r").and_then(Value::as_i64)) {
            (Some(e), _) => e.clone(),
            (None, Some(id)) => match stored_payload(conn, id) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = ?e, id, "cannot read a stored bus payload");
                    return None;
                }
            },
            (None, None) => return None,
        };
        match serde_json::from_value(body) {
            Ok(envelope) => Some(envelope),
            Err(e) => {
                tracing::warn!(error = %e, "bus notification is not an envelope");
                None
            }
        }
    }
}

#[derive(QueryableByName)]
struct StoredPayload {
    #[diesel(sql_type = Text)]
    payload: String,
}

fn stored_payload(conn: &mut PgConnection, id: i64) -> Result<Value, Fail> {
    let row: StoredPayload = diesel::sql_query("SELECT payload FROM bus_payloads WHERE id = $1")
        .bind::<BigInt, _>(id)
        .get_result(conn)?;
    serde_json::from_str(&row.payload).map_err(|e| crate::error::corrupt("bus payload", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_payload_is_json_that_begins_with_its_origin() {
        let origin = new_origin();
        let prefix = own_prefix(&origin);
        let payload = inline_payload(&prefix, r#"{"topic":"x","n":[1,2]}"#);
        assert!(payload.starts_with(&prefix));
        let wire: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(wire["o"], Value::String(origin.clone()));
        assert_eq!(wire["e"]["n"][1], 2);
        // Another origin that merely starts with ours is not ours.
        let longer = own_prefix(&format!("{origin}0"));
        assert!(!inline_payload(&longer, "{}")
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with(',')));
    }
}
