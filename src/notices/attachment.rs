//! A notice's one attachment: a PDF or an image, at most 5 MB, its type read from its first
//! bytes (never from the file's name or the part's declared type), kept in the school's
//! schema next to the notice and served only to those who may read the notice.

use axum::{
    extract::Multipart,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::error::{AppError, AppResult};

pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// The multipart part that carries the file.
pub const FIELD: &str = "file";

/// The type of a PDF, JPEG, PNG or WebP from its first bytes; anything else is None.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.len() > 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else {
        None
    }
}

/// A file name safe to store and send back: its last path segment, control characters
/// dropped, at most 120 characters, with the extension of its real type.
fn clean_name(raw: Option<&str>, kind: &str) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let stem: String = base
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    let stem = match stem.rsplit_once('.') {
        Some((s, _)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(_) => "attachment".to_owned(),
        None if stem.is_empty() => "attachment".to_owned(),
        None => stem,
    };
    let stem: String = stem.chars().take(110).collect();
    let ext = match kind {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        _ => "webp",
    };
    format!("{stem}.{ext}")
}

/// An uploaded attachment, checked.
#[derive(Debug)]
pub struct Upload {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The form of an attachment upload (for the API document): one file part.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    /// A PDF, JPEG, PNG or WebP file of at most 5 MB (checked by its content).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Reads the `file` part of a multipart body (other parts are passed over), within the
/// size limit, and checks its content. Bad input is a 422 on `file`, never a 500.
pub async fn read(mut multipart: Multipart) -> AppResult<Upload> {
    let unreadable = || AppError::BadRequest("The upload could not be read.".into());
    let bad = |msg: &str| {
        tracing::warn!(reason = msg, "notice attachment refused");
        AppError::field(FIELD, msg.to_owned())
    };
    while let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? {
        if field.name() != Some(FIELD) {
            continue;
        }
        let name = field.file_name().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
            if bytes.len() + chunk.len() > MAX_ATTACHMENT_BYTES {
                return Err(bad("The attachment must be at most 5 MB."));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(bad("Choose a file to attach."));
        }
        let kind =
            sniff(&bytes).ok_or_else(|| bad("Attach a PDF or an image (JPEG, PNG or WebP)."))?;
        return Ok(Upload {
            filename: clean_name(name.as_deref(), kind),
            content_type: kind,
            bytes,
        });
    }
    Err(bad("Choose a file to attach."))
}

/// The stored attachment of a notice as a download, private to the signed-in user.
pub fn response(filename: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) =
        HeaderValue::from_str(&crate::http::download::disposition("attachment", filename))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use crate::notices::attachment::{clean_name, sniff};

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(b"hello, not a pdf"), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
    }

    #[test]
    fn names_are_cleaned_and_match_the_type() {
        assert_eq!(
            clean_name(Some("../../etc/Letter.PDF"), "application/pdf"),
            "Letter.pdf"
        );
        assert_eq!(clean_name(Some("photo.pdf"), "image/png"), "photo.png");
        assert_eq!(clean_name(None, "application/pdf"), "attachment.pdf");
        assert_eq!(
            clean_name(Some(".pdf"), "application/pdf"),
            "attachment.pdf"
        );
    }
}
