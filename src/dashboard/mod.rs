//! The school's start page: what each user has to do today, from every domain's figures.

mod db;
mod pages;

use axum::Router;

use crate::state::AppState;

pub fn pages_router() -> Router<AppState> {
    pages::router()
}
