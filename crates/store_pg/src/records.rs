//! Rows that travel as one array of a composite type: `unnest($1::usage_event_row[])` is one
//! set-returning function where an array per column is one per column, each with its own
//! set-up and tuple store in Postgres (migration 000049). Used for the tables every meter
//! batch writes: events, usage rollups and site rollups, and the keys' and sessions' versions
//! and changes of an optimistic batch.
//!
//! Values are written in Postgres' binary `record` format: the field count, then per field
//! its type's OID and its length-prefixed binary value (`-1` for NULL). Postgres checks every
//! field's OID against the composite type, so a field written with the wrong type fails the
//! statement rather than storing anything.

use std::io::Write;

use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use time::{
    macros::{date, datetime},
    Date, OffsetDateTime,
};
use uuid::Uuid;

use crate::rows::events::{EventRow, RollupDelta};
use crate::rows::sessions::DomainRollupRow;

/// Postgres' own type OIDs (`pg_type.oid`, fixed for built-in types).
const BOOL: u32 = 16;
const INT2: u32 = 21;
const INT8: u32 = 20;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const DATE: u32 = 1082;
const TIMESTAMPTZ: u32 = 1184;
const UUID: u32 = 2950;

/// The composite types of migration 000049, as diesel SQL types, each named as in Postgres.
pub(crate) mod sql {
    use diesel::sql_types::SqlType;

    /// `usage_event_row`.
    #[derive(SqlType)]
    #[diesel(postgres_type(name = "usage_event_row"))]
    pub(crate) struct UsageEventRow;

    /// `usage_rollup_row`.
    #[derive(SqlType)]
    #[diesel(postgres_type(name = "usage_rollup_row"))]
    pub(crate) struct UsageRollupRow;

    /// `domain_rollup_row`.
    #[derive(SqlType)]
    #[diesel(postgres_type(name = "domain_rollup_row"))]
    pub(crate) struct DomainRollupRow;

    /// `key_version_row`.
    #[derive(SqlType)]
    #[diesel(postgres_type(name = "key_version_row"))]
    pub(crate) struct KeyVersionRow;

    /// `session_version_row`.
    #[derive(SqlType)]
    #[diesel(postgres_type(name = "session_version_row"))]
    pub(crate) struct SessionVersionRow;

    /// `key_counter_row`.
    #[derive(SqlType)]
    #[diesel(postgres_type(name = "key_counter_row"))]
    pub(crate) struct KeyCounterRow;

    /// `session_change_row`.
    #[derive(SqlType)]
    #[diesel(postgres_type(name = "session_change_row"))]
    pub(crate) struct SessionChangeRow;
}

/// A key's row version, as a batch decided from it.
#[derive(Debug)]
pub(crate) struct KeyVersion<'a> {
    pub org_id: &'a str,
    pub id: i64,
    pub version: i64,
}

/// A session's row version, as a batch decided from it (`-1`: not known).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SessionVersion<'a> {
    pub org_id: &'a str,
    pub id: &'a str,
    pub version: i64,
}

/// What a batch adds to one key's counters.
#[derive(Debug)]
pub(crate) struct KeyCounter<'a> {
    pub org_id: &'a str,
    pub id: i64,
    /// Units added to the lifetime counter.
    pub added: i64,
    /// The key's caption sequence and last caption instant, when the batch captioned.
    pub sequence: Option<i64>,
    pub caption_at: Option<OffsetDateTime>,
    /// The daily counter as the batch leaves it.
    pub daily_day: Option<Date>,
    pub daily_used: i64,
}

/// What a batch changes in one session's row.
#[derive(Debug)]
pub(crate) struct SessionRowChange<'a> {
    pub org_id: &'a str,
    pub id: &'a str,
    pub sequence: i64,
    pub sent: i64,
    pub at: OffsetDateTime,
}

/// What writing a value gives (diesel's serialisation error).
type Written<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Writes one binary `record`, field by field.
struct Record<'o, 'b, 'c> {
    out: &'o mut Output<'b, 'c, Pg>,
}

impl<'o, 'b, 'c> Record<'o, 'b, 'c> {
    fn new(out: &'o mut Output<'b, 'c, Pg>, fields: i32) -> Written<Self> {
        out.write_all(&fields.to_be_bytes())?;
        Ok(Self { out })
    }

    fn field(&mut self, oid: u32, value: Option<&[u8]>) -> Written<&mut Self> {
        self.out.write_all(&oid.to_be_bytes())?;
        match value {
            Some(bytes) => {
                self.out
                    .write_all(&i32::try_from(bytes.len())?.to_be_bytes())?;
                self.out.write_all(bytes)?;
            }
            None => self.out.write_all(&(-1i32).to_be_bytes())?,
        }
        Ok(self)
    }

    fn text(&mut self, v: Option<&str>) -> Written<&mut Self> {
        self.field(TEXT, v.map(str::as_bytes))
    }

    fn int8(&mut self, v: Option<i64>) -> Written<&mut Self> {
        self.field(INT8, v.map(i64::to_be_bytes).as_ref().map(|b| &b[..]))
    }

    fn int4(&mut self, v: Option<i32>) -> Written<&mut Self> {
        self.field(INT4, v.map(i32::to_be_bytes).as_ref().map(|b| &b[..]))
    }

    fn int2(&mut self, v: Option<i16>) -> Written<&mut Self> {
        self.field(INT2, v.map(i16::to_be_bytes).as_ref().map(|b| &b[..]))
    }

    fn bool(&mut self, v: bool) -> Written<&mut Self> {
        self.field(BOOL, Some(&[u8::from(v)]))
    }

    fn uuid(&mut self, v: Option<Uuid>) -> Written<&mut Self> {
        self.field(UUID, v.as_ref().map(|u| &u.as_bytes()[..]))
    }

    /// Days since 2000-01-01, Postgres' date epoch.
    fn date(&mut self, v: Option<Date>) -> Written<&mut Self> {
        let days = v
            .map(|v| i32::try_from((v - date!(2000 - 01 - 01)).whole_days()))
            .transpose()?;
        self.field(DATE, days.map(i32::to_be_bytes).as_ref().map(|b| &b[..]))
    }

    /// Microseconds since 2000-01-01 00:00 UTC, Postgres' timestamp epoch.
    fn timestamptz(&mut self, v: Option<OffsetDateTime>) -> Written<&mut Self> {
        let micros = v
            .map(|v| i64::try_from((v - datetime!(2000-01-01 0:00 UTC)).whole_microseconds()))
            .transpose()?;
        self.field(
            TIMESTAMPTZ,
            micros.map(i64::to_be_bytes).as_ref().map(|b| &b[..]),
        )
    }
}

impl ToSql<sql::UsageEventRow, Pg> for EventRow {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        Record::new(out, 28)?
            .timestamptz(Some(self.occurred_at))?
            .uuid(Some(self.id))?
            .text(Some(&self.org_id))?
            .uuid(self.user_id)?
            .int8(self.key_id)?
            .text(self.session_id.as_deref())?
            .text(Some(&self.kind))?
            .text(self.api_name.as_deref())?
            .text(self.endpoint.as_deref())?
            .text(self.method.as_deref())?
            .text(self.path.as_deref())?
            .int4(self.status_code)?
            .int8(self.response_time_ms)?
            .text(self.model.as_deref())?
            .text(self.language.as_deref())?
            .text(self.domain.as_deref())?
            .int8(Some(self.units))?
            .int8(Some(self.cost_nanos))?
            .int8(Some(self.tokens))?
            .int8(Some(self.quota))?
            .int8(Some(self.duration_ms))?
            .bool(self.success)?
            .text(self.error.as_deref())?
            .text(self.ip.as_deref())?
            .text(self.user_agent.as_deref())?
            .bool(self.active)?
            .text(self.idempotency_key.as_deref())?
            .timestamptz(Some(self.created_at))?;
        Ok(IsNull::No)
    }
}

impl ToSql<sql::UsageRollupRow, Pg> for RollupDelta {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        Record::new(out, 17)?
            .timestamptz(Some(self.hour))?
            .text(Some(&self.org_id))?
            .uuid(self.user_id)?
            .int8(self.key_id)?
            .text(self.model.as_deref())?
            .text(self.api_name.as_deref())?
            .text(self.language.as_deref())?
            .text(self.domain.as_deref())?
            .bool(self.success)?
            .bool(self.api_call)?
            .int2(self.status_class)?
            .int8(Some(self.count))?
            .int8(Some(self.units))?
            .int8(Some(self.cost_nanos))?
            .int8(Some(self.tokens))?
            .int8(Some(self.quota))?
            .int8(Some(self.duration_ms))?;
        Ok(IsNull::No)
    }
}

impl ToSql<sql::DomainRollupRow, Pg> for DomainRollupRow {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        Record::new(out, 11)?
            .text(Some(&self.org_id))?
            .date(Some(self.date))?
            .int2(Some(self.hour))?
            .text(Some(&self.domain))?
            .int8(Some(self.sessions_started))?
            .int8(Some(self.sessions_ended))?
            .int8(Some(self.captions_sent))?
            .int8(Some(self.captions_failed))?
            .int8(Some(self.batches_sent))?
            .int8(Some(self.total_duration_ms))?
            .int8(Some(self.peak_sessions))?;
        Ok(IsNull::No)
    }
}

impl ToSql<sql::KeyVersionRow, Pg> for KeyVersion<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        Record::new(out, 3)?
            .text(Some(self.org_id))?
            .int8(Some(self.id))?
            .int8(Some(self.version))?;
        Ok(IsNull::No)
    }
}

impl ToSql<sql::SessionVersionRow, Pg> for SessionVersion<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        Record::new(out, 3)?
            .text(Some(self.org_id))?
            .text(Some(self.id))?
            .int8(Some(self.version))?;
        Ok(IsNull::No)
    }
}

impl ToSql<sql::KeyCounterRow, Pg> for KeyCounter<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        Record::new(out, 7)?
            .text(Some(self.org_id))?
            .int8(Some(self.id))?
            .int8(Some(self.added))?
            .int8(self.sequence)?
            .timestamptz(self.caption_at)?
            .date(self.daily_day)?
            .int8(Some(self.daily_used))?;
        Ok(IsNull::No)
    }
}

impl ToSql<sql::SessionChangeRow, Pg> for SessionRowChange<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        Record::new(out, 5)?
            .text(Some(self.org_id))?
            .text(Some(self.id))?
            .int8(Some(self.sequence))?
            .int8(Some(self.sent))?
            .timestamptz(Some(self.at))?;
        Ok(IsNull::No)
    }
}
