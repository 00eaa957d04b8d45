//! The rules of school roles: validate a role, change it, audit.

use super::{
    catalogue::is_school_permission,
    roles::{self, Role},
};
use crate::{
    audit,
    context::SchoolCtx,
    error::{AppError, AppResult, Validator},
};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    #[schema(min_length = 2, max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Permission codenames, e.g. `view_students`.
    pub permissions: Option<Vec<String>>,
}

pub fn validate(input: &RoleInput, creating: bool) -> AppResult<Vec<String>> {
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

pub async fn update_role(ctx: &mut SchoolCtx, id: i64, body: &RoleInput) -> AppResult<Role> {
    let before = roles::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let perms = validate(body, false)?;
    refuse_role_change(
        ctx,
        &before,
        body.permissions.as_ref().map(|_| perms.as_slice()),
    )
    .await?;
    roles::update(
        &mut ctx.tx,
        id,
        body.name.as_deref().map(str::trim),
        body.description.as_deref().map(str::trim),
        ctx.now,
    )
    .await?;
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

/// The change of `role` is refused past the actor's own permissions (see
/// `PermissionSet::may_change_role`).
async fn refuse_role_change(
    ctx: &mut SchoolCtx,
    role: &Role,
    new_permissions: Option<&[String]>,
) -> AppResult<()> {
    let held = roles::user_role_ids(&mut ctx.tx, ctx.user.id).await?;
    ctx.perms.may_change_role(
        held.contains(&role.id),
        &role.name,
        &role.permissions,
        new_permissions,
    )
}

/// Creates a role with the permissions asked for (each one the school knows).
pub async fn create_role(ctx: &mut SchoolCtx, body: &RoleInput) -> AppResult<Role> {
    let perms = validate(body, true)?;
    ctx.perms
        .may_grant("create a role with these permissions", &perms)?;
    let name = body.name.as_deref().unwrap_or_default().trim();
    let description = body.description.as_deref().unwrap_or("").trim();
    let id = roles::insert(&mut ctx.tx, name, description, ctx.now).await?;
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
    Ok(role)
}

/// Deletes a role nobody holds; built-in roles stay (their permissions can be edited).
pub async fn delete_role(ctx: &mut SchoolCtx, id: i64) -> AppResult<Role> {
    let role = roles::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    refuse_role_change(ctx, &role, None).await?;
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
    roles::delete(&mut ctx.tx, id).await?;
    ctx.audit(
        "delete",
        "role",
        id,
        json!({"name": role.name, "permissions": role.permissions}),
    )
    .await?;
    Ok(role)
}
