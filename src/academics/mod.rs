//! Academic structure of a school: sessions and terms, class levels, class arms, subjects,
//! and per session the academic classes with their teachers.

mod api;
pub mod db;
mod pages;
pub mod service;
pub mod setup;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

pub fn pages_router() -> Router<AppState> {
    pages::router()
}
