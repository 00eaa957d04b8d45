//! Permissions: `view_/add_/change_/delete_<resource>` for schools, bundled into roles that
//! users hold; platform permissions for operators. HTTP methods map onto actions, and the
//! same check guards the API and the pages.

pub mod access;
mod api;
pub mod catalogue;
mod pages;
pub mod roles;
pub mod service;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

pub fn pages_router() -> Router<AppState> {
    pages::router()
}
