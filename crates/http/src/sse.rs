//! Server-Sent Events streams over the `EventBus`, framed by `actix_web_lab::sse`: the shared
//! machinery behind lcyt's `GET /events` and `GET /viewer/{viewerKey}` handlers.
//!
//! Each stream subscribes a bounded-channel sink to the `EventBus`. The bus never waits for a
//! slow client: when the channel is full the event is dropped and the client gets `resync`
//! with the current state instead of silently missing it. A keep-alive comment goes out every
//! 15 s; on a session stream it also records activity and ends the stream if the session
//! ended meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use actix_web::web;
use actix_web::{CustomizeResponder, Responder};
use actix_web_lab::sse::{Data, Event, Sse};
use futures_util::stream::{self, Stream};
use serde_json::json;
use tally_domain::bus::{EventSink, SinkStatus, Subscription};
use tally_domain::live::{LiveEvent, Topic};
use tally_domain::session::SessionId;
use tokio::sync::mpsc;

use crate::state::AppState;

/// Interval of the `: keep-alive` comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events buffered per subscriber before it is considered behind.
const BUFFER: usize = 256;

struct ChannelSink {
    tx: mpsc::Sender<LiveEvent>,
    lagged: Arc<AtomicBool>,
}

impl EventSink for ChannelSink {
    fn deliver(&self, event: &LiveEvent) -> SinkStatus {
        match self.tx.try_send(event.clone()) {
            Ok(()) => SinkStatus::Open,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Ordering::Release);
                SinkStatus::Open
            }
            Err(mpsc::error::TrySendError::Closed(_)) => SinkStatus::Closed,
        }
    }
}

/// One SSE frame: `event: <name>` with `data: <data>`.
pub fn frame(name: &str, data: &str) -> Event {
    Data::new(data.to_owned()).event(name.to_owned()).into()
}

struct StreamState {
    rx: mpsc::Receiver<LiveEvent>,
    lagged: Arc<AtomicBool>,
    ticker: tokio::time::Interval,
    pending: Vec<Event>,
    done: bool,
    session: Option<SessionId>,
    state: AppState,
    _subscription: Subscription,
}

/// The keep-alive's check of a session stream: records the open stream as activity, and says
/// `session_closed` when the session ended under it (a store failure says nothing: the next
/// tick asks again).
async fn session_snapshot(state: &AppState, id: &SessionId) -> Option<LiveEvent> {
    let sessions = state.ports.stores.sessions.clone();
    let (id2, now) = (id.clone(), state.ports.clock.now());
    let open = web::block(move || sessions.touch_session(&id2, now))
        .await
        .ok()?
        .ok()?;
    open.is_none().then_some(LiveEvent::SessionClosed {})
}

async fn next_frame(mut s: StreamState) -> Option<(Result<Event, Infallible>, StreamState)> {
    loop {
        if let Some(f) = s.pending.pop() {
            return Some((Ok(f), s));
        }
        if s.done {
            return None;
        }
        if s.lagged.swap(false, Ordering::AcqRel) {
            // What is still buffered is older than the snapshot below: drop it, so the client
            // never applies a stale event after the resync.
            while s.rx.try_recv().is_ok() {}
            let mut data = json!({});
            if let Some(id) = s.session.clone() {
                let sessions = s.state.ports.stores.sessions.clone();
                let current = web::block(move || sessions.get_session(&id))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten();
                match current {
                    Some(sess) => {
                        data = json!({ "sessionId": sess.id, "micHolder": sess.mic_holder })
                    }
                    None => {
                        s.done = true;
                        s.pending.push(frame("session_closed", "{}"));
                        continue;
                    }
                }
            }
            return Some((Ok(frame("resync", &data.to_string())), s));
        }
        tokio::select! {
            ev = s.rx.recv() => match ev {
                Some(ev) => {
                    s.done = matches!(ev, LiveEvent::SessionClosed {});
                    return Some((Ok(frame(ev.name(), &ev.data_json())), s));
                }
                None => return None,
            },
            _ = s.ticker.tick() => {
                if let Some(id) = s.session.clone() {
                    if let Some(closed) = session_snapshot(&s.state, &id).await {
                        s.done = true;
                        return Some((Ok(frame(closed.name(), &closed.data_json())), s));
                    }
                }
                return Some((Ok(Event::Comment("keep-alive".into())), s));
            }
        }
    }
}

/// The live events of `topic` as SSE frames, `first` (the `connected` frame) ahead of them;
/// on a session topic the stream ends after `session_closed`.
pub fn events(
    state: AppState,
    topic: Topic,
    first: Option<Event>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    let lagged = Arc::new(AtomicBool::new(false));
    let subscription = state.ports.stores.bus.subscribe(
        topic.clone(),
        Arc::new(ChannelSink {
            tx,
            lagged: lagged.clone(),
        }),
    );
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let session = match topic {
        Topic::Session(id) => Some(id),
        Topic::Viewer(_) => None,
    };
    let s = StreamState {
        rx,
        lagged,
        ticker,
        pending: first.into_iter().collect(),
        done: false,
        session,
        state,
        _subscription: subscription,
    };
    stream::unfold(s, next_frame)
}

/// The `text/event-stream` response of a stream (`Cache-Control: no-cache` from actix-web-lab;
/// `X-Accel-Buffering: no` so a reverse proxy does not hold frames back).
pub fn response(
    body: impl Stream<Item = Result<Event, Infallible>> + 'static,
) -> CustomizeResponder<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    Sse::from_stream(body)
        .customize()
        .insert_header(("X-Accel-Buffering", "no"))
}
