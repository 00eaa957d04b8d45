//! Schoolyard: a multi-tenant school management system. One application serves many
//! schools, each school's data in its own PostgreSQL schema.

pub mod academics;
pub mod app;
pub mod assessment;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod chatbot;
pub mod cli;
pub mod config;
pub mod context;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod docs;
pub mod error;
pub mod health;
pub mod http;
pub mod jobs;
pub mod migrate;
pub mod notices;
pub mod permissions;
pub mod promotions;
pub mod provision;
pub mod settings;
pub mod state;
pub mod students;
pub mod tenancy;
pub mod text_enum;
pub mod users;
pub mod web;
pub mod workers;

pub use app::router;
pub use state::AppState;
