//! Roles in the browser: the list, and each role's permissions as a checkbox grid.

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;

use super::{
    access::guard_exact,
    catalogue::{Action, SCHOOL_RESOURCES, codename},
    roles::{self, Role},
    service::{self, RoleInput, update_role},
};
use crate::{
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::ApiPath,
    state::AppState,
    web::{flash, htmx::see_other, kit::message_of, layout::Layout},
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/roles.html")]
struct RolesPage {
    layout: Layout,
    roles: Vec<Role>,
    can_add: bool,
}

async fn list(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    Ok(RolesPage {
        layout: ctx.layout("Roles", "roles", &csrf),
        roles: roles::all(&mut ctx.tx).await?,
        can_add: ctx.perms.has("add_roles"),
    }
    .into_response())
}

/// One row of the grid: a resource and, per action, (codename, exists, checked).
pub struct GridRow {
    pub label: &'static str,
    pub cells: Vec<(String, bool, bool)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/role_detail.html")]
struct RolePage {
    layout: Layout,
    role: Role,
    grid: Vec<GridRow>,
    can_change: bool,
    can_delete: bool,
}

fn grid(role: &Role) -> Vec<GridRow> {
    SCHOOL_RESOURCES
        .iter()
        .map(|(resource, label, actions)| GridRow {
            label,
            cells: [Action::View, Action::Add, Action::Change, Action::Delete]
                .into_iter()
                .map(|a| {
                    let code = codename(a, resource);
                    let checked = role.permissions.contains(&code);
                    (code, actions.contains(&a), checked)
                })
                .collect(),
        })
        .collect()
}

async fn detail(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let role = roles::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(RolePage {
        layout: ctx.layout(&role.name, "roles", &csrf),
        grid: grid(&role),
        role,
        can_change: ctx.perms.has("change_roles"),
        can_delete: ctx.perms.has("delete_roles"),
    }
    .into_response())
}

/// Saves the grid: the checked `perm` fields become the role's permissions. Unknown codes
/// are refused by the same validation as the API.
async fn save(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let permissions: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "perm")
        .map(|(_, v)| v.clone())
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let input = RoleInput {
        name: get("name"),
        description: get("description"),
        permissions: Some(permissions),
    };
    match update_role(&mut ctx, id, &input).await {
        Ok(role) => {
            ctx.commit().await?;
            flash::success(
                &messages,
                format!(
                    "{} saved: {} permissions.",
                    role.name,
                    role.permissions.len()
                ),
            );
        }
        Err(AppError::Validation { errors, .. }) => {
            flash::error(
                &messages,
                errors.into_values().flatten().collect::<Vec<_>>().join(" "),
            );
        }
        Err(e) => return Err(e),
    }
    Ok(see_other(&headers, &format!("/roles/{id}")))
}

async fn create(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let name = pairs
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let input = RoleInput {
        name: Some(name),
        description: None,
        permissions: None,
    };
    match service::create_role(&mut ctx, &input).await {
        Ok(role) => {
            ctx.commit().await?;
            flash::success(
                &messages,
                format!("Role {} created; tick its permissions below.", role.name),
            );
            Ok(see_other(&headers, &format!("/roles/{}", role.id)))
        }
        Err(e @ (AppError::Validation { .. } | AppError::Conflict(_))) => {
            flash::error(&messages, message_of(&e));
            Ok(see_other(&headers, "/roles"))
        }
        Err(e) => Err(e),
    }
}

async fn delete(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let back = format!("/roles/{id}");
    match service::delete_role(&mut ctx, id).await {
        Ok(role) => {
            ctx.commit().await?;
            flash::success(&messages, format!("Role {} deleted.", role.name));
            Ok(see_other(&headers, "/roles"))
        }
        Err(e @ AppError::Conflict(_)) => {
            flash::error(&messages, message_of(&e));
            Ok(see_other(&headers, &back))
        }
        Err(e) => Err(e),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/roles",
            get(list).layer(guard_exact(Action::View, "roles")),
        )
        .route(
            "/roles",
            post(create).layer(guard_exact(Action::Add, "roles")),
        )
        .route(
            "/roles/{id}",
            get(detail).layer(guard_exact(Action::View, "roles")),
        )
        .route(
            "/roles/{id}",
            post(save).layer(guard_exact(Action::Change, "roles")),
        )
        .route(
            "/roles/{id}/delete",
            post(delete).layer(guard_exact(Action::Delete, "roles")),
        )
}
