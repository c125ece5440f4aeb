//! The values a meter batch hands between its steps and back to its callers.

use tally_domain::ports::{MeterError, Metered};

/// The answer to one meter of a batch.
pub(crate) type Outcome = Result<Metered, MeterError>;

/// An admitted meter of a session: its index in the batch, the session's organisation and
/// id, and whether the meter records its batch as delivered.
pub(crate) type SessionMeter = (usize, String, String, bool);
