//! The stream of `GET /v1/sessions/events`: a caller's visible open sessions, followed live.
//!
//! There is no bus topic for "every session": the stream subscribes to the `EventBus` topic of
//! each session it shows (so on Postgres it hears every instance, as `GET /events` does), and
//! lists the visible sessions again every [`REFRESH`] to notice sessions opened meanwhile —
//! opening a session publishes nothing, and a topic per organisation would cost every caption
//! a second publish. Frames (snake_case JSON):
//!
//! - `snapshot {sessions, has_more}` first, and again after the client fell behind;
//! - `mic_state {session_id, holder}` at once when a holder changes;
//! - `session {…}` (the listing's shape) when a session appears or its counters change — a
//!   caption or usage event only marks the view stale, and it is read again within
//!   [`FLUSH`], so a busy session costs one listing per second, not one read per caption;
//! - `session_closed {session_id}` when a session ends (or leaves the caller's view);
//! - `unauthorized {error}` (then the end) when the user behind a user token is erased;
//! - `: keep-alive` every 15 s, and `shutdown` when the server stops.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, Responder};
use actix_web_lab::sse::Event;
use futures_util::stream::{self, Stream};
use serde_json::json;
use tally_domain::bus::{EventSink, SinkStatus, Subscription};
use tally_domain::live::{LiveEvent, Topic};
use tally_domain::session::{Session, SessionId};
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use super::{ListSessionsQuery, ListSessionsResponse, SessionResponse, Visible};
use crate::error::ApiError;
use crate::principal::Principal;
use crate::run_blocking;
use crate::sse::{frame, KEEP_ALIVE, SHUTDOWN_EVENT};
use crate::state::AppState;

/// How often the visible sessions are listed again (to find new ones).
pub const REFRESH: Duration = Duration::from_secs(5);
/// How soon a counter change (captions, usage) is read and sent.
pub const FLUSH: Duration = Duration::from_secs(1);
/// Events buffered before the stream counts as behind and sends a new snapshot.
const BUFFER: usize = 512;

/// Forwards one session's bus events into the stream's channel, tagged with the session.
struct TaggedSink {
    session: SessionId,
    tx: mpsc::Sender<(SessionId, LiveEvent)>,
    lagged: Arc<AtomicBool>,
}

impl EventSink for TaggedSink {
    fn deliver(&self, event: &LiveEvent) -> SinkStatus {
        match self.tx.try_send((self.session.clone(), event.clone())) {
            Ok(()) => SinkStatus::Open,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Ordering::Release);
                SinkStatus::Open
            }
            Err(mpsc::error::TrySendError::Closed(_)) => SinkStatus::Closed,
        }
    }
}

struct Watch {
    state: AppState,
    visible: Visible,
    tx: mpsc::Sender<(SessionId, LiveEvent)>,
    rx: mpsc::Receiver<(SessionId, LiveEvent)>,
    lagged: Arc<AtomicBool>,
    subscriptions: HashMap<SessionId, Subscription>,
    known: HashMap<SessionId, Session>,
    /// A counter changed (or a subscription is new): read the sessions at the next flush.
    stale: bool,
    pending: VecDeque<Event>,
    refresh: Interval,
    flush: Interval,
    keep_alive: Interval,
    done: bool,
    _open: crate::observe::OpenStream,
}

fn json_of(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".to_owned())
}

fn ticker(every: Duration) -> Interval {
    let mut t = interval_at(Instant::now() + every, every);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// `GET /v1/sessions/events`: the same sessions followed live over SSE (this module).
///
/// # Errors
/// 400, 401, 403, 503 (before the stream starts).
#[utoipa::path(
    get,
    path = "/v1/sessions/events",
    tag = "v1",
    operation_id = "v1_session_events",
    summary = "Open sessions the caller may see, live (Server-Sent Events)",
    description = "The scope and parameters of `GET /v1/sessions`, checked before the stream \
        starts. Frames: `snapshot` (the listing), `mic_state {session_id, holder}`, `session` \
        (one session, when it appears or its counters change), `session_closed {session_id}`, \
        `unauthorized {error}` and `shutdown {}` (each then ends the stream), a keep-alive \
        comment every 15 s.",
    params(ListSessionsQuery),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The event stream.", content_type = "text/event-stream", body = String),
    )
)]
pub async fn events(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ListSessionsQuery>,
) -> Result<impl Responder, ApiError> {
    let visible = Visible::of(&p, &q)?;
    let first = visible.load(&state).await?;
    Ok(crate::sse::response(stream(
        state.get_ref().clone(),
        visible,
        first,
    )))
}

/// The stream, starting with `first` (the listing the handler already read) as its snapshot.
pub fn stream(
    state: AppState,
    visible: Visible,
    first: (Vec<Session>, bool),
) -> impl Stream<Item = Result<Event, Infallible>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    let mut w = Watch {
        state,
        visible,
        tx,
        rx,
        lagged: Arc::new(AtomicBool::new(false)),
        subscriptions: HashMap::new(),
        known: HashMap::new(),
        stale: false,
        pending: VecDeque::new(),
        refresh: ticker(REFRESH),
        flush: ticker(FLUSH),
        keep_alive: ticker(KEEP_ALIVE),
        done: false,
        _open: crate::observe::OpenStream::new(),
    };
    w.snapshot(first.0, first.1);
    stream::unfold(w, next_frame)
}

impl Watch {
    fn subscribe(&mut self, id: &SessionId) {
        if self.subscriptions.contains_key(id) {
            return;
        }
        let sink = TaggedSink {
            session: id.clone(),
            tx: self.tx.clone(),
            lagged: self.lagged.clone(),
        };
        let sub = self
            .state
            .ports
            .stores
            .bus
            .subscribe(Topic::Session(id.clone()), Arc::new(sink));
        self.subscriptions.insert(id.clone(), sub);
        // Events between the listing and this subscription were missed: read again soon.
        self.stale = true;
    }

    /// Replaces the view with `list` and queues the `snapshot` frame.
    fn snapshot(&mut self, list: Vec<Session>, more: bool) {
        self.subscriptions
            .retain(|id, _| list.iter().any(|s| s.id == *id));
        for s in &list {
            self.subscribe(&s.id);
        }
        self.pending.push_back(frame(
            "snapshot",
            &json_of(&ListSessionsResponse::of(&list, more)),
        ));
        self.known = list.into_iter().map(|s| (s.id.clone(), s)).collect();
    }

    /// Lists the sessions again and queues a frame for every difference from the view.
    fn apply(&mut self, list: Vec<Session>) {
        self.stale = false;
        let gone: Vec<SessionId> = self
            .known
            .keys()
            .filter(|id| !list.iter().any(|s| s.id == **id))
            .cloned()
            .collect();
        for id in gone {
            self.close(&id);
        }
        for s in list {
            if self.known.get(&s.id) != Some(&s) {
                self.subscribe(&s.id);
                self.pending
                    .push_back(frame("session", &json_of(&SessionResponse::from(&s))));
                self.known.insert(s.id.clone(), s);
            }
        }
    }

    fn close(&mut self, id: &SessionId) {
        self.subscriptions.remove(id);
        if self.known.remove(id).is_some() {
            let data = json!({ "session_id": id }).to_string();
            self.pending.push_back(frame("session_closed", &data));
        }
    }

    fn on_event(&mut self, id: &SessionId, event: LiveEvent) {
        match event {
            LiveEvent::MicState { holder } => {
                if let Some(s) = self.known.get_mut(id) {
                    s.mic_holder.clone_from(&holder);
                    let data = json!({ "session_id": id, "holder": holder }).to_string();
                    self.pending.push_back(frame("mic_state", &data));
                }
            }
            LiveEvent::SessionClosed {} => self.close(id),
            _ => self.stale = true,
        }
    }

    /// Whether the user behind a user token may still watch (erased users may not). A store
    /// failure keeps the stream: the next refresh asks again.
    async fn still_allowed(&self) -> bool {
        let Some(user) = self.visible.user else {
            return true;
        };
        let tenants = self.state.ports.stores.tenants.clone();
        match run_blocking(move || tenants.get_user(user)).await {
            Ok(found) => found.is_some_and(|u| u.erased_at.is_none()),
            Err(_) => true,
        }
    }

    /// Reads the visible sessions and queues the differences; a store failure is retried at
    /// the next tick (the view stays as it was).
    async fn reload(&mut self) {
        if !self.still_allowed().await {
            self.done = true;
            let data = json!({ "error": "Invalid or expired token" }).to_string();
            self.pending.push_back(frame("unauthorized", &data));
            return;
        }
        if let Ok((list, _)) = self.visible.load(&self.state).await {
            self.apply(list);
        }
    }
}

async fn next_frame(mut w: Watch) -> Option<(Result<Event, Infallible>, Watch)> {
    loop {
        if let Some(f) = w.pending.pop_front() {
            return Some((Ok(f), w));
        }
        if w.done {
            return None;
        }
        if w.lagged.swap(false, Ordering::AcqRel) {
            // What is buffered predates the new snapshot: drop it rather than apply it late.
            while w.rx.try_recv().is_ok() {}
            if let Ok((list, more)) = w.visible.load(&w.state).await {
                w.snapshot(list, more);
            }
            continue;
        }
        let shutdown = w.state.shutdown.clone();
        tokio::select! {
            () = shutdown.signalled() => {
                w.done = true;
                return Some((Ok(frame(SHUTDOWN_EVENT, "{}")), w));
            }
            ev = w.rx.recv() => {
                // The stream holds a sender itself, so the channel never closes under it.
                if let Some((id, ev)) = ev {
                    w.on_event(&id, ev);
                }
            }
            _ = w.flush.tick() => {
                if w.stale {
                    w.reload().await;
                }
            }
            _ = w.refresh.tick() => w.reload().await,
            _ = w.keep_alive.tick() => {
                return Some((Ok(Event::Comment("keep-alive".into())), w));
            }
        }
    }
}
