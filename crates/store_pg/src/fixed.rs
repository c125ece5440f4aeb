//! Hand-written statements that diesel prepares once per connection and reuses.
//!
//! [`diesel::sql_query`] marks its statement unsafe to cache, so Postgres parses, analyses
//! and plans it on every run — a third of the database's CPU on the verify benchmark, where a
//! batch is a handful of such statements. A [`Fixed`] statement is the same text every time
//! (its rows travel as array parameters, see [`crate::columnar`]), so diesel's statement cache
//! prepares it on a connection's first use and later runs only bind and execute it. Postgres
//! switches a prepared statement to its generic plan after five runs; every statement written
//! this way joins `unnest`ed parameters to primary keys, whose generic plan is the same
//! primary-key probe per row as a custom one.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// One bound parameter of a [`Fixed`] statement.
trait Param {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

/// A value with the SQL type it is sent as.
struct Typed<ST, T> {
    value: T,
    sql_type: PhantomData<ST>,
}

impl<ST, T> Param for Typed<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg>,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.value)
    }
}

/// A statement of fixed text with positional parameters `$1…`, bound in order (a `$` in
/// the text is always a placeholder: the statements hold no string literals).
pub(crate) struct Fixed<'a> {
    sql: &'static str,
    params: Vec<Box<dyn Param + 'a>>,
}

impl<'a> Fixed<'a> {
    /// The statement `sql`; bind its parameters with [`Fixed::bind`].
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql,
            params: Vec::new(),
        }
    }

    /// Binds the next parameter, sent as SQL type `ST`.
    pub(crate) fn bind<ST, T>(mut self, value: T) -> Self
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg> + 'a,
        ST: 'a,
    {
        self.params.push(Box::new(Typed {
            value,
            sql_type: PhantomData::<ST>,
        }));
        self
    }
}

impl Fixed<'_> {
    /// Writes the text with this statement's parameters at its placeholders.
    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // diesel writes each placeholder itself, numbered in the order values are pushed, so
        // the text is cut at every `$n` and parameter n pushed there.
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|ch: char| !ch.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            let param = rest[at + 1..at + 1 + digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| self.params.get(n.checked_sub(1)?))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!(
                            "no parameter for placeholder {:?}",
                            &rest[at..at + 1 + digits]
                        )
                        .into(),
                    )
                })?;
            param.push(out)?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl QueryFragment<Pg> for Fixed<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.walk(&mut out)
    }
}

/// Several [`Fixed`] data-modifying statements run as one: `WITH a AS (…), b AS (…) main`.
/// Each part keeps its own `$1…` numbering (they are renumbered as they are written out), so
/// the statements that run alone elsewhere are reused as they are; one round trip instead of
/// one per statement, and, being fixed text too, prepared once per connection. Postgres runs
/// every part to completion, on one snapshot: the parts must not read each other's rows.
pub(crate) struct Chain<'a> {
    ctes: Vec<(&'static str, Fixed<'a>)>,
    main: Fixed<'a>,
}

impl<'a> Chain<'a> {
    /// `main`, preceded by the named parts in order.
    pub(crate) fn new(ctes: Vec<(&'static str, Fixed<'a>)>, main: Fixed<'a>) -> Self {
        Self { ctes, main }
    }
}

impl QueryFragment<Pg> for Chain<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (i, (name, part)) in self.ctes.iter().enumerate() {
            out.push_sql(if i == 0 { "WITH " } else { ", " });
            out.push_sql(name);
            out.push_sql(" AS (");
            part.walk(&mut out)?;
            out.push_sql(")");
        }
        out.push_sql(" ");
        self.main.walk(&mut out)
    }
}

impl QueryId for Chain<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Chain<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Chain<'_> {}

// No static id: diesel keys its statement cache by the text and the parameters' types.
impl QueryId for Fixed<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Fixed<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Fixed<'_> {}
