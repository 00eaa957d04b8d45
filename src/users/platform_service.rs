//! The rules of platform operator accounts: list, create, change, disable.

use super::account::AccountChanges;
use crate::auth::account::{NewUser, USER_COLUMNS_U, User, UserOut};
use crate::{
    audit,
    auth::password,
    context::PlatformCtx,
    error::{AppError, AppResult, Validator},
    http::ListParams,
    permissions::access::roles_differ,
    permissions::roles,
};
use serde::Deserialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

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
            ("email", &["u.email"]),
            ("full_name", &["lower(u.full_name)"]),
            ("created_at", &["u.created_at"]),
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
    let granted = roles::platform_role_permissions(&mut ctx.tx, &input.roles).await?;
    ctx.perms.may_grant("give these roles", &granted)?;
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
    let before_roles = roles::platform_role_ids(&mut ctx.tx, id).await?;
    let target_holds = roles::platform_user_permissions(&mut ctx.tx, id).await?;
    ctx.perms.may_change_account(
        id == ctx.user.id,
        roles_differ(&before_roles, input.roles.as_deref()),
        &before.full_name,
        &target_holds,
    )?;
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
    if let Some(r) = &input.roles {
        let granted = roles::platform_role_permissions(&mut ctx.tx, r).await?;
        ctx.perms.may_grant("give these roles", &granted)?;
    }
    let after = account.apply(&mut ctx.tx, &before, ctx.now).await?;
    let roles = match &input.roles {
        Some(r) => {
            set_platform_roles(&mut ctx.tx, id, r).await?;
            let mut ids = r.clone();
            ids.sort_unstable();
            ids.dedup();
            ids
        }
        None => before_roles.clone(),
    };
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

#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PlatformRole {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

/// Every platform role, by name.
pub async fn platform_roles(conn: &mut PgConnection) -> Result<Vec<PlatformRole>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, description, permissions FROM public.platform_roles ORDER BY name",
    )
    .fetch_all(conn)
    .await
}
