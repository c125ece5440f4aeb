//! What a log page is made of, shared by the planner's path ([`super::list`]) and the index
//! walks ([`super::walk`]): numbered rows, and the bounded count's cap and total.

use diesel::prelude::*;
use tally_domain::usage::{LogQuery, UsageEvent};

use crate::convert::from_db;
use crate::error::Fail;
use crate::rows::events::EventRow;

/// A listed event with its number.
#[derive(QueryableByName)]
pub(super) struct Numbered {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub number: i64,
    #[diesel(embed)]
    pub row: EventRow,
}

/// A page's events and their numbers.
pub(super) fn page_of(rows: Vec<Numbered>) -> Result<(Vec<UsageEvent>, Vec<u64>), Fail> {
    let mut events = Vec::with_capacity(rows.len());
    let mut numbers = Vec::with_capacity(rows.len());
    for r in rows {
        numbers.push(from_db(r.number, "event number")?);
        events.push(r.row.into_domain()?);
    }
    Ok((events, numbers))
}

/// For [`LogCount::AtMost`]`(n)`: the most matches the total may report, `m = max(n, offset
/// + limit)`, and how many a count reads to know whether there are more (`m + 1`).
pub(super) fn count_cap(q: &LogQuery, n: u64) -> (u64, i64) {
    let most = n.max(q.offset.saturating_add(u64::from(q.limit)));
    (
        most,
        i64::try_from(most.saturating_add(1)).unwrap_or(i64::MAX),
    )
}

/// The total and whether it is exact, from the matches a capped count saw.
pub(super) fn bounded_total(seen: u64, most: u64) -> (u64, bool) {
    if seen > most {
        (most, false)
    } else {
        (seen, true)
    }
}
