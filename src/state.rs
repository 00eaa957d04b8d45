//! The application state every handler receives: configuration, the pool, the tenant cache,
//! token keys, the session store. Ground floor: it imports no domain.

use std::{ops::Deref, sync::Arc, time::Duration};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tower_sessions_redis_store::{
    RedisStore,
    fred::prelude::{
        ClientLike, Config as RedisConfig, ConnectionConfig, PerformanceConfig, Pool as RedisPool,
        ReconnectPolicy,
    },
};

use crate::{
    auth::{password, session::Store, tokens::JwtKeys},
    config::Config,
    db::Db,
    tenancy::cache::{self, TenantCache},
};

pub struct App {
    pub config: Config,
    pub db: Db,
    pub tenants: Arc<TenantCache>,
    pub jwt: JwtKeys,
    pub redis: Option<RedisPool>,
    pub sessions: Store,
    pub metrics: Option<PrometheusHandle>,
    /// Verified against when an email is unknown, so a failed login takes the same time.
    pub dummy_hash: String,
    /// The tenant cache's LISTEN task: it holds a connection of its own, closed when the
    /// application goes away.
    _listener: ListenerTask,
}

struct ListenerTask(tokio::task::JoinHandle<()>);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    pub async fn build(config: Config, db: PgPool) -> anyhow::Result<Self> {
        let redis = match &config.redis_url {
            Some(url) => {
                // Short timeouts: with Redis gone, a page that needs its session answers a
                // 503 in about a second instead of hanging; reconnection is retried forever,
                // so the app recovers by itself when Redis is back.
                let performance = PerformanceConfig {
                    default_command_timeout: Duration::from_millis(800),
                    ..PerformanceConfig::default()
                };
                let connection = ConnectionConfig {
                    connection_timeout: Duration::from_millis(800),
                    internal_command_timeout: Duration::from_millis(800),
                    max_command_attempts: 1,
                    ..ConnectionConfig::default()
                };
                let pool = RedisPool::new(
                    RedisConfig::from_url(url)?,
                    Some(performance),
                    Some(connection),
                    Some(ReconnectPolicy::new_constant(0, 500)),
                    4,
                )?;
                pool.connect();
                // Starting while Redis is down is allowed: sign-in pages answer 503 until it
                // is back, everything else works.
                if tokio::time::timeout(Duration::from_secs(2), pool.wait_for_connect())
                    .await
                    .map_or(true, |r| r.is_err())
                {
                    tracing::warn!(
                        "Redis is not answering yet; sessions are unavailable until it does"
                    );
                }
                Some(pool)
            }
            None => None,
        };
        let sessions = match &redis {
            Some(pool) => Store::Redis(RedisStore::new(pool.clone())),
            None => Store::Memory(tower_sessions::MemoryStore::default()),
        };
        let tenants = Arc::new(TenantCache::new(config.tenant_cache_ttl));
        let listener = ListenerTask(cache::spawn_invalidation_listener(
            db.clone(),
            tenants.clone(),
        ));
        let db = Db::new(&config, db);
        let dummy_hash = password::hash("schoolyard-timing-equaliser".to_owned()).await?;
        Ok(Self(Arc::new(App {
            jwt: JwtKeys::new(&config)?,
            config,
            db,
            tenants,
            redis,
            sessions,
            metrics: metrics_handle(),
            dummy_hash,
            _listener: listener,
        })))
    }
}

/// Installs the Prometheus recorder once per process (tests build many apps).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}
