//! `ImportStore`: history brought over from another system, one transaction per batch,
//! idempotent (keys by secret hash, history rows by content and copies, domain rows by hour).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use tally_domain::audit::AuthEvent;
use tally_domain::import::{Copies, ImportCount, ImportedKey, KeyImport};
use tally_domain::key::{ApiKey, KeyId};
use tally_domain::ports::ImportStore;
use tally_domain::session::{CaptionError, SessionRecord};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{DomainCounters, DomainRollupKey};
use tally_domain::StoreError;
use time::Date;

use crate::columnar::import_sites;
use crate::convert::{micros, opt_to_db, to_db};
use crate::error::Fail;
use crate::key_row::{remember_secret, resolve_secrets};
use crate::rows::keys::NewAuthEvent;
use crate::rows::sessions::{CaptionErrorRow, DomainRollupRow, RecordRow};
use crate::schema::{api_keys, auth_events, caption_errors, key_daily_usage, session_records};
use crate::PgStore;

/// A row of `key_daily_usage`.
#[derive(Debug, Insertable)]
#[diesel(table_name = key_daily_usage)]
struct DailyRow {
    key_id: i64,
    day: Date,
    org_id: String,
    used: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Inserts a whole key, counters included, under `id` (or the next id of the identity when
/// `None`). The only writer that sets ids itself, hence the raw SQL.
fn insert_key(c: &mut PgConnection, k: &ApiKey, id: Option<i64>) -> Result<i64, Fail> {
    let row = diesel::sql_query(
        "INSERT INTO api_keys (id, org_id, secret_hash, alias, name, owner, email, email_hash, \
             user_id, created_at, expires_at, active, revoked_at, erased_at, daily_limit, \
             lifetime_limit, lifetime_used, sequence, last_caption_at) \
         OVERRIDING SYSTEM VALUE \
         VALUES (COALESCE($1, nextval(pg_get_serial_sequence('api_keys', 'id'))), $2, $3, $4, \
             $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         RETURNING id",
    )
    .bind::<Nullable<BigInt>, _>(id)
    .bind::<Text, _>(k.org_id.as_str())
    .bind::<Text, _>(k.secret_hash.to_hex())
    .bind::<Text, _>(&k.alias)
    .bind::<Nullable<Text>, _>(k.name.as_deref())
    .bind::<Text, _>(&k.owner)
    .bind::<Nullable<Text>, _>(k.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind::<Nullable<Text>, _>(k.email_hash.map(|h| h.to_hex()))
    .bind::<Nullable<SqlUuid>, _>(k.user_id.map(|u| u.0))
    .bind::<Timestamptz, _>(micros(k.created_at))
    .bind::<Nullable<Timestamptz>, _>(k.expires_at.map(micros))
    .bind::<Bool, _>(k.active)
    .bind::<Nullable<Timestamptz>, _>(k.revoked_at.map(micros))
    .bind::<Nullable<Timestamptz>, _>(k.erased_at.map(micros))
    .bind::<Nullable<BigInt>, _>(opt_to_db(k.limits.daily, "daily_limit")?)
    .bind::<Nullable<BigInt>, _>(opt_to_db(k.limits.lifetime, "lifetime_limit")?)
    .bind::<BigInt, _>(to_db(k.lifetime_used, "lifetime_used")?)
    .bind::<BigInt, _>(to_db(k.sequence, "sequence")?)
    .bind::<Nullable<Timestamptz>, _>(k.last_caption_at.map(micros))
    .get_result::<Id>(c)?;
    remember_secret(c, &k.secret_hash.to_hex(), k.org_id.as_str(), row.id)?;
    Ok(row.id)
}

fn import_keys_tx(c: &mut PgConnection, keys: &[ImportedKey]) -> Result<Vec<KeyImport>, Fail> {
    // Keys are matched by hash and ids chosen by what is stored: no other writer may add a
    // key in between (meters of other keys wait for this batch's commit).
    diesel::sql_query("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE").execute(c)?;
    let mut out = Vec::with_capacity(keys.len());
    let mut kept_ids = false;
    for ImportedKey { key, daily } in keys {
        let known = resolve_secrets(c, &[key.secret_hash.to_hex()])?.pop();
        let existing = match known {
            None => None,
            Some(at) => api_keys::table
                .find(at)
                .select((api_keys::id, api_keys::erased_at.is_not_null()))
                .first::<(i64, bool)>(c)
                .optional()?,
        };
        if let Some((id, erased)) = existing {
            out.push(KeyImport::Existing {
                id: KeyId(id),
                erased,
            });
            continue;
        }
        let free = key.id.0 >= 1
            && !diesel::select(diesel::dsl::exists(
                api_keys::table.filter(api_keys::id.eq(key.id.0)),
            ))
            .get_result::<bool>(c)?;
        kept_ids |= free;
        let id = insert_key(c, key, free.then_some(key.id.0))?;
        // The latest day is the key's counter (on its row); the days before it are history.
        let latest = daily.iter().map(|(day, _)| *day).max();
        if let Some((day, used)) = daily.iter().find(|(day, _)| Some(*day) == latest) {
            diesel::update(api_keys::table.find((key.org_id.as_str(), id)))
                .set((
                    api_keys::daily_day.eq(Some(*day)),
                    api_keys::daily_used.eq(to_db(*used, "daily usage")?),
                ))
                .execute(c)?;
        }
        let rows = daily
            .iter()
            .filter(|(day, _)| Some(*day) != latest)
            .map(|(day, used)| {
                Ok(DailyRow {
                    key_id: id,
                    day: *day,
                    org_id: key.org_id.as_str().to_owned(),
                    used: to_db(*used, "daily usage")?,
                })
            })
            .collect::<Result<Vec<_>, Fail>>()?;
        diesel::insert_into(key_daily_usage::table)
            .values(&rows)
            .execute(c)?;
        out.push(KeyImport::Created(KeyId(id)));
    }
    if kept_ids {
        // Ids given explicitly bypass the identity: move it past them (never backwards, so
        // ids of deleted keys are not handed out again).
        diesel::sql_query(
            "SELECT setval(s, GREATEST(COALESCE(pg_sequence_last_value(s), 0), \
                 (SELECT COALESCE(max(id), 0) FROM api_keys), 1)) \
             FROM (SELECT pg_get_serial_sequence('api_keys', 'id')::regclass AS s) AS q",
        )
        .execute(c)?;
    }
    Ok(out)
}

/// Adds, for each row, the copies `stored` (the number of equal rows already stored) lacks,
/// with `insert` writing one copy.
fn add_copies<T>(
    c: &mut PgConnection,
    rows: &[Copies<T>],
    mut stored: impl FnMut(&mut PgConnection, &T) -> Result<i64, Fail>,
    mut insert: impl FnMut(&mut PgConnection, &T) -> Result<(), Fail>,
) -> Result<ImportCount, Fail> {
    let mut count = ImportCount::default();
    for Copies { row, count: wanted } in rows {
        let have = u64::try_from(stored(c, row)?).unwrap_or(0);
        let missing = wanted.saturating_sub(have);
        for _ in 0..missing {
            insert(c, row)?;
        }
        count.imported += missing;
        count.skipped += wanted - missing;
    }
    Ok(count)
}

fn stored_records(c: &mut PgConnection, r: &SessionRecord) -> Result<i64, Fail> {
    let row = RecordRow::of(r)?;
    use session_records as t;
    Ok(t::table
        .filter(t::key_id.eq(row.key_id))
        .filter(t::ended_at.eq(row.ended_at))
        .filter(t::session_id.eq(row.session_id))
        .filter(t::org_id.eq(row.org_id))
        .filter(t::domain.eq(row.domain))
        .filter(t::started_at.eq(row.started_at))
        .filter(t::duration_ms.eq(row.duration_ms))
        .filter(t::captions_sent.eq(row.captions_sent))
        .filter(t::captions_failed.eq(row.captions_failed))
        .filter(t::final_sequence.eq(row.final_sequence))
        .filter(t::ended_by.eq(row.ended_by))
        .count()
        .get_result(c)?)
}

fn stored_errors(c: &mut PgConnection, e: &CaptionError) -> Result<i64, Fail> {
    let row = CaptionErrorRow::of(e)?;
    use caption_errors as t;
    Ok(t::table
        .filter(t::key_id.eq(row.key_id))
        .filter(t::occurred_at.eq(row.occurred_at))
        .filter(t::session_id.eq(row.session_id))
        .filter(t::org_id.eq(row.org_id))
        .filter(t::error.eq(row.error))
        .filter(t::status_code.is_not_distinct_from(row.status_code))
        .filter(t::batch_size.eq(row.batch_size))
        .count()
        .get_result(c)?)
}

fn stored_events(c: &mut PgConnection, e: &AuthEvent) -> Result<i64, Fail> {
    let row = NewAuthEvent::from(e);
    use auth_events as t;
    let mut q = t::table
        .filter(t::occurred_at.eq(row.occurred_at))
        .filter(t::org_id.eq(row.org_id))
        .filter(t::kind.eq(row.kind))
        .filter(t::domain.is_not_distinct_from(row.domain))
        .into_boxed();
    // Equality on the key (or IS NULL) rather than IS NOT DISTINCT FROM, so the key index
    // serves the lookup.
    q = match row.key_id {
        Some(id) => q.filter(t::key_id.eq(id)),
        None => q.filter(t::key_id.is_null()),
    };
    Ok(q.count().get_result(c)?)
}

impl ImportStore for PgStore {
    fn import_keys(&self, keys: &[ImportedKey]) -> Result<Vec<KeyImport>, StoreError> {
        self.tx(|c| import_keys_tx(c, keys))
    }

    fn import_session_records(
        &self,
        records: &[Copies<SessionRecord>],
    ) -> Result<ImportCount, StoreError> {
        self.tx(|c| {
            add_copies(c, records, stored_records, |c, r| {
                diesel::insert_into(session_records::table)
                    .values(RecordRow::of(r)?)
                    .execute(c)?;
                Ok(())
            })
        })
    }

    fn import_caption_errors(
        &self,
        errors: &[Copies<CaptionError>],
    ) -> Result<ImportCount, StoreError> {
        self.tx(|c| {
            add_copies(c, errors, stored_errors, |c, e| {
                diesel::insert_into(caption_errors::table)
                    .values(CaptionErrorRow::of(e)?)
                    .execute(c)?;
                Ok(())
            })
        })
    }

    fn import_auth_events(&self, events: &[Copies<AuthEvent>]) -> Result<ImportCount, StoreError> {
        self.tx(|c| {
            add_copies(c, events, stored_events, |c, e| {
                diesel::insert_into(auth_events::table)
                    .values(NewAuthEvent::from(e))
                    .execute(c)?;
                Ok(())
            })
        })
    }

    fn import_domain_rollups(
        &self,
        rows: &[(DomainRollupKey, DomainCounters)],
    ) -> Result<ImportCount, StoreError> {
        // The port's rows name a site, not an organisation (lcyt has none): they belong to
        // the default organisation, which owned every site before rollups were kept per org.
        let lcyt_org = OrgId::default_org();
        let rows = rows
            .iter()
            .map(|(k, c)| DomainRollupRow::of(lcyt_org.as_str(), k, c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Fail::into_store)?;
        let total = rows.len() as u64;
        self.tx(|c| {
            let mut imported = 0;
            for chunk in rows.chunks(1_000) {
                imported += import_sites(c, chunk)?;
            }
            Ok(ImportCount {
                imported,
                skipped: total - imported,
            })
        })
    }
}
