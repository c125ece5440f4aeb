//! The values a meter batch hands between its steps and back to its callers.

use tally_domain::ports::{MeterError, Metered};
use tally_domain::session::Session;

/// The answer to one meter of a batch.
pub(crate) type Outcome = Result<Metered, MeterError>;

/// An admitted meter of a session.
pub(crate) struct SessionMeter<'a> {
    /// The meter's index in the batch.
    pub index: usize,
    /// Its session, as the batch locked it.
    pub session: &'a Session,
    /// Whether the meter records its batch as delivered.
    pub delivered: bool,
    /// The sequence the batch handed out to it.
    pub sequence: u64,
}
