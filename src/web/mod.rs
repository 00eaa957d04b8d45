//! The browser front door's kit: the shared layout, the htmx-aware helpers, static assets,
//! flash messages, HTML error pages, and the layers every page router gets.

pub mod assets;
pub mod errors;
pub mod flash;
pub mod htmx;
pub mod kit;
pub mod layout;
pub mod once;

use axum::{Router, http::HeaderValue, middleware, response::Response};
use axum_login::AuthManagerLayerBuilder;
use axum_messages::MessagesManagerLayer;

use crate::{
    auth::{
        csrf,
        session::{self, Backend},
    },
    error::AppError,
    state::AppState,
};

/// Sessions, sign-in, CSRF, flash messages and security headers around a page router.
pub fn with_browser_layers(router: Router<AppState>, state: AppState) -> Router {
    let session_layer = session::session_layer(state.sessions.clone(), state.config.secure_cookies);
    let auth_layer =
        AuthManagerLayerBuilder::new(Backend::new(state.db.main().clone()), session_layer).build();
    router
        .fallback(|| async { AppError::NotFound("This page does not exist.".into()) })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            once::send_once,
        ))
        .layer(MessagesManagerLayer)
        .layer(middleware::from_fn_with_state(state.clone(), csrf::verify))
        .layer(auth_layer)
        .layer(middleware::from_fn(session_store_failures))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// The session layers answer a bare 500 when the store fails (loading the session before the
/// handler, or saving it after): that is Redis unavailable, shown as our 503 page (the
/// session is neither ended nor skipped). Our own errors carry their rendering and pass.
async fn session_store_failures(req: axum::extract::Request, next: middleware::Next) -> Response {
    let res = next.run(req).await;
    if res.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR
        && res
            .extensions()
            .get::<crate::error::RenderedError>()
            .is_none()
    {
        return axum::response::IntoResponse::into_response(AppError::SessionsUnavailable);
    }
    res
}

async fn security_headers(req: axum::extract::Request, next: middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    // Signed-in pages must not come back from the cache after sign-out.
    if !h.contains_key("cache-control") {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    res
}
