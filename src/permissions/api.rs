//! School roles and the permission catalogue: `/api/v1/school/roles/`, `/permissions/`.

use axum::{Json, http::StatusCode};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    access::guard,
    catalogue::{PermissionInfo, is_school_permission, school_catalogue},
    roles::{self, Role},
};
use crate::{
    audit,
    context::SchoolCtx,
    error::{AppError, AppResult, ErrorBody, Validator},
    http::{ApiJson, ApiPath},
    state::AppState,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Permission codenames, e.g. `view_students`.
    pub permissions: Option<Vec<String>>,
}

fn validate(input: &RoleInput, creating: bool) -> AppResult<Vec<String>> {
    let mut v = Validator::new();
    match &input.name {
        Some(n) => v.text("name", n, 2, 100),
        None if creating => v.add("name", "This field is required."),
        None => {}
    }
    if let Some(d) = &input.description {
        v.text("description", d, 0, 500);
    }
    let mut perms = input.permissions.clone().unwrap_or_default();
    perms.sort();
    perms.dedup();
    let unknown: Vec<&String> = perms.iter().filter(|p| !is_school_permission(p)).collect();
    if !unknown.is_empty() {
        v.add(
            "permissions",
            format!(
                "Unknown permissions: {}.",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    v.finish()?;
    Ok(perms)
}

/// Permission codenames a school role can hold.
#[utoipa::path(get, path = "/api/v1/school/permissions/", tag = "school-roles", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Vec<PermissionInfo>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_permissions(_ctx: SchoolCtx) -> AppResult<Json<Vec<PermissionInfo>>> {
    Ok(Json(school_catalogue()))
}

#[utoipa::path(get, path = "/api/v1/school/roles/", tag = "school-roles", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Vec<Role>), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn list_roles(mut ctx: SchoolCtx) -> AppResult<Json<Vec<Role>>> {
    Ok(Json(roles::all(&mut ctx.tx).await?))
}

#[utoipa::path(post, path = "/api/v1/school/roles/", tag = "school-roles", security(("bearer" = [])),
    request_body = RoleInput,
    responses((status = 201, description = "Created", body = Role), (status = 422, description = "Validation failed", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody)))]
async fn create_role(
    mut ctx: SchoolCtx,
    ApiJson(body): ApiJson<RoleInput>,
) -> AppResult<(StatusCode, Json<Role>)> {
    let perms = validate(&body, true)?;
    let name = body.name.as_deref().unwrap_or_default().trim().to_owned();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO roles (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
    )
    .bind(&name)
    .bind(body.description.as_deref().unwrap_or("").trim())
    .bind(ctx.now)
    .fetch_one(&mut *ctx.tx)
    .await
    .map_err(|e| AppError::from(e).on_constraint("roles_name_key", "name", "A role with this name already exists."))?;
    roles::set_permissions(&mut ctx.tx, id, &perms).await?;
    let role = roles::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    ctx.audit(
        "create",
        "role",
        id,
        audit::trail::created(&json!({"name": role.name, "permissions": role.permissions})),
    )
    .await?;
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

pub async fn update_role(ctx: &mut SchoolCtx, id: i64, body: &RoleInput) -> AppResult<Role> {
    let before = roles::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let perms = validate(body, false)?;
    sqlx::query(
        "UPDATE roles SET name = COALESCE($2, name), description = COALESCE($3, description), updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(body.name.as_deref().map(str::trim))
    .bind(body.description.as_deref().map(str::trim))
    .bind(ctx.now)
    .execute(&mut *ctx.tx)
    .await
    .map_err(|e| AppError::from(e).on_constraint("roles_name_key", "name", "A role with this name already exists."))?;
    if body.permissions.is_some() {
        roles::set_permissions(&mut ctx.tx, id, &perms).await?;
    }
    let after = roles::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let changes = audit::trail::diff(
        &json!({"name": before.name, "description": before.description, "permissions": before.permissions}),
        &json!({"name": after.name, "description": after.description, "permissions": after.permissions}),
    );
    ctx.audit("update", "role", id, changes).await?;
    Ok(after)
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
    let role = roles::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    if role.is_builtin {
        return Err(AppError::Conflict(
            "Built-in roles cannot be deleted; edit their permissions instead.".into(),
        ));
    }
    if role.user_count > 0 {
        return Err(AppError::Conflict(format!(
            "{} staff hold this role; take it from them first.",
            role.user_count
        )));
    }
    sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(&mut *ctx.tx)
        .await?;
    ctx.audit(
        "delete",
        "role",
        id,
        json!({"name": role.name, "permissions": role.permissions}),
    )
    .await?;
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
