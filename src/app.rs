//! Application state and the router: one router, two front doors (HTML and JSON) over the
//! same services.

use std::{ops::Deref, sync::Arc};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::HeaderName,
    middleware,
    response::IntoResponse,
};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower::ServiceExt;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tower_sessions_redis_store::{
    RedisStore,
    fred::prelude::{ClientLike, Config as RedisConfig, Pool as RedisPool},
};

use crate::{
    auth::{self, session::Store, tokens::JwtKeys},
    config::Config,
    docs,
    error::AppError,
    health,
    tenancy::{self, Scope, TenantCache},
    web,
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
        tenancy::cache::spawn_invalidation_listener(db.clone(), tenants.clone());
        let dummy_hash = auth::password::hash("schoolyard-timing-equaliser".to_owned()).await?;
        Ok(Self(Arc::new(App {
            jwt: JwtKeys::new(&config)?,
            config,
            db,
            tenants,
            redis,
            sessions,
            metrics: health::metrics_handle(),
            dummy_hash,
        })))
    }
}

/// The whole application as a router (tests drive it with `oneshot`).
pub fn router(state: AppState) -> Router {
    let (api, openapi) = crate::api_router().split_for_parts();
    let openapi = docs::finish(openapi);

    let platform_pages = web::platform_pages(state.clone());
    let school_pages = web::school_pages(state.clone());

    // Pages are chosen by the scope tenant resolution found: platform console at the main
    // domain, school pages at a school's host.
    let pages = tower::service_fn(move |req: Request| {
        let platform_pages = platform_pages.clone();
        let school_pages = school_pages.clone();
        async move {
            let path = req.uri().path();
            if path.starts_with("/api/") || path == "/api" {
                return Ok(AppError::NotFound("No such endpoint.".into()).into_response());
            }
            match req.extensions().get::<Scope>() {
                Some(Scope::School(_)) => school_pages.oneshot(req).await,
                Some(Scope::Platform) => platform_pages.oneshot(req).await,
                _ => Ok(AppError::not_found().into_response()),
            }
        }
    });

    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .merge(docs::router(openapi))
        .merge(health::router())
        .merge(web::static_router())
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .fallback_service(pages)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            tenancy::resolve::resolve_tenant,
        ))
        .layer(middleware::from_fn(web::errors::render_html_errors))
        // Extractors refuse larger bodies with our 413 error shape.
        .layer(DefaultBodyLimit::max(10 * 1024 * 1024))
        .layer(middleware::from_fn(health::track_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Serves until Ctrl-C / SIGTERM.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
