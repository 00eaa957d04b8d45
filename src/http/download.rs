//! File downloads: the same headers for every attachment the app serves.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};

/// `Content-Disposition` for `filename` (RFC 6266): an ASCII `filename` (anything else, quotes,
/// slashes and control characters become `-`) and the exact name as `filename*`, so a class
/// named with a line break or non-ASCII letters never breaks the header.
pub fn disposition(kind: &str, filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/' | ';' | '%') || c == ' ' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `bytes` as a file named `filename`, shown (`inline`) or saved (`attachment`), never cached
/// by shared caches.
fn file(disposition_kind: &str, content_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                disposition(disposition_kind, filename),
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
