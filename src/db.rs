//! Connection pool, schema names, and the school transaction (DESIGN §2).

use std::str::FromStr;

use sqlx::{
    PgPool, Postgres, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::Config;

pub type Tx = Transaction<'static, Postgres>;

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(&config.database_url)?.application_name("schoolyard");
    pool_with_options(config, options).await
}

pub async fn pool_with_options(
    config: &Config,
    options: PgConnectOptions,
) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        // Each backend caches catalog entries for every schema it touched: recycle
        // connections so memory stays flat with thousands of schools.
        .max_lifetime(config.db_max_lifetime)
        // Short: when PostgreSQL is down or every connection is busy, a fast 503 that says
        // so beats making everyone wait.
        .acquire_timeout(config.db_acquire_timeout)
        // A ping before every acquire is one more round trip per request; a connection that
        // died is instead reported as a retryable error (503) and replaced by the pool.
        .test_before_acquire(false)
        .connect_with(options)
        .await?)
}

/// A validated school schema name: `^[a-z][a-z0-9_]{2,62}$`, never a reserved schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let bytes = raw.as_bytes();
        let shape_ok = (3..=63).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
        if !shape_ok {
            return Err(
                "Use 3 to 63 characters: lower-case letters, digits and underscores, starting with a letter.",
            );
        }
        if matches!(
            raw,
            "public" | "apalis" | "information_schema" | "whatsapp_platform"
        ) || raw.starts_with("pg_")
        {
            return Err("This name is reserved.");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a quoted SQL identifier. Only schema creation, deletion and migration
    /// put a schema name into SQL text; the name is validated and quoted.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl std::fmt::Display for SchemaName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Opens a transaction whose search_path is the school's schema, then public. The setting is
/// transaction-local, so the pooled connection never carries it into another request.
/// Limits on every school transaction, so neither a runaway query nor a handler that stalls
/// with its transaction open can hold a connection for long.
const STATEMENT_TIMEOUT: &str = "30s";
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

pub async fn begin_school(pool: &PgPool, schema: &str) -> Result<Tx, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One round trip: the school's search path, generic plans (see below), the limits, and
    // no JIT: our statements are short, and a row estimate gone wide (a generate_series of
    // days) once had PostgreSQL spend 350 ms compiling a 30 ms query.
    sqlx::query(
        "SELECT set_config('search_path', quote_ident($1) || ', public', true),
                set_config('plan_cache_mode', 'force_generic_plan', true),
                set_config('statement_timeout', $2, true),
                set_config('idle_in_transaction_session_timeout', $3, true),
                set_config('jit', 'off', true)",
    )
    .bind(schema)
    .bind(STATEMENT_TIMEOUT)
    .bind(IDLE_IN_TRANSACTION_TIMEOUT)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

pub async fn set_school_search_path(tx: &mut Tx, schema: &str) -> Result<(), sqlx::Error> {
    // The identifier is passed as a bind parameter and quoted by PostgreSQL. In the same
    // round trip, cached plans are made generic: with parameters PostgreSQL otherwise
    // re-plans our joins on every execution (measured: a quarter of its CPU under load).
    // Our statements carry no catch-all filters, so generic plans are good ones.
    sqlx::query(
        "SELECT set_config('search_path', quote_ident($1) || ', public', true),
                set_config('plan_cache_mode', 'force_generic_plan', true)",
    )
    .bind(schema)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A transaction on the platform tables only (search_path = public, transaction-local).
pub async fn begin_platform(pool: &PgPool) -> Result<Tx, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('search_path', 'public', true)")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
