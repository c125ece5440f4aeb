//! Rollup writes shared by the meter, ingestion, corrections, erasure and sessions: hourly
//! usage rollups (added as deltas) and the lcyt domain rollup.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use tally_domain::key::KeyId;
use tally_domain::origin::Domain;
use tally_domain::tenancy::UserId;
use tally_domain::usage::{DomainActivity, DomainCounters, DomainRollupKey, RollupKey, Totals};
use time::OffsetDateTime;

use crate::columnar::{add_rollups, add_sites};
use crate::error::Fail;
use crate::rows::events::RollupDelta;
use crate::rows::sessions::DomainRollupRow;

diesel::define_sql_function! {
    /// Postgres `greatest` over two instants.
    #[sql_name = "greatest"]
    fn greatest_instant(a: Timestamptz, b: Timestamptz) -> Timestamptz;
}

/// Adds each delta to its rollup row, creating rows as needed. The map's order is the lock
/// order, so concurrent writers cannot deadlock on each other's rows.
pub(crate) fn add_usage(
    c: &mut PgConnection,
    deltas: &BTreeMap<RollupKey, Totals>,
) -> Result<(), Fail> {
    add_rollups(c, &usage_rows(deltas)?)?;
    Ok(())
}

/// The rows [`add_usage`] writes: the non-zero deltas in the map's order (unnest hands them
/// to the insert as the arrays hold them, so that is the lock order).
pub(crate) fn usage_rows(deltas: &BTreeMap<RollupKey, Totals>) -> Result<Vec<RollupDelta>, Fail> {
    deltas
        .iter()
        .filter(|(_, t)| !t.is_zero())
        .map(|(k, t)| RollupDelta::of(k, t))
        .collect()
}

/// Adds one event's contribution (`sign` +1) or removes it (`sign` -1).
pub(crate) fn add_one(
    c: &mut PgConnection,
    key: RollupKey,
    totals: Totals,
    sign: i64,
) -> Result<(), Fail> {
    let mut t = Totals::default();
    if sign < 0 {
        t -= totals;
    } else {
        t += totals;
    }
    add_usage(c, &BTreeMap::from([(key, t)]))
}

/// The SQL that moves the rollup rows matching `filter` (a condition on `$1`) to the
/// anonymous bucket, merging them with rows already there.
fn anonymise_sql(filter: &str) -> String {
    format!(
        "WITH moved AS ( \
             DELETE FROM usage_rollups WHERE {filter} \
             RETURNING hour, org_id, model, api_name, language, domain, success, api_call, \
                       status_class, count, units, cost_nanos, tokens, quota, duration_ms) \
         INSERT INTO usage_rollups AS r \
             (hour, org_id, user_id, key_id, model, api_name, language, domain, success, \
              api_call, status_class, count, units, cost_nanos, tokens, quota, duration_ms) \
         SELECT hour, org_id, NULL, NULL, model, api_name, language, domain, success, \
                api_call, status_class, SUM(count), SUM(units), SUM(cost_nanos), \
                SUM(tokens), SUM(quota), SUM(duration_ms) \
         FROM moved \
         GROUP BY hour, org_id, model, api_name, language, domain, success, api_call, \
                  status_class \
         HAVING NOT (SUM(count) = 0 AND SUM(units) = 0 AND SUM(cost_nanos) = 0 \
                     AND SUM(tokens) = 0 AND SUM(quota) = 0 AND SUM(duration_ms) = 0) \
         ORDER BY hour, org_id, model, api_name, language, domain, success, api_call, \
                  status_class \
         ON CONFLICT (hour, org_id, user_id, key_id, model, api_name, language, domain, \
                      success, api_call, status_class) \
         DO UPDATE SET count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units, \
             cost_nanos = r.cost_nanos + EXCLUDED.cost_nanos, \
             tokens = r.tokens + EXCLUDED.tokens, quota = r.quota + EXCLUDED.quota, \
             duration_ms = r.duration_ms + EXCLUDED.duration_ms"
    )
}

/// Moves a key's rollup contributions to the anonymous bucket (no user, no key):
/// organisation and site totals stay right, nothing links back to the key.
pub(crate) fn anonymise_key(c: &mut PgConnection, key: KeyId) -> Result<(), Fail> {
    diesel::sql_query(anonymise_sql("key_id = $1"))
        .bind::<BigInt, _>(key.0)
        .execute(c)?;
    Ok(())
}

/// Moves a user's rollup contributions (through any key or none) to the anonymous bucket.
pub(crate) fn anonymise_user(c: &mut PgConnection, user: UserId) -> Result<(), Fail> {
    diesel::sql_query(anonymise_sql("user_id = $1"))
        .bind::<diesel::sql_types::Uuid, _>(user.0)
        .execute(c)?;
    Ok(())
}

/// Compacts the hourly rows before `cutoff` into their days' rows (see
/// [`tally_domain::usage::RollupKey::compacted`]), in one statement: the moved sums are added
/// to the daily rows, so no sum changes. Returns the hourly rows folded.
pub(crate) fn compact(c: &mut PgConnection, cutoff: OffsetDateTime) -> Result<u64, Fail> {
    #[derive(QueryableByName)]
    struct Folded {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let folded: Folded = diesel::sql_query(
        "WITH moved AS ( \
             DELETE FROM usage_rollups \
             WHERE hour < $1 AND hour <> date_trunc('day', hour, 'UTC') \
             RETURNING hour, org_id, user_id, key_id, model, api_name, language, domain, \
                       success, api_call, status_class, count, units, cost_nanos, tokens, \
                       quota, duration_ms), \
         folded AS ( \
             INSERT INTO usage_rollups AS r \
                 (hour, org_id, user_id, key_id, model, api_name, language, domain, success, \
                  api_call, status_class, count, units, cost_nanos, tokens, quota, duration_ms) \
             SELECT date_trunc('day', hour, 'UTC'), org_id, user_id, key_id, model, api_name, \
                    language, domain, success, api_call, status_class, SUM(count), SUM(units), \
                    SUM(cost_nanos), SUM(tokens), SUM(quota), SUM(duration_ms) \
             FROM moved \
             GROUP BY 1, org_id, user_id, key_id, model, api_name, language, domain, success, \
                      api_call, status_class \
             HAVING NOT (SUM(count) = 0 AND SUM(units) = 0 AND SUM(cost_nanos) = 0 \
                         AND SUM(tokens) = 0 AND SUM(quota) = 0 AND SUM(duration_ms) = 0) \
             ORDER BY 1, org_id, user_id, key_id, model, api_name, language, domain, success, \
                      api_call, status_class \
             ON CONFLICT (hour, org_id, user_id, key_id, model, api_name, language, domain, \
                          success, api_call, status_class) \
             DO UPDATE SET count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units, \
                 cost_nanos = r.cost_nanos + EXCLUDED.cost_nanos, \
                 tokens = r.tokens + EXCLUDED.tokens, quota = r.quota + EXCLUDED.quota, \
                 duration_ms = r.duration_ms + EXCLUDED.duration_ms) \
         SELECT count(*) AS n FROM moved",
    )
    .bind::<Timestamptz, _>(cutoff)
    .get_result(c)?;
    crate::convert::from_db(folded.n, "compacted rollup rows")
}

/// Applies one piece of site activity of organisation `org` to its domain rollup of the hour
/// of `at`: counters are added, `peak_sessions` is raised.
pub(crate) fn bump_domain(
    c: &mut PgConnection,
    org: &str,
    domain: &Domain,
    at: OffsetDateTime,
    activity: DomainActivity,
) -> Result<(), Fail> {
    let mut delta = DomainCounters::default();
    delta.apply(activity);
    let key = (org.to_owned(), DomainRollupKey::at(domain.clone(), at));
    add_domain(c, &BTreeMap::from([(key, delta)]))
}

/// Adds each delta to its domain rollup row, keyed by organisation and site hour (counters
/// added, `peak_sessions` raised), in one statement; the map's order is the lock order.
pub(crate) fn add_domain(
    c: &mut PgConnection,
    deltas: &BTreeMap<(String, DomainRollupKey), DomainCounters>,
) -> Result<(), Fail> {
    add_sites(c, &domain_rows(deltas)?)?;
    Ok(())
}

/// The rows [`add_domain`] writes, in the map's order.
pub(crate) fn domain_rows(
    deltas: &BTreeMap<(String, DomainRollupKey), DomainCounters>,
) -> Result<Vec<DomainRollupRow>, Fail> {
    deltas
        .iter()
        .map(|((org, k), d)| DomainRollupRow::of(org, k, d))
        .collect()
}
