//! The school day: attendance codes and reasons, the calendar's closures, and registers per
//! class, day and period (issue 10).

pub mod absences;
mod api;
pub mod calendar;
mod calendar_pages;
pub mod codes;
mod pages;
pub mod registers;
mod report_pages;
pub mod reports;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

pub fn pages_router() -> Router<AppState> {
    pages::router()
        .merge(report_pages::router())
        .merge(calendar_pages::router())
}
