//! Tenancy: which school a request belongs to (DESIGN §2), and the schools themselves.

mod api;
pub mod cache;
mod export;
mod pages;
pub mod resolve;
pub mod schools;
pub mod scope;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The system API's schools, domains and set-up.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The platform console's school pages.
pub fn pages_router() -> Router<AppState> {
    pages::router()
}
