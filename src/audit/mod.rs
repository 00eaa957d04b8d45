//! Audit trail: every state change writes a row in the same transaction as the change.
//! School changes go to the school's `audit_log`, platform changes to `platform_audit_log`.

mod api;
pub mod erasure;
mod pages;
pub mod query;
pub mod trail;
pub mod views;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

pub fn pages_router() -> Router<AppState> {
    pages::router()
}
