//! Caption delivery: one ordered queue per session, a worker per active queue, and the
//! targets: the primary YouTube sender of a session opened with a `streamKey` (its answer is
//! the batch's reported status), then in order `viewer` streams, `generic` webhooks and
//! `youtube` ingestion URLs — or, with none of these, the session's own subscribers.
//!
//! The [`DeliveryHub`] is a service the [`AppState`](crate::state::AppState) holds: it is built
//! from the ports and the session service and knows nothing of the state or of any surface.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::web;
use tally_domain::caption::Caption;
use tally_domain::live::{CaptionFrame, Envelope, LiveEvent, Topic};
use tally_domain::services::{Ports, SessionService};
use tally_domain::session::{DeliveryOutcome, DeliveryReceipt, Session, SessionId, Target};
use tokio::sync::mpsc;

use crate::observe;
use crate::webhook::{post_webhook, webhook_body, webhook_client};
use crate::youtube;

/// A queue's worker stops after this long without work.
const IDLE: Duration = Duration::from_secs(60);
/// Most accepted batches of one session waiting for (or in) delivery. A `POST /captions` that
/// would exceed it is refused before anything is metered ([`DeliveryHub::reserve`]), so a
/// session sending faster than its targets take captions cannot grow memory without bound,
/// and nothing accepted is ever dropped.
pub const MAX_BACKLOG: usize = 64;

/// An accepted batch waiting for delivery.
#[derive(Debug, Clone)]
pub struct Job {
    /// The session as it was when the batch was accepted (its targets).
    pub session: Session,
    /// The `/captions` request id.
    pub request_id: String,
    /// The batch's sequence (the session's sequence after the batch was accepted; YouTube
    /// POSTs use the one before, lcyt's "next seq" when the batch started).
    pub sequence: u64,
    /// The captions.
    pub captions: Vec<Caption>,
}

impl Job {
    /// The `seq` of the batch's YouTube POSTs.
    #[must_use]
    pub fn youtube_seq(&self) -> u64 {
        self.sequence.saturating_sub(1)
    }
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
    /// YouTube's caption ingestion URL.
    youtube_url: String,
}

impl DeliveryHub {
    /// An empty hub publishing on `ports`' bus, reporting outcomes through `sessions` and
    /// posting YouTube captions to `youtube_url`.
    #[must_use]
    pub fn new(ports: Ports, sessions: SessionService, youtube_url: String) -> Self {
        Self(Arc::new(Queues {
            queues: Mutex::default(),
            backlog: Mutex::default(),
            generation: AtomicU64::new(0),
            ports,
            sessions,
            youtube_url,
        }))
    }

    /// Caption batches accepted and not yet delivered, over every session (what the
    /// `tally_caption_delivery_backlog` gauge shows).
    #[must_use]
    pub fn total_backlog(&self) -> usize {
        self.0
            .backlog
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    /// YouTube's caption ingestion URL.
    #[must_use]
    pub fn youtube_url(&self) -> &str {
        &self.0.youtube_url
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
        // A batch only the session's own subscribers would receive, none of them listening
        // and nothing of the session waiting before it (the only place held is this one):
        // delivered here, under the queues' lock, so no later batch of the session can
        // overtake it; a queue and a worker's wake-up would cost more than the delivery.
        if job.session.delivers_to_itself()
            && self.backlog(&id) == 1
            && !self
                .0
                .ports
                .stores
                .bus
                .reaches_anyone(&Topic::Session(id.clone()))
        {
            deliver_to_itself(&self.0, job);
            drop(queues);
            self.release(&id);
            return;
        }
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

/// A batch of a session without targets: its captions and its outcome go to the session's
/// own subscribers (the outcome was recorded with the meter).
fn deliver_to_itself(hub: &Queues, job: Job) {
    observe::delivery("self", true);
    publish_captions(&hub.ports, Topic::Session(job.session.id.clone()), &job);
    let outcome = DeliveryOutcome::Delivered {
        batch_size: job.captions.len() as u64,
    };
    hub.sessions.announce_delivery(
        &job.session,
        &job.request_id,
        job.sequence,
        &outcome,
        &DeliveryReceipt::default(),
    );
}

async fn deliver(hub: &Queues, job: Job) {
    if job.session.delivers_to_itself() {
        deliver_to_itself(hub, job);
        return;
    }
    let batch_size = job.captions.len() as u64;
    let mut failure: Option<(String, Option<u16>)> = None;
    let mut receipt = DeliveryReceipt::default();
    let mut reported_sequence = job.sequence;
    let client = webhook_client();
    // lcyt's legacy mode: the primary sender's answer is the batch's reported status.
    if let Some(key) = job.session.primary_stream_key() {
        reported_sequence = job.youtube_seq();
        match post_youtube(hub, &client, key.as_str(), &job).await {
            Ok(answer) => {
                receipt.status_code = Some(answer.status);
                if answer.is_success() {
                    receipt.server_timestamp = answer.server_timestamp;
                } else {
                    failure = Some(youtube_refused(answer.status));
                }
            }
            Err(e) => failure = Some((e, None)),
        }
        observe::delivery("youtube", failure.is_none());
    }
    for target in &job.session.targets {
        let kind = match target {
            Target::Viewer { .. } => "viewer",
            Target::Generic { .. } => "generic",
            Target::Youtube { .. } => "youtube",
        };
        let result = match target {
            Target::Viewer { viewer_key } => {
                publish_captions(&hub.ports, Topic::Viewer(viewer_key.clone()), &job);
                Ok(())
            }
            Target::Generic { url, headers } => {
                let body = webhook_body(job.session.domain.as_str(), job.sequence, &job.captions);
                post_webhook(&client, url, headers, body).await
            }
            Target::Youtube { stream_key } => {
                match post_youtube(hub, &client, stream_key.as_str(), &job).await {
                    Ok(a) if a.is_success() => Ok(()),
                    Ok(a) => Err(youtube_refused(a.status)),
                    Err(e) => Err((e, None)),
                }
            }
        };
        observe::delivery(kind, result.is_ok());
        if let Err(e) = result {
            failure.get_or_insert(e);
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
    let (session, request_id) = (job.session, job.request_id);
    let reported = web::block(move || {
        service.report_delivery(&session, &request_id, reported_sequence, outcome, &receipt)
    })
    .await;
    if !matches!(reported, Ok(Ok(()))) {
        tracing::error!(?reported, "could not record a caption delivery outcome");
    }
}

fn youtube_refused(status: u16) -> (String, Option<u16>) {
    (format!("YouTube returned status {status}"), Some(status))
}

/// One ingestion POST of the whole batch at the batch's `seq`. Unstamped captions get the
/// moment of sending on YouTube's clock (our clock plus the session's sync offset), 100 ms
/// apart.
async fn post_youtube(
    hub: &Queues,
    client: &awc::Client,
    stream_key: &str,
    job: &Job,
) -> Result<youtube::Answer, String> {
    let ours = hub.ports.clock.now();
    let now = ours
        .checked_add(time::Duration::milliseconds(job.session.sync_offset_ms))
        .unwrap_or(ours);
    let blocks = job.captions.iter().zip(0_i64..).map(|(c, i)| {
        let at = now + time::Duration::milliseconds(i * youtube::BATCH_SPACING_MS);
        (c.time.youtube(at), c.composed_text.as_str())
    });
    let url = youtube::ingestion_url(&hub.youtube_url, stream_key, job.youtube_seq());
    youtube::post(client, &url, youtube::body(blocks)).await
}

fn publish_captions(ports: &Ports, topic: Topic, job: &Job) {
    // Nobody to receive them: no frames built (a caption batch is 5–100 of them).
    if !ports.stores.bus.reaches_anyone(&topic) {
        return;
    }
    for c in &job.captions {
        let event = LiveEvent::Caption(CaptionFrame {
            text: c.text.clone(),
            composed_text: c.composed_text.clone(),
            sequence: job.sequence,
            timestamp: c.time.fan_out(),
            translations: c.translations.clone(),
            codes: c.codes.clone(),
        });
        if let Err(e) = ports.stores.bus.publish(Envelope {
            topic: topic.clone(),
            event,
        }) {
            tracing::warn!(error = %e, "caption not published to every instance");
        }
    }
}
