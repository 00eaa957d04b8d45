//! Schoolyard: a multi-tenant school management system. One application serves many
//! schools, each school's data in its own PostgreSQL schema.

pub mod academics;
pub mod app;
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod context;
pub mod db;
pub mod demo;
pub mod docs;
pub mod error;
pub mod health;
pub mod http;
pub mod jobs;
pub mod migrate;
pub mod permissions;
pub mod settings;
pub mod students;
pub mod tenancy;
pub mod users;
pub mod web;

pub use app::{AppState, router};
use utoipa_axum::router::OpenApiRouter;

/// Every JSON endpoint, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::api::system_router())
        .merge(auth::api::school_router())
        .merge(tenancy::api::router())
        .merge(users::platform_api::router())
        .merge(users::api::router())
        .merge(permissions::api::router())
        .merge(audit::api::router())
        .merge(academics::api::router())
        .merge(students::api::router())
        .merge(settings::router())
        .merge(assessment::api::router())
        .merge(assessment::batch::router())
        .merge(assessment::logo::router())
}
