//! Viewer counts for `GET /stats`'s `viewerStats`: each open of `GET /viewer/{key}` counts
//! one view for the API key whose session has fanned captions out to that viewer key (lcyt
//! counts the same way). The counts are kept by this instance, in memory: they restart at
//! zero with the process and are not shared between instances (docs/API.md says so).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use tally_domain::key::KeyId;
use tally_domain::session::ViewerKey;
use time::Date;

/// One row of `viewerStats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerDay {
    /// The UTC day.
    pub date: Date,
    /// The viewer key.
    pub viewer_key: ViewerKey,
    /// Opens of the viewer stream that day.
    pub views: u64,
}

/// Owners of viewer keys and their daily views, on this instance.
#[derive(Debug, Default)]
pub struct ViewerStats {
    owners: Mutex<HashMap<ViewerKey, KeyId>>,
    views: Mutex<BTreeMap<(KeyId, Date, ViewerKey), u64>>,
}

impl ViewerStats {
    /// Records that `key`'s session delivers to `viewer` (the latest session wins).
    pub fn own(&self, viewer: &ViewerKey, key: KeyId) {
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        if owners.get(viewer) != Some(&key) {
            owners.insert(viewer.clone(), key);
        }
    }

    /// Counts one open of `viewer`'s stream on `day`, for its owner if it has one.
    pub fn opened(&self, viewer: &ViewerKey, day: Date) {
        let owner = self
            .owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(viewer)
            .copied();
        if let Some(key) = owner {
            let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
            *views.entry((key, day, viewer.clone())).or_insert(0) += 1;
        }
    }

    /// The key's rows, newest day first, then by viewer key.
    #[must_use]
    pub fn of(&self, key: KeyId) -> Vec<ViewerDay> {
        let views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rows: Vec<ViewerDay> = views
            .iter()
            .filter(|((k, _, _), _)| *k == key)
            .map(|((_, date, viewer), n)| ViewerDay {
                date: *date,
                viewer_key: viewer.clone(),
                views: *n,
            })
            .collect();
        rows.sort_by(|a, b| b.date.cmp(&a.date).then(a.viewer_key.cmp(&b.viewer_key)));
        rows
    }

    /// Forgets a key's views and ownerships (its erasure).
    pub fn forget(&self, key: KeyId) {
        self.owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, k| *k != key);
        self.views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(k, _, _), _| *k != key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn only_owned_viewer_keys_count_and_rows_are_newest_first() {
        let stats = ViewerStats::default();
        let room = ViewerKey::parse("room").unwrap();
        let hall = ViewerKey::parse("hall").unwrap();
        stats.opened(&room, date!(2026 - 01 - 01));
        stats.own(&room, KeyId(1));
        stats.own(&hall, KeyId(1));
        stats.opened(&room, date!(2026 - 01 - 01));
        stats.opened(&room, date!(2026 - 01 - 02));
        stats.opened(&hall, date!(2026 - 01 - 02));
        stats.opened(&hall, date!(2026 - 01 - 02));
        let rows = stats.of(KeyId(1));
        let got: Vec<(Date, &str, u64)> = rows
            .iter()
            .map(|r| (r.date, r.viewer_key.as_str(), r.views))
            .collect();
        assert_eq!(
            got,
            vec![
                (date!(2026 - 01 - 02), "hall", 2),
                (date!(2026 - 01 - 02), "room", 1),
                (date!(2026 - 01 - 01), "room", 1),
            ]
        );
        assert!(stats.of(KeyId(2)).is_empty());
        stats.forget(KeyId(1));
        assert!(stats.of(KeyId(1)).is_empty());
    }
}
