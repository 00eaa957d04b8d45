//! Platform users (operators) through the system API: `/api/v1/system/users/`.

use axum::{
    Json,
    http::{StatusCode, Uri},
};
use serde::Deserialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::account::{AccountChanges, UserOut};
use crate::auth::account::{NewUser, USER_COLUMNS_U, User};
use crate::{
    audit,
    auth::password,
    context::PlatformCtx,
    error::{AppError, AppResult, ErrorBody, Validator},
    http::{ApiJson, ApiPath, ApiQuery, ListParams, Page},
    permissions::access::guard,
    state::AppState,
};

#[derive(FromRow)]
struct Row {
    #[sqlx(flatten)]
    user: User,
    role_ids: Vec<i64>,
}

pub async fn list_platform_users(
    conn: &mut PgConnection,
    params: &ListParams,
) -> AppResult<(Vec<UserOut>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let order = params.order_by(
        &[
            ("email", "u.email"),
            ("full_name", "lower(u.full_name)"),
            ("created_at", "u.created_at"),
        ],
        "lower(u.full_name) ASC",
    )?;
    let pattern = params.search_pattern()?;
    let where_sql = "WHERE u.client_id IS NULL AND ($1::text IS NULL OR u.email ILIKE $1 OR u.full_name ILIKE $1)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM public.users u {where_sql}"
    )))
    .bind(&pattern)
    .fetch_one(&mut *conn)
    .await?;
    let cols = USER_COLUMNS_U;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols}, COALESCE((SELECT array_agg(r.role_id ORDER BY r.role_id) FROM public.platform_user_roles r
                                   WHERE r.user_id = u.id), '{{}}') AS role_ids
           FROM public.users u {where_sql} ORDER BY {order}, u.id LIMIT $2 OFFSET $3"
    )))
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((
        rows.into_iter()
            .map(|r| UserOut::from_user(&r.user, r.role_ids))
            .collect(),
        count,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlatformUser {
    pub email: String,
    pub full_name: String,
    pub password: String,
    #[serde(default)]
    pub is_superadmin: bool,
    /// Platform role ids.
    #[serde(default)]
    pub roles: Vec<i64>,
}

async fn check_platform_roles(
    conn: &mut PgConnection,
    v: &mut Validator,
    ids: &[i64],
) -> AppResult<()> {
    let unknown: Vec<i64> = sqlx::query_scalar(
        "SELECT x FROM unnest($1::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM public.platform_roles r WHERE r.id = x)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    if !unknown.is_empty() {
        v.add(
            "roles",
            format!("These platform roles do not exist: {unknown:?}."),
        );
    }
    Ok(())
}

async fn set_platform_roles(
    conn: &mut PgConnection,
    user_id: i64,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.platform_user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO public.platform_user_roles (user_id, role_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn create_platform_user(
    ctx: &mut PlatformCtx,
    input: &CreatePlatformUser,
) -> AppResult<UserOut> {
    let mut v = Validator::new();
    v.email("email", &input.email);
    v.text("full_name", &input.full_name, 1, 200);
    for p in password::policy_problems(&input.password, &input.email) {
        v.add("password", p);
    }
    if !input.is_superadmin && input.roles.is_empty() {
        v.add(
            "roles",
            "Choose a role, or make the user a superadmin: without one they could do nothing.",
        );
    }
    if input.is_superadmin && !ctx.user.is_superadmin {
        v.add(
            "is_superadmin",
            "Only a superadmin can create another superadmin.",
        );
    }
    check_platform_roles(&mut ctx.tx, &mut v, &input.roles).await?;
    v.finish()?;
    let hash = password::hash(input.password.clone()).await?;
    let user = crate::auth::account::insert(
        &mut ctx.tx,
        &NewUser {
            email: &input.email,
            password_hash: &hash,
            full_name: &input.full_name,
            client_id: None,
            is_superadmin: input.is_superadmin,
        },
        ctx.now,
    )
    .await?;
    set_platform_roles(&mut ctx.tx, user.id, &input.roles).await?;
    let out = UserOut::from_user(&user, input.roles.clone());
    ctx.audit("create", "platform_user", user.id, audit::trail::created(&json!({
        "email": out.email, "full_name": out.full_name, "is_superadmin": out.is_superadmin, "roles": out.roles,
    }))).await?;
    Ok(out)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlatformUser {
    pub full_name: Option<String>,
    pub is_active: Option<bool>,
    pub roles: Option<Vec<i64>>,
    pub password: Option<String>,
}

pub async fn update_platform_user(
    ctx: &mut PlatformCtx,
    id: i64,
    input: &UpdatePlatformUser,
) -> AppResult<UserOut> {
    let before = crate::auth::account::get_in_scope(&mut ctx.tx, id, None)
        .await?
        .ok_or_else(AppError::not_found)?;
    if before.is_superadmin && !ctx.user.is_superadmin {
        return Err(AppError::Forbidden(
            "Only a superadmin can change a superadmin.".into(),
        ));
    }
    let account = AccountChanges {
        full_name: input.full_name.as_deref(),
        is_active: input.is_active,
        password: input.password.as_deref(),
    };
    let mut v = Validator::new();
    account.validate(&mut v, &before, ctx.user.id);
    if let Some(r) = &input.roles {
        check_platform_roles(&mut ctx.tx, &mut v, r).await?;
    }
    v.finish()?;
    let after = account.apply(&mut ctx.tx, &before, ctx.now).await?;
    let before_roles = platform_role_ids(&mut ctx.tx, id).await?;
    if let Some(r) = &input.roles {
        set_platform_roles(&mut ctx.tx, id, r).await?;
    }
    let roles = platform_role_ids(&mut ctx.tx, id).await?;
    let changes = account.audit_changes(
        &before,
        &after,
        json!({"roles": before_roles}),
        json!({"roles": roles}),
    );
    ctx.audit(
        AccountChanges::action(&before, &after),
        "platform_user",
        id,
        changes,
    )
    .await?;
    Ok(UserOut::from_user(&after, roles))
}

async fn platform_role_ids(conn: &mut PgConnection, user_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT role_id FROM public.platform_user_roles WHERE user_id = $1 ORDER BY role_id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

#[utoipa::path(get, path = "/api/v1/system/users/", tag = "system-users", security(("bearer" = [])),
    params(ListParams),
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
    let roles: Vec<i64> = sqlx::query_scalar(
        "SELECT role_id FROM public.platform_user_roles WHERE user_id = $1 ORDER BY role_id",
    )
    .bind(id)
    .fetch_all(&mut *ctx.tx)
    .await?;
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

#[derive(Debug, serde::Serialize, FromRow, ToSchema)]
pub struct PlatformRole {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

/// Platform roles for operators.
#[utoipa::path(get, path = "/api/v1/system/roles/", tag = "system-users", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Vec<PlatformRole>)))]
async fn system_list_roles(mut ctx: PlatformCtx) -> AppResult<Json<Vec<PlatformRole>>> {
    let rows = sqlx::query_as(
        "SELECT id, name, description, permissions FROM public.platform_roles ORDER BY name",
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    Ok(Json(rows))
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
