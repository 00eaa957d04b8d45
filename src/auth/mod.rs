//! Authentication: accounts, passwords, sign-in (pages and API), tokens, sessions, CSRF and
//! login throttling.

pub mod account;
mod api;
pub mod csrf;
pub mod keys;
mod keys_api;
mod keys_pages;
pub mod login;
mod pages;
pub mod password;
pub mod session;
pub mod throttle;
pub mod tokens;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// `/api/v1/system/auth/…` and `/api/v1/school/auth/…`.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::system_router()
        .merge(api::school_router())
        .merge(keys_api::router())
}

/// Sign-in and sign-out pages (platform console and school hosts).
pub fn pages_router() -> Router<AppState> {
    pages::router()
}

/// The console's API keys page (platform host).
pub fn console_router() -> Router<AppState> {
    keys_pages::router()
}
