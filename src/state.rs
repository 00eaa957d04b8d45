//! The application state every handler receives: configuration, the pool, the tenant cache,
//! token keys, the session store. Ground floor: it imports no domain.

use std::{ops::Deref, sync::Arc};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tower_sessions_redis_store::{
    RedisStore,
    fred::prelude::{ClientLike, Config as RedisConfig, Pool as RedisPool},
};

use crate::{
    auth::{password, session::Store, tokens::JwtKeys},
    config::Config,
    tenancy::cache::{self, TenantCache},
};

pub struct App {
    pub config: Config,
    pub db: PgPool,
    pub tenants: Arc<TenantCache>,
    pub jwt: JwtKeys,
    pub redis: Option<RedisPool>,
    pub sessions: Store,
    pub metrics: Option<PrometheusHandle>,
    /// Verified against when an email is unknown, so a failed login takes the same time.
    pub dummy_hash: String,
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
                let pool = RedisPool::new(RedisConfig::from_url(url)?, None, None, None, 4)?;
                pool.init().await?;
                Some(pool)
            }
            None => None,
        };
        let sessions = match &redis {
            Some(pool) => Store::Redis(RedisStore::new(pool.clone())),
            None => Store::Memory(tower_sessions::MemoryStore::default()),
        };
        let tenants = Arc::new(TenantCache::new(config.tenant_cache_ttl));
        cache::spawn_invalidation_listener(db.clone(), tenants.clone());
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
