//! The two aggregation questions: `UsageQuery` over hourly rollups and `DomainUsageQuery`
//! over the domain rollup. SQL groups and sums; the final order is the domain's own
//! (`evaluate`), applied in Rust to the (few) result rows so both stores agree exactly.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date as SqlDate, Nullable, SmallInt, Text};
use diesel::sql_types::{Timestamptz, Uuid as SqlUuid};
use tally_domain::usage::{
    DimValue, Dimension, DomainUsageQuery, DomainUsageRow, Totals, UsageQuery, UsageRow,
};
use time::{Date, OffsetDateTime};

use crate::convert::{domain, from_db, micros};
use crate::error::{corrupt, Fail};

/// One group of a usage query: the bucket, every dimension as text (NULL when not grouped
/// by it or absent), and the sums.
#[derive(QueryableByName)]
struct UsageGroup {
    #[diesel(sql_type = Timestamptz)]
    bucket: OffsetDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    d_org: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_user: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_model: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_api_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_language: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_domain: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_success: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_api_call: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d_status_class: Option<String>,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = BigInt)]
    units: i64,
    #[diesel(sql_type = BigInt)]
    cost_nanos: i64,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
    #[diesel(sql_type = BigInt)]
    quota: i64,
    #[diesel(sql_type = BigInt)]
    duration_ms: i64,
}

/// The column a dimension reads, as text.
fn dimension_sql(d: Dimension) -> &'static str {
    match d {
        Dimension::Org => "org_id",
        Dimension::User => "user_id::text",
        Dimension::Key => "key_id::text",
        Dimension::Model => "model",
        Dimension::ApiName => "api_name",
        Dimension::Language => "language",
        Dimension::Domain => "domain",
        Dimension::Success => "success::text",
        Dimension::ApiCall => "api_call::text",
        Dimension::StatusClass => "status_class || 'xx'",
    }
}

/// The SQL of a usage query. Only enum-derived words are spliced in; every value is bound.
fn usage_sql(q: &UsageQuery) -> String {
    let dims: Vec<String> = Dimension::ALL
        .iter()
        .map(|d| {
            let expr = if q.group_by().contains(d) {
                dimension_sql(*d)
            } else {
                "NULL"
            };
            format!("{expr}::text AS d_{}", d.as_str())
        })
        .collect();
    format!(
        "SELECT date_trunc('{gran}', hour, 'UTC') AS bucket, {dims}, \
             SUM(count)::bigint AS count, SUM(units)::bigint AS units, \
             SUM(cost_nanos)::bigint AS cost_nanos, SUM(tokens)::bigint AS tokens, \
             SUM(quota)::bigint AS quota, SUM(duration_ms)::bigint AS duration_ms \
         FROM usage_rollups \
         WHERE hour >= $1 AND hour < $2 \
           AND ($3::text IS NULL OR org_id = $3) \
           AND ($4::uuid IS NULL OR user_id = $4) \
           AND ($5::bigint IS NULL OR key_id = $5) \
           AND ($6::text IS NULL OR model = $6) \
           AND ($7::text IS NULL OR api_name = $7) \
           AND ($8::text IS NULL OR language = $8) \
           AND ($9::text IS NULL OR domain = $9) \
           AND ($10::boolean IS NULL OR success = $10) \
           AND ($11::boolean IS NULL OR api_call = $11) \
           AND ($12::smallint IS NULL OR status_class = $12) \
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 \
         HAVING NOT (SUM(count) = 0 AND SUM(units) = 0 AND SUM(cost_nanos) = 0 \
                     AND SUM(tokens) = 0 AND SUM(quota) = 0 AND SUM(duration_ms) = 0)",
        gran = q.granularity().as_str(),
        dims = dims.join(", "),
    )
}

fn dim_value(d: Dimension, g: &UsageGroup) -> Result<DimValue, Fail> {
    let raw = match d {
        Dimension::Org => &g.d_org,
        Dimension::User => &g.d_user,
        Dimension::Key => &g.d_key,
        Dimension::Model => &g.d_model,
        Dimension::ApiName => &g.d_api_name,
        Dimension::Language => &g.d_language,
        Dimension::Domain => &g.d_domain,
        Dimension::Success => &g.d_success,
        Dimension::ApiCall => &g.d_api_call,
        Dimension::StatusClass => &g.d_status_class,
    };
    let Some(v) = raw else {
        return Ok(DimValue::Null);
    };
    Ok(match d {
        Dimension::Key => DimValue::Int(v.parse().map_err(|e| corrupt("key id", e))?),
        Dimension::Success | Dimension::ApiCall => DimValue::Bool(v == "true"),
        _ => DimValue::Text(v.clone()),
    })
}

/// Answers a usage query exactly as [`UsageQuery::evaluate`] would over the same rollups.
pub(crate) fn aggregate(c: &mut PgConnection, q: &UsageQuery) -> Result<Vec<UsageRow>, Fail> {
    let f = q.filters();
    // A class that does not fit SMALLINT matches no row, like any class outside 1..=5.
    let status_class = f.status_class.map(|c| i16::try_from(c).unwrap_or(i16::MAX));
    let groups: Vec<UsageGroup> = diesel::sql_query(usage_sql(q))
        .bind::<Timestamptz, _>(micros(q.from()))
        .bind::<Timestamptz, _>(micros(q.to()))
        .bind::<Nullable<Text>, _>(f.org_id.as_ref().map(|o| o.as_str().to_owned()))
        .bind::<Nullable<SqlUuid>, _>(f.user_id.map(|u| u.0))
        .bind::<Nullable<BigInt>, _>(f.key_id.map(|k| k.0))
        .bind::<Nullable<Text>, _>(f.model.clone())
        .bind::<Nullable<Text>, _>(f.api_name.clone())
        .bind::<Nullable<Text>, _>(f.language.clone())
        .bind::<Nullable<Text>, _>(f.domain.as_ref().map(|d| d.as_str().to_owned()))
        .bind::<Nullable<Bool>, _>(f.success)
        .bind::<Nullable<Bool>, _>(f.api_call)
        .bind::<Nullable<SmallInt>, _>(status_class)
        .load(c)?;
    let mut rows = groups
        .into_iter()
        .map(|g| {
            let dims = q
                .group_by()
                .iter()
                .map(|d| dim_value(*d, &g))
                .collect::<Result<Vec<_>, _>>()?;
            let totals = Totals {
                count: g.count,
                units: g.units,
                cost_nanos: g.cost_nanos,
                tokens: g.tokens,
                quota: g.quota,
                duration_ms: g.duration_ms,
            };
            Ok(UsageRow {
                bucket: g.bucket,
                dims,
                totals,
            })
        })
        .collect::<Result<Vec<_>, Fail>>()?;
    rows.sort_by(|a, b| (a.bucket, &a.dims).cmp(&(b.bucket, &b.dims)));
    Ok(rows)
}

/// One `GET /usage` group.
#[derive(QueryableByName)]
struct DomainGroup {
    #[diesel(sql_type = SqlDate)]
    date: Date,
    #[diesel(sql_type = Nullable<SmallInt>)]
    hour: Option<i16>,
    #[diesel(sql_type = Text)]
    domain: String,
    #[diesel(sql_type = BigInt)]
    sessions_started: i64,
    #[diesel(sql_type = BigInt)]
    sessions_ended: i64,
    #[diesel(sql_type = BigInt)]
    captions_sent: i64,
    #[diesel(sql_type = BigInt)]
    captions_failed: i64,
    #[diesel(sql_type = BigInt)]
    batches_sent: i64,
    #[diesel(sql_type = BigInt)]
    total_duration_ms: i64,
    #[diesel(sql_type = BigInt)]
    peak_sessions: i64,
}

/// Answers a `GET /usage` question exactly as [`DomainUsageQuery::evaluate`] would.
pub(crate) fn domain_usage(
    c: &mut PgConnection,
    q: &DomainUsageQuery,
) -> Result<Vec<DomainUsageRow>, Fail> {
    let hour = if q.hourly() { "hour" } else { "NULL::smallint" };
    let sql = format!(
        "SELECT date, {hour} AS hour, domain, \
             SUM(sessions_started)::bigint AS sessions_started, \
             SUM(sessions_ended)::bigint AS sessions_ended, \
             SUM(captions_sent)::bigint AS captions_sent, \
             SUM(captions_failed)::bigint AS captions_failed, \
             SUM(batches_sent)::bigint AS batches_sent, \
             SUM(total_duration_ms)::bigint AS total_duration_ms, \
             MAX(peak_sessions)::bigint AS peak_sessions \
         FROM domain_rollups \
         WHERE date >= $1 AND date <= $2 \
           AND ($3::text IS NULL OR domain = $3) \
           AND ($4::text[] IS NULL OR substr(domain, strpos(domain, '://') + 3) = ANY($4)) \
           AND ($5::text IS NULL OR org_id = $5) \
         GROUP BY 1, 2, 3"
    );
    let only: Option<Vec<String>> = q
        .only()
        .map(|list| list.iter().map(|d| d.host_port().to_owned()).collect());
    let groups: Vec<DomainGroup> = diesel::sql_query(sql)
        .bind::<SqlDate, _>(q.from())
        .bind::<SqlDate, _>(q.to())
        .bind::<Nullable<Text>, _>(q.domain().map(|d| d.as_str().to_owned()))
        .bind::<Nullable<Array<Text>>, _>(only)
        .bind::<Nullable<Text>, _>(q.org().map(|o| o.as_str().to_owned()))
        .load(c)?;
    let mut rows = groups
        .into_iter()
        .map(|g| {
            let hour = g
                .hour
                .map(|h| u8::try_from(h).map_err(|e| corrupt("rollup hour", e)))
                .transpose()?;
            Ok(DomainUsageRow {
                date: g.date,
                hour,
                domain: domain(&g.domain)?,
                counters: tally_domain::usage::DomainCounters {
                    sessions_started: from_db(g.sessions_started, "sessions_started")?,
                    sessions_ended: from_db(g.sessions_ended, "sessions_ended")?,
                    captions_sent: from_db(g.captions_sent, "captions_sent")?,
                    captions_failed: from_db(g.captions_failed, "captions_failed")?,
                    batches_sent: from_db(g.batches_sent, "batches_sent")?,
                    total_duration_ms: from_db(g.total_duration_ms, "total_duration_ms")?,
                    peak_sessions: from_db(g.peak_sessions, "peak_sessions")?,
                },
            })
        })
        .collect::<Result<Vec<_>, Fail>>()?;
    rows.sort_by(|a, b| (a.date, a.hour, &a.domain).cmp(&(b.date, b.hour, &b.domain)));
    Ok(rows)
}
