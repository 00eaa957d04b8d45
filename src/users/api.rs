//! School staff accounts through the API: `/api/v1/school/users/`.

use super::service::{
    CreateStaff, StaffFilter, UpdateStaff, create_staff, find_staff, list_staff, update_staff,
};
use crate::auth::account::UserOut;
use crate::{
    context::SchoolCtx,
    error::{AppResult, ErrorBody, Validator},
    http::{ApiJson, ApiPath, ApiQuery, ListParams, Page},
    permissions::access::guard,
    state::AppState,
};
use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Staff of this school.
#[utoipa::path(get, path = "/api/v1/school/users/", tag = "school-users",
    security(("bearer" = [])),
    params(ListParams, StaffFilter, ("ordering" = Option<String>, Query, description = "One of email, full_name, created_at, last_login; `-` in front for descending.", pattern = "^(-?(email|full_name|created_at|last_login))?$")),
    responses((status = 200, description = "OK", body = Page<UserOut>), (status = 401, description = "Not authenticated", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_users(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(params): ApiQuery<ListParams>,
    ApiQuery(filter): ApiQuery<StaffFilter>,
) -> AppResult<Json<Page<UserOut>>> {
    let (rows, count) = list_staff(&mut ctx.tx, ctx.school.id, &params, &filter).await?;
    Ok(Json(Page::new(rows, count, &params, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/users/", tag = "school-users",
    security(("bearer" = [])),
    request_body = CreateStaff,
    responses((status = 201, description = "Created", body = UserOut), (status = 422, description = "Validation failed", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn create_user(
    mut ctx: SchoolCtx,
    ApiJson(body): ApiJson<CreateStaff>,
) -> AppResult<(StatusCode, Json<UserOut>)> {
    let out = create_staff(&mut ctx, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/api/v1/school/users/{id}/", tag = "school-users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "OK", body = UserOut), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_user(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<UserOut>> {
    let (user, role_ids) = find_staff(&mut ctx, id).await?;
    Ok(Json(UserOut::from_user(&user, role_ids)))
}

#[utoipa::path(put, path = "/api/v1/school/users/{id}/", tag = "school-users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateStaff,
    responses((status = 200, description = "OK", body = UserOut), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_user(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateStaff>,
) -> AppResult<Json<UserOut>> {
    let mut v = Validator::new();
    if body.full_name.is_none() {
        v.add("full_name", "This field is required.");
    }
    if body.is_active.is_none() {
        v.add("is_active", "This field is required.");
    }
    if body.roles.is_none() {
        v.add("roles", "This field is required.");
    }
    v.finish()?;
    let out = update_staff(&mut ctx, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(out))
}

#[utoipa::path(patch, path = "/api/v1/school/users/{id}/", tag = "school-users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateStaff,
    responses((status = 200, description = "OK", body = UserOut), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_user(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateStaff>,
) -> AppResult<Json<UserOut>> {
    let out = update_staff(&mut ctx, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(out))
}

/// Disables the account (records are kept): its sessions and tokens end at once.
#[utoipa::path(delete, path = "/api/v1/school/users/{id}/", tag = "school-users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Disabled"), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn delete_user(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    update_staff(
        &mut ctx,
        id,
        &UpdateStaff {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, put_user, patch_user, delete_user))
        .layer(guard("users"))
}
