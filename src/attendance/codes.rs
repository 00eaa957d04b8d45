//! Attendance codes (P, L, A, E and any the school adds) and the reasons a mark may carry.

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::{
    context::SchoolCtx,
    error::{AppError, AppResult, Validator},
};

crate::text_enum::text_enum! {
    /// What a mark counts as: `late` counts as present, `excused` as absent but excused.
    pub enum CountsAs {
        Present = "present",
        Late = "late",
        Absent = "absent",
        Excused = "excused",
    }
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AttendanceCode {
    pub id: i64,
    /// The short code marked on the register, e.g. `P`.
    pub code: String,
    pub name: String,
    /// `present`, `late`, `absent` or `excused`.
    pub counts_as: String,
    pub is_active: bool,
    pub position: i32,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceCodeInput {
    #[schema(min_length = 1, max_length = 3, pattern = "^[A-Za-z0-9]+$")]
    pub code: Option<String>,
    #[schema(min_length = 2, max_length = 40)]
    pub name: Option<String>,
    #[schema(value_type = Option<CountsAs>)]
    pub counts_as: Option<String>,
    pub is_active: Option<bool>,
    #[schema(minimum = 0, maximum = 1000)]
    pub position: Option<i32>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AttendanceReason {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
}

const COLS: &str = "id, code, name, counts_as, is_active, position";

pub async fn all(conn: &mut PgConnection) -> sqlx::Result<Vec<AttendanceCode>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM attendance_codes ORDER BY position, id"
    )))
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: i64) -> AppResult<AttendanceCode> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM attendance_codes WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)
}

pub async fn reasons(conn: &mut PgConnection) -> sqlx::Result<Vec<AttendanceReason>> {
    sqlx::query_as("SELECT id, name, is_active FROM attendance_reasons ORDER BY position, id")
        .fetch_all(conn)
        .await
}

/// Creates (`id` None) or changes a code; every field is checked at once.
pub async fn save(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &AttendanceCodeInput,
) -> AppResult<AttendanceCode> {
    let before = match id {
        Some(id) => Some(get(conn, id).await?),
        None => None,
    };
    let code = input
        .code
        .as_deref()
        .map(|c| c.trim().to_uppercase())
        .or_else(|| before.as_ref().map(|b| b.code.clone()))
        .unwrap_or_default();
    let name = input
        .name
        .as_deref()
        .map(|n| n.trim().to_owned())
        .or_else(|| before.as_ref().map(|b| b.name.clone()))
        .unwrap_or_default();
    let counts_as = input
        .counts_as
        .clone()
        .or_else(|| before.as_ref().map(|b| b.counts_as.clone()))
        .unwrap_or_default();
    let mut v = Validator::new();
    v.text("code", &code, 1, 3);
    if !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        v.add("code", "Use letters and digits only, e.g. P or SL.");
    }
    v.text("name", &name, 2, 40);
    if CountsAs::parse(&counts_as).is_none() {
        v.add("counts_as", "Choose present, late, absent or excused.");
    }
    if let Some(p) = input.position
        && !(0..=1000).contains(&p)
    {
        v.add("position", "Use a number from 0 to 1000.");
    }
    v.finish()?;
    let is_active = input
        .is_active
        .unwrap_or(before.as_ref().is_none_or(|b| b.is_active));
    let position = input
        .position
        .or(before.as_ref().map(|b| b.position))
        .unwrap_or(100);
    let sql = match id {
        None => format!(
            "INSERT INTO attendance_codes (code, name, counts_as, is_active, position)
             VALUES ($2, $3, $4, $5, $6) RETURNING {COLS}"
        ),
        Some(_) => format!(
            "UPDATE attendance_codes SET code = $2, name = $3, counts_as = $4, is_active = $5,
                    position = $6, updated_at = now() WHERE id = $1 RETURNING {COLS}"
        ),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&code)
        .bind(&name)
        .bind(&counts_as)
        .bind(is_active)
        .bind(position)
        .fetch_one(conn)
        .await
        .map_err(|e| {
            AppError::from(e).on_constraint(
                "attendance_codes_code_key",
                "code",
                "Another code uses these letters.",
            )
        })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceReasonInput {
    #[schema(min_length = 2, max_length = 60)]
    pub name: Option<String>,
    /// Retire a reason with `false`: marks that carry it keep it.
    pub is_active: Option<bool>,
}

pub async fn reason(conn: &mut PgConnection, id: i64) -> AppResult<AttendanceReason> {
    sqlx::query_as("SELECT id, name, is_active FROM attendance_reasons WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// Creates (`id` None) or renames / retires a reason.
pub async fn save_reason(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &AttendanceReasonInput,
) -> AppResult<AttendanceReason> {
    let before = match id {
        Some(id) => Some(reason(conn, id).await?),
        None => None,
    };
    let name = input
        .name
        .as_deref()
        .map(|n| n.trim().to_owned())
        .or_else(|| before.as_ref().map(|b| b.name.clone()))
        .unwrap_or_default();
    let mut v = Validator::new();
    v.text("name", &name, 2, 60);
    v.finish()?;
    let is_active = input
        .is_active
        .unwrap_or(before.as_ref().is_none_or(|b| b.is_active));
    let sql = match id {
        None => {
            "INSERT INTO attendance_reasons (name, is_active, position)
             SELECT $2, $3, COALESCE(max(position), 0) + 1 FROM attendance_reasons
             RETURNING id, name, is_active"
        }
        Some(_) => {
            "UPDATE attendance_reasons SET name = $2, is_active = $3 WHERE id = $1
             RETURNING id, name, is_active"
        }
    };
    sqlx::query_as(sql)
        .bind(id)
        .bind(&name)
        .bind(is_active)
        .fetch_one(conn)
        .await
        .map_err(|e| {
            AppError::from(e).on_constraint(
                "attendance_reasons_name_key",
                "name",
                "There is already a reason by that name.",
            )
        })
}

/// Creates (`id` None) or changes a code, audited: what both the API and the page call.
pub async fn save_audited(
    ctx: &mut SchoolCtx,
    id: Option<i64>,
    input: &AttendanceCodeInput,
) -> AppResult<AttendanceCode> {
    let before = match id {
        Some(id) => Some(get(&mut ctx.tx, id).await?),
        None => None,
    };
    let after = save(&mut ctx.tx, id, input).await?;
    match before {
        None => {
            ctx.audit_created("attendance_code", after.id, &after)
                .await?
        }
        Some(before) => {
            ctx.audit_updated("attendance_code", after.id, &before, &after)
                .await?
        }
    }
    Ok(after)
}

/// Creates (`id` None) or renames / retires a reason, audited.
pub async fn save_reason_audited(
    ctx: &mut SchoolCtx,
    id: Option<i64>,
    input: &AttendanceReasonInput,
) -> AppResult<AttendanceReason> {
    let before = match id {
        Some(id) => Some(reason(&mut ctx.tx, id).await?),
        None => None,
    };
    let after = save_reason(&mut ctx.tx, id, input).await?;
    match before {
        None => {
            ctx.audit_created("attendance_reason", after.id, &after)
                .await?
        }
        Some(before) => {
            ctx.audit_updated("attendance_reason", after.id, &before, &after)
                .await?
        }
    }
    Ok(after)
}
