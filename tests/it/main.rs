#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One integration-test binary (fewer binaries link faster). Each test gets a fresh
//! PostgreSQL database from `#[sqlx::test]`.
//!
//! A test in a few lines (see `helpers` for the clients and `helpers::fixtures` for the
//! shared schools, classes and exams; test modules never import each other):
//!
//! ```ignore
//! let app = TestApp::new(pool).await;
//! let admin = fixtures::school_with_year(&app, "alpha").await; // a Client
//! assert_eq!(admin.get("/api/v1/school/subjects/").await.status, StatusCode::OK);
//! ```
//!
//! Library internals are reached only through `helpers::internals`.

mod architecture;
mod assessment;
mod attendance;
mod auth;
mod browser;
mod chatbot;
mod chatbot_staff;
mod clock;
mod contract;
mod errors;
mod faults;
mod helpers;
mod imports;
mod notices;
mod offboarding;
mod pages;
mod pdf;
mod permissions;
mod promotions;
mod records;
mod results_day;
mod results_stored;
mod schools;
mod sheets;
mod tenancy;
mod trust;
