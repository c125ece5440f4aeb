//! LISTEN/NOTIFY between two instances sharing one database.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tally_domain::bus::{EventBus, EventSink, SinkStatus};
use tally_domain::live::{CaptionFrame, Envelope, LiveEvent, Topic};
use tally_domain::session::{SessionId, ViewerKey};
use tally_store_pg::testing::TestDb;
use tally_store_pg::PgEventBus;

#[derive(Default)]
struct Collect(Mutex<Vec<LiveEvent>>);

impl EventSink for Collect {
    fn deliver(&self, event: &LiveEvent) -> SinkStatus {
        self.0.lock().unwrap().push(event.clone());
        SinkStatus::Open
    }
}

impl Collect {
    fn wait_for(&self, n: usize) -> Vec<LiveEvent> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.0.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} events"
            );
            thread::sleep(Duration::from_millis(5));
        }
        // Anything extra (a duplicate) would arrive within the listener's poll interval.
        thread::sleep(Duration::from_millis(200));
        self.0.lock().unwrap().clone()
    }
}

fn caption(text: String) -> LiveEvent {
    LiveEvent::Caption(CaptionFrame {
        composed_text: text.clone(),
        text,
        sequence: 1,
        timestamp: None,
        translations: None,
        codes: None,
    })
}

#[test]
fn an_event_published_on_one_instance_reaches_subscribers_of_both_once() {
    let Some(db) = TestDb::create() else { return };
    let a = PgEventBus::start(&db.store()).unwrap();
    let b = PgEventBus::start(&db.store()).unwrap();
    assert!(a.wait_listening(Duration::from_secs(5)) && b.wait_listening(Duration::from_secs(5)));
    let topic = Topic::Viewer(ViewerKey::parse("room-1").unwrap());
    let on_a = Arc::new(Collect::default());
    let on_b = Arc::new(Collect::default());
    let elsewhere = Arc::new(Collect::default());
    let _sa = a.subscribe(topic.clone(), on_a.clone());
    let _sb = b.subscribe(topic.clone(), on_b.clone());
    let other = Topic::Session(SessionId::parse("00000000000000b1").unwrap());
    let _so = b.subscribe(other, elsewhere.clone());

    // The second caption is far larger than a NOTIFY payload may be (8,000 bytes).
    let events = vec![
        caption("hello".into()),
        caption("字幕".repeat(3_000)),
        LiveEvent::SessionClosed {},
    ];
    for event in &events {
        a.publish(Envelope {
            topic: topic.clone(),
            event: event.clone(),
        })
        .unwrap();
    }
    assert_eq!(
        on_b.wait_for(3),
        events,
        "the other instance gets each event once, in order"
    );
    assert_eq!(
        on_a.wait_for(3),
        events,
        "the publisher's own subscribers get each event once"
    );
    assert!(elsewhere.0.lock().unwrap().is_empty());
}

/// Notifications the database holds for `conn` right now, after the listener poll interval.
fn pending_notifications(conn: &mut diesel::PgConnection) -> usize {
    thread::sleep(Duration::from_millis(300));
    conn.notifications_iter().filter_map(Result::ok).count()
}

#[test]
fn a_lone_instance_notifies_nobody_until_another_listens() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let Some(db) = TestDb::create() else { return };
    let a = PgEventBus::start(&db.store()).unwrap();
    assert!(a.wait_listening(Duration::from_secs(5)));
    // A bare LISTEN is not a registered instance: it sees what Postgres is asked to send.
    let mut raw = diesel::PgConnection::establish(db.url()).unwrap();
    raw.batch_execute("LISTEN tally_events").unwrap();
    let topic = Topic::Viewer(ViewerKey::parse("room-lone").unwrap());
    let publish = |text: &str| {
        a.publish(Envelope {
            topic: topic.clone(),
            event: caption(text.to_owned()),
        })
        .unwrap();
    };
    publish("nobody else listens");
    // Once a statement has found nobody, the bus does not even build events for a while
    // (250 ms after it asked; published again until one answer is seen, however slow the
    // machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.reaches_anyone(&topic) && std::time::Instant::now() < deadline {
        publish("nobody else listens, again");
        thread::sleep(Duration::from_millis(2));
    }
    assert!(
        !a.reaches_anyone(&topic),
        "nobody is reached by a lone instance"
    );
    assert_eq!(
        pending_notifications(&mut raw),
        0,
        "a lone instance sends nothing"
    );

    let b = PgEventBus::start(&db.store()).unwrap();
    assert!(b.wait_listening(Duration::from_secs(5)));
    assert!(
        a.reaches_anyone(&topic),
        "a listener reports listening only after every lone answer has expired"
    );
    let on_b = Arc::new(Collect::default());
    let _sb = b.subscribe(topic.clone(), on_b.clone());
    publish("now b listens");
    assert_eq!(on_b.wait_for(1), vec![caption("now b listens".to_owned())]);
    assert!(
        pending_notifications(&mut raw) >= 1,
        "sent once a peer registered"
    );

    drop(b);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        publish("b has left");
        if pending_notifications(&mut raw) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "a stopped bus removes its row");
    }
}
