//! The one error type of the benchmark tool.

use std::fmt;

/// Why a benchmark could not run.
#[derive(Debug)]
pub enum BenchError {
    /// A socket, a file or a child process failed.
    Io(std::io::Error),
    /// The server answered something the scenario cannot use.
    Protocol(String),
    /// Setting up a scenario failed (server start, database, seeding).
    Setup(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "i/o: {e}"),
            Self::Protocol(m) => write!(f, "protocol: {m}"),
            Self::Setup(m) => write!(f, "setup: {m}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// A setup failure from anything displayable (store errors, parse errors).
pub fn setup(e: impl fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, BenchError>;
