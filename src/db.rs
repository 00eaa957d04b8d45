//! Connection pool, schema names, and the school transaction (DESIGN §2).

use std::{
    collections::HashSet,
    hash::{Hash, Hasher},
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

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

/// The database as the application uses it: the main pool for platform work (the `public`
/// schema), and school transactions spread over several small pools.
///
/// Why: a PostgreSQL backend caches catalog entries for every schema it has served (about
/// 0.15 MiB a school), and re-plans its statements whenever it switches school. So a school
/// always goes to the same pool (a hash of its schema), each pool's connections see only
/// its share of the schools and keep their plans and caches warm, and a connection is
/// retired once its pool has served `db_schools_per_connection` distinct schools since it
/// opened, which keeps every backend's memory bounded however many schools there are.
/// When a school's own pool is busy (one school busy on results day), its transaction
/// borrows from a shared overflow pool, tracked the same way.
#[derive(Clone)]
pub struct Db {
    main: PgPool,
    shards: Arc<[Shard]>,
    overflow: Shard,
    /// Requests' school transactions open at once: as many as the main pool allows, so
    /// spreading schools over pools never puts more backends to work than one pool did.
    request_slots: Arc<tokio::sync::Semaphore>,
    acquire_timeout: Duration,
}

/// A request's place among the transactions allowed at once; held until the request ends.
pub type RequestSlot = tokio::sync::OwnedSemaphorePermit;

#[derive(Clone)]
struct Shard {
    pool: PgPool,
    schools: Arc<SchoolsServed>,
}

/// The distinct schools one pool has served in its current generation. When the count
/// passes the limit a new generation starts; connections opened before it are closed
/// instead of being handed out again, so no connection ever serves more than one
/// generation's schools.
struct SchoolsServed {
    limit: usize,
    state: std::sync::Mutex<Generation>,
}

struct Generation {
    schools: HashSet<u64>,
    started: Instant,
}

impl SchoolsServed {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            state: std::sync::Mutex::new(Generation {
                schools: HashSet::new(),
                started: Instant::now(),
            }),
        }
    }

    fn note(&self, school: u64) {
        let mut generation = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if generation.schools.insert(school) && generation.schools.len() > self.limit {
            generation.schools.clear();
            generation.schools.insert(school);
            generation.started = Instant::now();
        }
    }

    /// A connection of this age may serve again: it opened in the current generation.
    fn keeps(&self, age: Duration) -> bool {
        let generation = self.state.lock().unwrap_or_else(|e| e.into_inner());
        age < generation.started.elapsed()
    }
}

fn school_key(schema: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    schema.hash(&mut hasher);
    hasher.finish()
}

impl Db {
    /// Builds the school pools beside `main`, connecting as it does (lazily: a pool opens
    /// connections as its schools are asked for).
    pub fn new(config: &Config, main: PgPool) -> Self {
        let options = main.connect_options().as_ref().clone();
        let total = config.db_max_connections.max(1);
        let count = config.db_school_pools.max(1);
        // Twice its share, so a pool absorbs a burst before borrowing from the overflow.
        let per_shard = (2 * total).div_ceil(count as u32).max(2);
        let shard = |max: u32| {
            let schools = Arc::new(SchoolsServed::new(config.db_schools_per_connection));
            let (on_acquire, on_release) = (schools.clone(), schools.clone());
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .max_lifetime(config.db_max_lifetime)
                .idle_timeout(Duration::from_secs(60))
                .acquire_timeout(config.db_acquire_timeout)
                .test_before_acquire(false)
                .before_acquire(move |_, meta| {
                    let keep = on_acquire.keeps(meta.age);
                    Box::pin(async move { Ok(keep) })
                })
                .after_release(move |_, meta| {
                    let keep = on_release.keeps(meta.age);
                    Box::pin(async move { Ok(keep) })
                })
                .connect_lazy_with(options.clone());
            Shard { pool, schools }
        };
        let shards: Arc<[Shard]> = (0..count).map(|_| shard(per_shard)).collect();
        Self {
            main,
            shards,
            overflow: shard(total),
            request_slots: Arc::new(tokio::sync::Semaphore::new(total as usize)),
            acquire_timeout: config.db_acquire_timeout,
        }
    }

    /// The main pool: platform tables, job queue, migrations.
    pub fn main(&self) -> &PgPool {
        &self.main
    }

    /// A school transaction (see `begin_school`) on a connection of the school's own pool,
    /// or of the overflow pool when every connection of its own is busy.
    pub async fn begin_school(&self, schema: &str) -> Result<Tx, sqlx::Error> {
        let key = school_key(schema);
        let home = &self.shards[(key % self.shards.len() as u64) as usize];
        let has_room = home.pool.num_idle() > 0
            || home.pool.size() < home.pool.options().get_max_connections();
        let shard = if has_room { home } else { &self.overflow };
        shard.schools.note(key);
        begin_school(&shard.pool, schema).await
    }

    /// A request's school transaction: waits (no longer than a connection would) for one
    /// of the request slots, then begins as `begin_school`.
    pub async fn begin_request(&self, schema: &str) -> Result<(Tx, RequestSlot), sqlx::Error> {
        let slot = tokio::time::timeout(
            self.acquire_timeout,
            self.request_slots.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        Ok((self.begin_school(schema).await?, slot))
    }

    /// Closes every pool (tests that stop the database, shutdown).
    pub async fn close(&self) {
        for shard in self.shards.iter() {
            shard.pool.close().await;
        }
        self.overflow.pool.close().await;
        self.main.close().await;
    }
}

impl std::ops::Deref for Db {
    type Target = PgPool;
    fn deref(&self) -> &PgPool {
        &self.main
    }
}
