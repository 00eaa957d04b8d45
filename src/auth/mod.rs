//! Authentication: passwords, JWTs, cookie sessions, login throttling, CSRF.

pub mod api;
pub mod csrf;
pub mod login;
pub mod pages;
pub mod password;
pub mod session;
pub mod throttle;
pub mod tokens;
