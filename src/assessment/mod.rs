//! Assessment: configuration, exam sessions and exams, marks, results, comments and ratings,
//! report cards (HTML and PDF) and their batch generation.

pub mod api;
pub mod batch;
pub mod card;
pub mod comments;
pub mod config;
pub mod exams;
pub mod logo;
pub mod marks;
pub mod pages;
pub mod pdf;
pub mod report;
pub mod results;
pub mod zip;
