//! The time-ordered event indexes of `MemStore`, built so a request log reads them without
//! holding the store's lock while it walks.
//!
//! An index is a run of chunks of at most [`CHUNK_MAX`] entries, each chunk behind its own
//! `Arc`. A reader takes the chunks its window overlaps under the lock — one pointer per
//! chunk, a few hundred for a whole user's history — and walks them after releasing it, so
//! a long walk (a filtered page, a bounded count) never holds up a meter. A writer changing a
//! chunk that a reader still holds copies that one chunk first (`Arc::make_mut`), at most
//! `CHUNK_MAX` entries; meters append to the newest chunk, so that is the only one they copy.
//! What the reader sees is the index as it was when it took the chunks, as a transaction's
//! snapshot would be.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use tally_domain::usage::UsageEvent;
use time::OffsetDateTime;
use uuid::Uuid;

/// Where an event sits in time order: `(occurred_at, id)`.
pub(crate) type At = (OffsetDateTime, Uuid);

/// A stored event with its number (`LogPage::numbers`), shared by the event map and every
/// index that lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Logged {
    /// The event's number, given once on insertion.
    pub number: u64,
    /// The event.
    pub event: UsageEvent,
}

impl Logged {
    /// The event's place in time order.
    pub fn at(&self) -> At {
        (self.event.data.occurred_at, self.event.id)
    }
}

/// Entries per chunk beyond which a chunk is split in two.
const CHUNK_MAX: usize = 512;

type Chunk = BTreeMap<At, Arc<Logged>>;

/// Events ordered by `(occurred_at, id)`, in chunks (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct EventIndex {
    /// Each chunk under a lower bound of its entries; a chunk holds the entries from its
    /// bound up to the next chunk's. No chunk is empty.
    chunks: BTreeMap<At, Arc<Chunk>>,
}

impl EventIndex {
    /// Adds an event, or replaces the one at the same place (a corrected event).
    pub fn insert(&mut self, logged: Arc<Logged>) {
        let at = logged.at();
        let bound = match self.chunks.range(..=at).next_back() {
            Some((bound, _)) => *bound,
            None => match self.chunks.pop_first() {
                // Older than every entry: the first chunk now starts here.
                Some((_, first)) => {
                    self.chunks.insert(at, first);
                    at
                }
                None => {
                    self.chunks.insert(at, Arc::default());
                    at
                }
            },
        };
        let Some(chunk) = self.chunks.get_mut(&bound) else {
            return;
        };
        let chunk = Arc::make_mut(chunk);
        chunk.insert(at, logged);
        if chunk.len() > CHUNK_MAX {
            if let Some(middle) = chunk.keys().nth(chunk.len() / 2).copied() {
                let upper = chunk.split_off(&middle);
                self.chunks.insert(middle, Arc::new(upper));
            }
        }
    }

    /// Removes the event at `at`, if listed.
    pub fn remove(&mut self, at: &At) {
        let Some((bound, chunk)) = self.chunks.range_mut(..=*at).next_back() else {
            return;
        };
        if !chunk.contains_key(at) {
            return;
        }
        let bound = *bound;
        let chunk = Arc::make_mut(chunk);
        chunk.remove(at);
        if chunk.is_empty() {
            self.chunks.remove(&bound);
        }
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The ids of the events before `before`, oldest first.
    pub fn ids_before(&self, before: OffsetDateTime) -> Vec<Uuid> {
        let end = Bound::Excluded((before, Uuid::nil()));
        self.snapshot(Bound::Unbounded, end)
            .oldest_first()
            .map(|l| l.event.id)
            .collect()
    }

    /// The chunks holding the window between `lower` and `upper`, to walk after the lock
    /// is released. A window that ends before it starts holds nothing.
    pub fn snapshot(&self, lower: Bound<At>, upper: Bound<At>) -> IndexSnapshot {
        if inverted(&lower, &upper) {
            return IndexSnapshot {
                chunks: Vec::new(),
                lower: Bound::Unbounded,
                upper: Bound::Unbounded,
            };
        }
        // The chunk holding `lower` may start before it.
        let first = match lower {
            Bound::Included(at) | Bound::Excluded(at) => self
                .chunks
                .range(..=at)
                .next_back()
                .map_or(Bound::Unbounded, |(bound, _)| Bound::Included(*bound)),
            Bound::Unbounded => Bound::Unbounded,
        };
        // `first` is at or before `lower`, so this range is never inverted either.
        let chunks = self
            .chunks
            .range((first, upper))
            .map(|(_, c)| Arc::clone(c))
            .collect();
        IndexSnapshot {
            chunks,
            lower,
            upper,
        }
    }
}

/// Whether a window ends before it starts (`BTreeMap::range` would panic on it).
fn inverted(lower: &Bound<At>, upper: &Bound<At>) -> bool {
    match (lower, upper) {
        (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a > b,
        _ => false,
    }
}

/// The chunks of an index that hold a window, as they were when taken.
#[derive(Debug)]
pub(crate) struct IndexSnapshot {
    chunks: Vec<Arc<Chunk>>,
    lower: Bound<At>,
    upper: Bound<At>,
}

impl IndexSnapshot {
    /// The window's events, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Logged> {
        self.chunks
            .iter()
            .rev()
            .flat_map(|c| c.range((self.lower, self.upper)).rev())
            .map(|(_, l)| l.as_ref())
    }

    /// The window's events, oldest first.
    pub fn oldest_first(&self) -> impl Iterator<Item = &Logged> {
        self.chunks
            .iter()
            .flat_map(|c| c.range((self.lower, self.upper)))
            .map(|(_, l)| l.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::tenancy::OrgId;
    use tally_domain::usage::{EventKind, NewUsageEvent};
    use time::{Duration, OffsetDateTime};

    fn logged(n: u64, secs: i64) -> Arc<Logged> {
        let at = OffsetDateTime::UNIX_EPOCH + Duration::seconds(secs);
        Arc::new(Logged {
            number: n,
            event: UsageEvent {
                id: Uuid::from_u128(u128::from(n)),
                created_at: at,
                active: true,
                data: NewUsageEvent::new(OrgId::default_org(), EventKind::Request, at),
            },
        })
    }

    fn numbers<'a>(it: impl Iterator<Item = &'a Logged>) -> Vec<u64> {
        it.map(|l| l.number).collect()
    }

    fn all(ix: &EventIndex) -> IndexSnapshot {
        ix.snapshot(Bound::Unbounded, Bound::Unbounded)
    }

    /// Out-of-order inserts over many chunks still read in time order, both ways.
    #[test]
    fn reads_in_time_order_across_chunks() {
        let mut ix = EventIndex::default();
        // 5,000 events at times scrambled by a multiplier coprime to 5,000.
        for n in 0..5_000u64 {
            ix.insert(logged(n, ((n * 3_037) % 5_000) as i64));
        }
        assert!(ix.chunks.len() > 5_000 / CHUNK_MAX);
        assert!(ix
            .chunks
            .values()
            .all(|c| !c.is_empty() && c.len() <= CHUNK_MAX));
        let times: Vec<i64> = all(&ix)
            .oldest_first()
            .map(|l| (l.event.data.occurred_at - OffsetDateTime::UNIX_EPOCH).whole_seconds())
            .collect();
        assert_eq!(times, (0..5_000).collect::<Vec<i64>>());
        let newest = numbers(all(&ix).newest_first());
        let mut oldest = numbers(all(&ix).oldest_first());
        oldest.reverse();
        assert_eq!(newest, oldest);
    }

    /// A window reads exactly its events, including one starting inside a chunk.
    #[test]
    fn windows_are_exact() {
        let mut ix = EventIndex::default();
        for n in 0..2_000u64 {
            ix.insert(logged(n, n as i64));
        }
        let t = |s: i64| {
            (
                OffsetDateTime::UNIX_EPOCH + Duration::seconds(s),
                Uuid::nil(),
            )
        };
        let w = ix.snapshot(Bound::Included(t(700)), Bound::Excluded(t(1_301)));
        assert_eq!(
            numbers(w.oldest_first()),
            (700..1_301).collect::<Vec<u64>>()
        );
        let empty = ix.snapshot(Bound::Included(t(900)), Bound::Excluded(t(900)));
        assert_eq!(empty.newest_first().count(), 0);
        assert_eq!(
            ix.ids_before(OffsetDateTime::UNIX_EPOCH + Duration::seconds(3))
                .len(),
            3
        );
    }

    /// A snapshot keeps what it saw while the index changes under it; the index itself
    /// shows the changes, and empty chunks disappear.
    #[test]
    fn snapshots_do_not_see_later_writes() {
        let mut ix = EventIndex::default();
        for n in 0..1_000u64 {
            ix.insert(logged(n, n as i64));
        }
        let before = all(&ix);
        for n in 1_000..1_100u64 {
            ix.insert(logged(n, n as i64));
        }
        ix.insert(logged(5_000, -1));
        for n in 0..1_000u64 {
            ix.remove(&logged(n, n as i64).at());
        }
        assert_eq!(
            numbers(before.oldest_first()),
            (0..1_000).collect::<Vec<u64>>()
        );
        let mut now = vec![5_000];
        now.extend(1_000..1_100);
        assert_eq!(numbers(all(&ix).oldest_first()), now);
        for n in now {
            let secs = if n == 5_000 { -1 } else { n as i64 };
            ix.remove(&logged(n, secs).at());
        }
        assert!(ix.is_empty());
    }

    /// Inserting at an existing place replaces the entry (a corrected event).
    #[test]
    fn insert_at_the_same_place_replaces() {
        let mut ix = EventIndex::default();
        ix.insert(logged(1, 10));
        let mut fixed = logged(1, 10);
        Arc::get_mut(&mut fixed).unwrap().event.data.units = 9;
        ix.insert(fixed);
        let units: Vec<u64> = all(&ix)
            .oldest_first()
            .map(|l| l.event.data.units)
            .collect();
        assert_eq!(units, vec![9]);
    }
}
