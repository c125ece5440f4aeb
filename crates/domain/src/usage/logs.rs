//! Request logs: raw events read through indexes, newest first, a page at a time.

use time::OffsetDateTime;

use super::event::UsageEvent;
use crate::key::KeyId;
use crate::tenancy::{InvalidValue, OrgId, UserId};

/// Most events one page may hold.
pub const MAX_PAGE_LIMIT: u32 = 1_000;

/// Which raw events to list. Scope fields (`org_id`, `user_id`, `key_id`) say whose events
/// the caller may see; the rest are the log filters. Events are ordered newest first
/// (`occurred_at`, then id, descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Only this organisation.
    pub org_id: Option<OrgId>,
    /// Only this user.
    pub user_id: Option<UserId>,
    /// Only this key.
    pub key_id: Option<KeyId>,
    /// Only this HTTP method.
    pub method: Option<String>,
    /// Only this status.
    pub status_code: Option<u16>,
    /// Only paths containing this text.
    pub path_contains: Option<String>,
    /// Only API calls (events with an HTTP method), or only the others.
    pub api_call: Option<bool>,
    /// Only events at or after this instant.
    pub start: Option<OffsetDateTime>,
    /// Only events before this instant.
    pub end: Option<OffsetDateTime>,
    /// Include refunded/voided events.
    pub include_inactive: bool,
    /// Events to skip.
    pub offset: u64,
    /// Events to return.
    pub limit: u32,
}

impl LogQuery {
    /// A query for everything, first page of `limit`.
    ///
    /// # Errors
    /// A limit of 0 or above 1,000.
    pub fn new(limit: u32) -> Result<Self, InvalidValue> {
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(InvalidValue(format!(
                "limit must be between 1 and {MAX_PAGE_LIMIT}"
            )));
        }
        Ok(Self {
            org_id: None,
            user_id: None,
            key_id: None,
            method: None,
            status_code: None,
            path_contains: None,
            api_call: None,
            start: None,
            end: None,
            include_inactive: true,
            offset: 0,
            limit,
        })
    }

    /// Whether an event passes the scope and filters.
    #[must_use]
    pub fn matches(&self, e: &UsageEvent) -> bool {
        let d = &e.data;
        (self.include_inactive || e.active)
            && self.org_id.as_ref().is_none_or(|o| *o == d.org_id)
            && self.user_id.is_none_or(|u| d.user_id == Some(u))
            && self.key_id.is_none_or(|k| d.key_id == Some(k))
            && self
                .method
                .as_ref()
                .is_none_or(|m| d.method.as_ref() == Some(m))
            && self.status_code.is_none_or(|s| d.status_code == Some(s))
            && self.path_contains.as_ref().is_none_or(|p| {
                d.path
                    .as_ref()
                    .is_some_and(|path| path.contains(p.as_str()))
            })
            && self.api_call.is_none_or(|c| d.method.is_some() == c)
            && self.start.is_none_or(|s| d.occurred_at >= s)
            && self.end.is_none_or(|end| d.occurred_at < end)
    }

    /// The reference evaluation: filter, order newest first, count, and cut the page.
    pub fn evaluate<'a>(&self, events: impl IntoIterator<Item = &'a UsageEvent>) -> LogPage {
        let mut all: Vec<&UsageEvent> = events.into_iter().filter(|e| self.matches(e)).collect();
        all.sort_by_key(|e| std::cmp::Reverse((e.data.occurred_at, e.id)));
        let total = all.len() as u64;
        let skip = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let events = all
            .into_iter()
            .skip(skip)
            .take(self.limit as usize)
            .cloned()
            .collect();
        LogPage { events, total }
    }
}

/// One page of events and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// The page, newest first.
    pub events: Vec<UsageEvent>,
    /// Matching events in all pages.
    pub total: u64,
}
