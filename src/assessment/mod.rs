//! Assessment: configuration, exam sessions and exams, marks, results, comments and ratings,
//! report cards (HTML and PDF) and their batch generation, the broadsheet (PDF, xlsx) and
//! mark sheets in and out of spreadsheets.

mod api;
pub mod batch;
pub mod broadsheet;
pub mod card;
pub mod comments;
pub mod config;
pub mod exams;
pub mod logo;
pub mod mark_sheets;
pub mod marks;
mod pages;
pub mod pdf;
pub mod progress;
pub mod report;
pub mod results;
pub mod service;
mod sheets_api;
mod sheets_pages;
pub mod stored;
pub mod taking;
mod taking_pages;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
        .merge(batch::router())
        .merge(logo::router())
        .merge(sheets_api::router())
}

pub fn pages_router() -> Router<AppState> {
    pages::router()
        .merge(batch::pages_router())
        .merge(logo::pages_router())
        .merge(taking_pages::router())
        .merge(sheets_pages::router())
}
