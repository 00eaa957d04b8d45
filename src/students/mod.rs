//! The student register: students, guardians, photos, class registrations, CSV import and
//! exports.

mod api;
mod class_pages;
pub mod db;
pub mod guardians;
pub mod import;
pub mod names;
mod pages;
pub mod photos;
pub mod registrations;
pub mod service;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

pub fn pages_router() -> Router<AppState> {
    pages::router().merge(class_pages::router())
}
