//! Staff accounts at a school and operators on the platform: lists, creation, changes,
//! disabling.

pub mod account;
mod api;
mod pages;
mod platform_api;
pub mod platform_service;
pub mod service;
mod staff_pages;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router().merge(platform_api::router())
}

/// The staff pages of a school host.
pub fn pages_router() -> Router<AppState> {
    pages::school_router()
}

/// The platform users pages of the console.
pub fn platform_pages_router() -> Router<AppState> {
    pages::platform_router()
}
