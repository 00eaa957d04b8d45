#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One integration-test binary (fewer binaries link faster). Each test gets a fresh
//! PostgreSQL database from `#[sqlx::test]`.

mod architecture;
mod assessment;
mod auth;
mod browser;
mod errors;
mod helpers;
mod pages;
mod pdf;
mod permissions;
mod records;
mod schools;
mod tenancy;
