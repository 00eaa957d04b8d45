//! The student register: students, guardians, photos, class registrations, CSV import and
//! exports.

pub mod api;
pub mod db;
pub mod guardians;
pub mod import;
pub mod pages;
pub mod photos;
pub mod registrations;

pub use db::*;
