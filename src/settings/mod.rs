//! School settings: address, motto, the admission number pattern and the phone country code.

pub mod admission_number;
mod api;
pub mod db;
mod pages;
mod service;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Validates, saves and audits a change of the settings (fields left out are kept).
pub use service::save;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

pub fn pages_router() -> Router<AppState> {
    pages::router()
}
