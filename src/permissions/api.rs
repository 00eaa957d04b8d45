//! School roles and the permission catalogue: `/api/v1/school/roles/`, `/permissions/`.

use super::service::{self, RoleInput, update_role};
use super::{
    access::guard,
    catalogue::{PermissionInfo, school_catalogue},
    roles::{self, Role},
};
use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, ErrorBody, Validator},
    http::{ApiJson, ApiPath, ApiQuery, Page, PageParams},
    state::AppState,
};
use axum::{
    Json,
    http::{StatusCode, Uri},
};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Permission codenames a school role can hold.
#[utoipa::path(get, path = "/api/v1/school/permissions/", tag = "school-roles", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<PermissionInfo>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_permissions(
    _ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<PermissionInfo>>> {
    Ok(Json(Page::of_all(school_catalogue(), &paging, &uri)?))
}

#[utoipa::path(get, path = "/api/v1/school/roles/", tag = "school-roles", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "OK", body = Page<Role>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_roles(
    mut ctx: SchoolCtx,
    uri: Uri,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Role>>> {
    let all = roles::all(&mut ctx.tx).await?;
    Ok(Json(Page::of_all(all, &paging, &uri)?))
}

#[utoipa::path(post, path = "/api/v1/school/roles/", tag = "school-roles", security(("bearer" = [])),
    request_body = RoleInput,
    responses((status = 201, description = "Created", body = Role), (status = 422, description = "Validation failed", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn create_role(
    mut ctx: SchoolCtx,
    ApiJson(body): ApiJson<RoleInput>,
) -> AppResult<(StatusCode, Json<Role>)> {
    let role = service::create_role(&mut ctx, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(get, path = "/api/v1/school/roles/{id}/", tag = "school-roles", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Role id")),
    responses((status = 200, description = "OK", body = Role), (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_role(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Json<Role>> {
    Ok(Json(
        roles::get(&mut ctx.tx, id)
            .await?
            .ok_or_else(AppError::not_found)?,
    ))
}

#[utoipa::path(put, path = "/api/v1/school/roles/{id}/", tag = "school-roles", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Role id")),
    request_body = RoleInput,
    responses((status = 200, description = "OK", body = Role), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn put_role(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RoleInput>,
) -> AppResult<Json<Role>> {
    if body.name.is_none() || body.permissions.is_none() {
        let mut v = Validator::new();
        if body.name.is_none() {
            v.add("name", "This field is required.");
        }
        if body.permissions.is_none() {
            v.add("permissions", "This field is required.");
        }
        v.finish()?;
    }
    let role = update_role(&mut ctx, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(role))
}

#[utoipa::path(patch, path = "/api/v1/school/roles/{id}/", tag = "school-roles", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Role id")),
    request_body = RoleInput,
    responses((status = 200, description = "OK", body = Role), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "Validation failed", body = ErrorBody)))]
async fn patch_role(
    mut ctx: SchoolCtx,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RoleInput>,
) -> AppResult<Json<Role>> {
    let role = update_role(&mut ctx, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(role))
}

/// Deletes a role that nobody holds. Built-in roles can be edited but not deleted.
#[utoipa::path(delete, path = "/api/v1/school/roles/{id}/", tag = "school-roles", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Role id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody)))]
async fn delete_role(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    service::delete_role(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_roles, create_role))
                .routes(routes!(get_role, put_role, patch_role, delete_role))
                .layer(guard("roles")),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_permissions))
                .layer(guard("roles")),
        )
}
