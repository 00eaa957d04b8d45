//! The end of the school year (issue 11): where each class arm goes next, the new session
//! made from the current one, the promotion rules, a preview of every pupil's outcome with
//! overrides by a person, and the commit that moves every pupil into the new session in one
//! transaction.

mod api;
pub mod db;
pub mod figures;
mod pages;
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
