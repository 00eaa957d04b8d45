//! Notices (issue 10, items 9-11): a title and a plain-text body, an optional attachment,
//! a publish time and an expiry, for the whole school, a class level, a class arm or chosen
//! pupils; for parents, staff or both. Drafts are edited; a published notice is only
//! withdrawn or re-issued. Staff acknowledge those that ask; parents' notices are read per
//! pupil.

mod api;
pub mod attachment;
pub mod db;
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
