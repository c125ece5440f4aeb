//! Bringing another system's history over (`tally import lcyt`): the values an import writes
//! through [`crate::ports::ImportStore`], and what it reports back.
//!
//! An import is idempotent by construction: keys are matched by their secret's hash, history
//! rows by their whole content (counting copies), domain rollup rows by their hour. Running it
//! twice writes everything once.

use time::Date;

use crate::key::{ApiKey, KeyId};

/// A key to import: the key as it should be stored, with its per-day counters.
///
/// `key.id` is the id it would like to keep (the source system's id); a store gives it that id
/// when no key has it, else the next free one. `key.lifetime_used`, `key.sequence`,
/// `key.last_caption_at`, `key.active`, `key.revoked_at` and `key.erased_at` are stored as
/// given: an import carries counters over, it does not start them at zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedKey {
    /// The key.
    pub key: ApiKey,
    /// Units counted per UTC day (each day at most once).
    pub daily: Vec<(Date, u64)>,
}

/// What [`crate::ports::ImportStore::import_keys`] did with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyImport {
    /// Stored now, under this id.
    Created(KeyId),
    /// A key with the same secret was already stored (imported before, or created in Tally):
    /// nothing about it changed.
    Existing {
        /// Its id.
        id: KeyId,
        /// Whether it has been erased since: an import then brings none of its history back.
        erased: bool,
    },
}

impl KeyImport {
    /// The stored key's id.
    #[must_use]
    pub fn id(self) -> KeyId {
        match self {
            Self::Created(id) | Self::Existing { id, .. } => id,
        }
    }
}

/// A history row and how many copies of it the source holds (sources may hold identical
/// rows, e.g. two failures of one session in the same millisecond).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copies<T> {
    /// The row.
    pub row: T,
    /// How many times the source holds it (at least 1).
    pub count: u64,
}

/// How many rows of a batch were written and how many were already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCount {
    /// Rows written now.
    pub imported: u64,
    /// Rows left alone because the store already held them.
    pub skipped: u64,
}

impl std::ops::AddAssign for ImportCount {
    fn add_assign(&mut self, o: Self) {
        self.imported += o.imported;
        self.skipped += o.skipped;
    }
}
