//! `/healthz` (process up), `/readyz` (database, and Redis when configured), `/metrics`.

use std::time::Instant;

use axum::{
    Json, Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use tower_sessions_redis_store::fred::prelude::ClientLike;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let db_ok = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(state.db.main())
        .await
        .is_ok();
    let redis = match &state.redis {
        None => "not configured",
        // Within a second, whatever the client's own timeouts.
        Some(pool) => match tokio::time::timeout(
            std::time::Duration::from_millis(900),
            pool.ping::<String>(None),
        )
        .await
        {
            Ok(Ok(_)) => "ok",
            _ => "unavailable",
        },
    };
    let ready = db_ok && redis != "unavailable";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": if db_ok { "ok" } else { "unavailable" },
        "redis": redis,
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    // Not public: the bearer of METRICS_TOKEN, or anyone on a development machine.
    let bearer = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match &state.config.metrics_token {
        Some(token) => bearer
            .is_some_and(|b| crate::auth::csrf::constant_time_eq(b.as_bytes(), token.as_bytes())),
        None => state.config.development,
    };
    // Never at a school's address, whoever asks.
    let host = crate::tenancy::resolve::request_host(&req).unwrap_or_default();
    let at_a_school = matches!(state.tenants.by_host(&state.db, &host).await, Ok(Some(_)));
    if !allowed || at_a_school {
        return StatusCode::NOT_FOUND.into_response();
    }
    match &state.metrics {
        Some(handle) => (
            [("content-type", "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Request count and latency per route.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Static label values: no allocation per request, and a bounded number of series.
    let area = match req.uri().path() {
        p if p.starts_with("/api/v1/school/") => "school_api",
        p if p.starts_with("/api/v1/system/") => "system_api",
        p if p.starts_with("/api/") => "docs",
        p if p.starts_with("/static/") => "static",
        _ => "pages",
    };
    let response = next.run(req).await;
    let class = match response.status().as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("http_requests_total", "area" => area, "status" => class).increment(1);
    metrics::histogram!("http_request_duration_seconds", "area" => area, "status" => class)
        .record(started.elapsed().as_secs_f64());
    response
}
