//! Public migrations, then tenant migrations applied to every school schema with bounded
//! concurrency and recorded per schema in `"<schema>"._sqlx_migrations`.

use std::collections::HashSet;

use futures::{StreamExt, stream};
use sqlx::{Connection, PgConnection, PgPool, migrate::Migrator, postgres::PgConnectOptions};

use crate::db::{SchemaName, Tx};

static PUBLIC: Migrator = sqlx::migrate!("migrations/public");
static TENANT: Migrator = sqlx::migrate!("migrations/tenant");

fn public_migrator() -> Migrator {
    let mut m = Migrator::with_migrations(PUBLIC.iter().cloned().collect());
    m.dangerous_set_table_name("public._sqlx_migrations");
    m
}

/// A migrator for one school: its own history table, and no database-wide lock (we take a
/// lock per school instead, so schools migrate in parallel).
fn tenant_migrator(schema: &SchemaName) -> Migrator {
    let mut m = Migrator::with_migrations(TENANT.iter().cloned().collect());
    m.dangerous_set_table_name(format!("{}._sqlx_migrations", schema.quoted()));
    m.set_locking(false);
    m
}

pub fn tenant_migration_count() -> usize {
    TENANT
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .count()
}

/// Applies public migrations. Returns how many were newly applied.
pub async fn run_public(pool: &PgPool) -> anyhow::Result<usize> {
    let migrator = public_migrator();
    let mut conn = pool.acquire().await?;
    let before = applied_count(&mut conn, "public").await?;
    migrator.run(&mut *conn).await?;
    let after = applied_count(&mut conn, "public").await?;
    drop(conn);
    // The job queue's own tables (schema `apalis`, with its own migrations table there).
    crate::jobs::queue::setup(pool).await?;
    Ok(after - before)
}

async fn applied_count(conn: &mut PgConnection, schema: &str) -> anyhow::Result<usize> {
    let exists: bool = sqlx::query_scalar(
        "SELECT to_regclass(quote_ident($1) || '._sqlx_migrations') IS NOT NULL",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        return Ok(0);
    }
    let sql = format!(
        "SELECT count(*) FROM {}._sqlx_migrations WHERE success",
        quote_ident(schema)
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Applies tenant migrations inside an already open transaction whose search_path is the
/// school (used when a school is created, so a failure leaves nothing behind). Each
/// migration runs in a savepoint, which keeps the transaction-local search_path.
pub async fn apply_tenant_in_tx(tx: &mut Tx, schema: &SchemaName) -> anyhow::Result<()> {
    let migrator = tenant_migrator(schema);
    migrator.run_direct(None, &mut **tx, false).await?;
    Ok(())
}

#[derive(Debug)]
pub struct SchoolMigration {
    pub schema: String,
    pub result: Result<usize, String>,
}

/// Applies tenant migrations to every school schema, `concurrency` at a time. Each school
/// gets its own dedicated connection (never returned to a request pool) whose session
/// search_path is that school, and its own advisory lock.
pub async fn run_tenants(
    pool: &PgPool,
    concurrency: usize,
    mut progress: impl FnMut(&SchoolMigration),
) -> anyhow::Result<Vec<SchoolMigration>> {
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT schema_name FROM public.clients ORDER BY id")
            .fetch_all(pool)
            .await?;
    let options = pool.connect_options().as_ref().clone();
    let mut results = Vec::with_capacity(schemas.len());
    let current = up_to_date(pool, &schemas).await;
    let (done, behind): (Vec<String>, Vec<String>) =
        schemas.into_iter().partition(|s| current.contains(s));
    for schema in done {
        let done = SchoolMigration {
            schema,
            result: Ok(0),
        };
        progress(&done);
        results.push(done);
    }
    let mut runs = stream::iter(behind)
        .map(|schema| {
            let options = options.clone();
            async move {
                let result = migrate_school(&options, &schema)
                    .await
                    .map_err(|e| format!("{e:#}"));
                SchoolMigration { schema, result }
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(done) = runs.next().await {
        progress(&done);
        results.push(done);
    }
    Ok(results)
}

/// How many schools one statement checks.
const CHECK_BATCH: usize = 500;

/// The schools whose history already holds every tenant migration, each with its
/// checksum: checked a few hundred schools per statement, so `migrate` with nothing to do
/// over ten thousand schools opens no connection per school. A school this cannot vouch
/// for (no history table, a failed or unknown migration, any error) takes the full path,
/// which reports what is wrong with it.
async fn up_to_date(pool: &PgPool, schemas: &[String]) -> HashSet<String> {
    let mut current = HashSet::new();
    let (versions, checksums): (Vec<i64>, Vec<Vec<u8>>) = TENANT
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.checksum.to_vec()))
        .unzip();
    let with_history: HashSet<String> = match sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relname = '_sqlx_migrations' AND c.relkind = 'r'",
    )
    .fetch_all(pool)
    .await
    {
        Ok(names) => names.into_iter().collect(),
        Err(_) => return current,
    };
    let candidates: Vec<SchemaName> = schemas
        .iter()
        .filter(|s| with_history.contains(*s))
        .filter_map(|s| SchemaName::parse(s).ok())
        .collect();
    for batch in candidates.chunks(CHECK_BATCH) {
        // Names are validated and quoted; the expected history is bound.
        let sql = batch
            .iter()
            .enumerate()
            .map(|(i, schema)| {
                format!(
                    "SELECT {i} AS i,
                            count(*) FILTER (WHERE m.success AND e.version IS NOT NULL) AS good,
                            count(*) AS rows
                       FROM {}._sqlx_migrations m
                       LEFT JOIN unnest($1::bigint[], $2::bytea[]) e(version, checksum)
                         ON e.version = m.version AND e.checksum = m.checksum",
                    schema.quoted()
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let rows: Vec<(i32, i64, i64)> = match sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&versions)
            .bind(&checksums)
            .fetch_all(pool)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "checking schools' migrations in a batch failed; each takes the full path");
                continue;
            }
        };
        let expected = versions.len() as i64;
        for (i, good, rows) in rows {
            if good == expected
                && rows == expected
                && let Some(schema) = usize::try_from(i).ok().and_then(|i| batch.get(i))
            {
                current.insert(schema.as_str().to_owned());
            }
        }
    }
    current
}

async fn migrate_school(options: &PgConnectOptions, schema: &str) -> anyhow::Result<usize> {
    let schema = SchemaName::parse(schema).map_err(|e| anyhow::anyhow!("{schema}: {e}"))?;
    let mut conn = PgConnection::connect_with(options).await?;
    // Session-level on purpose: this connection is ours alone and closed below.
    let set_path = format!("SET search_path TO {}, public", schema.quoted());
    sqlx::query(sqlx::AssertSqlSafe(set_path))
        .execute(&mut conn)
        .await?;
    sqlx::query("SELECT pg_advisory_lock(hashtext('schoolyard-migrate:' || $1))")
        .bind(schema.as_str())
        .execute(&mut conn)
        .await?;
    let outcome = async {
        let before = applied_count(&mut conn, schema.as_str()).await?;
        tenant_migrator(&schema)
            .run_direct(None, &mut conn, false)
            .await?;
        let after = applied_count(&mut conn, schema.as_str()).await?;
        anyhow::Ok(after - before)
    }
    .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext('schoolyard-migrate:' || $1))")
        .bind(schema.as_str())
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    outcome
}
