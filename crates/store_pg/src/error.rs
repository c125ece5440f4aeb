//! Diesel and pool failures mapped to domain errors. Nothing diesel-typed leaves this crate.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tally_domain::StoreError;

/// A failure inside a store transaction.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The database said no.
    Db(DieselError),
    /// Already a domain error (a corrupt row, an out-of-range value).
    Store(StoreError),
    /// A concurrent transaction won a race the retry will observe (e.g. an idempotency key
    /// inserted between our check and our insert): roll back and run the transaction again.
    Retry,
}

impl From<DieselError> for Fail {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl Fail {
    /// Whether running the transaction again may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Retry => true,
            Self::Db(DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => {
                true
            }
            Self::Db(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                info.message().contains("deadlock detected")
            }
            _ => false,
        }
    }

    /// Whether the connection itself failed (lost, refused, server shutting down): it must
    /// not go back into the pool.
    pub(crate) fn is_connection_lost(&self) -> bool {
        matches!(self, Self::Db(e) if matches!(db_error(e), StoreError::Unavailable(_)))
    }

    /// The domain error for this failure.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Self::Db(e) => db_error(&e),
            Self::Store(e) => e,
            Self::Retry => StoreError::Unavailable("too much contention; try again".into()),
        }
    }
}

/// Messages of server-side errors that mean "the server is going away", not "your query is
/// wrong" (SQLSTATE class 57: operator intervention; libpq's own connection messages).
const UNAVAILABLE_MESSAGES: [&str; 6] = [
    "terminating connection",
    "the database system is shutting down",
    "the database system is starting up",
    "server closed the connection",
    "no connection to the server",
    "could not connect",
];

/// Maps a diesel error: lost or refused connections are `Unavailable` (the caller answers 503
/// and the pool recovers by itself); everything else is `Internal`.
pub(crate) fn db_error(e: &DieselError) -> StoreError {
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            info,
        ) => StoreError::Unavailable(info.message().to_owned()),
        DieselError::DatabaseError(_, info)
            if UNAVAILABLE_MESSAGES
                .iter()
                .any(|m| info.message().contains(m)) =>
        {
            StoreError::Unavailable(info.message().to_owned())
        }
        DieselError::BrokenTransactionManager => {
            StoreError::Unavailable("connection lost inside a transaction".into())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// A pool that cannot hand out a connection in time: the database is down or every
/// connection is busy.
pub(crate) fn pool_error(e: &r2d2::Error) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}

/// The violated constraint, when `e` is a unique violation.
pub(crate) fn unique_violation(e: &Fail) -> Option<&str> {
    match e {
        Fail::Db(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            Some(info.constraint_name().unwrap_or(""))
        }
        _ => None,
    }
}

/// Whether `e` is a foreign-key violation.
pub(crate) fn foreign_key_violation(e: &Fail) -> bool {
    matches!(
        e,
        Fail::Db(DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            _
        ))
    )
}

/// A stored value the domain refuses: a corrupt or foreign row.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Fail {
    Fail::Store(StoreError::Internal(format!(
        "corrupt {what} in the database: {detail}"
    )))
}
