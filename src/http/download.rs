//! File downloads: the same headers for every attachment the app serves.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};

/// `bytes` as a file named `filename`, shown (`inline`) or saved (`attachment`), never cached
/// by shared caches.
fn file(disposition: &str, content_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// A CSV file.
pub fn csv(filename: &str, bytes: Vec<u8>) -> Response {
    file("attachment", "text/csv; charset=utf-8", filename, bytes)
}

/// A PDF shown in the browser (`inline`), saved under `filename`.
pub fn inline_pdf(filename: &str, bytes: Vec<u8>) -> Response {
    file("inline", "application/pdf", filename, bytes)
}

/// An Excel workbook (`.xlsx`).
pub fn xlsx(filename: &str, bytes: Vec<u8>) -> Response {
    file(
        "attachment",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename,
        bytes,
    )
}
