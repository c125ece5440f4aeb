//! The `EventBus` port and `LocalBus`, its in-process implementation.
//!
//! The bus is synchronous and runtime-agnostic: a subscriber hands in an [`EventSink`] (the
//! HTTP layer's sink pushes into a bounded channel and turns overflow into a `resync`), and
//! publishing calls every sink of the topic. Multi-instance buses (Postgres `LISTEN/NOTIFY`)
//! carry envelopes between processes and fan out locally through a `LocalBus`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use crate::live::{Envelope, LiveEvent, Topic};
use crate::ports::StoreError;

/// Whether a sink still wants events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkStatus {
    /// Keep delivering.
    Open,
    /// The subscriber is gone; the bus drops the sink.
    Closed,
}

/// Receives the events of one topic. `deliver` must not block: a slow subscriber is the sink's
/// own business (it drops events and asks for a resync), never the publisher's.
pub trait EventSink: Send + Sync {
    /// Hands over one event.
    fn deliver(&self, event: &LiveEvent) -> SinkStatus;
}

/// Unsubscribes when dropped.
#[must_use = "dropping a subscription unsubscribes"]
pub struct Subscription {
    cancel: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Subscription {
    /// A subscription that runs `cancel` when dropped.
    pub fn new(cancel: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            cancel: Some(Box::new(cancel)),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

/// Delivers live events to every subscriber of a topic, on every instance that shares the
/// bus's backing store.
pub trait EventBus: Send + Sync {
    /// Publishes an event to every current subscriber of its topic, on every instance.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when a cross-instance bus cannot reach its backend; local
    /// subscribers have still been served.
    fn publish(&self, envelope: Envelope) -> Result<(), StoreError>;

    /// Registers `sink` for `topic` until the returned subscription is dropped or the sink
    /// reports [`SinkStatus::Closed`].
    fn subscribe(&self, topic: Topic, sink: Arc<dyn EventSink>) -> Subscription;

    /// Subscribers of `topic` on this instance.
    fn local_subscribers(&self, topic: &Topic) -> usize;

    /// Whether an event of `topic` published now could reach anyone: a subscriber on this
    /// instance or, for a cross-instance bus, another instance. A publisher may skip building
    /// an event nobody would receive (a subscriber arriving a moment later starts from the
    /// state it reads, as after any earlier event). `true` is always a correct answer.
    fn reaches_anyone(&self, topic: &Topic) -> bool {
        let _ = topic;
        true
    }
}

type Sinks = HashMap<Topic, Vec<(u64, Arc<dyn EventSink>)>>;

#[derive(Default)]
struct Inner {
    sinks: RwLock<Sinks>,
    next_id: AtomicU64,
}

/// The in-process bus: one instance's subscribers.
#[derive(Clone, Default)]
pub struct LocalBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBus").finish_non_exhaustive()
    }
}

impl LocalBus {
    /// An empty bus.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Delivers to this instance's subscribers only (used by cross-instance buses when an
    /// envelope arrives).
    pub fn deliver_local(&self, envelope: &Envelope) {
        let closed: Vec<u64> = {
            let sinks = self
                .inner
                .sinks
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let Some(list) = sinks.get(&envelope.topic) else {
                return;
            };
            list.iter()
                .filter(|(_, sink)| sink.deliver(&envelope.event) == SinkStatus::Closed)
                .map(|(id, _)| *id)
                .collect()
        };
        for id in closed {
            remove(&self.inner, &envelope.topic, id);
        }
    }
}

fn remove(inner: &Inner, topic: &Topic, id: u64) {
    let mut sinks = inner.sinks.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(list) = sinks.get_mut(topic) {
        list.retain(|(i, _)| *i != id);
        if list.is_empty() {
            sinks.remove(topic);
        }
    }
}

impl EventBus for LocalBus {
    fn publish(&self, envelope: Envelope) -> Result<(), StoreError> {
        self.deliver_local(&envelope);
        Ok(())
    }

    fn subscribe(&self, topic: Topic, sink: Arc<dyn EventSink>) -> Subscription {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner
            .sinks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(topic.clone())
            .or_default()
            .push((id, sink));
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        Subscription::new(move || {
            if let Some(inner) = weak.upgrade() {
                remove(&inner, &topic, id);
            }
        })
    }

    fn local_subscribers(&self, topic: &Topic) -> usize {
        self.inner
            .sinks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .map_or(0, Vec::len)
    }

    fn reaches_anyone(&self, topic: &Topic) -> bool {
        self.local_subscribers(topic) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionId;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect {
        seen: Mutex<Vec<LiveEvent>>,
        close_after: Option<usize>,
    }

    impl EventSink for Collect {
        fn deliver(&self, event: &LiveEvent) -> SinkStatus {
            let mut seen = self.seen.lock().unwrap();
            seen.push(event.clone());
            match self.close_after {
                Some(n) if seen.len() >= n => SinkStatus::Closed,
                _ => SinkStatus::Open,
            }
        }
    }

    fn topic(n: u8) -> Topic {
        Topic::Session(SessionId::parse(&format!("{n:016x}")).unwrap())
    }

    fn env(t: Topic) -> Envelope {
        Envelope {
            topic: t,
            event: LiveEvent::SessionClosed {},
        }
    }

    #[test]
    fn delivers_to_the_topic_only_and_unsubscribes_on_drop() {
        let bus = LocalBus::new();
        let a = Arc::new(Collect::default());
        let b = Arc::new(Collect::default());
        let sub_a = bus.subscribe(topic(1), a.clone());
        let _sub_b = bus.subscribe(topic(2), b.clone());
        bus.publish(env(topic(1))).unwrap();
        assert_eq!(a.seen.lock().unwrap().len(), 1);
        assert_eq!(b.seen.lock().unwrap().len(), 0);
        assert!(bus.reaches_anyone(&topic(1)));
        drop(sub_a);
        assert_eq!(bus.local_subscribers(&topic(1)), 0);
        assert!(
            !bus.reaches_anyone(&topic(1)),
            "nobody else is reached in one process"
        );
        bus.publish(env(topic(1))).unwrap();
        assert_eq!(a.seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn closed_sinks_are_dropped() {
        let bus = LocalBus::new();
        let a = Arc::new(Collect {
            close_after: Some(1),
            ..Collect::default()
        });
        let _sub = bus.subscribe(topic(1), a.clone());
        bus.publish(env(topic(1))).unwrap();
        bus.publish(env(topic(1))).unwrap();
        assert_eq!(a.seen.lock().unwrap().len(), 1);
        assert_eq!(bus.local_subscribers(&topic(1)), 0);
    }
}
