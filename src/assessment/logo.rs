//! The school's logo, printed on report cards: uploaded like a pupil's photo (checked by
//! content, at most 2 MB) and stored in the school's schema.

use axum::{
    http::{HeaderMap, StatusCode},
    response::Response,
};
use axum_messages::Messages;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, ErrorBody},
    http::ApiMultipart,
    permissions::{
        access::{guard, guard_exact},
        catalogue::Action,
    },
    state::AppState,
    students::photos::{image_response, read_image, read_only_image},
    web::{flash, htmx::see_other, kit::field_errors},
};

async fn save(ctx: &mut SchoolCtx, bytes: Vec<u8>, kind: &str) -> AppResult<()> {
    let size = bytes.len();
    sqlx::query(
        "INSERT INTO school_logo (id, content_type, content, updated_at) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET content_type = $1, content = $2, updated_at = $3",
    )
    .bind(kind)
    .bind(bytes)
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(
        "upload_logo",
        "settings",
        1,
        json!({"logo": {"content_type": kind, "bytes": size}}),
    )
    .await
}

/// The logo's version (its upload time), when there is one: page URLs carry it so a new
/// logo is not hidden by the browser's cache.
pub async fn version(conn: &mut sqlx::PgConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM updated_at)::bigint FROM school_logo WHERE id = 1",
    )
    .fetch_optional(conn)
    .await
}

async fn load(ctx: &mut SchoolCtx) -> AppResult<Response> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT content_type, content FROM school_logo WHERE id = 1")
            .fetch_optional(&mut *ctx.tx)
            .await?;
    let (kind, bytes) = row.ok_or_else(|| AppError::NotFound("The school has no logo.".into()))?;
    Ok(image_response(&kind, bytes))
}

#[utoipa::path(get, path = "/api/v1/school/settings/logo/", tag = "school-settings", security(("bearer" = [])),
    responses((status = 200, description = "The logo image"), (status = 404, description = "No logo", body = ErrorBody)))]
async fn get_logo(mut ctx: SchoolCtx) -> AppResult<Response> {
    load(&mut ctx).await
}

/// The upload's form (for the API document): one file part.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct LogoUpload {
    /// A JPEG, PNG or WebP image of at most 2 MB.
    #[schema(value_type = String, format = Binary)]
    logo: Vec<u8>,
}

/// Uploads the logo: multipart field `logo`, a JPEG, PNG or WebP image of at most 2 MB.
#[utoipa::path(put, path = "/api/v1/school/settings/logo/", tag = "school-settings", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = LogoUpload, description = "Field `logo`: the image"),
    responses((status = 204, description = "Saved"), (status = 422, description = "Not an image, or too large", body = ErrorBody)))]
async fn put_logo(
    mut ctx: SchoolCtx,
    ApiMultipart(multipart): ApiMultipart,
) -> AppResult<StatusCode> {
    let (bytes, kind) = read_only_image(multipart, "logo").await?;
    save(&mut ctx, bytes, kind).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_logo, put_logo))
        .layer(guard("settings"))
}

async fn logo_page(mut ctx: SchoolCtx) -> AppResult<Response> {
    load(&mut ctx).await
}

async fn upload_logo_page(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiMultipart(multipart): ApiMultipart,
) -> AppResult<Response> {
    match read_image(multipart, "logo").await {
        Ok((bytes, kind)) => {
            save(&mut ctx, bytes, kind).await?;
            ctx.commit().await?;
            flash::success(&messages, "Logo saved; report cards print it.");
        }
        Err(e) => flash::error(&messages, field_errors(e)?.get("logo")),
    }
    Ok(see_other(&headers, "/settings/assessment"))
}

pub fn pages_router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/settings/logo",
            get(logo_page).layer(guard_exact(Action::View, "results")),
        )
        .route(
            "/settings/logo",
            post(upload_logo_page).layer(guard_exact(Action::Change, "settings")),
        )
}
