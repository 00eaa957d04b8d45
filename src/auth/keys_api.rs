//! `/api/v1/system/api-keys/`: platform operators issue, list and revoke schools' API keys.

use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::keys::{self, ApiKeyOut, IssuedKey, KeyFilter, NewApiKey};
use crate::{
    context::PlatformCtx,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiJson, ApiPath, ApiQuery, ListParams, Page, PageParams},
    permissions::access::guard,
    state::AppState,
};

/// API keys, newest first (revoked ones last); `?school=` for one school's.
#[utoipa::path(get, path = "/api/v1/system/api-keys/", tag = "system-api-keys",
    security(("bearer" = [])),
    params(PageParams, KeyFilter),
    responses((status = 200, description = "OK", body = Page<ApiKeyOut>), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 422, description = "Bad page", body = ErrorBody)))]
async fn list_keys(
    mut ctx: PlatformCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
    ApiQuery(filter): ApiQuery<KeyFilter>,
) -> AppResult<Json<Page<ApiKeyOut>>> {
    let params = ListParams::from(&paging);
    let (rows, count) = keys::list(&mut ctx.tx, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

/// Issues a key for one school (platform superadmins only: a key acts inside the school).
/// The answer carries the key (`secret`) this once: only a hash is kept.
#[utoipa::path(post, path = "/api/v1/system/api-keys/", tag = "system-api-keys",
    security(("bearer" = [])),
    request_body = NewApiKey,
    responses((status = 201, description = "Issued", body = IssuedKey), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn issue_key(
    mut ctx: PlatformCtx,
    ApiJson(body): ApiJson<NewApiKey>,
) -> AppResult<(StatusCode, Json<IssuedKey>)> {
    let issued = keys::issue(&mut ctx, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[utoipa::path(get, path = "/api/v1/system/api-keys/{id}/", tag = "system-api-keys",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Key id")),
    responses((status = 200, description = "OK", body = ApiKeyOut), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_key(mut ctx: PlatformCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<ApiKeyOut>> {
    let key = keys::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(key))
}

/// Revokes a key: the next request with it is refused. The key stays listed as revoked.
#[utoipa::path(delete, path = "/api/v1/system/api-keys/{id}/", tag = "system-api-keys",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Key id")),
    responses((status = 200, description = "Revoked", body = ApiKeyOut), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)))]
async fn revoke_key(mut ctx: PlatformCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<ApiKeyOut>> {
    let key = keys::revoke(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(Json(key))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, issue_key))
        .routes(routes!(get_key, revoke_key))
        .layer(guard("api_keys"))
}
