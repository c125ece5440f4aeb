//! The indexes of `usage_events`, set aside for a large seed and built again after it.
//!
//! Every event row feeds ten indexes (the primary key, the id, the log and status indexes and
//! the trigram index on `path`); once they outgrow the buffer cache each inserted row
//! dirties ten scattered index pages, and seeding slows to a few thousand events a second.
//! Built in one sort each after the rows are in, the same indexes cost a fraction of that.
//! The definitions are read from the catalog, not written here, so the rebuilt schema is the
//! one the migrations made: same definitions and the same names, the partitions' own indexes
//! included (Postgres names those after the partition and the columns, numbering clashes in
//! creation order, so they are built in the order they were first created).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use crate::error::Fail;

/// One index of `usage_events` as the catalog defines it.
#[derive(Debug, Clone, QueryableByName)]
pub(super) struct EventIndex {
    /// Its name.
    #[diesel(sql_type = Text)]
    name: String,
    /// `pg_get_indexdef` of the partitioned index (`CREATE INDEX … ON ONLY …`).
    #[diesel(sql_type = Text)]
    definition: String,
    /// `pg_get_constraintdef` of the constraint it backs (the primary key), if any.
    #[diesel(sql_type = Nullable<Text>)]
    constraint: Option<String>,
}

/// The indexes of `usage_events` in the order they were created.
pub(super) fn event_indexes(c: &mut PgConnection) -> Result<Vec<EventIndex>, Fail> {
    Ok(diesel::sql_query(
        "SELECT i.relname::text AS name, pg_get_indexdef(i.oid) AS definition, \
             pg_get_constraintdef(con.oid) AS constraint \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = x.indrelid \
         WHERE x.indrelid = 'usage_events'::regclass ORDER BY i.oid",
    )
    .load(c)?)
}

/// Drops `indexes` (with every partition's copy).
pub(super) fn drop_all(c: &mut PgConnection, indexes: &[EventIndex]) -> Result<(), Fail> {
    for index in indexes {
        let name = quote_ident(&index.name);
        c.batch_execute(&match index.constraint {
            Some(_) => format!("ALTER TABLE usage_events DROP CONSTRAINT {name}"),
            None => format!("DROP INDEX {name}"),
        })?;
    }
    Ok(())
}

/// Builds `indexes` again, in their order, on `usage_events` and every partition.
pub(super) fn create_all(c: &mut PgConnection, indexes: &[EventIndex]) -> Result<(), Fail> {
    for index in indexes {
        c.batch_execute(&match &index.constraint {
            Some(definition) => format!(
                "ALTER TABLE usage_events ADD CONSTRAINT {} {definition}",
                quote_ident(&index.name)
            ),
            // `ON ONLY` would build the parent's index alone; without it the partitions get
            // theirs too.
            None => index.definition.replacen(" ON ONLY ", " ON ", 1),
        })?;
    }
    Ok(())
}

/// `name` as a quoted SQL identifier.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
