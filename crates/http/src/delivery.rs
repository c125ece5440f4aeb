//! Caption delivery: one ordered queue per session, a worker per active queue, and the
//! targets (`viewer` streams, `generic` webhooks, or the session's own subscribers).
//!
//! The [`DeliveryHub`] is a service the [`AppState`](crate::state::AppState) holds: it is built
//! from the ports and the session service and knows nothing of the state or of any surface.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::web;
use serde_json::json;
use tally_domain::live::{Envelope, LiveEvent, Topic};
use tally_domain::services::{Ports, SessionService};
use tally_domain::session::{DeliveryOutcome, Session, SessionId, Target};
use tokio::sync::mpsc;

/// How long a webhook may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// A queue's worker stops after this long without work.
const IDLE: Duration = Duration::from_secs(60);
/// Most accepted batches of one session waiting for (or in) delivery. A `POST /captions` that
/// would exceed it is refused before anything is metered ([`DeliveryHub::reserve`]), so a
/// session sending faster than its targets take captions cannot grow memory without bound,
/// and nothing accepted is ever dropped.
pub const MAX_BACKLOG: usize = 64;

/// One caption of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caption {
    /// Text.
    pub text: String,
    /// Client timestamp, as sent.
    pub timestamp: Option<String>,
}

/// An accepted batch waiting for delivery.
#[derive(Debug, Clone)]
pub struct Job {
    /// The session as it was when the batch was accepted (its targets).
    pub session: Session,
    /// The `/captions` request id.
    pub request_id: String,
    /// The batch's sequence.
    pub sequence: u64,
    /// The captions.
    pub captions: Vec<Caption>,
}

/// A place in a session's delivery queue, taken before metering; released when dropped unless
/// its batch was queued ([`DeliveryHub::enqueue`]), then when the batch has been delivered.
#[derive(Debug)]
pub struct Reservation {
    hub: DeliveryHub,
    session: SessionId,
    armed: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.armed {
            self.hub.release(&self.session);
        }
    }
}

/// The session's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlogged;

/// The per-session delivery queues of this instance (shared by all workers; cheap to clone).
#[derive(Debug, Clone)]
pub struct DeliveryHub(Arc<Queues>);

#[derive(Debug)]
struct Queues {
    queues: Mutex<HashMap<SessionId, (u64, mpsc::UnboundedSender<Job>)>>,
    /// Reserved or queued batches per session (at most [`MAX_BACKLOG`]).
    backlog: Mutex<HashMap<SessionId, usize>>,
    generation: AtomicU64,
    /// The bus viewer and session captions are published on.
    ports: Ports,
    /// Records each batch's outcome.
    sessions: SessionService,
}

impl DeliveryHub {
    /// An empty hub publishing on `ports`' bus and reporting outcomes through `sessions`.
    #[must_use]
    pub fn new(ports: Ports, sessions: SessionService) -> Self {
        Self(Arc::new(Queues {
            queues: Mutex::default(),
            backlog: Mutex::default(),
            generation: AtomicU64::new(0),
            ports,
            sessions,
        }))
    }

    /// Takes a place in `session`'s queue for a batch about to be metered.
    ///
    /// # Errors
    /// [`Backlogged`] when [`MAX_BACKLOG`] batches of the session are already waiting.
    pub fn reserve(&self, session: &SessionId) -> Result<Reservation, Backlogged> {
        let mut backlog = self
            .0
            .backlog
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = backlog.entry(session.clone()).or_insert(0);
        if *n >= MAX_BACKLOG {
            return Err(Backlogged);
        }
        *n += 1;
        Ok(Reservation {
            hub: self.clone(),
            session: session.clone(),
            armed: true,
        })
    }

    /// Batches of `session` reserved or waiting for delivery.
    #[must_use]
    pub fn backlog(&self, session: &SessionId) -> usize {
        let backlog = self
            .0
            .backlog
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        backlog.get(session).copied().unwrap_or(0)
    }

    fn release(&self, session: &SessionId) {
        let mut backlog = self
            .0
            .backlog
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = backlog.get_mut(session) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                backlog.remove(session);
            }
        }
    }

    /// Queues a batch behind the session's earlier batches, starting a worker when none runs;
    /// its place (`reservation`) is released once it has been delivered.
    pub fn enqueue(&self, mut reservation: Reservation, job: Job) {
        reservation.armed = false;
        let id = job.session.id.clone();
        let mut queues = self.0.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let job = match queues.get(&id) {
            Some((_, tx)) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = self.0.generation.fetch_add(1, Ordering::Relaxed);
        // A fresh channel's receiver is alive, so this send cannot fail.
        let _queued = tx.send(job);
        queues.insert(id.clone(), (generation, tx));
        drop(queues);
        actix_web::rt::spawn(worker(self.clone(), id, generation, rx));
    }

    fn retire(&self, id: &SessionId, generation: u64) -> bool {
        let mut queues = self.0.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if queues.get(id).is_some_and(|(g, _)| *g == generation) {
            queues.remove(id);
        }
        true
    }
}

async fn worker(
    hub: DeliveryHub,
    id: SessionId,
    generation: u64,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    loop {
        match tokio::time::timeout(IDLE, rx.recv()).await {
            Ok(Some(job)) => hub.deliver(job).await,
            Ok(None) => return,
            Err(_) => {
                hub.retire(&id, generation);
                // Batches queued between the timeout and the retirement are still delivered.
                rx.close();
                while let Some(job) = rx.recv().await {
                    hub.deliver(job).await;
                }
                return;
            }
        }
    }
}

impl DeliveryHub {
    /// Delivers one batch and frees its place in the session's queue.
    async fn deliver(&self, job: Job) {
        let session = job.session.id.clone();
        deliver(&self.0, job).await;
        self.release(&session);
    }
}

async fn deliver(hub: &Queues, job: Job) {
    let batch_size = job.captions.len() as u64;
    let mut failure: Option<(String, Option<u16>)> = None;
    let targets = &job.session.targets;
    if job.session.delivers_to_itself() {
        publish_captions(&hub.ports, Topic::Session(job.session.id.clone()), &job);
    }
    for target in targets {
        match target {
            Target::Viewer { viewer_key } => {
                publish_captions(&hub.ports, Topic::Viewer(viewer_key.clone()), &job)
            }
            Target::Generic { url } => {
                if let Err(e) = post_webhook(&webhook_client(), url, &job).await {
                    failure.get_or_insert(e);
                }
            }
        }
    }
    let outcome = match failure {
        None => DeliveryOutcome::Delivered { batch_size },
        Some((error, status_code)) => DeliveryOutcome::Failed {
            batch_size,
            error,
            status_code,
        },
    };
    let service = hub.sessions.clone();
    let (session, request_id, sequence) = (job.session, job.request_id, job.sequence);
    // A session delivering to itself had the outcome recorded with its meter.
    if session.delivers_to_itself() {
        service.announce_delivery(&session, &request_id, sequence, &outcome);
        return;
    }
    let reported =
        web::block(move || service.report_delivery(&session, &request_id, sequence, outcome)).await;
    if !matches!(reported, Ok(Ok(()))) {
        tracing::error!(?reported, "could not record a caption delivery outcome");
    }
}

thread_local! {
    /// One webhook client per worker thread, built on first use: building one loads the TLS
    /// trust store, far too slow to do per session (awc clients are per-thread by design).
    static WEBHOOK_CLIENT: std::cell::OnceCell<awc::Client> = const { std::cell::OnceCell::new() };
}

fn webhook_client() -> awc::Client {
    WEBHOOK_CLIENT.with(|c| {
        c.get_or_init(|| awc::Client::builder().timeout(WEBHOOK_TIMEOUT).finish())
            .clone()
    })
}

fn publish_captions(ports: &Ports, topic: Topic, job: &Job) {
    for c in &job.captions {
        let event = LiveEvent::Caption {
            text: c.text.clone(),
            sequence: job.sequence,
            timestamp: c.timestamp.clone(),
        };
        if let Err(e) = ports.stores.bus.publish(Envelope {
            topic: topic.clone(),
            event,
        }) {
            tracing::warn!(error = %e, "caption not published to every instance");
        }
    }
}

async fn post_webhook(
    client: &awc::Client,
    url: &str,
    job: &Job,
) -> Result<(), (String, Option<u16>)> {
    let captions: Vec<_> = job
        .captions
        .iter()
        .map(|c| json!({ "text": c.text, "timestamp": c.timestamp }))
        .collect();
    let body = json!({ "source": "tally", "sessionId": job.session.id, "sequence": job.sequence, "captions": captions });
    match client.post(url).send_json(&body).await {
        Ok(res) if res.status().is_success() => Ok(()),
        Ok(res) => Err((
            format!("HTTP {}", res.status().as_u16()),
            Some(res.status().as_u16()),
        )),
        Err(e) => Err((e.to_string(), None)),
    }
}
