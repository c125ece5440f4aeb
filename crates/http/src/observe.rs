//! What Tally counts for an operator, through the `metrics` facade: nothing is recorded until
//! the process installs a recorder (the `tally` binary installs the Prometheus one and serves
//! it on its metrics listener, docs/OPERATIONS.md, and calls [`enable`]); until then every
//! function here returns after one relaxed atomic load, building no labels, so an embedder or a
//! server without metrics pays nothing on the hot path.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `tally_http_requests_total` | counter | `method`, `route` (the route template), `status` |
//! | `tally_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `tally_meter_decisions_total` | counter | `outcome` (`admitted`, `replayed`, a refusal code, `unavailable`) |
//! | `tally_meter_duration_seconds` | histogram | — (queue, batch and commit of one meter) |
//! | `tally_store_call_duration_seconds` | histogram | — (one use case on the blocking pool) |
//! | `tally_sse_streams` | gauge | — (open SSE streams of this process) |
//! | `tally_caption_deliveries_total` | counter | `target` (`self`, `viewer`, `generic`, `youtube`), `result` |
//! | `tally_sessions_swept_total` | counter | — |
//! | `tally_erasures_total` | counter | `subject` (`key`, `user`) |
//!
//! Gauges that describe a moment (pool connections, SSE subscribers, delivery queues) are set
//! by whoever serves the scrape, just before it renders (see the binary's metrics listener).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Histogram};
use tally_domain::key::KeyRejection;
use tally_domain::limits::LimitExceeded;
use tally_domain::ports::Metered;
use tally_domain::services::VerifyError;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Starts recording (call once a recorder is installed).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether anything is recorded.
#[must_use]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Route label of a request that matched no route (so unknown paths cannot grow the label set).
pub const UNMATCHED: &str = "unmatched";

/// Label sets whose handles a worker thread keeps (beyond them, handles are looked up per
/// request): routes are templates and statuses few, so a server meets far fewer.
const HANDLES_KEPT: usize = 1_024;

/// Kept HTTP handles by method, route and status.
type HttpHandles = HashMap<(String, String, u16), (Counter, Histogram)>;
/// Kept meter handles: the decision counters by outcome, and the duration histogram.
type MeterHandles = (HashMap<&'static str, Counter>, Option<Histogram>);

thread_local! {
    /// This thread's handles of `tally_http_requests_total` and
    /// `tally_http_request_duration_seconds`, by method, route and status: the two registry
    /// lookups and five label strings of a request become one map lookup (its key still
    /// copies the method and route).
    static HTTP_HANDLES: std::cell::RefCell<HttpHandles> = std::cell::RefCell::new(HashMap::new());
    /// This thread's handles of `tally_meter_decisions_total`, by outcome, and of
    /// `tally_meter_duration_seconds`.
    static METER_HANDLES: std::cell::RefCell<MeterHandles> =
        std::cell::RefCell::new((HashMap::new(), None));
}

fn http_handles(method: &str, route: &str, status: u16) -> (Counter, Histogram) {
    let status_label = status.to_string();
    (
        counter!(
            "tally_http_requests_total",
            "method" => method.to_owned(),
            "route" => route.to_owned(),
            "status" => status_label
        ),
        histogram!(
            "tally_http_request_duration_seconds",
            "method" => method.to_owned(),
            "route" => route.to_owned()
        ),
    )
}

/// One answered HTTP request.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    if !enabled() {
        return;
    }
    let seconds = elapsed.as_secs_f64();
    HTTP_HANDLES.with_borrow_mut(|kept| {
        let key = (method.to_owned(), route.to_owned(), status);
        if let Some((count, duration)) = kept.get(&key) {
            count.increment(1);
            duration.record(seconds);
            return;
        }
        let (count, duration) = http_handles(method, route, status);
        count.increment(1);
        duration.record(seconds);
        if kept.len() < HANDLES_KEPT {
            kept.insert(key, (count, duration));
        }
    });
}

/// The outcome label of a meter's answer.
#[must_use]
pub fn meter_outcome(result: &Result<Metered, VerifyError>) -> &'static str {
    match result {
        Ok(m) if m.replayed => "replayed",
        Ok(_) => "admitted",
        Err(VerifyError::Limit { exceeded, .. }) => match exceeded {
            LimitExceeded::Daily => "daily_limit_exceeded",
            LimitExceeded::Lifetime => "lifetime_limit_exceeded",
        },
        Err(VerifyError::Key(rejection)) => match rejection {
            KeyRejection::UnknownKey => "unknown_key",
            KeyRejection::Revoked => "revoked",
            KeyRejection::Erased => "erased",
            KeyRejection::Expired => "expired",
        },
        Err(VerifyError::SessionEnded) => "session_ended",
        Err(VerifyError::Invalid(_)) => "invalid",
        Err(VerifyError::Store(_)) => "unavailable",
    }
}

/// One meter's answer and how long it took (from the request's hand-off to its answer).
pub fn meter(result: &Result<Metered, VerifyError>, elapsed: Duration) {
    if !enabled() {
        return;
    }
    let outcome = meter_outcome(result);
    METER_HANDLES.with_borrow_mut(|(counts, duration)| {
        counts
            .entry(outcome)
            .or_insert_with(|| counter!("tally_meter_decisions_total", "outcome" => outcome))
            .increment(1);
        duration
            .get_or_insert_with(|| histogram!("tally_meter_duration_seconds"))
            .record(elapsed.as_secs_f64());
    });
}

/// One use case run on the blocking pool, and how long it took there.
pub fn store_call(elapsed: Duration) {
    if !enabled() {
        return;
    }
    histogram!("tally_store_call_duration_seconds").record(elapsed.as_secs_f64());
}

/// One caption batch delivered to (or failed at) a target of `kind` (`viewer`, `generic`, …).
pub fn delivery(kind: &'static str, ok: bool) {
    if !enabled() {
        return;
    }
    let result = if ok { "delivered" } else { "failed" };
    counter!("tally_caption_deliveries_total", "target" => kind, "result" => result).increment(1);
}

/// Sessions ended by the idle sweep.
pub fn swept(sessions: usize) {
    if !enabled() {
        return;
    }
    counter!("tally_sessions_swept_total").increment(u64::try_from(sessions).unwrap_or(u64::MAX));
}

/// One erasure (`subject`: `key` or `user`).
pub fn erasure(subject: &'static str) {
    if !enabled() {
        return;
    }
    counter!("tally_erasures_total", "subject" => subject).increment(1);
}

/// One open SSE stream, counted in `tally_sse_streams` for as long as it lives.
#[derive(Debug)]
pub struct OpenStream(bool);

impl OpenStream {
    /// Counts a stream that opens now.
    #[must_use]
    pub fn new() -> Self {
        let counted = enabled();
        if counted {
            gauge!("tally_sse_streams").increment(1.0);
        }
        Self(counted)
    }
}

impl Default for OpenStream {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        if self.0 {
            gauge!("tally_sse_streams").decrement(1.0);
        }
    }
}
