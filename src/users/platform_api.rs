//! Platform users (operators) through the system API: `/api/v1/system/users/`.

use super::platform_service::{
    CreatePlatformUser, PlatformRole, UpdatePlatformUser, create_platform_user,
    list_platform_users, platform_roles, update_platform_user,
};
use crate::auth::account::UserOut;
use crate::{
    context::PlatformCtx,
    error::{AppError, AppResult, ErrorBody},
    http::{ApiJson, ApiPath, ApiQuery, ListParams, Page, PageParams},
    permissions::access::guard,
    state::AppState,
};
use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

#[utoipa::path(get, path = "/api/v1/system/users/", tag = "system-users", security(("bearer" = [])),
    params(ListParams, ("ordering" = Option<String>, Query, description = "One of email, full_name, created_at; `-` in front for descending.", pattern = "^(-?(email|full_name|created_at))?$")),
    responses((status = 200, description = "OK", body = Page<UserOut>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn system_list_users(
    mut ctx: PlatformCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Page<UserOut>>> {
    let (rows, count) = list_platform_users(&mut ctx.tx, &params).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/system/users/", tag = "system-users", security(("bearer" = [])),
    request_body = CreatePlatformUser,
    responses((status = 201, description = "Created", body = UserOut), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn system_create_user(
    mut ctx: PlatformCtx,
    ApiJson(body): ApiJson<CreatePlatformUser>,
) -> AppResult<(StatusCode, Json<UserOut>)> {
    let out = create_platform_user(&mut ctx, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/api/v1/system/users/{id}/", tag = "system-users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "OK", body = UserOut), (status = 404, description = "Not found", body = ErrorBody)))]
async fn system_get_user(
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<UserOut>> {
    let user = crate::auth::account::get_in_scope(&mut ctx.tx, id, None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let roles = crate::permissions::roles::platform_role_ids(&mut ctx.tx, id).await?;
    Ok(Json(UserOut::from_user(&user, roles)))
}

#[utoipa::path(patch, path = "/api/v1/system/users/{id}/", tag = "system-users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdatePlatformUser,
    responses((status = 200, description = "OK", body = UserOut), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn system_patch_user(
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdatePlatformUser>,
) -> AppResult<Json<UserOut>> {
    let out = update_platform_user(&mut ctx, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(out))
}

/// Disables the account; its sessions and tokens end.
#[utoipa::path(delete, path = "/api/v1/system/users/{id}/", tag = "system-users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Disabled"), (status = 404, description = "Not found", body = ErrorBody)))]
async fn system_delete_user(
    mut ctx: PlatformCtx,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    update_platform_user(
        &mut ctx,
        id,
        &UpdatePlatformUser {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Platform roles for operators.
#[utoipa::path(get, path = "/api/v1/system/roles/", tag = "system-users", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<PlatformRole>)))]
async fn system_list_roles(
    mut ctx: PlatformCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<PlatformRole>>> {
    let all = platform_roles(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(system_list_users, system_create_user))
                .routes(routes!(
                    system_get_user,
                    system_patch_user,
                    system_delete_user
                ))
                .layer(guard("platform_users")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(system_list_roles))
                .layer(guard("platform_roles")),
        )
}
