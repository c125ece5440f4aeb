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
use tally_domain::session::{SessionId, SessionRef, ViewerKey};
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

/// How lcyt's unified `GET /events/stream` frames a session's events: each one wrapped in the
/// envelope `{sessionId, topic, projectId, ts, data}` under its bus topic (`caption.sent`,
/// `caption.error`, `session.mic_state`, `session.closed`), or under `message` when `flat`;
/// only the topics the client asked for; the stream outlives `session.closed`.
#[derive(Debug, Clone)]
pub struct ProjectStream {
    /// The session whose events the stream carries.
    pub session: SessionRef,
    /// When that session started (for `session.closed`'s `durationMs`).
    pub started_at: time::OffsetDateTime,
    /// The `projectId` of the envelopes.
    pub project_id: String,
    /// The topic patterns asked for (empty: all).
    pub topics: Vec<String>,
    /// `flat=1`: every frame is named `message`.
    pub flat: bool,
}

/// Whether a topic matches one of lcyt's patterns: `*`, an exact topic, or `x.*` for any
/// topic under `x.` at any depth. No patterns match everything.
#[must_use]
pub fn topic_matches(patterns: &[String], topic: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| {
            p == "*"
                || p == topic
                || p.strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with('.') && topic.starts_with(prefix))
        })
}

/// The bus topic and `data` of a session event on the unified stream; `None` for events it
/// does not carry (`usage`, captions of a target-less session).
#[must_use]
pub fn project_topic(
    event: &LiveEvent,
    started_at: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> Option<(&'static str, String)> {
    let topic = match event {
        LiveEvent::CaptionResult { .. } => "caption.sent",
        LiveEvent::CaptionError { .. } => "caption.error",
        LiveEvent::MicState { .. } => "session.mic_state",
        LiveEvent::SessionClosed {} => {
            let ms = tally_domain::session::duration_ms(started_at, now);
            return Some(("session.closed", json!({ "durationMs": ms }).to_string()));
        }
        LiveEvent::Usage { .. } | LiveEvent::Caption(_) => return None,
    };
    Some((topic, event.data_json()))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ProjectEnvelope<'a> {
    session_id: &'a SessionId,
    topic: &'a str,
    project_id: &'a str,
    ts: i128,
    data: &'a serde_json::value::RawValue,
}

impl ProjectStream {
    /// The frame of one event, if the stream carries it and the client asked for its topic.
    #[must_use]
    pub fn frame(&self, event: &LiveEvent, now: time::OffsetDateTime) -> Option<Event> {
        let (topic, data) = project_topic(event, self.started_at, now)?;
        if !topic_matches(&self.topics, topic) {
            return None;
        }
        let raw = serde_json::value::RawValue::from_string(data).ok()?;
        let envelope = ProjectEnvelope {
            session_id: self.session.id(),
            topic,
            project_id: &self.project_id,
            ts: now.unix_timestamp_nanos() / 1_000_000,
            data: &raw,
        };
        let json = serde_json::to_string(&envelope).ok()?;
        Some(frame(if self.flat { "message" } else { topic }, &json))
    }
}

struct StreamState {
    project: Option<ProjectStream>,
    rx: mpsc::Receiver<LiveEvent>,
    lagged: Arc<AtomicBool>,
    ticker: tokio::time::Interval,
    pending: Vec<Event>,
    done: bool,
    session: Option<SessionRef>,
    state: AppState,
    _subscription: Subscription,
    _open: crate::observe::OpenStream,
}

/// The keep-alive's check of a session stream: records the open stream as activity, and says
/// `session_closed` when the session ended under it (a store failure says nothing: the next
/// tick asks again).
async fn session_snapshot(state: &AppState, session: &SessionRef) -> Option<LiveEvent> {
    let sessions = state.ports.stores.sessions.clone();
    let (session, now) = (session.clone(), state.ports.clock.now());
    let open = web::block(move || sessions.touch_session(&session, now))
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
            if s.project.is_some() {
                return Some((Ok(frame("resync", "{}")), s));
            }
            if let Some(session) = s.session.clone() {
                let sessions = s.state.ports.stores.sessions.clone();
                let current = web::block(move || sessions.get_session(&session))
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
        let shutdown = s.state.shutdown.clone();
        tokio::select! {
            () = shutdown.signalled() => {
                // The server is stopping: a last frame, then the stream ends, so the stop
                // need not wait for it (the client's EventSource reconnects).
                s.done = true;
                return Some((Ok(frame(SHUTDOWN_EVENT, "{}")), s));
            }
            ev = s.rx.recv() => match ev {
                Some(ev) => {
                    if let Some(project) = &s.project {
                        match project.frame(&ev, s.state.ports.clock.now()) {
                            Some(f) => return Some((Ok(f), s)),
                            None => continue,
                        }
                    }
                    s.done = matches!(ev, LiveEvent::SessionClosed {});
                    return Some((Ok(frame(ev.name(), &ev.data_json())), s));
                }
                None => return None,
            },
            _ = s.ticker.tick() => {
                if let Some(project) = &s.project {
                    // An open stream is activity; the unified stream outlives its session.
                    let _closed = session_snapshot(&s.state, &project.session).await;
                    return Some((Ok(Event::Comment("heartbeat".into())), s));
                }
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

/// The live events of `session` as SSE frames, `first` (the `connected` frame) ahead of
/// them; the stream ends after `session_closed`.
pub fn session_events(
    state: AppState,
    session: SessionRef,
    first: Event,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let topic = Topic::Session(session.id().clone());
    stream(state, topic, Some(first), Some(session), None, KEEP_ALIVE)
}

/// The public stream of viewer key `key` as SSE frames, `first` ahead of them.
pub fn viewer_events(
    state: AppState,
    key: ViewerKey,
    first: Event,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream(
        state,
        Topic::Viewer(key),
        Some(first),
        None,
        None,
        KEEP_ALIVE,
    )
}

/// The unified stream of lcyt (`GET /events/stream`) over one session's events, `first`
/// ahead of them, with `: heartbeat` every [`HEARTBEAT`].
pub fn project_events(
    state: AppState,
    project: ProjectStream,
    first: Event,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let session = project.session.clone();
    let topic = Topic::Session(session.id().clone());
    stream(
        state,
        topic,
        Some(first),
        Some(session),
        Some(project),
        HEARTBEAT,
    )
}

/// The name of the last frame of every stream when the server stops (`data: {}`).
pub const SHUTDOWN_EVENT: &str = "shutdown";

/// Interval of the unified stream's `: heartbeat` comment (lcyt's).
pub const HEARTBEAT: Duration = Duration::from_secs(25);

/// `session`: the session of a session topic, which the keep-alive checks.
fn stream(
    state: AppState,
    topic: Topic,
    first: Option<Event>,
    session: Option<SessionRef>,
    project: Option<ProjectStream>,
    keep_alive: Duration,
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
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let s = StreamState {
        project,
        rx,
        lagged,
        ticker,
        pending: first.into_iter().collect(),
        done: false,
        session,
        state,
        _subscription: subscription,
        _open: crate::observe::OpenStream::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::mic::ClientId;
    use time::macros::datetime;

    #[test]
    fn topic_patterns_follow_lcyt() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(topic_matches(&[], "caption.sent"));
        assert!(topic_matches(&p(&["*"]), "caption.sent"));
        assert!(topic_matches(&p(&["caption.sent"]), "caption.sent"));
        assert!(!topic_matches(&p(&["caption.sent"]), "caption.error"));
        assert!(topic_matches(
            &p(&["role.*"]),
            "role.tracker.tracker_update"
        ));
        assert!(!topic_matches(&p(&["caption.*"]), "session.closed"));
        assert!(!topic_matches(&p(&["caption*"]), "captions.x"));
    }

    #[test]
    fn session_events_map_to_lcyt_topics() {
        let start = datetime!(2026-01-01 10:00 UTC);
        let now = datetime!(2026-01-01 10:00:02.5 UTC);
        let closed = project_topic(&LiveEvent::SessionClosed {}, start, now).unwrap();
        assert_eq!(
            closed,
            ("session.closed", r#"{"durationMs":2500}"#.to_owned())
        );
        let mic = LiveEvent::MicState {
            holder: Some(ClientId::parse("c1").unwrap()),
        };
        assert_eq!(
            project_topic(&mic, start, now).unwrap(),
            ("session.mic_state", r#"{"holder":"c1"}"#.to_owned())
        );
        let usage = LiveEvent::Usage {
            lifetime_used: 1,
            daily_used: 1,
            daily_limit: None,
            lifetime_limit: None,
        };
        assert!(project_topic(&usage, start, now).is_none());
    }
}
