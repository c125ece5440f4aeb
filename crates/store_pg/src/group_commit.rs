//! Group commit for the meter: concurrent meters share one transaction and one commit.
//!
//! A caller of [`crate::PgStore`]'s `meter` queues its request and blocks until a writer
//! answers it. A few writer threads (started on the first meter) each take whatever is
//! queued — up to the batch cap, optionally waiting a moment for more — run it as one
//! set-based transaction ([`crate::meter::meter_batch_tx`]; first optimistically, as one
//! checked statement, [`crate::meter::meter_batch_optimistic`]) and answer every caller of
//! the batch only after its commit: an acknowledged meter is durable. While one writer waits
//! for its commit, the next batch gathers and another writer takes it.
//!
//! Failure rules: a batch that loses a race (deadlock, serialisation, an idempotency key taken
//! concurrently) runs again; a database that is away answers every meter of the batch
//! `Unavailable` (none counted, so clients may retry); any other failure reruns the batch one
//! meter per transaction, so one bad meter cannot fail the others.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tally_domain::ports::{MeterDone, MeterError, MeterRequest};
use tally_domain::StoreError;

use crate::conn::{checkout, transaction_on, PgPool};
use crate::error::Fail;
use crate::meter::{meter_batch_optimistic, meter_batch_tx, Outcome, Seen};

/// How meters are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Most meters per transaction.
    pub max_batch: usize,
    /// How long a writer holding fewer than `max_batch` meters waits for more before it
    /// starts the transaction, while another writer's batch is in flight (zero: start at once
    /// with whatever is queued). An idle store never waits.
    pub max_wait: Duration,
    /// Writer threads, i.e. batches in flight at once (each holds a pooled connection while
    /// it runs).
    pub writers: usize,
    /// Whether a batch first runs optimistically: decided from the rows' last known
    /// versions and written with one statement that checks them (docs/ARCHITECTURE.md,
    /// "Optimistic batches"), taking the locks up front only when that is not possible or
    /// loses a race. Off: every batch takes the locks up front.
    pub optimistic: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_wait: Duration::from_micros(200),
            writers: 2,
            optimistic: true,
        }
    }
}

/// One queued meter and where its answer goes.
struct Job {
    request: MeterRequest,
    reply: Reply,
}

/// A waiting thread, or a callback run by the writer.
enum Reply {
    Blocked(SyncSender<Outcome>),
    Then(MeterDone),
}

impl Reply {
    fn send(self, outcome: Outcome) {
        match self {
            // A caller that went away has nobody to tell.
            Self::Blocked(waiting) => drop(waiting.send(outcome)),
            // A callback that panics must not take its writer with it.
            Self::Then(done) => {
                let answered = panic::catch_unwind(AssertUnwindSafe(|| done(outcome)));
                if answered.is_err() {
                    tracing::error!("a meter's answer callback panicked");
                }
            }
        }
    }
}

#[derive(Default)]
struct State {
    pending: VecDeque<Job>,
    closed: bool,
    writers: Writers,
}

impl State {
    /// Which waiting writer the queue as it is now should wake ([`Writers::to_wake`]).
    fn to_wake(&self, max_batch: usize) -> Option<Wake> {
        self.writers.to_wake(self.pending.len(), max_batch)
    }
}

/// What the writers are doing.
#[derive(Debug, Default, Clone, Copy)]
struct Writers {
    /// Running a batch right now.
    busy: usize,
    /// Waiting for a first meter (on [`Shared::arrived`]).
    idle: usize,
    /// Holding off for a fuller batch (on [`Shared::filled`]).
    gathering: usize,
}

impl Writers {
    /// Which waiting writer `pending` queued meters should wake, if any: a gathering writer
    /// once a whole batch waits or no batch is in flight any more (holding off then gains
    /// nothing), else an idle writer. A meter that arrives while a writer gathers, or while
    /// every writer runs a batch, wakes nobody: the gatherer takes it at its deadline, a busy
    /// writer when it comes back for the next batch. So an HTTP worker pays a futex wake only
    /// when a writer really sleeps, and a gathering writer is not woken to count each meter.
    fn to_wake(self, pending: usize, max_batch: usize) -> Option<Wake> {
        if pending == 0 {
            None
        } else if self.gathering > 0 {
            (pending >= max_batch || self.busy == 0).then_some(Wake::Filled)
        } else {
            (self.idle > 0).then_some(Wake::Arrived)
        }
    }
}

/// The condition variable to signal ([`Writers::to_wake`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Arrived,
    Filled,
}

struct Shared {
    state: Mutex<State>,
    /// Idle writers wait here for a first meter.
    arrived: Condvar,
    /// Gathering writers wait here (with their deadline) for a full batch.
    filled: Condvar,
    options: BatchOptions,
    pool: PgPool,
    started: Once,
    /// The writers' memory of keys and sessions (when batches run optimistically).
    seen: Option<Seen>,
}

/// The meter queue of one store (shared by its clones). Dropping the last clone stops the
/// writers once the queue is empty.
pub(crate) struct MeterQueue {
    shared: Arc<Shared>,
}

impl MeterQueue {
    /// A queue whose `options.writers` writers run on `pool` (the writers' own).
    pub(crate) fn new(pool: PgPool, options: BatchOptions) -> Self {
        let options = BatchOptions {
            max_batch: options.max_batch.max(1),
            writers: options.writers.max(1),
            ..options
        };
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                arrived: Condvar::new(),
                filled: Condvar::new(),
                options,
                pool,
                started: Once::new(),
                seen: options.optimistic.then(Seen::default),
            }),
        }
    }

    /// Queues `request` and waits for its answer (after the commit that holds it).
    pub(crate) fn meter(&self, request: MeterRequest) -> Outcome {
        let (reply, answer) = sync_channel(1);
        self.queue(request, Reply::Blocked(reply));
        answer.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// Queues `request` and returns at once; a writer calls `done` after the commit that
    /// holds it (or at once, when the queue has stopped).
    pub(crate) fn meter_then(&self, request: MeterRequest, done: MeterDone) {
        self.queue(request, Reply::Then(done));
    }

    fn queue(&self, request: MeterRequest, reply: Reply) {
        self.start();
        {
            let mut state = self.shared.lock();
            if !state.closed {
                state.pending.push_back(Job { request, reply });
                let wake = state.to_wake(self.shared.options.max_batch);
                drop(state);
                self.shared.signal(wake);
                return;
            }
        }
        reply.send(Err(stopped()));
    }

    /// Meters queued and not yet taken by a writer.
    pub(crate) fn queued(&self) -> usize {
        self.shared.lock().pending.len()
    }

    fn start(&self) {
        self.shared.started.call_once(|| {
            for n in 0..self.shared.options.writers {
                let shared = self.shared.clone();
                let spawned = thread::Builder::new()
                    .name(format!("tally-meter-{n}"))
                    .spawn(move || shared.write());
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a meter writer");
                }
            }
        });
    }
}

impl Drop for MeterQueue {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_all();
        self.shared.filled.notify_all();
    }
}

/// The answer when no writer can take a meter (nothing was counted).
fn stopped() -> MeterError {
    MeterError::Store(StoreError::Unavailable(
        "the meter writer has stopped".to_owned(),
    ))
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes one writer waiting on `wake`'s condition variable (called without the lock).
    fn signal(&self, wake: Option<Wake>) {
        match wake {
            Some(Wake::Arrived) => self.arrived.notify_one(),
            Some(Wake::Filled) => self.filled.notify_one(),
            None => {}
        }
    }

    /// A writer's loop: take a batch, run it, answer it; until the queue is closed and empty.
    /// The batch's buffers are the writer's own and keep their capacity from batch to batch:
    /// a batch of large requests allocated afresh costs glibc a free-list consolidation.
    fn write(&self) {
        let mut requests: Vec<MeterRequest> = Vec::new();
        let mut replies: Vec<Reply> = Vec::new();
        while self.next_batch(&mut requests, &mut replies) {
            tracing::trace!(size = requests.len(), "meter batch");
            let outcomes = run(&self.pool, self.seen.as_ref(), &requests);
            requests.clear();
            let wake = {
                let mut state = self.lock();
                state.writers.busy -= 1;
                // A writer gathering behind this batch need not wait for it any more.
                state.to_wake(self.options.max_batch)
            };
            self.signal(wake);
            for (reply, outcome) in replies.drain(..).zip(outcomes) {
                reply.send(outcome);
            }
        }
    }

    /// Waits for queued meters and moves up to `max_batch` of them into `requests` and
    /// `replies` (never none); `false` once closed and drained.
    fn next_batch(&self, requests: &mut Vec<MeterRequest>, replies: &mut Vec<Reply>) -> bool {
        let options = self.options;
        let mut state = self.lock();
        loop {
            while state.pending.is_empty() {
                if state.closed {
                    return false;
                }
                state.writers.idle += 1;
                state = self
                    .arrived
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.writers.idle -= 1;
            }
            // Waiting for more pays only while another batch is in flight: the meters
            // arriving meanwhile would otherwise wait for its commit anyway. An idle store
            // starts at once.
            if !options.max_wait.is_zero()
                && state.writers.busy > 0
                && state.pending.len() < options.max_batch
            {
                let deadline = Instant::now() + options.max_wait;
                state.writers.gathering += 1;
                while state.pending.len() < options.max_batch
                    && state.writers.busy > 0
                    && !state.closed
                {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    state = self
                        .filled
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                state.writers.gathering -= 1;
            }
            // Another writer may have taken everything while this one waited: then wait
            // again rather than run an empty transaction.
            if !state.pending.is_empty() {
                break;
            }
        }
        let n = state.pending.len().min(options.max_batch);
        for job in state.pending.drain(..n) {
            requests.push(job.request);
            replies.push(job.reply);
        }
        state.writers.busy += 1;
        // What is left is another writer's: an idle one, or a gatherer once it fills a batch.
        let wake = state.to_wake(options.max_batch);
        drop(state);
        self.signal(wake);
        true
    }
}

/// Runs a batch: optimistically first when `seen` is given, else (or when that path declines)
/// in one transaction that takes the locks up front, again when it lost a race; see the
/// module's failure rules.
fn run(pool: &PgPool, seen: Option<&Seen>, batch: &[MeterRequest]) -> Vec<Outcome> {
    match attempt(pool, seen, batch) {
        Ok(outcomes) => outcomes,
        Err(e) if batch.len() > 1 && !unavailable(&e) => {
            tracing::warn!(error = ?e, size = batch.len(), "meter batch failed; isolating its meters");
            batch
                .iter()
                .flat_map(|request| run(pool, seen, std::slice::from_ref(request)))
                .collect()
        }
        Err(e) => {
            let error = e.into_store();
            batch
                .iter()
                .map(|_| Err(MeterError::Store(error.clone())))
                .collect()
        }
    }
}

/// One run of `batch` on one connection (see [`run`]).
fn attempt(
    pool: &PgPool,
    seen: Option<&Seen>,
    batch: &[MeterRequest],
) -> Result<Vec<Outcome>, Fail> {
    let mut conn = checkout(pool)?;
    let Some(seen) = seen else {
        return transaction_on(&mut conn, |c| meter_batch_tx(c, batch));
    };
    match meter_batch_optimistic(&mut conn.pg, batch, seen) {
        Ok(Some(outcomes)) => return Ok(outcomes),
        Ok(None) => {}
        Err(e) => {
            conn.note(&e);
            return Err(e);
        }
    }
    let outcomes = transaction_on(&mut conn, |c| meter_batch_tx(c, batch));
    // The rows it wrote have versions the writers do not know.
    seen.forget(batch);
    outcomes
}

/// Whether `e` means the database is away (every meter answers `Unavailable`).
fn unavailable(e: &Fail) -> bool {
    matches!(e, Fail::Store(StoreError::Unavailable(_))) || e.is_connection_lost()
}

#[cfg(test)]
mod tests {
    use super::{Wake, Writers};

    fn wake(pending: usize, busy: usize, idle: usize, gathering: usize) -> Option<Wake> {
        Writers {
            busy,
            idle,
            gathering,
        }
        .to_wake(pending, 4)
    }

    #[test]
    fn an_idle_writer_is_woken_for_a_meter_nobody_gathers() {
        assert_eq!(wake(1, 0, 2, 0), Some(Wake::Arrived));
        assert_eq!(wake(3, 1, 1, 0), Some(Wake::Arrived));
        assert_eq!(wake(0, 0, 2, 0), None, "nothing queued");
        assert_eq!(wake(5, 2, 0, 0), None, "every writer runs a batch");
    }

    #[test]
    fn a_gatherer_is_woken_only_for_a_full_batch_or_when_nothing_is_in_flight() {
        assert_eq!(wake(1, 1, 0, 1), None, "it takes the meter at its deadline");
        assert_eq!(
            wake(3, 1, 1, 1),
            None,
            "an idle writer would only gather too"
        );
        assert_eq!(wake(4, 1, 0, 1), Some(Wake::Filled));
        assert_eq!(wake(9, 1, 1, 1), Some(Wake::Filled));
        assert_eq!(
            wake(1, 0, 0, 1),
            Some(Wake::Filled),
            "holding off gains nothing"
        );
    }
}
