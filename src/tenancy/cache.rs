//! Host -> school and id -> school lookups, cached in memory so a request does not cost a
//! database round trip. Entries expire after a TTL, and every change to `clients` or
//! `domains` (on any server) clears the cache through LISTEN/NOTIFY.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sqlx::{PgPool, postgres::PgListener};

use super::scope::{DEFAULT_TIME_ZONE, SchoolRef};

/// Bound on cached entries, so a flood of random Host headers cannot grow memory.
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
struct Entries {
    by_host: HashMap<String, (Instant, Option<SchoolRef>)>,
    by_id: HashMap<i64, (Instant, Option<SchoolRef>)>,
    by_schema: HashMap<String, (Instant, Option<SchoolRef>)>,
}

pub struct TenantCache {
    entries: RwLock<Entries>,
    ttl: Duration,
}

#[derive(sqlx::FromRow)]
struct SchoolRow {
    id: i64,
    schema_name: String,
    name: String,
    code: String,
    is_active: bool,
    time_zone: String,
}

impl From<SchoolRow> for SchoolRef {
    fn from(r: SchoolRow) -> Self {
        SchoolRef {
            id: r.id,
            schema: r.schema_name.into(),
            name: r.name.into(),
            code: r.code.into(),
            is_active: r.is_active,
            // Only names that parse are stored; the default is the fallback all the same.
            time_zone: r.time_zone.parse().unwrap_or(DEFAULT_TIME_ZONE),
        }
    }
}

fn fresh<K: std::hash::Hash + Eq + ?Sized, Q>(
    map: &HashMap<Q, (Instant, Option<SchoolRef>)>,
    key: &K,
    ttl: Duration,
) -> Option<Option<SchoolRef>>
where
    Q: std::borrow::Borrow<K> + std::hash::Hash + Eq,
{
    map.get(key)
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
}

impl TenantCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            ttl,
        }
    }

    pub fn invalidate(&self) {
        if let Ok(mut e) = self.entries.write() {
            *e = Entries::default();
        }
    }

    fn store(&self, f: impl FnOnce(&mut Entries)) {
        if let Ok(mut e) = self.entries.write() {
            if e.by_host.len() + e.by_id.len() + e.by_schema.len() > MAX_ENTRIES {
                *e = Entries::default();
            }
            f(&mut e);
        }
    }

    pub async fn by_host(
        &self,
        pool: &PgPool,
        host: &str,
    ) -> Result<Option<SchoolRef>, sqlx::Error> {
        if let Some(hit) = self
            .entries
            .read()
            .ok()
            .and_then(|e| fresh(&e.by_host, host, self.ttl))
        {
            return Ok(hit);
        }
        let row: Option<SchoolRow> = sqlx::query_as(
            "SELECT c.id, c.schema_name, c.name, c.code, c.is_active, c.time_zone
               FROM public.domains d JOIN public.clients c ON c.id = d.client_id
              WHERE d.domain = $1",
        )
        .bind(host)
        .fetch_optional(pool)
        .await?;
        let school = row.map(SchoolRef::from);
        let value = school.clone();
        self.store(|e| {
            e.by_host.insert(host.to_owned(), (Instant::now(), value));
        });
        Ok(school)
    }

    pub async fn by_id(&self, pool: &PgPool, id: i64) -> Result<Option<SchoolRef>, sqlx::Error> {
        if let Some(hit) = self
            .entries
            .read()
            .ok()
            .and_then(|e| fresh(&e.by_id, &id, self.ttl))
        {
            return Ok(hit);
        }
        let row: Option<SchoolRow> = sqlx::query_as(
            "SELECT id, schema_name, name, code, is_active, time_zone FROM public.clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?;
        let school = row.map(SchoolRef::from);
        let value = school.clone();
        self.store(|e| {
            e.by_id.insert(id, (Instant::now(), value));
        });
        Ok(school)
    }

    pub async fn by_schema(
        &self,
        pool: &PgPool,
        schema: &str,
    ) -> Result<Option<SchoolRef>, sqlx::Error> {
        if let Some(hit) = self
            .entries
            .read()
            .ok()
            .and_then(|e| fresh(&e.by_schema, schema, self.ttl))
        {
            return Ok(hit);
        }
        let row: Option<SchoolRow> = sqlx::query_as(
            "SELECT id, schema_name, name, code, is_active, time_zone FROM public.clients WHERE schema_name = $1",
        )
        .bind(schema)
        .fetch_optional(pool)
        .await?;
        let school = row.map(SchoolRef::from);
        let value = school.clone();
        self.store(|e| {
            e.by_schema
                .insert(schema.to_owned(), (Instant::now(), value));
        });
        Ok(school)
    }
}

/// Listens for `schoolyard_tenancy` notifications and clears the cache on each one, and
/// whenever the listener reconnects (a notification may have been missed meanwhile).
pub fn spawn_invalidation_listener(
    pool: PgPool,
    cache: Arc<TenantCache>,
) -> tokio::task::JoinHandle<()> {
    // The listener holds its connection for good: it gets a pool of its own, so it never
    // takes one of the request pool's slots.
    let options = (*pool.connect_options()).clone();
    let pool: PgPool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options);
    tokio::spawn(async move {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if listener.listen("schoolyard_tenancy").await.is_ok() {
                        cache.invalidate();
                        loop {
                            tokio::select! {
                                received = listener.recv() => {
                                    cache.invalidate();
                                    if received.is_err() {
                                        break;
                                    }
                                }
                                // Stop with the pool (tests build and drop many apps).
                                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                                    if pool.is_closed() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "tenancy listener could not connect"),
            }
            cache.invalidate();
            if pool.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
