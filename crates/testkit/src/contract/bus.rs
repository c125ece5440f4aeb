//! `EventBus`: every subscriber of a topic receives each event once, in order.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tally_domain::bus::{EventSink, SinkStatus};
use tally_domain::live::{Envelope, LiveEvent, Topic};
use tally_domain::mic::ClientId;
use tally_domain::services::Stores;
use tally_domain::session::SessionId;

#[derive(Default)]
struct Collect(Mutex<Vec<LiveEvent>>);

impl EventSink for Collect {
    fn deliver(&self, event: &LiveEvent) -> SinkStatus {
        self.0.lock().unwrap().push(event.clone());
        SinkStatus::Open
    }
}

/// Waits up to five seconds for `f` to hold (cross-process buses deliver asynchronously).
pub fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Subscribers of a topic get its events once each, in publish order; others get none; a
/// dropped subscription gets nothing more.
pub fn bus_delivers_to_topic_subscribers(s: &Stores) {
    let t1 = Topic::Session(SessionId::parse("00000000000000a1").unwrap());
    let t2 = Topic::Session(SessionId::parse("00000000000000a2").unwrap());
    let a = Arc::new(Collect::default());
    let b = Arc::new(Collect::default());
    let other = Arc::new(Collect::default());
    let sub_a = s.bus.subscribe(t1.clone(), a.clone());
    let _sub_b = s.bus.subscribe(t1.clone(), b.clone());
    let _sub_o = s.bus.subscribe(t2, other.clone());
    assert_eq!(s.bus.local_subscribers(&t1), 2);
    let mic = |h: &str| LiveEvent::MicState {
        holder: Some(ClientId::parse(h).unwrap()),
    };
    for h in ["c1", "c2", "c3"] {
        s.bus
            .publish(Envelope {
                topic: t1.clone(),
                event: mic(h),
            })
            .unwrap();
    }
    eventually("three events at both subscribers", || {
        a.0.lock().unwrap().len() >= 3 && b.0.lock().unwrap().len() >= 3
    });
    thread::sleep(Duration::from_millis(100));
    let expected = vec![mic("c1"), mic("c2"), mic("c3")];
    assert_eq!(*a.0.lock().unwrap(), expected);
    assert_eq!(*b.0.lock().unwrap(), expected);
    assert!(other.0.lock().unwrap().is_empty());
    drop(sub_a);
    s.bus
        .publish(Envelope {
            topic: t1.clone(),
            event: LiveEvent::SessionClosed {},
        })
        .unwrap();
    eventually("the close at b", || b.0.lock().unwrap().len() == 4);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(a.0.lock().unwrap().len(), 3);
    assert_eq!(s.bus.local_subscribers(&t1), 1);
}
