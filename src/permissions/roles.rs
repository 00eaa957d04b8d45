//! School roles: built-in roles seeded per school, and the role queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

use super::catalogue::{Action, SCHOOL_RESOURCES, codename};

/// Built-in roles seeded into every new school (editable afterwards).
pub fn builtin_roles() -> Vec<(&'static str, &'static str, Vec<String>)> {
    let all: Vec<String> = SCHOOL_RESOURCES
        .iter()
        .flat_map(|(r, _, actions)| actions.iter().map(move |a| codename(*a, r)))
        .collect();
    let view = |resources: &[&str]| -> Vec<String> {
        resources
            .iter()
            .map(|r| codename(Action::View, r))
            .collect()
    };
    let edit = |resources: &[&str]| -> Vec<String> {
        resources
            .iter()
            .flat_map(|r| {
                [Action::View, Action::Add, Action::Change]
                    .into_iter()
                    .map(move |a| codename(a, r))
            })
            .collect()
    };
    let structure = [
        "sessions",
        "terms",
        "forms",
        "classes",
        "subjects",
        "academic_classes",
        "exam_sessions",
        "exams",
        "notices",
    ];
    let pupils = ["students", "guardians", "registrations"];

    let mut teacher = view(&structure);
    teacher.extend(view(&pupils));
    teacher.extend(edit(&["comments"]));
    // add_attendance: the class teacher's own register, within the school's window;
    // change_attendance (heads) corrects any class on any past day.
    teacher.push(codename(Action::View, "attendance"));
    teacher.push(codename(Action::Add, "attendance"));
    // add_marks: marks for the subjects they teach; change_marks would allow any subject.
    teacher.push(codename(Action::View, "marks"));
    teacher.push(codename(Action::Add, "marks"));
    teacher.push(codename(Action::View, "results"));

    let mut class_teacher = teacher.clone();
    class_teacher.extend(edit(&["registrations"]));
    class_teacher.push(codename(Action::Change, "guardians"));

    let mut head = view(&structure);
    head.extend(view(&pupils));
    head.extend(view(&["users", "roles", "audit", "settings"]));
    head.extend(edit(&[
        "results",
        "comments",
        "exam_sessions",
        "promotions",
        "notices",
    ]));
    head.extend(view(&["marks", "attendance"]));
    head.push(codename(Action::Change, "attendance"));

    let mut bursar = view(&[
        "sessions",
        "terms",
        "forms",
        "classes",
        "subjects",
        "academic_classes",
        "notices",
    ]);
    bursar.extend(view(&pupils));

    let dedup = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v
    };
    vec![
        ("School Admin", "Everything in the school", all),
        (
            "Head",
            "Head teacher: oversees results and comments",
            dedup(head),
        ),
        (
            "Teacher",
            "Enters marks, attendance and comments",
            dedup(teacher),
        ),
        (
            "Class Teacher",
            "A teacher who also manages a class's register",
            dedup(class_teacher),
        ),
        (
            "Bursar",
            "Reads the register for fees and records",
            dedup(bursar),
        ),
    ]
}

/// Seeds the built-in roles into the school of the current transaction.
pub async fn seed_builtin(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    for (name, description, permissions) in builtin_roles() {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO roles (name, description, is_builtin, created_at, updated_at)
             VALUES ($1, $2, TRUE, $3, $3) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        set_permissions(conn, id, &permissions).await?;
    }
    Ok(())
}

pub async fn set_permissions(
    conn: &mut PgConnection,
    role_id: i64,
    permissions: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
        .bind(role_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO role_permissions (role_id, permission) SELECT $1, unnest($2::text[])")
        .bind(role_id)
        .bind(permissions)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub is_builtin: bool,
    pub permissions: Vec<String>,
    pub user_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const ROLE_SELECT: &str = "SELECT r.id, r.name, r.description, r.is_builtin,
        COALESCE((SELECT array_agg(permission ORDER BY permission) FROM role_permissions p WHERE p.role_id = r.id), '{}') AS permissions,
        (SELECT count(*) FROM user_roles u WHERE u.role_id = r.id) AS user_count,
        r.created_at, r.updated_at
   FROM roles r";

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ROLE_SELECT} WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn find_by_name(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ROLE_SELECT} WHERE lower(r.name) = lower($1)"
    )))
    .bind(name)
    .fetch_optional(conn)
    .await
}

pub async fn all(conn: &mut PgConnection) -> Result<Vec<Role>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ROLE_SELECT} ORDER BY r.name"
    )))
    .fetch_all(conn)
    .await
}

/// Permission codes held by a user through their roles in the current school.
pub async fn user_permissions(
    conn: &mut PgConnection,
    user_id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT p.permission FROM user_roles ur
           JOIN role_permissions p ON p.role_id = ur.role_id
          WHERE ur.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

pub async fn user_role_ids(conn: &mut PgConnection, user_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT role_id FROM user_roles WHERE user_id = $1 ORDER BY role_id")
        .bind(user_id)
        .fetch_all(conn)
        .await
}

/// Replaces a user's roles. The caller has checked the role ids exist in this school.
pub async fn set_user_roles(
    conn: &mut PgConnection,
    user_id: i64,
    role_ids: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO user_roles (user_id, role_id) SELECT $1, unnest($2::bigint[])")
        .bind(user_id)
        .bind(role_ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Of the given ids, those that are not roles of this school.
pub async fn unknown_role_ids(
    conn: &mut PgConnection,
    role_ids: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT x FROM unnest($1::bigint[]) AS x WHERE NOT EXISTS (SELECT 1 FROM roles r WHERE r.id = x)",
    )
    .bind(role_ids)
    .fetch_all(conn)
    .await
}

const NAME_TAKEN: &str = "A role with this name already exists.";

/// A new role without permissions; its id. A taken name is a field error.
pub async fn insert(
    conn: &mut PgConnection,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO roles (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
    )
    .bind(name)
    .bind(description)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(|e| AppError::from(e).on_constraint("roles_name_key", "name", NAME_TAKEN))
}

/// Renames or re-describes a role (`None` keeps the value).
pub async fn update(
    conn: &mut PgConnection,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE roles SET name = COALESCE($2, name), description = COALESCE($3, description), updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| AppError::from(e).on_constraint("roles_name_key", "name", NAME_TAKEN))?;
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// (id, name) of the given school roles, by name.
pub async fn names(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM roles WHERE id = ANY($1) ORDER BY name")
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// The platform roles an operator holds.
pub async fn platform_role_ids(
    conn: &mut PgConnection,
    user_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT role_id FROM public.platform_user_roles WHERE user_id = $1 ORDER BY role_id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Every permission the given roles grant together.
pub async fn permissions_of_roles(
    conn: &mut PgConnection,
    role_ids: &[i64],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT permission FROM role_permissions WHERE role_id = ANY($1) ORDER BY 1",
    )
    .bind(role_ids)
    .fetch_all(conn)
    .await
}

/// Every permission the given platform roles grant together.
pub async fn platform_role_permissions(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT unnest(permissions) FROM public.platform_roles WHERE id = ANY($1) ORDER BY 1",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Every permission an operator holds through their platform roles.
pub async fn platform_user_permissions(
    conn: &mut PgConnection,
    user_id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT unnest(r.permissions) FROM public.platform_user_roles ur
           JOIN public.platform_roles r ON r.id = ur.role_id WHERE ur.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}
