//! The rules of school staff accounts: list, create, change, disable; each validates, writes
//! and records the audit row. The JSON and HTML adapters only parse and render.

use super::account::AccountChanges;
use crate::auth::account::{NewUser, USER_COLUMNS_U, User, UserOut};
use crate::{
    audit,
    auth::password,
    context::SchoolCtx,
    error::{AppError, AppResult, Validator},
    http::ListParams,
    permissions::access::roles_differ,
    permissions::roles,
};
use serde::Deserialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

#[derive(FromRow)]
struct UserWithRoles {
    #[sqlx(flatten)]
    user: User,
    role_ids: Vec<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffFilter {
    pub is_active: Option<bool>,
    /// Only users holding this role id.
    pub role: Option<i64>,
}

/// Staff of the current school (the transaction's search_path gives `user_roles`).
pub async fn list_staff(
    conn: &mut PgConnection,
    school_id: i64,
    params: &ListParams,
    filter: &StaffFilter,
) -> AppResult<(Vec<UserOut>, i64)> {
    let (limit, offset) = params.limit_offset()?;
    let order = params.order_by(
        &[
            ("email", &["u.email"]),
            ("full_name", &["lower(u.full_name)"]),
            ("created_at", &["u.created_at"]),
            ("last_login", &["u.last_login"]),
        ],
        "lower(u.full_name) ASC",
    )?;
    let pattern = params.search_pattern()?;
    // API keys' service accounts are not staff: they are managed on the console.
    let where_sql = "WHERE u.client_id = $1
        AND NOT EXISTS (SELECT 1 FROM public.api_keys k WHERE k.user_id = u.id)
        AND ($2::text IS NULL OR u.email ILIKE $2 OR u.full_name ILIKE $2)
        AND ($3::bool IS NULL OR u.is_active = $3)
        AND ($4::bigint IS NULL OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role_id = $4))";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM public.users u {where_sql}"
    )))
    .bind(school_id)
    .bind(&pattern)
    .bind(filter.is_active)
    .bind(filter.role)
    .fetch_one(&mut *conn)
    .await?;
    let cols = USER_COLUMNS_U;
    let rows: Vec<UserWithRoles> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols},
                COALESCE((SELECT array_agg(r.role_id ORDER BY r.role_id) FROM user_roles r WHERE r.user_id = u.id), '{{}}') AS role_ids
           FROM public.users u {where_sql} ORDER BY {order}, u.id LIMIT $5 OFFSET $6"
    )))
    .bind(school_id)
    .bind(&pattern)
    .bind(filter.is_active)
    .bind(filter.role)
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
pub struct CreateStaff {
    #[schema(example = "amina.bello@greenwood.example.com")]
    pub email: String,
    #[schema(min_length = 1, max_length = 200, example = "Amina Bello")]
    pub full_name: String,
    #[schema(min_length = 8)]
    pub password: String,
    /// Role ids of this school.
    #[serde(default)]
    #[schema(min_items = 1, required = true)]
    pub roles: Vec<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: Option<String>,
    pub is_active: Option<bool>,
    pub roles: Option<Vec<i64>>,
    /// A new password (ends the user's other sessions).
    #[schema(min_length = 8)]
    pub password: Option<String>,
}

async fn check_roles(
    conn: &mut PgConnection,
    v: &mut Validator,
    role_ids: &[i64],
) -> AppResult<()> {
    if role_ids.len() > 50 {
        v.add("roles", "Too many roles.");
        return Ok(());
    }
    let unknown = roles::unknown_role_ids(conn, role_ids).await?;
    if !unknown.is_empty() {
        v.add(
            "roles",
            format!("These roles do not exist in this school: {unknown:?}."),
        );
    }
    Ok(())
}

/// Creates a staff account in the current school with the given roles.
pub async fn create_staff(ctx: &mut SchoolCtx, input: &CreateStaff) -> AppResult<UserOut> {
    let mut v = Validator::new();
    v.email("email", &input.email);
    v.text("full_name", &input.full_name, 1, 200);
    for p in password::policy_problems(&input.password, &input.email) {
        v.add("password", p);
    }
    if input.roles.is_empty() {
        // A staff account with no role can do nothing but sign in: always a mistake.
        v.add("roles", "Give them at least one role.");
    }
    check_roles(&mut ctx.tx, &mut v, &input.roles).await?;
    v.finish()?;
    let granted = roles::permissions_of_roles(&mut ctx.tx, &input.roles).await?;
    ctx.perms.may_grant("give these roles", &granted)?;
    let hash = password::hash(input.password.clone()).await?;
    let user = crate::auth::account::insert(
        &mut ctx.tx,
        &NewUser {
            email: &input.email,
            password_hash: &hash,
            full_name: &input.full_name,
            client_id: Some(ctx.school.id),
            is_superadmin: false,
        },
        ctx.now,
    )
    .await?;
    let mut role_ids = input.roles.clone();
    role_ids.sort_unstable();
    role_ids.dedup();
    roles::set_user_roles(&mut ctx.tx, user.id, &role_ids).await?;
    crate::tenancy::schools::step_done(&mut ctx.tx, ctx.school.id, "staff", ctx.now).await?;
    let out = UserOut::from_user(&user, role_ids);
    // Roles by name in the audit log (ids mean nothing to a reader).
    let role_names: Vec<String> = roles::names(&mut ctx.tx, &out.roles)
        .await?
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    ctx.audit(
        "create",
        "user",
        user.id,
        audit::trail::created(&json!({
            "email": out.email,
            "full_name": out.full_name,
            "roles": role_names,
        })),
    )
    .await?;
    Ok(out)
}

/// A user of this school, or 404 (the same answer as for an id that does not exist).
pub async fn find_staff(ctx: &mut SchoolCtx, id: i64) -> AppResult<(User, Vec<i64>)> {
    let user = crate::auth::account::get_in_scope(&mut ctx.tx, id, Some(ctx.school.id))
        .await?
        .ok_or_else(AppError::not_found)?;
    let role_ids = roles::user_role_ids(&mut ctx.tx, id).await?;
    Ok((user, role_ids))
}

pub async fn update_staff(ctx: &mut SchoolCtx, id: i64, input: &UpdateStaff) -> AppResult<UserOut> {
    let (before, before_roles) = find_staff(ctx, id).await?;
    let target_holds = roles::user_permissions(&mut ctx.tx, id).await?;
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
    if let Some(role_ids) = &input.roles {
        check_roles(&mut ctx.tx, &mut v, role_ids).await?;
    }
    v.finish()?;
    if let Some(new_roles) = &input.roles {
        let granted = roles::permissions_of_roles(&mut ctx.tx, new_roles).await?;
        ctx.perms.may_grant("give these roles", &granted)?;
    }
    let after = account.apply(&mut ctx.tx, &before, ctx.now).await?;
    let mut role_ids = before_roles.clone();
    if let Some(new_roles) = &input.roles {
        role_ids = new_roles.clone();
        role_ids.sort_unstable();
        role_ids.dedup();
        roles::set_user_roles(&mut ctx.tx, id, &role_ids).await?;
    }
    // Roles by name in the audit log (ids mean nothing to a reader).
    let role_names = |ids: Vec<(i64, String)>| ids.into_iter().map(|(_, n)| n).collect::<Vec<_>>();
    let names_before = role_names(roles::names(&mut ctx.tx, &before_roles).await?);
    let names_after = role_names(roles::names(&mut ctx.tx, &role_ids).await?);
    let changes = account.audit_changes(
        &before,
        &after,
        json!({"roles": names_before}),
        json!({"roles": names_after}),
    );
    ctx.audit(AccountChanges::action(&before, &after), "user", id, changes)
        .await?;
    Ok(UserOut::from_user(&after, role_ids))
}
