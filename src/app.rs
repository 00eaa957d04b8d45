//! The top floor: assembles every domain's API and page routers into one router with two
//! front doors (HTML and JSON) over the same services, and adds the layers.

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::HeaderName,
    middleware,
    response::IntoResponse,
};
use tower::ServiceExt;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use utoipa_axum::router::OpenApiRouter;

use crate::{
    academics, assessment, attendance, audit, auth, chatbot, dashboard, docs,
    error::AppError,
    health, notices, permissions, promotions, settings,
    state::AppState,
    students,
    tenancy::{self, scope::Scope},
    users, web,
};

/// Every JSON endpoint, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::api_router())
        .merge(tenancy::api_router())
        .merge(users::api_router())
        .merge(permissions::api_router())
        .merge(audit::api_router())
        .merge(academics::api_router())
        .merge(students::api_router())
        .merge(attendance::api_router())
        .merge(notices::api_router())
        .merge(promotions::api_router())
        .merge(settings::api_router())
        .merge(assessment::api_router())
        .merge(chatbot::api_router())
}

/// The platform console's pages (main domain).
fn platform_pages(state: AppState) -> Router {
    let router = Router::new()
        .merge(auth::pages_router())
        .merge(tenancy::pages_router())
        .merge(users::platform_pages_router())
        .merge(auth::console_router())
        .merge(chatbot::console_router());
    web::with_browser_layers(router, state)
}

/// A school host's pages.
fn school_pages(state: AppState) -> Router {
    let router = Router::new()
        .merge(auth::pages_router())
        .merge(dashboard::pages_router())
        .merge(users::pages_router())
        .merge(academics::pages_router())
        .merge(students::pages_router())
        .merge(permissions::pages_router())
        .merge(audit::pages_router())
        .merge(settings::pages_router())
        .merge(attendance::pages_router())
        .merge(notices::pages_router())
        .merge(promotions::pages_router())
        .merge(assessment::pages_router())
        .merge(chatbot::pages_router());
    web::with_browser_layers(router, state)
}

/// The whole application as a router (tests drive it with `oneshot`).
pub fn router(state: AppState) -> Router {
    let (api, openapi) = api_router().split_for_parts();
    let openapi = docs::finish(openapi, &state.config);

    let platform_pages = platform_pages(state.clone());
    let school_pages = school_pages(state.clone());

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
        .merge(web::assets::static_router())
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .fallback_service(pages)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            tenancy::resolve::resolve_tenant,
        ))
        // The whole body first, then the handler (and its database connection).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::limits::read_body_first,
        ))
        .layer(middleware::from_fn(crate::http::limits::limit_handler_time))
        .layer(middleware::from_fn(crate::http::limits::refuse_long_uris))
        .layer(middleware::from_fn(web::errors::render_html_errors))
        // Extractors refuse larger bodies with our 413 error shape.
        .layer(DefaultBodyLimit::max(crate::http::limits::MAX_BODY_BYTES))
        .layer(middleware::from_fn(health::track_metrics))
        // Outermost but for panics and tracing: a preflight is answered before anything
        // else looks at the request.
        .layer(docs::cors_from_main_domain(&state.config))
        .layer(CatchPanicLayer::custom(|_| {
            AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        // One line per request at the default level: method, path, request id and school
        // (recorded by the tenant resolver) from the span, status and duration here.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id,
                        school = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    |res: &axum::response::Response,
                     latency: std::time::Duration,
                     _: &tracing::Span| {
                        tracing::info!(
                            status = res.status().as_u16(),
                            ms = latency.as_millis() as u64,
                            "served"
                        );
                    },
                ),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(keep_request_id_if_well_formed))
        .layer(middleware::from_fn_with_state(state.clone(), global_headers))
        .with_state(state)
}

/// A client's `X-Request-Id` is kept only when short and plain (it goes into logs and back
/// into responses); otherwise a fresh one is made.
async fn keep_request_id_if_well_formed(
    mut req: Request,
    next: middleware::Next,
) -> axum::response::Response {
    let ok = req.headers().get("x-request-id").is_none_or(|v| {
        v.len() <= 64
            && v.as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    if !ok {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Headers for every answer: `nosniff`; HSTS when served over https; nothing authenticated
/// by a token kept in a cache; a strict CSP on any HTML page that has none (the API docs).
async fn global_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let authenticated = req.headers().contains_key(header::AUTHORIZATION)
        || req.headers().contains_key("x-api-key");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if state.config.secure_cookies {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if authenticated && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html && !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    res
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
