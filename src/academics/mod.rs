//! Academic structure of a school: sessions and terms, forms (class levels), class arms,
//! subjects, and per session the academic classes with their teachers.

pub mod api;
pub mod db;
pub mod pages;
pub mod setup;

pub use db::*;
