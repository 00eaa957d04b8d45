//! Student photos: uploaded as multipart, checked by content (not by name or header),
//! stored in the school's schema, served only to that school's authorised users.

use axum::{
    extract::Multipart,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult},
};

pub const MAX_PHOTO_BYTES: usize = 2 * 1024 * 1024;

/// The image type from the first bytes: JPEG, PNG or WebP; anything else is refused.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Reads the `photo` field of a multipart body, enforcing the size limit.
/// A photo upload's form (for the API document): one file part.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PhotoUpload {
    /// A JPEG, PNG or WebP image of at most 2 MB.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
}

/// The photo of an API upload, whose body holds the `photo` part only.
pub async fn read_photo(multipart: Multipart) -> AppResult<(Vec<u8>, &'static str)> {
    read_image_part(multipart, "photo", OtherParts::Refuse).await
}

/// Reads the image in field `name` of a page's form (its other fields are passed over).
pub async fn read_image(multipart: Multipart, name: &str) -> AppResult<(Vec<u8>, &'static str)> {
    read_image_part(multipart, name, OtherParts::Ignore).await
}

/// Reads the image of an API upload, whose body holds the `name` part only.
pub async fn read_only_image(
    multipart: Multipart,
    name: &str,
) -> AppResult<(Vec<u8>, &'static str)> {
    read_image_part(multipart, name, OtherParts::Refuse).await
}

#[derive(Clone, Copy, PartialEq)]
enum OtherParts {
    Ignore,
    Refuse,
}

/// Reads the image in field `name` of a multipart body: at most 2 MB, JPEG, PNG or WebP.
async fn read_image_part(
    mut multipart: Multipart,
    name: &str,
    others: OtherParts,
) -> AppResult<(Vec<u8>, &'static str)> {
    let bad = |msg: &str| {
        tracing::warn!(field = name, reason = msg, "upload refused");
        AppError::field(name, msg.to_owned())
    };
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("The upload could not be read.".into()))?
    {
        if field.name() != Some(name) {
            if others == OtherParts::Refuse {
                return Err(bad(&format!("Send only the `{name}` part.")));
            }
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|_| AppError::BadRequest("The upload could not be read.".into()))?
        {
            if bytes.len() + chunk.len() > MAX_PHOTO_BYTES {
                return Err(bad("The image must be at most 2 MB."));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(bad("Choose an image to upload."));
        }
        let kind = sniff_image(&bytes).ok_or_else(|| bad("Upload a JPEG, PNG or WebP image."))?;
        // The next part can be read only once this one is let go.
        drop(field);
        if others == OtherParts::Refuse
            && multipart
                .next_field()
                .await
                .map_err(|_| AppError::BadRequest("The upload could not be read.".into()))?
                .is_some()
        {
            return Err(bad(&format!("Send only the `{name}` part.")));
        }
        return Ok((bytes, kind));
    }
    Err(bad("Choose an image to upload."))
}

pub async fn save(
    ctx: &mut SchoolCtx,
    student_id: i64,
    bytes: Vec<u8>,
    kind: &str,
) -> AppResult<()> {
    super::db::get(&mut ctx.tx, student_id).await?;
    let size = bytes.len();
    sqlx::query(
        "INSERT INTO student_photos (student_id, content_type, bytes, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (student_id) DO UPDATE SET content_type = $2, bytes = $3, updated_at = $4",
    )
    .bind(student_id)
    .bind(kind)
    .bind(bytes)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    sqlx::query("UPDATE students SET has_photo = TRUE, updated_at = $2 WHERE id = $1")
        .bind(student_id)
        .bind(ctx.now)
        .execute(&mut *ctx.tx)
        .await?;
    ctx.audit(
        "upload_photo",
        "student",
        student_id,
        json!({"photo": {"content_type": kind, "bytes": size}}),
    )
    .await
}

/// The photo as an image response, private to the signed-in user.
pub async fn load(ctx: &mut SchoolCtx, student_id: i64) -> AppResult<Response> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT content_type, bytes FROM student_photos WHERE student_id = $1")
            .bind(student_id)
            .fetch_optional(&mut *ctx.tx)
            .await?;
    let (kind, bytes) =
        row.ok_or_else(|| AppError::NotFound("This student has no photo.".into()))?;
    Ok(image_response(&kind, bytes))
}

/// A stored image as a response, private to the signed-in user.
pub fn image_response(kind: &str, bytes: Vec<u8>) -> Response {
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}
